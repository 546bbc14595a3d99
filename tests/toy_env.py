"""A tiny discrete environment with a known optimal expert, for imitation tests.

Corridor: the state is a position x in (-1, 1); action 0 moves left by 0.1, action 1 moves right
by 0.1, with a drift of +0.05 and a little noise. The episode terminates when |x| >= 1 and pays 1
per step; the time limit is 40 steps. The expert moves towards the centre: action 0 iff x > 0.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from lib.policies import CategoricalPolicy

ENV_ID = "RLWBTest/Corridor-v0"


class Corridor(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.x = 0.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = float(self.np_random.uniform(-0.5, 0.5))
        return np.array([self.x], np.float32), {}

    def step(self, action):
        self.x += (0.1 if action == 1 else -0.1) + 0.05 + float(self.np_random.normal(0, 0.01))
        term = abs(self.x) >= 1.0
        return np.array([np.clip(self.x, -1, 1)], np.float32), 1.0, term, False, {}


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=Corridor, max_episode_steps=40)


def expert_policy() -> CategoricalPolicy:
    """A linear categorical policy whose most likely action is 0 iff x > 0."""
    pol = CategoricalPolicy(1, 2, ())
    with torch.no_grad():
        pol.net[0].weight.copy_(torch.tensor([[20.0], [-20.0]]))
        pol.net[0].bias.zero_()
    return pol


def expert_action(obs: np.ndarray) -> np.ndarray:
    return (obs[:, 0] <= 0).astype(np.int64)
