"""Run store: keys, atomic publication, resume after a kill, failure isolation, parallel grid."""

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lib.store.runs import RUN_FILES, RunSpec, RunStore
from lib.store.grid import ProcessExecutor, run_grid

ROOT = Path(__file__).resolve().parent.parent


def _spec(cfg, seed=0, variant="v", trainer="lib.learners.pg:train"):
    return RunSpec(section="test", variant=variant, exp_name=f"t_{variant}", seed=seed, config=cfg, trainer=trainer)


def test_key_depends_on_config_seed_and_code(tiny_cfg):
    """Red for: a key blind to the config, the seed or the code, or one that changes with a variant's label."""
    base = _spec(tiny_cfg)
    assert base.key("c") == _spec(tiny_cfg).key("c")
    assert base.key("c") != _spec(tiny_cfg, seed=1).key("c")
    assert base.key("c") != _spec(replace(tiny_cfg, lr=1e-3)).key("c")
    assert base.key("c") != base.key("other code")
    assert base.key("c") == _spec(tiny_cfg, variant="renamed").key("c")  # labels are not results
    assert len(base.key()) == 16


def test_grid_writes_runs_and_reuses_them(store, tiny_cfg):
    """Red for: a run retrained or rewritten when its key is in the store, flags.json without its seed,
    config or versions."""
    specs = [_spec(tiny_cfg, seed=s) for s in (0, 1)]
    first = run_grid(specs, workers=1, store=store, progress=False)
    assert [r.cached for r in first] == [False, False]
    for r in first:
        assert all((r.path / f).exists() for f in RUN_FILES)
        flags = json.loads((r.path / "flags.json").read_text())
        assert flags["seed"] == r.spec.seed and flags["config"]["lr"] == tiny_cfg.lr
        assert {"torch", "gymnasium", "numpy"} <= set(flags["versions"]) and flags["git_commit"]
        assert r.path.name.startswith(f"CartPole-v1_t_v_sd{r.spec.seed}_")
    mtimes = [(r.path / "log.csv").stat().st_mtime_ns for r in first]
    again = run_grid(specs, workers=1, store=store, progress=False)
    assert [r.cached for r in again] == [True, True]
    assert [(r.path / "log.csv").stat().st_mtime_ns for r in again] == mtimes


def test_half_written_run_is_not_reused(store, tiny_cfg):
    """Red for: a directory missing run files taken as a finished run."""
    spec = _spec(tiny_cfg)
    key = spec.key()
    broken = store.root / spec.dirname(key)
    broken.mkdir(parents=True)
    (broken / "log.csv").write_text("Iteration\n0\n")  # no summary.json, agent.pt, ...
    assert store.find(key) is None
    import shutil

    shutil.rmtree(broken)
    (res,) = run_grid([spec], workers=1, store=store, progress=False)
    assert not res.cached and (res.path / "summary.json").exists()


def test_killed_run_leaves_nothing_and_resumes(store, tiny_cfg, tmp_path):
    """Kill a worker mid-training; the store shows no run, and the next grid trains it.
    Red for: a run published before it finished, a killed run's work directory left behind or taken as finished."""
    slow = replace(tiny_cfg, episodes=4000, batch_episodes=8)
    spec = _spec(slow)
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from lib.store.runs import RunStore, RunSpec\nfrom lib.learners.pg import PGConfig\n"
        "import pickle; spec = pickle.loads(bytes.fromhex(%r))\n"
        "RunStore(%r).execute(spec, spec.key())\n"
    ) % (str(ROOT), __import__("pickle").dumps(spec).hex(), str(store.root))
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline and not (store.tmp.exists() and any(store.tmp.iterdir())):
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(store.tmp.iterdir()), "the run should have been working in .tmp"
    assert store.find(spec.key()) is None
    assert store.clean_stale() == 1 and not any(store.tmp.iterdir())
    small = _spec(tiny_cfg)
    (res,) = run_grid([small], workers=1, store=store, progress=False)
    assert not res.cached


def failing_trainer(cfg, seed, out_dir):
    """A trainer that fails for seed 1 and otherwise defers to the real one."""
    if seed == 1:
        raise RuntimeError("boom for seed 1")
    from lib.learners.pg import train

    return train(cfg, seed, out_dir)


