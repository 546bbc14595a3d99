"""Every section keeps the protocol (lib.sections.protocol), and every notebook makes the same calls."""

import json
from pathlib import Path

import pytest

from lib.paths import NOTEBOOKS_DIR
from lib.sections import SECTIONS, get_section
from lib.sections.protocol import GridConfig, check_module


@pytest.mark.parametrize("section", list(SECTIONS))
def test_section_keeps_the_protocol(section):
    module = get_section(section)
    assert check_module(module) == []
    assert module.SECTION == section
    if section != "03_expert":  # the experts are single runs with a seed of their own
        assert issubclass(module.Config, GridConfig)


@pytest.mark.parametrize("section", list(SECTIONS))
@pytest.mark.parametrize("profile", ["smoke", "default"])
def test_every_run_is_one_of_the_sections_variants(section, profile):
    """``variants(cfg)`` declares every experiment: each run of ``specs`` (and of the runs chosen later, for
    08 and 09 the same way) is a variant's config at one seed. Red for: a run built beside the variants (a
    second place that declares an experiment), or a variant's config changed on its way to the run."""
    import dataclasses

    from lib.config import to_dict
    from lib.params import load_params

    def stamped_free(c):  # 09 stamps the expert's and a dataset's sha256 into each run's config
        d = to_dict(c)
        d.pop("expert_sha256", None)
        d.get("demos", {}).pop("file_sha256", None)
        return d

    module = get_section(section)
    cfg = load_params(section, profile)
    vs = module.variants(cfg)
    assert vs and all(isinstance(k, str) and dataclasses.is_dataclass(c) for k, c in vs.items())
    for spec in module.specs(cfg):
        assert stamped_free(spec.config) == stamped_free(vs[spec.variant]), spec.variant


def test_check_module_names_what_is_missing():
    import types

    empty = types.ModuleType("lib.sections.empty")
    problems = check_module(empty)
    assert any("lacks analyse" in p for p in problems) and any("lacks specs" in p for p in problems)


def _code(section: str) -> list[str]:
    nb = json.loads((NOTEBOOKS_DIR / f"{section}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


#: What a notebook's code may import (besides its section and ``run``): figures it draws itself.
NOTEBOOK_IMPORTS = {"matplotlib.pyplot", "lib.publish.plots"}
#: What its calls may go through: the notebook calls, figure functions and matplotlib axes.
NOTEBOOK_CALLS = {"run", "plots", "plt", "fig", "ax", "axes", "print"}
#: The longest code cell: a notebook presents; training loops and statistics live in lib/.
MAX_CELL_LINES = 8


@pytest.mark.parametrize("section", list(SECTIONS))
def test_notebooks_are_thin_and_alike(section):
    """Parameters, then the notebook calls (setup, runs, analyse, show, animate, publish) and, where a reader
    re-plots, figure calls on an axes. Red for: a training loop, a statistic or a helper written in a
    notebook (a ``for``/``while``, a ``def``, a call into anything but run, plots and matplotlib), a long
    cell, or a notebook that skips the shared set-up, publication or regression check."""
    import ast

    cells = _code(section)
    assert cells[0].startswith("profile =") and "\nexecutor = " in cells[0] and "\naddress = " in cells[0]
    assert cells[1] == (f"from lib.sections import {SECTIONS[section]} as section\nfrom lib import run\n"
                        "from lib.publish import plots\nimport matplotlib.pyplot as plt\n\n"
                        "ctx = run.setup(section, profile, overrides, executor=executor, address=address)")
    body = "\n".join(cells[2:])
    assert "results = run.runs(ctx)\nresult = run.analyse(ctx, results)" in body
    assert "run.publish(ctx, results, result)" in body and "run.regression_check(ctx, results_path)" in body
    for cell in cells[2:]:
        assert len([l for l in cell.splitlines() if l.strip() and not l.startswith("#")]) <= MAX_CELL_LINES, cell
        tree = ast.parse(cell)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.ClassDef, ast.Lambda,
                                         ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)), ast.unparse(node)
            if isinstance(node, ast.Import):
                assert {a.name for a in node.names} <= NOTEBOOK_IMPORTS, ast.unparse(node)
            if isinstance(node, ast.ImportFrom):
                assert {f"{node.module}.{a.name}" for a in node.names} <= NOTEBOOK_IMPORTS, ast.unparse(node)
            if isinstance(node, ast.Call):
                root = node.func
                while isinstance(root, (ast.Attribute, ast.Subscript, ast.Call)):
                    root = root.value if not isinstance(root, ast.Call) else root.func
                assert isinstance(root, ast.Name) and root.id in NOTEBOOK_CALLS, ast.unparse(node)


