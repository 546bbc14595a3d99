"""The one evaluation: any policy, batched on a vector env, episodes seeded from one integer.

Every score in the workbook comes from :func:`evaluate`: the policy-gradient learner's evaluations
and tests, SAC's, the imitation learner's (categorical, Gaussian, mixture, MSE and diffusion heads),
the shipped experts' tests and the experts' replays in section 03. A policy is anything with
``sample(obs (B, obs_dim), rng, greedy) -> actions (B,) or (B, act_dim)``
(:class:`lib.data.rollout.Sampler`).

Protocol: ``min(n_episodes, MAX_ENVS)`` env copies are reset once with ``seed`` and each plays one
episode per round; rounds repeat (continuing the envs' own random streams) until ``n_episodes`` have
ended. In a sync vector env (every env here but CartPole) copy ``i`` is reset with ``seed + i``, so
with at most ``MAX_ENVS`` episodes, episode ``i`` is exactly a single env reset with ``seed + i``;
CartPole's numpy-vectorised env draws all its copies' starts from one generator seeded with ``seed``. ``min_steps`` instead plays complete episodes until
they hold that many steps (the assignment's ``-eb``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from .data.envs import make_vec
from .data.rollout import Sampler, play
from .policies import StackedSampler

#: Most env copies an evaluation runs at once.
MAX_ENVS = 16


def evaluate(
    policy: Sampler,
    env: gym.vector.VectorEnv | str,
    n_episodes: int,
    seed: int,
    greedy: bool = False,
    min_steps: int | None = None,
    **env_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Undiscounted returns (E,) and lengths (E,) of ``n_episodes`` episodes of ``policy``.

    ``env``: a vector env (kept open, e.g. reused across a run's evaluations), or an env id, for
    which ``min(n_episodes, MAX_ENVS)`` copies are made with ``env_kwargs`` (see
    :func:`lib.data.envs.make_vec`) and closed afterwards. ``greedy`` asks the policy for its
    deterministic action. The sampling RNG is ``numpy.random.default_rng(seed)``, its own stream.
    """
    if isinstance(env, str):
        vec = make_vec(env, max(1, min(n_episodes, MAX_ENVS)), **env_kwargs)
        try:
            return evaluate(policy, vec, n_episodes, seed, greedy, min_steps)
        finally:
            vec.close()
    rng = np.random.default_rng(seed)
    ((rets, lens),) = _episodes(env, seed, lambda o: policy.sample(o, rng, greedy=greedy), 1, n_episodes, min_steps)
    return rets, lens


def evaluate_stacked(
    policies: list[Any],
    env: gym.vector.VectorEnv,
    n_episodes: int,
    seeds: list[int],
    min_steps: int | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`evaluate` for S policies of one architecture at once (seeds trained together): returns
    and lengths per policy. ``env`` holds S blocks of K copies (block b for policy b, see
    :func:`lib.data.rollout.play`); block b's copy i is reset with ``seeds[b] + i`` and policy b samples
    with ``numpy.random.default_rng(seeds[b])``, so each policy gets the episodes :func:`evaluate`
    would give it alone, in one stacked forward per step (:class:`lib.policies.StackedSampler`).

    That holds for one round (``n_episodes`` <= K) and for ``min_steps``, not for several rounds: a
    block's copies and RNG keep stepping until the *longest* block's round ends, so its second round
    would start from states that depend on the other blocks. :func:`lib.checks.evaluation_problems`
    refuses policy-gradient configs that would need it (``tests/test_evaluation.py``)."""

    k = env.num_envs // len(policies)
    sampler = StackedSampler(policies, [np.random.default_rng(s) for s in seeds])
    reset = [s + i for s in seeds for i in range(k)]
    return _episodes(env, reset, sampler.sample, len(policies), n_episodes, min_steps)


def _episodes(env: gym.vector.VectorEnv, seed: int | list[int], act: Any, blocks: int, n_episodes: int,
              min_steps: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The protocol (module doc) for ``blocks`` blocks of copies: returns and lengths per block."""
    obs, _ = env.reset(seed=seed)
    if min_steps is not None:
        return [(b.returns, b.lengths) for b in play(env, obs, act, blocks, min_steps)]
    rets: list[list[np.ndarray]] = [[] for _ in range(blocks)]
    lens: list[list[np.ndarray]] = [[] for _ in range(blocks)]
    episodes = 0
    while True:
        for b, batch in enumerate(play(env, obs, act, blocks)):
            rets[b].append(batch.returns)
            lens[b].append(batch.lengths)
        episodes += env.num_envs // blocks
        if episodes >= n_episodes:
            break
        obs, _ = env.reset()
    return [(np.concatenate(r)[:n_episodes], np.concatenate(n)[:n_episodes]) for r, n in zip(rets, lens)]
