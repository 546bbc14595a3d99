"""Batched trajectory collection on vector envs (training batches, demonstrations, evaluation rounds).

Collection runs in *rounds*: ``K`` envs start together and each plays exactly one episode;
steps an env takes after its episode ended (auto-reset) are masked out. All arrays are padded
to the longest episode of the round, time-major: ``(T, K, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import gymnasium as gym
import numpy as np


class Sampler(Protocol):
    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        """Actions (B, ...) for observations (B, obs_dim)."""


@dataclass
class EpisodeBatch:
    """``K`` complete episodes, padded to ``T`` steps.

    obs (T, K, obs_dim) float32; actions (T, K, ...); rewards (T, K) float32 (0 where padded);
    mask (T, K) bool, True on real steps; lengths (K,) int64; terminated (K,) bool, True when the
    episode ended in a terminal state, False when it was cut by the time limit; final_obs
    (K, obs_dim), the observation after each episode's last step (for bootstrapping on truncation).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    final_obs: np.ndarray

    @property
    def num_episodes(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def num_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def returns(self) -> np.ndarray:
        """Undiscounted episode returns (K,)."""
        return self.rewards.sum(0)


def collect_round(
    env: gym.vector.VectorEnv,
    policy: Sampler,
    rng: np.random.Generator,
    seed: int | None = None,
    greedy: bool = False,
) -> EpisodeBatch:
    """One episode from each of the ``env.num_envs`` copies, sampled from ``policy`` with ``rng``.

    ``seed`` seeds the env's reset (pass it once, on the first round of a run).
    """
    k = env.num_envs
    obs, _ = env.reset(seed=seed)
    alive = np.ones(k, dtype=bool)
    lengths = np.zeros(k, dtype=np.int64)
    terminated = np.zeros(k, dtype=bool)
    final_obs = np.zeros_like(obs, dtype=np.float32)
    obs_buf, act_buf, rew_buf, mask_buf = [], [], [], []
    t = 0
    while alive.any():
        actions = policy.sample(obs, rng, greedy=greedy)
        next_obs, reward, term, trunc, _ = env.step(actions)
        obs_buf.append(np.asarray(obs, dtype=np.float32))
        act_buf.append(actions)
        rew_buf.append(np.where(alive, reward, 0.0).astype(np.float32))
        mask_buf.append(alive.copy())
        t += 1
        ended = alive & (term | trunc)
        if ended.any():
            lengths[ended] = t
            terminated[ended] = term[ended]
            final_obs[ended] = next_obs[ended]
            alive &= ~ended
        obs = next_obs
    return EpisodeBatch(
        obs=np.stack(obs_buf),
        actions=np.stack(act_buf),
        rewards=np.stack(rew_buf),
        mask=np.stack(mask_buf),
        lengths=lengths,
        terminated=terminated,
        final_obs=final_obs,
    )


def collect_steps(
    env: gym.vector.VectorEnv,
    policy: Sampler,
    rng: np.random.Generator,
    min_steps: int,
    seed: int | None = None,
    greedy: bool = False,
) -> EpisodeBatch:
    """Complete episodes until they hold at least ``min_steps`` steps (the assignment's batch).

    The ``env.num_envs`` copies run episodes back to back; a copy starts a new episode only
    while the steps of finished and running episodes are fewer than ``min_steps``, and every
    episode started is played to its end (so short episodes are not over-represented). Episodes
    are numbered in the order they start.
    """
    k = env.num_envs
    obs, _ = env.reset(seed=seed)
    ep_id = np.arange(k)
    next_id = k
    running = np.ones(k, dtype=bool)  # playing an episode that is part of the batch
    resetting = np.zeros(k, dtype=bool)  # the next step call auto-resets this copy
    committed = 0
    rec_obs, rec_act, rec_rew, rec_valid, rec_ep = [], [], [], [], []
    ends: dict[int, tuple[bool, np.ndarray]] = {}
    while running.any():
        actions = policy.sample(obs, rng, greedy=greedy)
        next_obs, reward, term, trunc, _ = env.step(actions)
        valid = running & ~resetting
        rec_obs.append(np.asarray(obs, dtype=np.float32))
        rec_act.append(actions)
        rec_rew.append(np.asarray(reward, dtype=np.float32))
        rec_valid.append(valid)
        rec_ep.append(ep_id.copy())
        committed += int(valid.sum())
        # copies that auto-reset on this step now start the episode they were given
        resetting[:] = False
        for i in np.flatnonzero(valid & (term | trunc)):
            ends[int(ep_id[i])] = (bool(term[i]), np.asarray(next_obs[i], dtype=np.float32))
            if committed >= min_steps:
                running[i] = False
            else:
                resetting[i] = True
                ep_id[i] = next_id
                next_id += 1
        obs = next_obs
    valid_all = np.stack(rec_valid).ravel()
    flat = np.flatnonzero(valid_all)  # time-major, so each episode's steps are in order
    eps = np.stack(rec_ep).ravel()[flat]
    order = np.argsort(eps, kind="stable")
    eps_sorted = eps[order]
    ids = np.unique(eps_sorted)  # started episodes that took at least one step
    remap = np.searchsorted(ids, eps_sorted)
    lengths = np.bincount(remap, minlength=len(ids))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos = np.arange(len(order)) - starts[remap]
    t_max, n_ep = int(lengths.max()), len(ids)

    def scatter(rec: list[np.ndarray]) -> np.ndarray:
        a = np.stack(rec)
        a = a.reshape((-1,) + a.shape[2:])[flat][order]
        out = np.zeros((t_max, n_ep) + a.shape[1:], dtype=a.dtype)
        out[pos, remap] = a
        return out

    mask = np.zeros((t_max, n_ep), dtype=bool)
    mask[pos, remap] = True
    return EpisodeBatch(
        obs=scatter(rec_obs),
        actions=scatter(rec_act),
        rewards=scatter(rec_rew),
        mask=mask,
        lengths=lengths.astype(np.int64),
        terminated=np.array([ends[int(e)][0] for e in ids]),
        final_obs=np.stack([ends[int(e)][1] for e in ids]),
    )