def test_one_failed_run_does_not_lose_the_others(store, tiny_cfg):
    """Red for: one failing run discarding the others' finished runs, or its failure swallowed."""
    specs = [_spec(tiny_cfg, seed=s, trainer="tests.test_runs:failing_trainer") for s in (0, 1, 2)]
    with pytest.raises(RuntimeError, match=r"(?s)1 run\(s\) failed \(v/sd1\).*boom for seed 1"):
        run_grid(specs, workers=1, store=store, progress=False)
    assert store.find(specs[0].key()) is not None and store.find(specs[2].key()) is not None
    assert store.find(specs[1].key()) is None


def test_process_executor_matches_serial(store, tiny_cfg, tmp_path):
    """Two worker processes give byte-identical logs to the in-process run.
    Red for: results that depend on the worker process (global state, an unseeded draw)."""
    specs = [_spec(tiny_cfg, seed=s) for s in (0, 1)]
    par = run_grid(specs, store=store, executor=ProcessExecutor(2), progress=False)
    serial_store = RunStore(tmp_path / "serial")
    ser = run_grid(specs, workers=1, store=serial_store, progress=False)
    for a, b in zip(par, ser):
        assert (a.path / "log.csv").read_bytes() == (b.path / "log.csv").read_bytes()


LEARNERS = ("lib.learners.pg:train", "lib.learners.sac:train", "lib.learners.imitation:train")


@pytest.mark.parametrize("learner", LEARNERS)
def test_a_learner_imports_nothing_of_the_store_sections_plots_or_reports(learner):
    """Red for: a learner importing the store, the sections, the plots or the reports (their edits would re-
    key its runs)."""
    from lib.provenance import REPO_ROOT, code_files

    files = {str(p.relative_to(REPO_ROOT)) for p in code_files(learner)}
    assert f"{learner.split(':')[0].replace('.', '/')}.py" in files and "lib/evaluation.py" in files and "lib/seeds.py" in files
    assert not [f for f in files if f.startswith(("lib/store/", "lib/sections/", "lib/publish/"))], files
    assert not files & {"lib/workbook.py", "lib/params.py", "lib/checks.py", "lib/stats.py", "lib/config.py"}
    if learner != "lib.learners.imitation:train":  # only the imitation learner reads experts and their datasets
        assert not [f for f in files if "experts" in f or "datasets" in f or "heads" in f]


def test_run_keys_follow_the_learners_code_and_nothing_else(tmp_path, monkeypatch, tiny_cfg):
    """Editing the store's progress bar, a plot helper or a learner's docstring leaves every key as it
    was; editing what a learner computes (a return estimator) changes the keys of its runs only.
    Red for: keys over file bytes (prose re-keys runs), keys blind to a learner's code, keys shared between
    learners."""
    import shutil

    from lib import provenance

    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    spec = _spec(tiny_cfg)

    def keys() -> tuple[str, ...]:
        return tuple(provenance.code_hash(m) for m in LEARNERS) + (spec.key(provenance.code_hash("lib.learners.pg:train")),)

    def edit(rel: str, old: str, new: str) -> None:
        path = tmp_path / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))

    before = keys()
    edit("lib/store/grid.py", 'unit="run"', 'unit="runs"')  # the store's progress bar
    edit("lib/publish/plots.py", 'fig.savefig(path, bbox_inches="tight",', 'fig.savefig(path, dpi=90, bbox_inches="tight",')
    edit("lib/learners/pg.py", '"""One policy-gradient (REINFORCE) learner', '"""The one policy-gradient (REINFORCE) learner')
    edit("lib/learners/pg.py", "import copy\n", "import copy  # a comment\n")
    assert keys() == before
    edit("lib/learners/returns.py", "def normalize(adv: np.ndarray, eps: float = 1e-8)", "def normalize(adv: np.ndarray, eps: float = 1e-6)")
    after = keys()
    assert after[0] != before[0] and after[3] != before[3]  # the policy gradient's code and its runs' keys
    assert after[1:3] == before[1:3]  # SAC and imitation do not use the return estimators


