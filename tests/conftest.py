"""Shared test fixtures: a private run store per test, and tiny learner configs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread in the test process, as in every worker of the workbook: two threads collapse
    under outside load on a 2-core machine (a SAC resume test took 7 minutes instead of seconds)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty run store in a temporary directory (also exported as RLWB_RUNS)."""
    from lib.store.runs import RunStore

    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs")


@pytest.fixture()
def tiny_cfg():
    """A CartPole learner config that trains in well under a second."""
    from lib.learners.pg import PGConfig

    return PGConfig(episodes=24, batch_episodes=4, window=8, test_episodes=8, hidden=(16,), value_hidden=(16,))


@pytest.fixture()
def shipped_toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The toy corridor's expert (``tests/toy_env.py``) shipped under a temporary experts/ folder."""
    from lib.data import experts
    from tests.toy_env import ENV_ID, expert_policy

    monkeypatch.setattr(experts, "EXPERTS_DIR", tmp_path / "experts")
    experts.save_expert("toy", expert_policy().state_dict(),
                        {"env_id": ENV_ID, "network": {"kind": "categorical", "obs_dim": 1, "n_actions": 2, "hidden": [],
                                                       "activation": "tanh"}})
    return experts.load("toy")
