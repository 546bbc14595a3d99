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
from .data.rollout import Sampler, collect_round, collect_steps

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
    if min_steps is not None:
        batch = collect_steps(env, policy, rng, min_steps, seed=seed, greedy=greedy)
        return batch.returns, batch.lengths
    rets, lens = [], []
    episodes = 0
    first = True
    while episodes < n_episodes:
        batch = collect_round(env, policy, rng, seed=seed if first else None, greedy=greedy)
        first = False
        rets.append(batch.returns)
        lens.append(batch.lengths)
        episodes += batch.num_episodes
    return np.concatenate(rets)[:n_episodes], np.concatenate(lens)[:n_episodes]
