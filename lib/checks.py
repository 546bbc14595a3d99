"""Checks of a validated config against the world outside it, made before any compute.

:mod:`lib.config` checks each value on its own (type, range, finiteness, choices). This module
checks what needs more than the value:

* **environment ids** against gymnasium's registry (ids gymnasium 1.x renamed are accepted, see
  :data:`lib.data.envs.RENAMED_IDS`), with the closest registered ids as a hint;
* **dataset files** (``dataset_file``): the file exists, loads, has the report's format, and its
  observation and action widths match the environment's;
* **stacked evaluations**: a policy-gradient config that evaluates during training by episodes
  must fit them in one round of the env copies it gets (:func:`lib.learners.pg.eval_envs`): seeds
  trained together share one vector env, and a second round would start where the *longest* block's
  round ended, so a run's evaluations would depend on the seeds it was batched with (its key does
  not name them). ``tests/test_evaluation.py`` shows the difference;
* **budgets**: an upper bound on the environment steps (and gradient steps) of every run a
  section (or a command) asks for, turned into an estimate of the wall time at rates measured on
  a 2-core machine (:data:`RATES`). A section estimated above :data:`MAX_HOURS` hours is refused
  (``RLWB_MAX_HOURS`` raises the limit for those who mean it).

Every problem is one line naming the source (file, overrides or command line), the key as the user
wrote it, what was given and what is allowed; :func:`check_section` raises them together as one
:class:`~lib.config.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

from .config import ConfigError
from .data.envs import RENAMED_IDS, resolve_env_id, spaces
from .data.datasets import validate
from .paths import resolve, store_root
from .learners.contract import LEARNERS, budget, learner_module
from .learners.pg import PGConfig, eval_envs
from .seeds import MAX_RUN_SEED

#: The wall-time limit (hours) of one section or command, unless RLWB_MAX_HOURS says otherwise.
MAX_HOURS = 72.0

#: Rough rates on one core of a 2-core x86-64 machine (measured from the timings of the default
#: report, reports/timings.jsonl): environment steps per second of each learner, by environment
#: family, and gradient steps per second of the supervised learners.
RATES: dict[str, float] = {
    "pg:classic": 40_000.0,  # CartPole (01, 02, 05)
    "pg:box2d": 5_000.0,  # LunarLander (07)
    "pg:mujoco": 5_000.0,  # HalfCheetah, InvertedPendulum (06, 08)
    "sac": 100.0,  # one update per step dominates (3.3 h for 1M steps at bfloat16)
    "env": 10_000.0,  # evaluation and data collection without learning
    "grad": 500.0,  # gradient steps of behaviour cloning (09) and imitation (04)
}


def max_hours() -> float:
    """The limit in force: ``$RLWB_MAX_HOURS`` if set (a positive number), else :data:`MAX_HOURS`."""
    raw = os.environ.get("RLWB_MAX_HOURS")
    if raw is None:
        return MAX_HOURS
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"RLWB_MAX_HOURS={raw!r}: must be a positive number of hours") from None
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"RLWB_MAX_HOURS={raw!r}: must be a positive number of hours")
    return value


# ----------------------------------------------------------------------------- environment ids


def env_id_problem(env_id: str) -> str | None:
    """None if gymnasium knows ``env_id`` (directly or as a renamed id), else what is wrong and a hint."""
    import gymnasium as gym

    registry = gym.envs.registry
    if resolve_env_id(env_id) in registry:
        return None
    close = difflib.get_close_matches(env_id, list(registry) + list(RENAMED_IDS), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else \
        "; any id registered with gymnasium works, e.g. CartPole-v1, LunarLander-v3, HalfCheetah-v4, InvertedPendulum-v4"
    return f"{env_id!r} is not a registered gymnasium environment{hint}"


def _fields(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every field of a config dataclass, nested ones included."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(value):
            yield from _fields(value, key + ".")
        else:
            yield key, value


# ----------------------------------------------------------------------------- dataset files


def dataset_problem(path_text: str, env_id: str) -> str | None:
    """None if ``path_text`` (relative to the repository, or absolute) is a dataset in the report's
    format whose widths fit ``env_id``; else what is wrong."""
    import torch

    path = resolve(path_text)
    if not path.exists():
        return f"{path_text!r}: no such file ({path})"
    if path.is_dir():
        return f"{path_text!r} is a directory; expected a file saved with torch.save"
    try:
        raw = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any failure to read is the user's file, reported as such
        return f"{path_text!r} is not a readable torch file ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    try:
        data = validate(raw, path_text)
    except (ValueError, TypeError) as exc:
        return str(exc)
    problem = env_id_problem(env_id)
    if problem is not None:
        return None  # the env id is reported on its own
    space = spaces(env_id)
    obs_dim, act_dim = space.obs_dim, 1 if space.discrete else space.act_dim
    got = (data["observations"].shape[1], data["actions"].shape[1] if data["actions"].ndim == 2 else 1)
    if got != (obs_dim, act_dim):
        return (f"{path_text!r} holds observations of width {got[0]} and actions of width {got[1]}; {env_id} has "
                f"{obs_dim} and {act_dim}")
    return None


# ----------------------------------------------------------------------------- budgets


def _family(env_id: str) -> str:
    import gymnasium as gym

    try:
        entry = str(gym.spec(resolve_env_id(env_id)).entry_point)
    except Exception:  # noqa: BLE001
        return "pg:mujoco"
    if "mujoco" in entry:
        return "pg:mujoco"
    if "box2d" in entry:
        return "pg:box2d"
    return "pg:classic"


def run_cost(config: Any, trainer: str) -> tuple[int, float]:
    """(upper bound on the environment steps, estimated seconds) of one run of ``config``: the learner's
    own :func:`~lib.learners.contract.budget`, priced at this machine's :data:`RATES` (policy gradient:
    env steps at its env family's rate; SAC: one update per training step, the other steps at the env
    rate; imitation: gradient steps plus env steps)."""
    if not hasattr(learner_module(trainer), "budget"):  # a stand-in trainer (tests): nothing to price
        return 0, 0.0
    b = budget(trainer, config)
    learner = LEARNERS.get(trainer, trainer).split(":")[0].rsplit(".", 1)[-1]
    if learner == "pg":
        return b.env_steps, b.env_steps / RATES[_family(config.env_id)]
    if learner == "sac":
        return b.env_steps, b.updates / RATES["sac"] + (b.env_steps - b.updates) / RATES["env"]
    return b.env_steps, b.updates / RATES["grad"] + b.env_steps / RATES["env"]


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:,.0f} h" if hours >= 10 else f"{hours:.1f} h"


def budget_problem(specs: Sequence[Any], workers: int, what: str) -> str | None:
    """None if the runs ``specs`` fit the wall-time limit on ``workers`` parallel workers, else why not."""
    seconds, steps = 0.0, 0
    for s in specs:
        n, sec = run_cost(s.config, s.trainer)
        steps += n
        seconds += sec
    wall = seconds / max(1, min(workers, os.cpu_count() or 1))
    limit = max_hours()
    if wall / 3600 <= limit:
        return None
    return (f"{what} asks for up to {steps:,} environment steps over {len(specs)} run(s), about {_hours(wall)} on this "
            f"machine; the limit is {limit:g} h (set RLWB_MAX_HOURS to raise it): lower the budget or the seeds")


# ----------------------------------------------------------------------------- the run store


def store_problem() -> str | None:
    """None if the run store (``$RLWB_RUNS`` or runs/) is, or can be made, a writable directory."""

    root = store_root()
    where = f"RLWB_RUNS={os.environ['RLWB_RUNS']!r}" if "RLWB_RUNS" in os.environ else f"the run store {root}"
    if root.exists() and not root.is_dir():
        return f"{where}: not a directory; the run store must be a directory (it is made when missing)"
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        return f"{where}: {probe} is not a writable directory"
    return None


# ----------------------------------------------------------------------------- stacked evaluations


def evaluation_problems(specs: Sequence[Any]) -> list[str]:
    """Policy-gradient configs whose evaluations during training need more than one round of their
    env copies (see the module doc), as one line per distinct config."""

    out: list[str] = []
    for c in dict.fromkeys(s.config for s in specs if isinstance(s.config, PGConfig)):
        if c.eval_every and c.eval_steps is None and c.eval_episodes > eval_envs(c):
            out.append(f"key 'eval_episodes': {c.eval_episodes} episodes per evaluation need more than one round of the "
                       f"{eval_envs(c)} env copies an evaluation gets, and seeds trained together would then evaluate "
                       f"on episodes that depend on each other; allowed: at most {eval_envs(c)}, or set 'eval_steps'")
    return out


# ----------------------------------------------------------------------------- run seeds


def seed_problems(specs: Sequence[Any]) -> list[str]:
    """Run seeds the seeds table cannot place (:data:`lib.seeds.MAX_RUN_SEED`), as one line."""

    bad = sorted({s.seed for s in specs if not 0 <= s.seed < MAX_RUN_SEED})
    if not bad:
        return []
    return [f"run seeds must be in [0, {MAX_RUN_SEED}) (lib/seeds.py gives every run seed its own seeds); "
            f"this section asks for {', '.join(map(str, bad[:5]))}{' ...' if len(bad) > 5 else ''} "
            f"(keys 'first_seed' and 'seeds')"]


# ----------------------------------------------------------------------------- entry points


def config_problems(cfg: Any) -> list[str]:
    """Env ids and dataset files anywhere in a section's config, as 'key ...' lines."""
    problems: list[str] = []
    values = dict(_fields(cfg))
    for key, value in values.items():
        name = key.rsplit(".", 1)[-1]
        if name == "env_id" and isinstance(value, str):
            problem = env_id_problem(value)
            if problem:
                problems.append(f"key '{key}': {problem}")
        if key.endswith("demos.file") and isinstance(value, str) and value:
            env_key = key[: -len("demos.file")] + "env_id"
            problem = dataset_problem(value, str(values.get(env_key, "HalfCheetah-v4")))
            if problem:
                problems.append(f"key '{key}': {problem}")
    return problems


def check_section(section: Any, cfg: Any, source: str) -> None:
    """Raise one ConfigError (each line starting with ``source``) if ``cfg`` of ``section`` names an
    unknown environment or an unusable dataset file, or asks for more compute than the limit."""
    problems = config_problems(cfg)
    if not problems:
        try:
            specs = section.specs(cfg)
        except ConfigError as exc:
            problems.append(str(exc))
        else:
            problem = budget_problem(specs, int(getattr(cfg, "workers", 1)), "this section")
            if problem:
                problems.append(problem)
            problems += seed_problems(specs) + evaluation_problems(specs)
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))
