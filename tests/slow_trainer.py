"""A trainer that records each time it trains (for the run-store lock test) and takes a second."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SlowConfig:
    env_id: str = "Slow-v0"
    seconds: float = 1.0


def train(cfg: SlowConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """Sleep ``cfg.seconds``, note ``sd<seed>-<pid>`` in ``$RLWB_TEST_TRAIN_LOG``, write the learner's files
    and return a summary that keeps the run contract (lib.learners.contract)."""
    (Path(os.environ["RLWB_TEST_TRAIN_LOG"]) / f"sd{seed}-{os.getpid()}").touch()
    time.sleep(cfg.seconds)
    out_dir = Path(out_dir)
    (out_dir / "log.csv").write_text("Iteration\n0\n")
    (out_dir / "agent.pt").write_bytes(b"")
    return {"seed": seed, "test_returns": [0.0], "test_mean": 0.0, "test_std": 0.0, "wall_time_s": cfg.seconds}
