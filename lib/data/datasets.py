"""Expert demonstrations: played by a shipped expert, or read from a file in the report's format.

Two uses, one function (:func:`demonstrations`): section 04 draws fresh demonstrations for every
run seed (a CartPole expert sampling at a temperature, optionally only the episodes that reach the
time limit); section 09 shares one large dataset among all its runs (the HalfCheetah SAC expert's
deterministic actions), made once and cached beside the run store by :func:`shared_dataset`.

The report's file format (``torch.save`` of a dict): ``observations`` (N, D), ``actions`` (N, A),
``mean_reward`` and ``std_reward`` (the expert's episode returns).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..paths import cache_dir
from .envs import make_vec, max_episode_steps
from .experts import Expert
from .rollout import collect_round

DATASET_KEYS = ("observations", "actions", "mean_reward", "std_reward")
#: Most env copies a demonstration round plays at once.
MAX_ENVS = 64


@dataclass
class Demos:
    """Demonstrations, episode after episode: ``obs`` (N, D) float32, ``actions`` (N,) int64 or
    (N, A) float32, and per episode (M,) its ``lengths`` and ``returns``; ``max_len`` is the env's
    time limit."""

    obs: np.ndarray
    actions: np.ndarray
    lengths: np.ndarray
    returns: np.ndarray
    max_len: int

    @property
    def short_share(self) -> float:
        """Share of episodes that end before the time limit."""
        return float(np.mean(self.lengths < self.max_len)) if len(self.lengths) else 0.0

    def as_file(self) -> dict[str, Any]:
        """The report's dict format (plus the episodes' lengths and returns)."""
        return {"observations": torch.from_numpy(self.obs), "actions": torch.from_numpy(self.actions),
                "mean_reward": float(self.returns.mean()), "std_reward": float(self.returns.std()),
                "episode_lengths": self.lengths.tolist(), "episode_returns": self.returns.tolist()}


def demonstrations(expert: Expert, env_id: str, episodes: int, seed: int, temperature: float | None = None,
                   full_length_only: bool = False, max_attempts: int | None = None) -> Demos:
    """``episodes`` episodes of ``expert`` (``temperature``: see :meth:`Expert.actor`).

    Episode ``j`` of the attempts is reset with ``seed + j`` (played in rounds of as many copies as
    episodes are still needed, at most :data:`MAX_ENVS`); the expert samples with
    ``numpy.random.default_rng(seed)``.
    ``full_length_only`` keeps only episodes that reach the time limit, and raises when
    ``max_attempts`` episodes do not give ``episodes`` of them.
    """
    actor = expert.actor(temperature)
    limit = max_episode_steps(env_id) or 0
    env = None
    rng = np.random.default_rng(seed)
    obs_l: list[np.ndarray] = []
    act_l: list[np.ndarray] = []
    lens: list[int] = []
    rets: list[float] = []
    attempts = 0
    try:
        while len(lens) < episodes:
            if max_attempts is not None and attempts >= max_attempts:
                raise RuntimeError(f"the expert gave {len(lens)} episodes of length {limit} in {attempts}; "
                                   f"{episodes} were asked for")
            k = min(episodes - len(lens), MAX_ENVS)  # a round never plays more episodes than are still needed
            if env is None or env.num_envs != k:
                if env is not None:
                    env.close()
                env = make_vec(env_id, k)
            batch = collect_round(env, actor, rng, seed=seed + attempts)
            attempts += batch.num_episodes
            for i in range(batch.num_episodes):
                if len(lens) == episodes:
                    break
                if full_length_only and batch.lengths[i] < limit:
                    continue
                m = batch.mask[:, i]
                obs_l.append(batch.obs[m, i])
                act_l.append(batch.actions[m, i])
                lens.append(int(batch.lengths[i]))
                rets.append(float(batch.returns[i]))
    finally:
        if env is not None:
            env.close()
    actions = np.concatenate(act_l)
    actions = actions.astype(np.int64) if expert.discrete else actions.astype(np.float32)
    return Demos(np.concatenate(obs_l).astype(np.float32), actions, np.asarray(lens, dtype=np.int64),
                 np.asarray(rets, dtype=np.float64), int(limit))


def validate(data: Any, source: str = "dataset") -> dict[str, Any]:
    """The report's format checked: ``observations`` (N, D), ``actions`` (N, A) (or (N,) integers for
    discrete actions; tensors or arrays), ``mean_reward`` and ``std_reward``. Returns tensors (float32
    observations; float32 or int64 actions); raises naming ``source`` and what is wrong otherwise."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a dict with keys {DATASET_KEYS}, got {type(data).__name__}")
    missing = [k for k in DATASET_KEYS if k not in data]
    if missing:
        raise ValueError(f"{source}: missing keys {missing}; an expert dataset holds {list(DATASET_KEYS)}")
    obs = torch.as_tensor(np.asarray(data["observations"]), dtype=torch.float32)
    raw = np.asarray(data["actions"])
    discrete = np.issubdtype(raw.dtype, np.integer)
    act = torch.as_tensor(raw, dtype=torch.int64 if discrete else torch.float32)
    if obs.ndim != 2 or act.ndim != (1 if discrete else 2) or obs.shape[0] != act.shape[0] or obs.shape[0] == 0:
        raise ValueError(f"{source}: observations {tuple(obs.shape)} and actions {tuple(act.shape)} must be "
                         f"(N, obs_dim) and (N, act_dim) (or (N,) integer actions) with the same N > 0")
    if not (torch.isfinite(obs).all() and torch.isfinite(act.float()).all()):
        raise ValueError(f"{source}: observations or actions hold NaN or inf")
    return {**data, "observations": obs, "actions": act, "mean_reward": float(data["mean_reward"]),
            "std_reward": float(data["std_reward"])}


def load_file(path: Path) -> dict[str, Any]:
    """A dataset saved with ``torch.save`` (here or elsewhere), validated."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"expert dataset {path} does not exist")
    return validate(torch.load(path, weights_only=False, map_location="cpu"), str(path))


def shared_path(expert: Expert, episodes: int, seed: int, temperature: float | None, full_length_only: bool) -> Path:
    """Where :func:`shared_dataset` caches a dataset (beside the run store, not committed)."""
    how = ("det" if temperature is None else f"t{temperature:g}") + ("_full" if full_length_only else "")
    return cache_dir("datasets") / f"{expert.name}_{expert.sha256[:12]}_{episodes}ep_{how}_seed{seed}.pt"


def shared_dataset(expert: Expert, env_id: str, episodes: int, seed: int, temperature: float | None = None,
                   full_length_only: bool = False, max_attempts: int | None = None) -> dict[str, Any]:
    """:func:`demonstrations` in the report's format, made once per (expert, size, seed, how) and
    cached; the file is written atomically, so concurrent runs never read half of one."""
    path = shared_path(expert, episodes, seed, temperature, full_length_only)
    if path.exists():
        return load_file(path)
    data = demonstrations(expert, env_id, episodes, seed, temperature, full_length_only, max_attempts).as_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return validate(data, str(path))
