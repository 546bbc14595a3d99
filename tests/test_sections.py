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


def test_check_module_names_what_is_missing():
    import types

    empty = types.ModuleType("lib.sections.empty")
    problems = check_module(empty)
    assert any("lacks analyse" in p for p in problems) and any("lacks specs" in p for p in problems)


def _code(section: str) -> list[str]:
    nb = json.loads((NOTEBOOKS_DIR / f"{section}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("section", list(SECTIONS))
def test_notebooks_are_thin_and_alike(section):
    """Parameters, then lib.sections.run's calls only: setup, runs, analyse, show, animate, publish."""
    cells = _code(section)
    assert cells[0].startswith("profile =") and "\nexecutor = " in cells[0] and "\naddress = " in cells[0]
    assert cells[1] == (f"from lib.sections import {SECTIONS[section]} as section\nfrom lib.sections import run\n\n"
                        "ctx = run.setup(section, profile, overrides, executor=executor, address=address)")
    body = "\n".join(cells[2:])
    assert "results = run.runs(ctx)\nresult = run.analyse(ctx, results)" in body
    assert "run.publish(ctx, results, result)" in body and "run.regression_check(ctx, results_path)" in body
    calls = [line for cell in cells[2:] for line in cell.splitlines() if line and not line.startswith("#")]
    allowed = ("results = run.runs(", "result = run.analyse(", "run.show(", "run.animate(", "results_path = run.publish(",
               "print(run.regression_check(")
    assert all(line.startswith(allowed) for line in calls), [c for c in calls if not c.startswith(allowed)]


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
