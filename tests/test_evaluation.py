"""The one evaluation: episode i of a batched evaluation is a single env reset with seed + i, for any
policy; rounds continue when more episodes are asked than env copies run at once."""

import gymnasium as gym
import numpy as np
import pytest

from lib.evaluation import MAX_ENVS, evaluate
from lib.learners.nets import NumpySACActor, SACActor


def _single_env_returns(env_id: str, act, seeds: list[int]) -> list[float]:
    """The slow reference: one env, reset with each seed, played to its end."""
    env = gym.make(env_id)
    out = []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(act(obs))
            total += float(r)
            done = term or trunc
        out.append(total)
    env.close()
    return out


def test_a_batched_evaluation_is_single_episodes_on_consecutive_seeds():
    import torch

    torch.manual_seed(0)
    actor = NumpySACActor(SACActor(4, 1, 8, np.array([-3.0]), np.array([3.0]))).exact()
    rets, lens = evaluate(actor, "InvertedPendulum-v4", 5, seed=1234)
    ref = _single_env_returns("InvertedPendulum-v4", lambda o: actor(o[None])[0], [1234 + i for i in range(5)])
    np.testing.assert_allclose(rets, ref, rtol=1e-6)
    np.testing.assert_array_equal(lens, rets)  # the pendulum pays 1 per step


class _Left:
    def sample(self, obs, rng, greedy=False):
        return np.zeros(obs.shape[0], dtype=np.int64)


def test_more_episodes_than_env_copies_play_in_rounds():
    rets, lens = evaluate(_Left(), "CartPole-v1", MAX_ENVS + 4, seed=7)
    assert rets.shape == (MAX_ENVS + 4,) and (rets == lens).all()


def test_a_sync_vector_env_plays_the_single_env_episodes():
    """LunarLander (a sync vector env, as every env but CartPole's numpy-vectorised one): doing
    nothing, each episode's return depends on its start, and episode i is the single env on seed + i."""
    rets, _ = evaluate(_Left(), "LunarLander-v3", 3, seed=11)
    ref = _single_env_returns("LunarLander-v3", lambda o: 0, [11, 12, 13])
    np.testing.assert_allclose(rets, ref, rtol=1e-5)
    assert len(set(np.round(rets, 3))) == 3


def test_the_sampling_rng_is_the_evaluations_own():
    class Coin:
        def sample(self, obs, rng, greedy=False):
            return rng.integers(0, 2, obs.shape[0])

    a = evaluate(Coin(), "CartPole-v1", 6, seed=3)[0]
    b = evaluate(Coin(), "CartPole-v1", 6, seed=3)[0]
    c = evaluate(Coin(), "CartPole-v1", 6, seed=4)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("min_steps", [50])
def test_min_steps_plays_complete_episodes_until_enough_steps(min_steps):
    rets, lens = evaluate(_Left(), "CartPole-v1", 1, seed=0, min_steps=min_steps)
    assert lens.sum() >= min_steps and (lens > 0).all()
