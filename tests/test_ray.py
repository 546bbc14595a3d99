"""The Ray executor: the same runs as the process pool, on an embedded Ray and on a two-node cluster,
and nothing left behind when its driver is killed."""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lib.store.grid import ProcessExecutor, run_grid
from lib.store.runs import RunSpec, RunStore

ROOT = Path(__file__).resolve().parent.parent
FILES = ("log.csv", "episodes.csv")


def _specs(cfg):
    """Two variants x two seeds: two batched jobs."""
    return [RunSpec(section="t", variant=f"v{i}", exp_name=f"v{i}", seed=s, config=replace(cfg, lr=0.003 * (i + 1)))
            for i in range(2) for s in (0, 1)]


def _same_runs(a, b):
    for ra, rb in zip(a, b):
        assert ra.path.name == rb.path.name
        for name in FILES:
            assert (ra.path / name).read_bytes() == (rb.path / name).read_bytes(), (ra.path.name, name)
        assert ra.summary["test_returns"] == rb.summary["test_returns"]


def test_a_grid_on_embedded_ray_equals_the_process_pool(tiny_cfg, tmp_path):
    """Red for: a Ray task that trains another config or seed, or files lost on the way back."""
    pytest.importorskip("ray")
    pool = run_grid(_specs(tiny_cfg), store=RunStore(tmp_path / "pool"), executor=ProcessExecutor(2), progress=False)
    on_ray = run_grid(_specs(tiny_cfg), workers=2, store=RunStore(tmp_path / "ray"), executor="ray", progress=False)
    assert not any(r.cached for r in on_ray)
    _same_runs(pool, on_ray)


def _ray_processes(session_marker: str) -> list[int]:
    """Pids of live processes whose environment names ``session_marker`` (set for the driver below)."""
    pids = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if session_marker.encode() in env.read_bytes():
                stat = (env.parent / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] not in ("Z", "X"):
                    pids.append(int(env.parent.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_killed_driver_leaves_no_ray_process(tmp_path):
    """SIGKILL the driver of an embedded Ray in the middle of a grid: within a few seconds no process it
    started is alive (Ray leaves its agents behind on its own; lib.store.reaper ends them)."""
    pytest.importorskip("ray")
    marker = f"RLWB_TEST_MARKER={os.getpid()}{time.time_ns()}"
    script = (
        "from pathlib import Path\n"
        "from lib.learners.pg import PGConfig\n"
        "from lib.store import RunSpec, RunStore, run_grid\n"
        "cfg = PGConfig(episodes=100000, batch_episodes=4, hidden=(8,))\n"
        "specs = [RunSpec(section='t', variant='v', exp_name='v', seed=s, config=cfg) for s in (0, 1)]\n"
        f"run_grid(specs, workers=2, store=RunStore(Path({str(tmp_path / 'runs')!r})), executor='ray', progress=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker.split("=")[0]: marker.split("=")[1]}
    driver = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline and not any("ray::_ray_task" in _comm(p) for p in _ray_processes(marker)):
        time.sleep(0.5)
    assert len(_ray_processes(marker)) > 3, "Ray did not start its tasks"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.time() + 15
    while time.time() < deadline and _ray_processes(marker):
        time.sleep(0.5)
    assert _ray_processes(marker) == []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.slow
def test_a_grid_on_a_two_node_loopback_cluster_equals_the_process_pool(tiny_cfg, tmp_path, monkeypatch):
    """``ray start --head`` plus a second ``ray start --address`` on this machine (two raylets, one CPU
    each), a grid through ``address``: the same runs as the process pool."""
    pytest.importorskip("ray")
    ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    assert ray_bin, "the ray command line is not installed"
    import secrets
    import tempfile

    port = 6390 + os.getpid() % 50
    temp = tempfile.mkdtemp(prefix="rlwb-ray-", dir="/tmp")  # Ray's socket paths must stay short
    token = Path(temp) / "token"
    token.write_text(secrets.token_hex(32))  # Ray >= 2.52 authenticates nodes and drivers with a shared token
    for name, value in (("RAY_AUTH_MODE", "token"), ("RAY_AUTH_TOKEN_PATH", str(token)), ("RAY_ADDRESS", "")):
        monkeypatch.setenv(name, value)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    head = [ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=1",
            "--include-dashboard=false", f"--temp-dir={temp}"]
    try:
        subprocess.run(head, check=True, env=env, capture_output=True, timeout=180)
        subprocess.run([ray_bin, "start", "--node-ip-address=127.0.0.1", f"--address=127.0.0.1:{port}", "--num-cpus=1"],
                       check=True, env=env, capture_output=True, timeout=180)
        driver = (  # a fresh process: Ray reads its authentication settings when it is imported
            "import sys\n"
            "from pathlib import Path\n"
            "import ray\n"
            "from lib.learners.pg import PGConfig\n"
            "from lib.store.grid import run_grid\n"
            "from lib.store.runs import RunStore\n"
            "from tests.test_ray import _specs\n"
            f"ray.init(address='127.0.0.1:{port}', log_to_driver=False)\n"
            "nodes = len([n for n in ray.nodes() if n['Alive']])\n"
            "ray.shutdown()\n"
            "assert nodes == 2, f'{nodes} nodes'\n"
            f"cfg = PGConfig(**{dict(episodes=tiny_cfg.episodes, batch_episodes=tiny_cfg.batch_episodes, window=tiny_cfg.window, test_episodes=tiny_cfg.test_episodes, hidden=tiny_cfg.hidden, value_hidden=tiny_cfg.value_hidden)!r})\n"
            f"run_grid(_specs(cfg), workers=2, store=RunStore(Path({str(tmp_path / 'cluster')!r})), executor='ray', "
            f"address='127.0.0.1:{port}', progress=False)\n"
        )
        subprocess.run([sys.executable, "-c", driver], check=True, env=env, cwd=ROOT, timeout=600)
        on_cluster = run_grid(_specs(tiny_cfg), store=RunStore(tmp_path / "cluster"), progress=False)
        assert all(r.cached for r in on_cluster)  # every run came from the cluster
        pool = run_grid(_specs(tiny_cfg), store=RunStore(tmp_path / "pool"), executor=ProcessExecutor(2), progress=False)
        _same_runs(pool, on_cluster)
    finally:
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
