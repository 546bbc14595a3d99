"""Batched trajectory collection on vector envs, and the evaluation protocol's test episodes.

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

    @staticmethod
    def concat(batches: list["EpisodeBatch"]) -> "EpisodeBatch":
        """Join rounds along the episode axis, padding time to the longest."""
        if len(batches) == 1:
            return batches[0]
        t_max = max(b.obs.shape[0] for b in batches)

        def pad(x: np.ndarray) -> np.ndarray:
            widths = [(0, t_max - x.shape[0])] + [(0, 0)] * (x.ndim - 1)
            return np.pad(x, widths)

        return EpisodeBatch(
            obs=np.concatenate([pad(b.obs) for b in batches], 1),
            actions=np.concatenate([pad(b.actions) for b in batches], 1),
            rewards=np.concatenate([pad(b.rewards) for b in batches], 1),
            mask=np.concatenate([pad(b.mask) for b in batches], 1),
            lengths=np.concatenate([b.lengths for b in batches]),
            terminated=np.concatenate([b.terminated for b in batches]),
            final_obs=np.concatenate([b.final_obs for b in batches]),
        )


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


def evaluate(
    policy: Sampler,
    env: gym.vector.VectorEnv,
    n_episodes: int,
    seed: int,
    greedy: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Play ``n_episodes`` test episodes in rounds of ``env.num_envs``.

    Returns (returns, lengths), each (n_episodes,). Uses its own RNG from ``seed``, so test
    episodes never consume the training RNG stream.
    """
    rng = np.random.default_rng(seed)
    rets, lens = [], []
    done = 0
    first = True
    while done < n_episodes:
        batch = collect_round(env, policy, rng, seed=seed if first else None, greedy=greedy)
        first = False
        rets.append(batch.returns)
        lens.append(batch.lengths)
        done += batch.num_episodes
    return np.concatenate(rets)[:n_episodes], np.concatenate(lens)[:n_episodes]
