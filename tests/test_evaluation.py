"""The one evaluation: episode i of a batched evaluation is a single env reset with seed + i, for any
policy; rounds continue when more episodes are asked than env copies run at once."""

import gymnasium as gym
import numpy as np
import pytest

from lib.evaluation import MAX_ENVS, evaluate
from lib.policies import NumpySACActor, SACActor


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
    """Red for: copy i reset with another seed than seed + i, returns unlike the single env's."""
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
    """Red for: an evaluation capped at the env copies it runs at once."""
    rets, lens = evaluate(_Left(), "CartPole-v1", MAX_ENVS + 4, seed=7)
    assert rets.shape == (MAX_ENVS + 4,) and (rets == lens).all()


def test_a_sync_vector_env_plays_the_single_env_episodes():
    """LunarLander (a sync vector env, as every env but CartPole's numpy-vectorised one): doing
    nothing, each episode's return depends on its start, and episode i is the single env on seed + i.
    Red for: a sync vector env seeded otherwise than seed + i per copy."""
    rets, _ = evaluate(_Left(), "LunarLander-v3", 3, seed=11)
    ref = _single_env_returns("LunarLander-v3", lambda o: 0, [11, 12, 13])
    np.testing.assert_allclose(rets, ref, rtol=1e-5)
    assert len(set(np.round(rets, 3))) == 3


def test_the_sampling_rng_is_the_evaluations_own():
    """Red for: sampling from a global or unseeded RNG (two evaluations of one seed differ), a seed that is
    ignored."""
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
    """Red for: an evaluation by steps that stops short of min_steps or returns a cut episode."""
    rets, lens = evaluate(_Left(), "CartPole-v1", 1, seed=0, min_steps=min_steps)
    assert lens.sum() >= min_steps and (lens > 0).all()


# --------------------------------------------------------------------------- rounds, counts, sums, stacks
class _Starts(gym.vector.VectorWrapper):
    """Records the observations every reset returns: the starts of each round's episodes."""

    def __init__(self, env):
        super().__init__(env)
        self.starts: list[np.ndarray] = []

    def reset(self, **kw):
        obs, info = self.env.reset(**kw)
        self.starts.append(np.array(obs, copy=True))
        return obs, info


@pytest.mark.parametrize("env_id", ["CartPole-v1", "RLWBTest/Corridor-v0"])
def test_every_round_plays_new_episodes(env_id):
    """12 episodes on 4 copies are 3 rounds; each round starts from 4 states no other round started
    from, and its returns are not a copy of round 1's. Checked on CartPole's numpy-vectorised env and
    on a sync vector env. Red for: every round reset with the evaluation's seed (round 1 replayed)."""
    import tests.toy_env  # noqa: F401  (registers the corridor)
    from lib.data.envs import make_vec

    env = _Starts(make_vec(env_id, 4))
    rets, _ = evaluate(_Left(), env, 12, seed=5)
    assert len(env.starts) == 3
    starts = np.concatenate(env.starts)
    assert len(np.unique(starts.round(6), axis=0)) == 12
    assert not np.array_equal(rets[4:8], rets[:4]) or not np.array_equal(rets[8:], rets[:4])


def test_the_episode_count_is_exact_and_a_prefix_of_a_longer_evaluation():
    """10 episodes on 4 copies: exactly 10 returns, the first 10 of the 12 that 3 full rounds play
    (round 1 first, then round 2). Red for: "at least n" (the last round kept whole), the last
    round's episodes kept instead of the first ones."""
    from lib.data.envs import make_vec

    ten, _ = evaluate(_Left(), make_vec("CartPole-v1", 4), 10, seed=8)
    twelve, _ = evaluate(_Left(), make_vec("CartPole-v1", 4), 12, seed=8)
    assert ten.shape == (10,)
    np.testing.assert_array_equal(ten, twelve[:10])