#: Numbers a notebook's Markdown may state: the intervals' level, the reports' section numbers, names.
ALLOWED_NUMBERS = r"95%\s+(?:percentile-)?(?:bootstrap|interval|band|CI|confidence)|\breport \d(?:\.\d)?|sha256|\b0\d_[a-z_]+"


@pytest.mark.parametrize("section", list(SECTIONS))
def test_a_notebooks_prose_types_no_number_of_ours(section):
    """Below its introduction (which quotes the source), a notebook's Markdown states no number: numbers of
    the config or the results reach the prose through ``run.say`` (or a text of the section). Red for: a batch
    size, a threshold or a share typed into the story, which goes wrong the day the params change."""
    import re

    nb = json.loads((NOTEBOOKS_DIR / f"{section}.ipynb").read_text())
    for cell in nb["cells"][1:]:
        if cell["cell_type"] == "markdown":
            rest = re.sub(ALLOWED_NUMBERS, "", "".join(cell["source"]))
            assert not re.search(r"\d", rest), rest


def test_say_fills_the_prose_from_the_config(monkeypatch):
    """``run.say`` formats attribute and index fields from its values and shows Markdown."""
    from types import SimpleNamespace

    from lib import run

    shown = []
    monkeypatch.setattr(run.present, "show_markdown", shown.append)
    cfg = SimpleNamespace(train=SimpleNamespace(window=50), other_batch_sizes=(8,), converged_fraction=0.95)
    run.say("window {cfg.train.window}, batch {cfg.other_batch_sizes[0]}, {cfg.converged_fraction:.0%}", cfg=cfg)
    assert shown == ["window 50, batch 8, 95%"]


@pytest.mark.parametrize("section", [s for s in SECTIONS if s != "03_expert"])  # 03 loads experts: no runs
def test_a_reader_can_replot_the_runs_in_the_notebook(section):
    """Each notebook with runs ends with an explore cell that draws its runs' logs through ``plots.curves``
    on an axes it can change. Red for: a notebook whose figures only arrive as files made inside lib."""
    body = "\n".join(_code(section))
    assert "logs = run.logs(results)" in body and "ax = plots.curves(plt.subplots()[1], logs, " in body


