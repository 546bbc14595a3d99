"""Environment construction: vectorised gymnasium envs, seeded, with renamed ids mapped.

Every env the workbook makes goes through :func:`make_vec`, so seeding and id mapping live in
one place. CartPole uses gymnasium's numpy-vectorised ``CartPoleVectorEnv`` (one ``step`` call
advances all copies; ~10x a Python loop of single envs); other envs use ``SyncVectorEnv``.
Both auto-reset in NEXT_STEP mode: the step after a done returns the reset observation with
reward 0, which :mod:`lib.data.rollout` masks out.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np

# The assignment asks for the v4 MuJoCo envs and CartPole-v0 on purpose; gymnasium's
# "out of date" notice for them is noise in every log.
warnings.filterwarnings("ignore", message=r".*is out of date\. You should consider upgrading.*")

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


def is_discrete(env_id: str) -> bool:
    """Whether ``env_id`` has a discrete action space (built once to look)."""
    env = gym.make(resolve_env_id(env_id))
    try:
        return isinstance(env.action_space, gym.spaces.Discrete)
    finally:
        env.close()


class ActionNoise(gym.vector.VectorActionWrapper):
    """Noisy actuators: the env executes a perturbed version of the action the agent chose.

    Continuous actions get Gaussian noise N(0, ``std``^2) added per dimension; a discrete action
    is replaced, with probability ``prob``, by one drawn uniformly from all actions. The agent
    logs and learns from the action it chose; the noise is part of the environment. The noise
    has its own RNG (``seed``), so it does not disturb the env's own randomness.
    """

    def __init__(self, env: gym.vector.VectorEnv, std: float = 0.0, prob: float = 0.0, seed: int = 0):
        super().__init__(env)
        self.std, self.prob = std, prob
        self.rng = np.random.default_rng(seed)
        self.discrete = isinstance(env.single_action_space, gym.spaces.Discrete)

    def actions(self, actions: np.ndarray) -> np.ndarray:
        if self.discrete:
            if self.prob <= 0:
                return actions
            flip = self.rng.random(actions.shape[0]) < self.prob
            rand = self.rng.integers(0, self.env.single_action_space.n, actions.shape[0])
            return np.where(flip, rand, actions).astype(actions.dtype)
        if self.std <= 0:
            return actions
        return (actions + self.rng.normal(0.0, self.std, actions.shape)).astype(actions.dtype)


def make_vec(
    env_id: str,
    num_envs: int,
    max_steps: int | None = None,
    action_noise_std: float = 0.0,
    action_noise_prob: float = 0.0,
    noise_seed: int = 0,
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` as one vector env (NEXT_STEP autoreset).

    ``max_steps`` overrides the registered time limit; the noise arguments wrap it in
    :class:`ActionNoise`. Seed the env itself with ``env.reset(seed=...)``.
    """
    gid = resolve_env_id(env_id)
    kwargs = {} if max_steps is None else {"max_episode_steps": max_steps}
    if gid in _VECTOR_ENTRY_POINT:
        env = gym.make_vec(gid, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    else:
        env = gym.make_vec(gid, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    if action_noise_std > 0 or action_noise_prob > 0:
        env = ActionNoise(env, action_noise_std, action_noise_prob, noise_seed)
    return env
