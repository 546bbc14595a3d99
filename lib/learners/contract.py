"""The run contract every learner keeps.

A learner is a function ``train(cfg, seed, out_dir) -> Summary``: ``cfg`` a frozen dataclass (the
learner's config, validated by :mod:`lib.config`), ``seed`` the run seed (every random stream is
derived from it by :mod:`lib.seeds`), ``out_dir`` an existing directory the learner writes its
files into: ``log.csv`` (one row per iteration or evaluation) and ``agent.pt`` (``{"policy":
state_dict, "config": ..., "seed": ...}``), ``episodes.csv`` where it has training episodes. It
returns the :data:`Summary`; the run store writes it to summary.json beside flags.json.

A learner may also offer a batch form (:func:`batch_trainer`) that trains several seeds of one
config in one process; the store then trains grids in batches.

A learner imports nothing of the run store, the sections, the plots or the reports; the run store
finds it by name (:data:`LEARNERS`) and keys its runs by the source of the modules it imports.
"""

from __future__ import annotations

import importlib
import json
import typing
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..config import build

#: What a learner returns: JSON-able, with at least :data:`SUMMARY_KEYS`.
Summary = dict[str, Any]

#: Keys every summary holds: the run seed, the test episodes' returns, their mean and std, seconds.
SUMMARY_KEYS = ("seed", "test_returns", "test_mean", "test_std", "wall_time_s")

#: Files every learner writes.
LEARNER_FILES = ("log.csv", "agent.pt")

#: learner name -> "module:function".
LEARNERS: dict[str, str] = {
    "pg": "lib.learners.pg:train",
    "sac": "lib.learners.sac:train",
    "imitation": "lib.learners.imitation:train",
}


#: An acting policy: observations (B, obs_dim) float32 -> actions, (B,) int64 or (B, act_dim) float32.
Actor = Callable[[np.ndarray], np.ndarray]


class Budget(NamedTuple):
    """Upper bounds of one run's work: env steps (training, evaluations, tests and demonstrations, every
    episode at its full length) and gradient updates. ``./workbook`` sets them against the machine's
    rates before any compute (:func:`lib.checks.run_cost`)."""

    env_steps: int
    updates: int


class Learner(Protocol):
    def __call__(self, cfg: Any, seed: int, out_dir: Path, /) -> Summary: ...


def check_summary(summary: Any, learner: str) -> Summary:
    """``summary`` if it keeps the contract; a clear error naming ``learner`` and what is missing otherwise."""
    if not isinstance(summary, dict):
        raise TypeError(f"learner {learner} returned {type(summary).__name__}, not a summary dict")
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:
        raise ValueError(f"learner {learner} returned a summary without {missing}")
    return summary


def batch_trainer(trainer: str) -> Callable[..., list[Summary]] | None:
    """The learner's batch form, if it has one: ``<function>_batch(cfg, seeds, out_dirs) -> [Summary]``
    in the same module (e.g. ``lib.learners.pg:train_batch``), which trains one run per seed together
    and gives each the files it would get alone; None otherwise."""
    module, fn = LEARNERS.get(trainer, trainer).split(":")
    return getattr(importlib.import_module(module), f"{fn}_batch", None)


def resolve(trainer: str) -> Callable[..., Summary]:
    """The function of ``trainer`` (a name in :data:`LEARNERS` or "module:function")."""
    target = LEARNERS.get(trainer, trainer)
    module, fn = target.split(":")
    return getattr(importlib.import_module(module), fn)


def learner_module(trainer: str) -> ModuleType:
    """The module of ``trainer`` (a name in :data:`LEARNERS` or "module:function")."""
    return importlib.import_module(LEARNERS.get(trainer, trainer).split(":")[0])


def config_type(trainer: str) -> type:
    """The config class ``trainer``'s function takes (its ``cfg`` annotation)."""
    return typing.get_type_hints(resolve(trainer))["cfg"]


def budget(trainer: str, cfg: Any) -> Budget:
    """The :class:`Budget` of one run of ``cfg``: the learner module's own ``budget(cfg)``, which knows
    what its loop does."""
    return learner_module(trainer).budget(cfg)


def load_policy(run_dir: Path, seed: int = 0, cfg: Any = None) -> Actor:
    """The policy a finished run kept (its agent.pt), acting as the run's test does: greedy or sampled as
    its config says, a sampling policy drawing from a generator seeded with ``seed``. ``cfg``: the run's
    config (default: rebuilt from its flags.json). Animations and tests load policies here, never by
    rebuilding networks themselves."""
    flags = json.loads((Path(run_dir) / "flags.json").read_text())
    trainer = flags["trainer"]
    if cfg is None:
        cfg = build(config_type(trainer), flags["config"], str(Path(run_dir) / "flags.json"))
    return learner_module(trainer).load_policy(Path(run_dir), cfg, seed)