def test_curves_draws_each_variant_over_its_seeds_on_the_given_axes():
    """``plots.curves`` on a hand-made tidy log: two variants, two seeds each, logged at different x; the line
    of each variant is the mean of its seeds interpolated onto a shared grid. Red for: averaging rows
    instead of seeds, a grid past the range a seed reached, drawing on a new figure instead of ``ax``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from lib.publish import plots

    logs = pd.DataFrame({"variant": ["a"] * 5 + ["b"] * 4, "seed": [0, 0, 0, 1, 1, 0, 0, 1, 1],
                         "x": [0, 10, 20, 0, 15, 0, 10, 0, 10], "y": [0, 10, 20, 0, 30, 5, 5, 7, 7]})
    fig, ax = plt.subplots()
    assert plots.curves(ax, logs, y="y", x="x", points=4) is ax
    lines = {l.get_label(): l for l in ax.get_lines()}
    a = lines["a (n=2)"]
    assert np.allclose(a.get_xdata(), [0, 5, 10, 15])  # up to 15: the furthest both seeds of a reached
    assert np.allclose(a.get_ydata(), [0, (5 + 10) / 2, (10 + 20) / 2, (15 + 30) / 2])
    assert np.allclose(lines["b (n=2)"].get_ydata(), 6.0)
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y" and len(fig.axes) == 1
    plt.close(fig)


def test_no_plt_show_in_lib():
    from lib.paths import LIB_DIR

    offenders = [str(p) for p in LIB_DIR.rglob("*.py") if "plt.show(" in p.read_text().replace("``plt.show()``", "")]
    assert offenders == []


#: The unit tests of the learners, the evaluation, the statistics and the verdicts: each names the wrong
#: implementation it turns red for ("Red for: ..." in its docstring).
LEARNER_LEVEL_TESTS = ("test_pg", "test_pg_update", "test_learning", "test_returns", "test_gae", "test_sac_maths",
                       "test_evaluation", "test_seeds", "test_runs", "test_assignment", "test_imitation", "test_exact",
                       "test_verdicts", "test_heads", "test_stats")


def test_every_learner_level_test_says_what_it_turns_red_for():
    """Red for: a test added to these files without saying which wrong implementation it catches (a test
    that cannot fail is a defect, and saying what it catches is how a reviewer checks that it can)."""
    import ast
    import re

    red = re.compile(r"\bRed\s+(for|if)\b")
    silent = []
    for name in LEARNER_LEVEL_TESTS:
        tree = ast.parse((Path(__file__).parent / f"{name}.py").read_text())
        silent += [f"{name}.py::{n.name}" for n in tree.body if isinstance(n, ast.FunctionDef)
                   and n.name.startswith("test_") and not red.search(ast.get_docstring(n) or "")]
    assert not silent, silent


def _fake_run(tmp_path, variant, seed, returns, log=None):
    """A finished run on disk with the given training returns (episodes.csv) and log rows (log.csv)."""
    import pandas as pd

    from lib.store.runs import RunResult, RunSpec

    path = tmp_path / f"{variant}_{seed}"
    path.mkdir()
    pd.DataFrame({"episode": range(1, len(returns) + 1), "return": returns}).to_csv(path / "episodes.csv", index=False)
    pd.DataFrame(log or {"Train_EnvstepsSoFar": [10, 20], "Eval_AverageReturn": [1.0, 2.0]}).to_csv(path / "log.csv", index=False)
    return RunResult(RunSpec(section="x", variant=variant, exp_name=variant, seed=seed, config=None), path, {}, True)


def test_the_frames_a_section_returns_hold_each_seed_labelled(tmp_path):
    """``episode_frame``: each run's window running mean per episode, labelled, in the labels' order, a variant
    not in the labels left out; ``log_frame``: every log row labelled; ``labelled``: the per-run rows with
    ``score``. Red for: a running mean over the whole run, seeds mixed up, the variant name instead of its
    label (the palette is keyed by labels)."""
    import numpy as np
    import pandas as pd

    from lib.sections.common import EPISODE, RUNNING, episode_frame, labelled, log_frame

    runs = [_fake_run(tmp_path, "b", 1, [1.0, 3.0, 5.0]), _fake_run(tmp_path, "a", 0, [2.0, 2.0, 8.0]),
            _fake_run(tmp_path, "c", 0, [0.0, 0.0, 0.0])]
    frame = episode_frame(runs, {"a": "A", "b": "B"}, window=2)
    assert list(frame.variant.unique()) == ["A", "B"] and list(frame[EPISODE]) == [1, 2, 3, 1, 2, 3]
    assert np.allclose(frame[RUNNING], [2.0, 2.0, 5.0, 1.0, 2.0, 4.0])  # the mean of the last two (fewer at first)
    logs = log_frame(runs, {"b": "B"})
    assert list(logs.columns[:2]) == ["variant", "seed"] and set(logs.variant) == {"B"} and list(logs.seed) == [1, 1]
    per_run = pd.DataFrame({"variant": ["a", "b", "c"], "test_mean": [1.0, 2.0, 3.0]})
    scores = labelled(per_run, {"b": "B", "a": "A"}, "test_mean")
    assert list(scores.variant) == ["B", "A"] and list(scores.score) == [2.0, 1.0]


def test_a_figure_is_saved_listed_and_pruned_when_the_page_drops_it(tmp_path, monkeypatch):
    """``run.figure`` saves the notebook's figure into the report folder, lists it once and shows it; a figure
    with nothing drawn is neither saved nor listed; ``prune_figures`` removes a PNG the page no longer shows.
    Red for: an empty figure slot in a report, a stale figure left beside the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib import run
    from lib.sections.protocol import SectionResult

    shown = []
    monkeypatch.setattr(run.present, "show_figures", shown.append)
    ctx = run.Context(section=None, profile="smoke", overrides={}, cfg=None, out_dir=tmp_path)
    result = SectionResult(table=None, claims=[], regression={}, headline="")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    run.figure(ctx, result, fig, "curves")
    run.figure(ctx, result, plt.subplots()[0], "empty")
    assert result.figures == [tmp_path / "figures" / "curves.png"] and shown == result.figures
    assert (tmp_path / "figures" / "curves.png").stat().st_size > 1000 and not (tmp_path / "figures" / "empty.png").exists()
    (tmp_path / "figures" / "old.png").write_bytes(b"x")
    assert run.prune_figures(tmp_path, result.figures) == [tmp_path / "figures" / "old.png"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["curves.png"]
