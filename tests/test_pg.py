"""The learner: determinism, the checkpoint protocol, evaluation, options that must change the run."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from lib.data.envs import make_vec, resolve_env_id
from lib.learners.pg import CheckpointSelector, PGConfig, entropy_coef_at, train
from lib.data.rollout import collect_round
from lib.evaluation import evaluate


def _files(d):
    return (d / "log.csv").read_bytes(), (d / "episodes.csv").read_bytes()


@pytest.mark.parametrize("baseline", ["none", "running_mean", "value", "rloo"])
def test_same_seed_same_log(tmp_path, tiny_cfg, baseline):
    """Red for: an unseeded draw anywhere in training (two runs of one seed differ), a seed that is ignored
    (seeds 3 and 4 agree)."""
    cfg = replace(tiny_cfg, baseline=baseline)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    train(cfg, 3, a)
    train(cfg, 3, b)
    train(cfg, 4, c)
    assert _files(a) == _files(b)
    assert _files(a) != _files(c)


def test_log_columns_and_budget(tmp_path, tiny_cfg):
    """Red for: a missing log column, iterations or episodes off the budget, env steps not counted from the
    episodes, a test of another number of episodes."""
    import pandas as pd

    s = train(tiny_cfg, 0, tmp_path)
    log = pd.read_csv(tmp_path / "log.csv")
    for col in ("Train_EnvstepsSoFar", "Train_AverageReturn", "Eval_AverageReturn", "Actor Loss", "Baseline Loss"):
        assert col in log.columns
    assert len(log) == tiny_cfg.episodes // tiny_cfg.batch_episodes
    eps = pd.read_csv(tmp_path / "episodes.csv")
    assert len(eps) == tiny_cfg.episodes == s["episodes"]
    # CartPole pays 1 per step, so the env-step count is the sum of episode returns
    assert log.Train_EnvstepsSoFar.iloc[-1] == eps["return"].sum() == s["env_steps"]
    assert len(s["test_returns"]) == tiny_cfg.test_episodes


def test_baseline_changes_the_update(tmp_path, tiny_cfg):
    """The variants are really different estimators: same seed, different logs.
    Red for: a baseline option silently ignored (two variants training alike)."""
    logs = {}
    for bl in ("none", "running_mean", "value", "rloo"):
        d = tmp_path / bl
        d.mkdir()
        train(replace(tiny_cfg, baseline=bl), 0, d)
        logs[bl] = (d / "log.csv").read_text().splitlines()[2:]  # first update is where they start to differ
    assert len({tuple(v) for v in logs.values()}) == 4


def test_checkpoint_selector_keeps_last_best_window_by_default():
    """Red for: the first of tied best windows kept by default, a window taken from the start of training."""
    sel = CheckpointSelector(window=2, min_episodes=2)
    states = [{"w": torch.tensor(float(i))} for i in range(4)]
    for r, s in zip([[1, 1], [5, 5], [3, 3], [5, 5]], states):
        sel.offer(np.array(r), s)
    assert sel.best_mean == 5 and sel.best_index == 3 and float(sel.best_state["w"]) == 3.0


def test_checkpoint_selector_keeps_first_best_window():
    """Red for: ties='first' keeping the later policy, a kept state that is a reference later updates change."""
    sel = CheckpointSelector(window=2, min_episodes=2, ties="first")
    states = [{"w": torch.tensor(float(i))} for i in range(4)]
    means = [sel.offer(np.array(r), s) for r, s in zip([[1, 1], [5, 5], [3, 3], [5, 5]], states)]
    assert means == [1, 5, 3, 5]
    assert sel.best_mean == 5 and sel.best_index == 1  # the tie at batch 3 keeps batch 1
    assert float(sel.best_state["w"]) == 1.0
    states[1]["w"] += 10  # the kept state is a copy, not a reference
    assert float(sel.best_state["w"]) == 1.0


def test_checkpoint_selector_waits_for_a_full_window():
    """Red for: a policy kept before a full window of episodes was seen."""
    sel = CheckpointSelector(window=4, min_episodes=4)
    sel.offer(np.array([100.0, 100.0]), {})
    assert sel.best_index == -1
    sel.offer(np.array([0.0, 0.0]), {})
    assert sel.best_index == 1 and sel.best_mean == 50.0


class _Const:
    def __init__(self, action):
        self.action = action

    def sample(self, obs, rng, greedy=False):
        return np.full(obs.shape[0], self.action, dtype=np.int64)


def test_evaluate_plays_exactly_n_episodes_and_returns_lengths():
    """Red for: more or fewer episodes than asked, returns that are not CartPole's episode lengths."""
    env = make_vec("CartPole-v1", 8)
    rets, lens = evaluate(_Const(0), env, 20, seed=0)  # 20 episodes in rounds of 8
    assert rets.shape == lens.shape == (20,)
    np.testing.assert_array_equal(rets, lens)  # reward 1 per step
    # pushing left all the time drops the pole within a dozen steps
    assert lens.max() < 15 and lens.min() >= 7