def test_run_keys_follow_code_not_where_it_lives(tmp_path, monkeypatch):
    """Moving a function the learners use (policies.inverse_cdf) into a new file keeps every key; editing its body
    changes the keys of the learners that use it; adding a module no learner reaches changes none. Red for: keys over file paths or whole files, keys blind
    to a moved function's body, a closure that misses names reached through ``from .x import y``."""
    import ast
    import shutil

    from lib import provenance

    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)

    def keys() -> tuple[str, ...]:
        return tuple(provenance.code_hash(t) for t in LEARNERS)

    before = keys()
    policies = tmp_path / "lib" / "policies.py"
    text = policies.read_text()
    fn = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "inverse_cdf")
    lines = text.splitlines(keepends=True)
    body = "".join(lines[fn.lineno - 1: fn.end_lineno])
    rest = "".join(lines[: fn.lineno - 1] + lines[fn.end_lineno:])
    policies.write_text(rest.replace("from torch import nn\n", "from torch import nn\n\nfrom .sampling import inverse_cdf\n", 1))
    (tmp_path / "lib" / "sampling.py").write_text('"""Moved here."""\nimport numpy as np\n\n\n' + body)
    assert keys() == before
    assert any(m == "lib.sampling" for m, _ in provenance.code_units(LEARNERS[0]))
    moved = tmp_path / "lib" / "sampling.py"
    moved.write_text(moved.read_text().replace("def inverse_cdf(", "def inverse_cdf(\n", 1))  # layout only
    assert keys() == before
    src = moved.read_text()
    assert "rng.random(" in src
    moved.write_text(src.replace("rng.random(", "rng.uniform(0.0, 1.0, ", 1))
    after = keys()
    assert after[0] != before[0] and after[2] != before[2]  # pg and imitation sample categoricals with it
    assert after[1] == before[1]  # SAC's Gaussian actor never calls it, though it lives in the same policies.py
    (tmp_path / "lib" / "learners" / "unused.py").write_text("def helper():\n    return 1\n")
    assert keys() == after


def test_a_report_counts_only_the_runs_of_its_own_section(tmp_path, monkeypatch):
    """Another process training on the same store at the same time does not inflate a report's count.
    Red for: counting every new run in the store, a broken run directory crashing the count."""
    import json

    from lib.workbook import _trained_for

    monkeypatch.setenv("RLWB_RUNS", str(tmp_path))
    for name, section in (("a1", "01_x"), ("a2", "01_x"), ("b1", "06_y")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "flags.json").write_text(json.dumps({"section": section}))
    (tmp_path / "broken").mkdir()
    assert _trained_for("01_x", {"a1", "a2", "b1", "broken"}) == 2
    assert _trained_for("06_y", {"a1", "a2", "b1"}) == 1


def test_plan_jobs_batches_the_seeds_of_one_config_and_balances_the_workers(tiny_cfg):
    """Seeds of one config share a job (at most ``cap``); configs never mix; the largest job is halved
    until the workers get equal job counts. Red for: batching across configs, ignoring the cap, or
    leaving one worker idle."""
    from lib.store.grid import plan_jobs

    other = replace(tiny_cfg, lr=1e-3)
    items = [(_spec(tiny_cfg, seed=s), f"a{s}") for s in range(5)] + [(_spec(other, seed=s, variant="w"), f"b{s}") for s in range(2)]
    jobs = plan_jobs(items, workers=2, cap=4)
    assert sorted(k for job in jobs for _, k in job) == sorted(k for _, k in items)  # every run once
    for job in jobs:
        assert len({id(s.config) for s, _ in job}) == 1 and len(job) <= 4
    assert len(jobs) % 2 == 0
    assert [len(j) for j in plan_jobs(items[:1], workers=2)] == [1]
    sac = [(_spec(tiny_cfg, seed=s, trainer="lib.learners.sac:train"), f"s{s}") for s in range(3)]
    assert [len(j) for j in plan_jobs(sac, workers=1)] == [1, 1, 1]  # no batch form: one run per job


def test_a_batched_grid_gives_each_run_the_files_it_gets_alone(store, tiny_cfg, tmp_path):
    """Three seeds trained as one batch (one process, one vector env) equal three runs trained one by
    one through the store. Red for: any state shared between the seeds of a batch."""
    specs = [_spec(tiny_cfg, seed=s) for s in (0, 1, 2)]
    batched = run_grid(specs, workers=1, store=store, progress=False)
    assert json.loads((batched[0].path / "flags.json").read_text())["batch_seeds"] == [0, 1, 2]
    alone = RunStore(tmp_path / "alone")
    for spec, res in zip(specs, batched):
        path = alone.execute(spec, spec.key())
        for name in ("log.csv", "episodes.csv"):
            assert (path / name).read_bytes() == (res.path / name).read_bytes(), (spec.seed, name)
        assert json.loads((path / "summary.json").read_text())["test_returns"] == res.summary["test_returns"]


