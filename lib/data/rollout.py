"""Batched trajectory collection on vector envs (training batches, demonstrations, evaluation rounds).

Collection runs in *rounds*: ``K`` envs start together and each plays exactly one episode;
steps an env takes after its episode ended (auto-reset) are masked out. All arrays are padded
to the longest episode of the round, time-major: ``(T, K, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
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
    obs, _ = env.reset(seed=seed)
    return play(env, obs, lambda o: policy.sample(o, rng, greedy=greedy))[0]


def play(
    env: gym.vector.VectorEnv,
    obs: np.ndarray,
    act: Callable[[np.ndarray], np.ndarray],
    blocks: int = 1,
    min_steps: int | None = None,
) -> list[EpisodeBatch]:
    """Play from ``obs`` (just reset) until every block's batch is complete; one batch per block.

    The ``N = env.num_envs`` copies form ``blocks`` equal blocks of ``K = N // blocks`` consecutive
    copies (block b: copies b*K .. b*K+K-1), each an independent batch, e.g. one run seed's: ``act``
    maps observations (N, obs_dim) to actions (N, ...) for all copies at once. With ``min_steps``
    None each copy plays one episode (a round); otherwise a block's copies play complete episodes
    back to back until the block's finished and running episodes hold ``min_steps`` steps.

    A block's batch depends only on its own copies' observations and actions: the steps its copies
    take after its batch is complete (while other blocks finish) are masked out, and its arrays are
    cut to its own longest episode, so a block returns the same batch whatever shares the env.
    """
    n = env.num_envs
    if n % blocks:
        raise ValueError(f"{n} env copies do not split into {blocks} equal blocks")
    k = n // blocks
    block_of = np.arange(n) // k
    ep_id = np.arange(n) % k  # episode numbers within each block, in the order they start
    next_id = np.full(blocks, k)
    running = np.ones(n, dtype=bool)  # playing an episode that is part of its block's batch
    resetting = np.zeros(n, dtype=bool)  # the next step call auto-resets this copy
    committed = np.zeros(blocks, dtype=np.int64)
    rec_obs, rec_act, rec_rew, rec_valid, rec_ep = [], [], [], [], []
    ends: dict[tuple[int, int], tuple[bool, np.ndarray]] = {}
    while running.any():
        actions = act(obs)
        next_obs, reward, term, trunc, _ = env.step(actions)
        valid = running & ~resetting
        rec_obs.append(np.asarray(obs, dtype=np.float32))
        rec_act.append(actions)
        rec_rew.append(np.asarray(reward, dtype=np.float32))
        rec_valid.append(valid)
        rec_ep.append(ep_id.copy())
        committed += np.bincount(block_of[valid], minlength=blocks)
        resetting[:] = False
        for i in np.flatnonzero(valid & (term | trunc)):
            b = int(block_of[i])
            ends[(b, int(ep_id[i]))] = (bool(term[i]), np.asarray(next_obs[i], dtype=np.float32))
            if min_steps is None or committed[b] >= min_steps:
                running[i] = False  # a round's copy plays one episode; a full block starts no more
            else:  # the copy auto-resets on the next step and starts the block's next episode
                resetting[i] = True
                ep_id[i] = next_id[b]
                next_id[b] += 1
        obs = next_obs
    grids = {name: np.stack(rec) for name, rec in
             (("obs", rec_obs), ("actions", rec_act), ("rewards", rec_rew), ("valid", rec_valid), ("ep", rec_ep))}
    return [_block_batch(grids, slice(b * k, (b + 1) * k), b, ends) for b in range(blocks)]


def _block_batch(grids: dict[str, np.ndarray], copies: slice, block: int,
                 ends: dict[tuple[int, int], tuple[bool, np.ndarray]]) -> EpisodeBatch:
    """One block's episodes from the recorded (T, N, ...) grids, re-padded to its longest episode,
    episodes in the order they started."""
    valid_all = grids["valid"][:, copies].ravel()
    flat = np.flatnonzero(valid_all)  # time-major, so each episode's steps are in order
    eps = grids["ep"][:, copies].ravel()[flat]
    order = np.argsort(eps, kind="stable")
    eps_sorted = eps[order]
    ids = np.unique(eps_sorted)  # started episodes that took at least one step
    remap = np.searchsorted(ids, eps_sorted)
    lengths = np.bincount(remap, minlength=len(ids))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos = np.arange(len(order)) - starts[remap]
    t_max, n_ep = int(lengths.max()), len(ids)

    def scatter(a: np.ndarray) -> np.ndarray:
        a = a[:, copies]
        a = a.reshape((-1,) + a.shape[2:])[flat][order]
        out = np.zeros((t_max, n_ep) + a.shape[1:], dtype=a.dtype)
        out[pos, remap] = a
        return out

    mask = np.zeros((t_max, n_ep), dtype=bool)
    mask[pos, remap] = True
    return EpisodeBatch(
        obs=scatter(grids["obs"]),
        actions=scatter(grids["actions"]),
        rewards=scatter(grids["rewards"]),
        mask=mask,
        lengths=lengths.astype(np.int64),
        terminated=np.array([ends[(block, int(e))][0] for e in ids]),
        final_obs=np.stack([ends[(block, int(e))][1] for e in ids]),
    )