def test_collect_round_masks_steps_after_an_episode_ends():
    """Red for: steps after an episode's end (the auto-reset) counted as its own, rewards on padded steps, a
    fallen pole recorded as cut."""
    env = make_vec("CartPole-v1", 4)
    rng = np.random.default_rng(0)
    batch = collect_round(env, _Const(1), rng, seed=1)
    assert batch.mask.sum() == batch.lengths.sum()
    np.testing.assert_array_equal(batch.mask.sum(0), batch.lengths)
    assert batch.rewards[~batch.mask].sum() == 0
    assert batch.terminated.all()  # pole falls long before the 500-step limit


def test_truncation_is_recorded(tmp_path):
    """Red for: a time-limit cut recorded as a termination."""
    env = make_vec("CartPole-v1", 2, max_steps=5)
    batch = collect_round(env, _Const(0), np.random.default_rng(0), seed=0)
    np.testing.assert_array_equal(batch.lengths, [5, 5])
    assert not batch.terminated.any()


def test_entropy_schedule_is_linear_between_ends():
    """Red for: a schedule that misses either end or is not linear, or one applied when no final value is
    set."""
    cfg = PGConfig(episodes=80, batch_episodes=8, entropy_coef=0.01, entropy_coef_final=0.0001)
    assert entropy_coef_at(cfg, 0) == pytest.approx(0.01)
    assert entropy_coef_at(cfg, 9) == pytest.approx(0.0001)
    assert entropy_coef_at(cfg, 4) == pytest.approx(0.01 + (0.0001 - 0.01) * 4 / 9)
    assert entropy_coef_at(replace(cfg, entropy_coef_final=None), 9) == 0.01


def test_numpy_sampler_matches_torch_policy():
    """Red for: a numpy copy whose logits differ from the torch policy's, sampling that does not follow the
    softmax."""
    from lib.policies import CategoricalPolicy

    torch.manual_seed(0)
    pol = CategoricalPolicy(4, 3, (16, 16))
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    np.testing.assert_allclose(pol.numpy_sampler().logits(obs), pol.logits(torch.from_numpy(obs)).detach().numpy(), rtol=1e-5, atol=1e-6)
    # sampling frequencies follow the softmax
    rng = np.random.default_rng(1)
    many = np.repeat(obs[:1], 20000, 0)
    counts = np.bincount(pol.sample(many, rng), minlength=3) / 20000
    probs = torch.softmax(pol.logits(torch.from_numpy(obs[:1])), -1)[0].detach().numpy()
    np.testing.assert_allclose(counts, probs, atol=0.015)