def test_execute_batch_refuses_a_key_given_twice(store, tiny_cfg):
    """One key twice in one batch would train one run twice over one work directory. Red for: a batch
    that accepts duplicate keys."""
    spec = _spec(tiny_cfg, seed=0)
    with pytest.raises(ValueError, match="twice"):
        store.execute_batch([spec, spec], [spec.key(), spec.key()])
    assert store.find(spec.key()) is None


def test_a_loaded_policy_plays_the_runs_own_test(tmp_path, tiny_cfg):
    """The run contract's ``load_policy`` rebuilds a finished run's policy from its directory alone, and that
    policy, playing the run's test episodes (same env, same seeds), scores exactly the test returns the run
    recorded. Red for: a loader that builds the wrong network, loads another state, or acts sampled where
    the test acted greedily."""
    from lib import seeds
    from lib.evaluation import evaluate
    from lib.learners.contract import load_policy
    from lib.learners.pg import make_env

    cfg = replace(tiny_cfg, test_greedy=True, episodes=40)
    (result,) = run_grid([_spec(cfg, seed=3)], workers=1, store=RunStore(tmp_path), progress=False)
    actor = load_policy(result.path)

    class Loaded:
        def sample(self, obs, rng, greedy=False):
            return actor(obs)

    test_seed = seeds.seed("pg.test", 3)
    env = make_env(cfg, min(cfg.test_episodes, 100), noise_seed=test_seed)
    returns, _ = evaluate(Loaded(), env, cfg.test_episodes, seed=test_seed)
    assert list(returns) == result.summary["test_returns"]


@pytest.mark.parametrize("learner", LEARNERS)
def test_a_learners_budget_bounds_what_a_run_does(learner, tiny_cfg, tmp_path):
    """Each learner prices its own loop (``budget(cfg)``): a tiny policy-gradient run's env steps stay under
    its bound, the bound grows with the iterations; SAC's and imitation's bounds count their updates.
    Red for: a budget that ignores the batch, the evaluations or the test, or one a run can exceed."""
    from lib.learners.contract import budget

    if learner.startswith("lib.learners.pg"):
        (result,) = run_grid([_spec(tiny_cfg)], workers=1, store=RunStore(tmp_path), progress=False)
        b = budget(learner, tiny_cfg)
        assert 0 < result.summary["env_steps_all"] <= b.env_steps
        assert budget(learner, replace(tiny_cfg, episodes=48)).env_steps > b.env_steps
    elif learner.startswith("lib.learners.sac"):
        from lib.learners.sac import SACConfig

        b = budget(learner, SACConfig(total_steps=2000, eval_every=1000, eval_episodes=2, test_episodes=3))
        assert b.updates == 2000 and b.env_steps == 2000 + 2 * 2 * 1000 + 3 * 1000  # HalfCheetah episodes: 1000 steps
    else:
        from lib.learners.imitation import ImitationConfig

        cfg = ImitationConfig()
        b = budget(learner, cfg)
        assert b.updates == cfg.total_steps and b.env_steps >= (cfg.test_episodes + cfg.eval_episodes) * 200


def test_code_that_runs_at_import_is_in_the_key(tmp_path, monkeypatch):
    """A module a learner imports only for what it does at import (a registration, a warnings filter) is in
    the key though none of its names is used: changing that statement re-keys the learner. Red for: a
    closure that follows only the names a definition uses."""
    import shutil

    from lib import provenance

    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    (tmp_path / "lib" / "data" / "side.py").write_text('import warnings\n\nwarnings.filterwarnings("ignore", message="a")\n')
    pg = tmp_path / "lib" / "learners" / "pg.py"
    pg.write_text(pg.read_text().replace("import copy\n", "import copy\n\nfrom ..data import side  # noqa: F401\n", 1))
    before = provenance.code_hash(LEARNERS[0])
    (tmp_path / "lib" / "data" / "side.py").write_text('import warnings\n\nwarnings.filterwarnings("ignore", message="b")\n')
    assert provenance.code_hash(LEARNERS[0]) != before