class _Stairs(gym.Env):
    """Pays 0.5 (t + 1) at step t and terminates after ``length`` steps, where ``length`` is 3 + the
    reset's first draw in {0, 1, 2}: an episode's return is 0.25 L (L + 1), undiscounted."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t, self.length = 0, 3

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.length = 0, 3 + int(self.np_random.integers(0, 3))
        return np.array([float(self.length)], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([float(self.length)], np.float32), 0.5 * self.t, self.t >= self.length, False, {}


if "RLWBTest/Stairs-v0" not in gym.registry:
    gym.register("RLWBTest/Stairs-v0", entry_point=_Stairs, max_episode_steps=100)


def test_returns_are_undiscounted_sums_over_each_episodes_steps():
    """Episodes of 3, 4 or 5 steps paying 0.5, 1.0, ...: each return is 0.25 L (L + 1) and each length
    L, whatever else shares the round. Red for: a mean over steps, a discounted sum, rewards of the
    auto-reset step counted, returns summed across copies."""
    rets, lens = evaluate(_Left(), "RLWBTest/Stairs-v0", 9, seed=0)
    assert len(set(lens.tolist())) >= 2  # the episodes do differ in length
    np.testing.assert_allclose(rets, 0.25 * lens * (lens + 1))


def _three_policies():
    import torch

    from lib.policies import CategoricalPolicy

    out = []
    for s in range(3):
        torch.manual_seed(s)
        out.append(CategoricalPolicy(4, 2, (8,)))
    return out


@pytest.mark.parametrize("n_episodes, min_steps", [(4, None), (3, None), (1, 150)])
def test_a_stacked_evaluation_gives_each_policy_its_episodes_alone(n_episodes, min_steps):
    """Three policies evaluated together on 3 blocks of 4 CartPole copies each get exactly the
    episodes they get evaluated alone on 4 copies with their own seed: one round of 4 (or 3 of the 4)
    episodes, or complete episodes until 150 steps (several per copy, auto-reset inside the block).
    Red for: the reset seeds in another copy order (block-major vs copy-major), a block sampled with
    another block's RNG, a block's batch cut to another block's length."""
    from lib.data.envs import make_vec
    from lib.evaluation import evaluate_stacked

    policies, seeds_ = _three_policies(), [100, 200, 300]
    together = evaluate_stacked(policies, make_vec("CartPole-v1", 12, copy_seeded=True), n_episodes, seeds_,
                                min_steps=min_steps)
    for pol, s, (rets, lens) in zip(policies, seeds_, together):
        alone, alone_lens = evaluate(pol.numpy_sampler(), make_vec("CartPole-v1", 4, copy_seeded=True), n_episodes,
                                     seed=s, min_steps=min_steps)
        np.testing.assert_array_equal(rets, alone)
        np.testing.assert_array_equal(lens, alone_lens)
        if min_steps is None:
            assert rets.shape == (n_episodes,)
        else:
            assert lens.sum() >= min_steps and len(lens) > 4  # some copies played a second episode
    assert not np.array_equal(together[0][0], together[1][0])  # the policies do play differently


def test_a_config_whose_evaluations_need_two_stacked_rounds_is_refused():
    """Seeds trained together evaluate on one shared vector env; a second round of episodes starts
    where the longest block's first round ended, so it would depend on the other seeds of the batch.
    Section 01 with evaluations of more episodes than the env copies an evaluation gets is refused
    before any run; as many as the copies pass. Red for: a batch-dependent evaluation let through."""
    from lib.config import ConfigError
    from lib.learners.pg import eval_envs
    from lib.params import load_params

    s01 = "01_reinforce_baselines"
    ok = load_params(s01, "smoke", {"train.eval_every": 2, "train.eval_episodes": 64})
    assert eval_envs(ok.train) == 64
    with pytest.raises(ConfigError, match=r"key 'eval_episodes': 65 episodes per evaluation need more than one round "
                                          r"of the 64 env copies .* allowed: at most 64, or set 'eval_steps'"):
        load_params(s01, "smoke", {"train.eval_every": 2, "train.eval_episodes": 65})
    load_params(s01, "smoke", {"train.eval_every": 2, "train.eval_episodes": 65, "train.eval_steps": 1000})