def test_renamed_env_ids():
    """Red for: the assignment's LunarLander-v2 not mapped to gymnasium 1.x's v3, a current id remapped."""
    assert resolve_env_id("LunarLander-v2") == "LunarLander-v3"
    assert resolve_env_id("CartPole-v1") == "CartPole-v1"


def test_temperature_flattens_the_distribution():
    """Red for: a temperature that multiplies the logits instead of dividing them, a temperature of 0
    accepted."""
    from lib.policies import CategoricalPolicy

    torch.manual_seed(0)
    pol = CategoricalPolicy(4, 2, (8,))
    with torch.no_grad():
        pol.net[-1].bias.copy_(torch.tensor([2.0, 0.0]))
        pol.net[-1].weight.zero_()
    obs = np.zeros((40000, 4), dtype=np.float32)
    p1 = (pol.numpy_sampler().sample(obs, np.random.default_rng(0)) == 0).mean()
    p4 = (pol.numpy_sampler(4.0).sample(obs, np.random.default_rng(0)) == 0).mean()
    assert p1 == pytest.approx(1 / (1 + np.exp(-2.0)), abs=0.01)  # softmax([2, 0])[0] = 0.881
    assert p4 == pytest.approx(1 / (1 + np.exp(-0.5)), abs=0.01)  # logits / 4
    with pytest.raises(ValueError):
        pol.numpy_sampler(0.0)


def test_step_batches_are_deterministic_and_respect_the_budget(tmp_path):
    """Red for: a batch smaller than the assignment's -b, step batches that differ between two runs of a
    seed, evaluations missing from the log."""
    cfg = PGConfig(env_id="CartPole-v0", episodes=None, iterations=3, batch_episodes=4, batch_steps=500,
                   gamma=1.0, lr=5e-3, weight_decay=0.0, eval_every=1, eval_steps=200, hidden=(16,), test_episodes=4)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    train(cfg, 1, a)
    train(cfg, 1, b)
    assert (a / "log.csv").read_bytes() == (b / "log.csv").read_bytes()
    import pandas as pd

    log = pd.read_csv(a / "log.csv")
    steps = log.Train_EnvstepsSoFar.diff().fillna(log.Train_EnvstepsSoFar.iloc[0])
    assert (steps >= 500).all() and log.Eval_AverageReturn.notna().all()


def test_action_noise_discrete_and_continuous():
    """Red for: noise at the wrong rate or scale, discrete noise drawing invalid actions, noise when its
    level is 0, a changed dtype."""
    from lib.data.envs import ActionNoise

    env = ActionNoise(make_vec("CartPole-v1", 4000), prob=0.5, seed=0)
    chosen = np.zeros(4000, dtype=np.int64)
    executed = env.actions(chosen)
    # half the actions are redrawn uniformly from {0, 1}: a quarter end up different
    assert (executed != chosen).mean() == pytest.approx(0.25, abs=0.03)
    assert set(np.unique(executed)) == {0, 1}
    cont = ActionNoise(make_vec("InvertedPendulum-v4", 2), std=0.3, seed=0)
    a = np.zeros((5000, 1), dtype=np.float32)
    noisy = cont.actions(a)
    assert noisy.dtype == np.float32 and noisy.std() == pytest.approx(0.3, abs=0.02)
    quiet = ActionNoise(make_vec("CartPole-v1", 3), seed=0)
    np.testing.assert_array_equal(quiet.actions(np.array([0, 1, 0])), [0, 1, 0])


