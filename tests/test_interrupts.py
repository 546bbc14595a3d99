"""Killing a report or a command leaves no process behind; two reports never train one run twice.

The process tests start the real commands in their own process group with a marker in their
environment (every descendant inherits it, even one reparented after its parent died), wait until
the workers train, signal the group, and then look for any process still carrying the marker.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lib.store.runs import RunSpec, RunStore
from lib.store.grid import run_grid

ROOT = Path(__file__).resolve().parent.parent


def marked(mark: str) -> list[int]:
    """Pids of live processes whose environment holds RLWB_TEST_MARK=mark (zombies excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"RLWB_TEST_MARK={mark}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(proc.name))
        except OSError:
            continue
    return found


def start(cmd: list[str], tmp_path: Path) -> tuple[subprocess.Popen, str]:
    mark = uuid.uuid4().hex
    env = {**os.environ, "RLWB_TEST_MARK": mark, "RLWB_RUNS": str(tmp_path / "runs"), "RLWB_REPORTS": str(tmp_path / "reports"),
           "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    return proc, mark


def wait_for(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


#: How long the processes of a killed command may take to go (the kernel, in its own session, and the
#: workers leave by watching their parent, at least once a second; on two cores shared with another
#: training job that took more than 5 s). A process that never leaves fails at any grace.
GRACE_S = 20.0


def _skip_if_sigint_ignored(sig: signal.Signals) -> None:
    """A process started in the background by a non-interactive shell (``cmd &`` in a script) inherits
    SIGINT ignored, and so do the commands it starts: no Ctrl-C can reach them, by POSIX design."""
    if sig == signal.SIGINT and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this test process (started in the background by a non-interactive shell), "
                    "so the commands it starts ignore it too")


def stop_and_count(proc: subprocess.Popen, mark: str, sig: signal.Signals, said: list[str] | None = None) -> list[int]:
    """Signal the process group, give it :data:`GRACE_S`, and return the marked processes still alive
    then (what the command wrote to stderr goes to ``said``)."""
    os.killpg(proc.pid, sig)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and marked(mark):
        time.sleep(0.1)
    left = marked(mark)
    for pid in left:  # say what they are (in the assertion's diff), then do not leave them to the next test
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
            ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
            print(f"survivor {pid} (parent {ppid}): {cmdline}", file=sys.stderr)
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        _out, err = proc.communicate(timeout=10)
        if said is not None:
            said.append(err)
    except subprocess.TimeoutExpired:
        proc.kill()
    return left


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_killing_a_report_leaves_no_process(tmp_path, sig):
    """A report with two workers (kernel + 2 spawned workers), killed while the workers train."""
    _skip_if_sigint_ignored(sig)
    cmd = [sys.executable, "-m", "lib.workbook", "reports", "--profile", "smoke", "--section", "01_reinforce_baselines",
           "--set", "workers=2", "--set", "train.episodes=200000", "--no-pdf", "--quiet"]
    proc, mark = start(cmd, tmp_path)
    tmp = tmp_path / "runs" / ".tmp"
    # smoke: 4 variants x 2 seeds, each variant's seeds one job: 4 work directories = both workers training
    wait_for(lambda: len(list(tmp.glob("*"))) >= 4 or proc.poll() is not None, 120, "two workers training")
    assert proc.poll() is None, proc.communicate()
    said: list[str] = []
    assert stop_and_count(proc, mark, sig, said) == []
    if sig == signal.SIGINT:  # Ctrl-C: the driver says what was kept
        assert "workbook: interrupted." in said[0] and "kept in the run store" in said[0]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_killing_a_command_leaves_no_process(tmp_path, sig):
    _skip_if_sigint_ignored(sig)
    cmd = [sys.executable, "-m", "lib.assignment", "--env_name", "CartPole-v1", "--exp_name", "kill", "-n", "100000",
           "--exp_dir", str(tmp_path / "exp")]
    proc, mark = start(cmd, tmp_path)
    wait_for(lambda: any((tmp_path / "runs" / ".tmp").glob("*")) or proc.poll() is not None, 60, "training to start")
    assert proc.poll() is None, proc.communicate()
    assert stop_and_count(proc, mark, sig) == []


def test_ctrl_c_says_which_runs_finished(store, tiny_cfg, capsys):
    import dataclasses

    # three variants (three configs), so three jobs: the grid batches the seeds of one config together
    specs = [RunSpec(section="t", variant=f"v{i}", exp_name=f"v{i}", seed=i, config=dataclasses.replace(tiny_cfg, lr=0.001 * (i + 1)))
             for i in range(3)]

    class InterruptAfterOne:
        def map(self, fn, items):
            yield items[0], fn(items[0])
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_grid(specs, store=store, executor=InterruptAfterOne(), progress=False)
    err = capsys.readouterr().err
    assert "interrupted: 1 of 3 runs" in err and "v0/sd0" in err and "2 not finished" in err
    assert len([p for p in store.root.iterdir() if not p.name.startswith(".")]) == 1  # the finished one is kept


# ------------------------------------------------------------------ no double work


def _grid_in_process(root: str, marker_dir: str, out: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["RLWB_TEST_TRAIN_LOG"] = marker_dir
    from lib.store.runs import RunSpec, RunStore
    from lib.store.grid import run_grid
    from tests.slow_trainer import SlowConfig

    specs = [RunSpec(section="t", variant=f"v{i}", exp_name=f"v{i}", seed=i, config=SlowConfig(),
                     trainer="tests.slow_trainer:train") for i in range(3)]
    results = run_grid(specs, workers=1, store=RunStore(Path(root)), progress=False)
    Path(out).write_text(json.dumps([str(r.path) for r in results]))


def test_two_reports_on_one_store_never_train_a_run_twice(tmp_path):
    """Two processes ask for the same three runs at once: each run is trained exactly once, and both
    get the same results (the second waits for the first's, or takes the runs the first has not)."""
    ctx = mp.get_context("spawn")
    log = tmp_path / "trained"
    log.mkdir()
    procs = [ctx.Process(target=_grid_in_process, args=(str(tmp_path / "runs"), str(log), str(tmp_path / f"out{i}.json")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    trained = sorted(f.name.split("-")[0] for f in log.iterdir())
    assert trained == ["sd0", "sd1", "sd2"]  # one training per run, whoever did it
    assert json.loads((tmp_path / "out0.json").read_text()) == json.loads((tmp_path / "out1.json").read_text())


def test_a_locked_key_is_skipped_without_waiting_and_taken_after_its_holder_dies(tmp_path):
    store = RunStore(tmp_path / "runs")
    held = store.lock("abc")
    assert held is not None
    assert store.lock("abc", wait=False) is None
    with held:
        pass
    again = store.lock("abc", wait=False)
    assert again is not None
    with again:
        pass
