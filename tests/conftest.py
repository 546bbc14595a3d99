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