@pytest.mark.parametrize("cfg", [
    PGConfig(env_id="CartPole-v1", episodes=48, batch_episodes=8, baseline="value", hidden=(16,), value_hidden=(16,), test_episodes=10),
    PGConfig(env_id="CartPole-v0", iterations=4, batch_episodes=4, batch_steps=300, normalize_advantages=True,
             action_noise_prob=0.2, hidden=(16,), test_episodes=10),
    PGConfig(env_id="InvertedPendulum-v4", iterations=3, batch_episodes=2, batch_steps=200, eval_every=1, eval_steps=100,
             baseline="value", gae_lambda=0.9, action_noise_std=0.1, hidden=(16,), value_hidden=(16,), test_episodes=4),
    PGConfig(env_id="CartPole-v1", episodes=32, batch_episodes=4, eval_every=2, eval_episodes=6, hidden=(16,),
             test_episodes=10),
], ids=["cartpole-rounds", "cartpole-steps-noise", "pendulum-gaussian-eval", "cartpole-eval-six-copies"])
def test_a_seed_trains_the_same_alone_and_in_a_batch(cfg, tmp_path):
    """Seed 5 alone and seed 5 batched with seeds 3 and 9 (one vector env, one stacked forward) write
    identical logs, episodes and weights; the last case evaluates every 2 iterations on 6 env copies
    per seed. Red for: one RNG or one env reset shared by the batch, a block's round cut to another
    block's length, stacked weights mixed between seeds, evaluation seeds in the wrong copy order."""
    from lib.learners.pg import train_batch

    alone = tmp_path / "alone"
    together = [tmp_path / f"b{i}" for i in range(3)]
    for d in (alone, *together):
        d.mkdir()
    (a,) = train_batch(cfg, [5], [alone])
    b = train_batch(cfg, [3, 5, 9], together)
    for name in ("log.csv", "episodes.csv"):
        assert (alone / name).read_bytes() == (together[1] / name).read_bytes(), name
    assert (alone / "log.csv").read_bytes() != (together[0] / "log.csv").read_bytes()  # seeds do differ
    wa, wb = torch.load(alone / "agent.pt"), torch.load(together[1] / "agent.pt")
    assert all(torch.equal(wa["policy"][k], wb["policy"][k]) for k in wa["policy"])
    assert a["test_returns"] == b[1]["test_returns"] and a["env_steps"] == b[1]["env_steps"]
    assert b[1]["batch_runs"] == 3


def test_copy_seeded_cartpole_starts_each_copy_as_a_single_env_with_its_seed():
    """Copy i of a CopySeeded CartPole reset with seeds [s_0, ...] starts where gymnasium's single
    CartPole reset with s_i starts, at resets and at auto-resets. Red for one generator shared by
    the copies (gymnasium's own vector env)."""
    import gymnasium as gym

    env = make_vec("CartPole-v1", 3, copy_seeded=True)
    obs, _ = env.reset(seed=[11, 12, 13])
    for i, s in enumerate((11, 12, 13)):
        single = gym.make("CartPole-v1")
        o, _ = single.reset(seed=s)
        np.testing.assert_array_equal(obs[i], o)
        # the same copy's next start (an auto-reset) is the single env's next reset
        ends = 0
        while ends == 0:
            obs2, _, term, trunc, _ = env.step(np.zeros(3, dtype=np.int64))
            ends = int(term[i] or trunc[i])
        obs3, *_ = env.step(np.zeros(3, dtype=np.int64))
        o2, _ = single.reset()
        np.testing.assert_array_equal(obs3[i], o2)
        env.reset(seed=[11, 12, 13])
        obs, _ = env.reset(seed=[11, 12, 13])


def test_every_training_round_has_its_own_seeds():
    """round_seeds(s, it, k): the same (s, it) gives the same reset seeds and action stream; another
    iteration or another run seed gives other ones. Red for: every round reset with the same seeds
    (a run would replay its first round's starts), seeds shared between run seeds."""
    from lib.learners.pg import round_seeds

    a, rng_a, _ = round_seeds(3, 5, 4)
    b, rng_b, _ = round_seeds(3, 5, 4)
    assert a == b and rng_a.random() == rng_b.random()
    others = [round_seeds(3, 6, 4), round_seeds(4, 5, 4)]
    for seeds_, rng, _ in others:
        assert not set(seeds_) & set(a)
        assert rng.random() != round_seeds(3, 5, 4)[1].random()
