"""Environment construction: vectorised gymnasium envs, seeded, with renamed ids mapped.

Every env the workbook makes goes through :func:`make_vec`, so seeding and id mapping live in
one place. CartPole uses gymnasium's numpy-vectorised ``CartPoleVectorEnv`` (one ``step`` call
advances all copies; ~10x a Python loop of single envs); other envs use ``SyncVectorEnv``.
Both auto-reset in NEXT_STEP mode: the step after a done returns the reset observation with
reward 0, which :mod:`lib.rollout` masks out.
"""

from __future__ import annotations

import gymnasium as gym

#: Ids that gymnasium 1.x renamed or removed, mapped to their current equivalent.
RENAMED_IDS: dict[str, str] = {
    "LunarLander-v2": "LunarLander-v3",
    "LunarLanderContinuous-v2": "LunarLanderContinuous-v3",
}

#: Envs with a native numpy-vectorised implementation in gymnasium.
_VECTOR_ENTRY_POINT = {"CartPole-v0", "CartPole-v1"}


def resolve_env_id(env_id: str) -> str:
    """Map an id renamed in gymnasium 1.x to its current name (others pass through)."""
    return RENAMED_IDS.get(env_id, env_id)


def max_episode_steps(env_id: str) -> int | None:
    """The registered time limit of ``env_id`` (CartPole-v1: 500, CartPole-v0: 200)."""
    return gym.spec(resolve_env_id(env_id)).max_episode_steps


def make_vec(env_id: str, num_envs: int, max_steps: int | None = None) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` as one vector env (NEXT_STEP autoreset).

    ``max_steps`` overrides the registered time limit. Seed it with ``env.reset(seed=...)``.
    """
    gid = resolve_env_id(env_id)
    kwargs = {} if max_steps is None else {"max_episode_steps": max_steps}
    if gid in _VECTOR_ENTRY_POINT:
        return gym.make_vec(gid, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    return gym.make_vec(gid, num_envs=num_envs, vectorization_mode="sync", **kwargs)
