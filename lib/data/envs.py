"""Environment construction: vectorised gymnasium envs, seeded, with renamed ids mapped.

Every env the workbook makes goes through :func:`make_vec`, so seeding and id mapping live in
one place. CartPole uses gymnasium's numpy-vectorised ``CartPoleVectorEnv`` (one ``step`` call
advances all copies; ~10x a Python loop of single envs); other envs use ``SyncVectorEnv``.
Both auto-reset in NEXT_STEP mode: the step after a done returns the reset observation with
reward 0, which :mod:`lib.data.rollout` masks out.
"""

from __future__ import annotations

import functools
import warnings
from typing import NamedTuple

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


class Spaces(NamedTuple):
    """What an env's spaces say about it: observation width, whether actions are discrete, and the
    number of actions (discrete) or the action width (continuous)."""

    obs_dim: int
    discrete: bool
    act_dim: int  # discrete: the number of actions


@functools.lru_cache(maxsize=None)
def spaces(env_id: str) -> Spaces:
    """The :class:`Spaces` of ``env_id`` (a renamed id allowed), read once from one env made and closed."""
    env = gym.make(resolve_env_id(env_id))
    try:
        obs, act = env.observation_space, env.action_space
        discrete = isinstance(act, gym.spaces.Discrete)
        return Spaces(int(np.prod(obs.shape)), discrete, int(act.n) if discrete else int(np.prod(act.shape)))
    finally:
        env.close()


def max_episode_steps(env_id: str) -> int | None:
    """The registered time limit of ``env_id`` (CartPole-v1: 500, CartPole-v0: 200)."""
    return gym.spec(resolve_env_id(env_id)).max_episode_steps


_STEPS = [0]


def steps_taken() -> int:
    """Env steps this process's vector envs (from :func:`make_vec`) have taken so far, counting every
    copy a step call advances (masked steps included: the simulator did them). Learners report the
    difference over a run as ``env_steps_all``; ``./workbook bench`` sets it against the floor."""
    return _STEPS[0]


class StepCounter(gym.vector.VectorWrapper):
    """Adds the copies each step call advances to :func:`steps_taken`."""

    def step(self, actions: np.ndarray):
        _STEPS[0] += self.num_envs
        return self.env.step(actions)


class ActionNoise(gym.vector.VectorActionWrapper):
    """Noisy actuators: the env executes a perturbed version of the action the agent chose.

    Continuous actions get Gaussian noise N(0, ``std``^2) added per dimension; a discrete action
    is replaced, with probability ``prob``, by one drawn uniformly from all actions. The agent
    logs and learns from the action it chose; the noise is part of the environment. The noise
    has its own RNG (``seed``), so it does not disturb the env's own randomness. With ``blocks``
    > 1 the copies form that many equal blocks of consecutive copies (one per run seed, see
    :func:`lib.data.rollout.play`), each with its own RNG, set by :meth:`reseed`.
    """

    def __init__(self, env: gym.vector.VectorEnv, std: float = 0.0, prob: float = 0.0, seed: int = 0, blocks: int = 1):
        super().__init__(env)
        self.std, self.prob = std, prob
        self.rngs = [np.random.default_rng(seed) for _ in range(blocks)]
        self.discrete = isinstance(env.single_action_space, gym.spaces.Discrete)

    def reseed(self, seeds: list) -> None:
        """One seed (an int or a ``numpy.random.SeedSequence``) per block."""
        if len(seeds) != len(self.rngs):
            raise ValueError(f"{len(seeds)} noise seeds for {len(self.rngs)} blocks")
        self.rngs = [np.random.default_rng(s) for s in seeds]

    def actions(self, actions: np.ndarray) -> np.ndarray:
        if (self.prob <= 0) if self.discrete else (self.std <= 0):
            return actions
        k = actions.shape[0] // len(self.rngs)
        return np.concatenate([self._perturb(actions[b * k:(b + 1) * k], rng) for b, rng in enumerate(self.rngs)])

    def _perturb(self, actions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One block's executed actions, from ``actions`` (K, ...) and the block's RNG."""
        if self.discrete:
            flip = rng.random(actions.shape[0]) < self.prob
            rand = rng.integers(0, self.env.single_action_space.n, actions.shape[0])
            return np.where(flip, rand, actions).astype(actions.dtype)
        return (actions + rng.normal(0.0, self.std, actions.shape)).astype(actions.dtype)


class CopySeeded(gym.vector.VectorWrapper):
    """CartPole's numpy-vectorised env with one RNG per copy, as a ``SyncVectorEnv`` has.

    gymnasium's ``CartPoleVectorEnv`` draws every copy's start state from one generator, so a copy's
    episodes depend on how many copies there are. Here ``reset(seed=[s_0, ..., s_{N-1}])`` gives copy
    i its own generator, seeded ``s_i``, which draws its start states, at resets and at auto-resets,
    exactly as a single CartPole env draws them (uniform in [-0.05, 0.05]^4); ``reset()`` without a
    seed keeps each copy's generator. The dynamics are elementwise over copies, so copy i's episode
    is a function of its seed and its actions alone.
    """

    def __init__(self, env: gym.vector.VectorEnv):
        super().__init__(env)
        self.rngs: list[np.random.Generator] = []

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        base = self.env.unwrapped
        n = self.num_envs
        if isinstance(seed, int):
            seed = [seed + i for i in range(n)]
        if seed is not None:
            if len(seed) != n:
                raise ValueError(f"{len(seed)} seeds for {n} copies")
            self.rngs = [np.random.default_rng(int(s)) for s in seed]
        elif not self.rngs:
            raise ValueError("the first reset of a CopySeeded env needs seeds")
        self.env.reset(options=options)
        for i in range(n):
            self._start(base, i)
        return base.state.T.astype(np.float32), {}

    def step(self, actions: np.ndarray):
        base = self.env.unwrapped
        starting = np.flatnonzero(base.prev_done)  # auto-reset by this step
        obs, reward, term, trunc, info = self.env.step(actions)
        for i in starting:
            self._start(base, i)
            obs[i] = base.state[:, i].astype(np.float32)
        return obs, reward, term, trunc, info

    def _start(self, base, i: int) -> None:
        base.state[:, i] = self.rngs[i].uniform(low=base.low, high=base.high, size=(4,))


def make_vec(
    env_id: str,
    num_envs: int,
    max_steps: int | None = None,
    action_noise_std: float = 0.0,
    action_noise_prob: float = 0.0,
    noise_seed: int = 0,
    blocks: int = 1,
    copy_seeded: bool = False,
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` as one vector env (NEXT_STEP autoreset).

    ``max_steps`` overrides the registered time limit; the noise arguments wrap it in
    :class:`ActionNoise` (with ``blocks`` noise RNGs). ``copy_seeded`` gives CartPole one RNG per
    copy (:class:`CopySeeded`; the other envs are separate env objects, so always have one).
    Seed the env itself with ``env.reset(seed=...)``.
    """
    gid = resolve_env_id(env_id)
    kwargs = {} if max_steps is None else {"max_episode_steps": max_steps}
    if gid in _VECTOR_ENTRY_POINT:
        env = StepCounter(gym.make_vec(gid, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs))
        if copy_seeded:
            env = CopySeeded(env)
    else:
        env = StepCounter(gym.make_vec(gid, num_envs=num_envs, vectorization_mode="sync", **kwargs))
    if action_noise_std > 0 or action_noise_prob > 0:
        env = ActionNoise(env, action_noise_std, action_noise_prob, noise_seed, blocks)
    return env
