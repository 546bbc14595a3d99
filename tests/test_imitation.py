"""Behaviour cloning and DAgger on a toy environment with a known expert, and the shipped expert."""

import json

import numpy as np
import pytest
import torch

from lib.envs import make_vec
from lib.imitation import MixtureSampler, dagger_iteration, demonstrations, fit
from lib.nets import CategoricalPolicy
from tests.toy_env import ENV_ID, expert_action, expert_policy


def test_bc_reaches_zero_error_on_a_separable_set():
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, size=(400, 2)).astype(np.float32)
    actions = (obs[:, 0] + 0.5 * obs[:, 1] > 0).astype(np.int64)  # linearly separable
    torch.manual_seed(0)
    pol = CategoricalPolicy(2, 2, (32,))
    opt = torch.optim.AdamW(pol.parameters(), lr=1e-2, weight_decay=0.0)
    loss, acc = fit(pol, opt, obs, actions, steps=1500, batch_size=128, gen=torch.Generator().manual_seed(0))
    assert acc == 1.0
    assert loss < 0.05


def test_demonstrations_perfect_keeps_only_full_length_episodes():
    expert = expert_policy().numpy_sampler()
    demos = demonstrations(expert, ENV_ID, n=5, seed=0, perfect_only=True, max_attempts=50)
    assert len(demos.lengths) == 5 and (demos.lengths == 40).all()
    assert demos.obs.shape == (200, 1) and demos.actions.shape == (200,)
    assert demos.short_share == 0.0


def test_demonstrations_imperfect_keep_short_episodes():
    hot = expert_policy().numpy_sampler(temperature=50.0)  # nearly uniform: falls out of the corridor
    demos = demonstrations(hot, ENV_ID, n=20, seed=0, perfect_only=False, max_attempts=20)
    assert len(demos.lengths) == 20
    assert demos.short_share > 0.5
    assert demos.obs.shape[0] == demos.lengths.sum()


def test_perfect_demonstrations_give_up_with_a_clear_error():
    hot = expert_policy().numpy_sampler(temperature=1000.0)
    with pytest.raises(RuntimeError, match="trajectories of length 40"):
        demonstrations(hot, ENV_ID, n=3, seed=0, perfect_only=True, max_attempts=6)


class _AlwaysRight:
    def sample(self, obs, rng, greedy=False):
        return np.ones(obs.shape[0], dtype=np.int64)


def test_dagger_iteration_relabels_visited_states_with_the_expert():
    expert = expert_policy().numpy_sampler()
    env = make_vec(ENV_ID, 4)
    rng = np.random.default_rng(0)
    # beta = 0: the learner (always right) drives, so it visits states the expert never would
    obs, labels, batch = dagger_iteration(expert, _AlwaysRight(), env, beta=0.0, rng=rng, seed=0)
    assert obs.shape[0] == labels.shape[0] == batch.lengths.sum()
    np.testing.assert_array_equal(labels, expert_action(obs))
    assert (obs[:, 0] > 0.5).any(), "an always-right learner drifts to the right edge"
    assert (labels == 0).any() and batch.terminated.all()


def test_mixture_with_beta_one_is_the_expert():
    expert = expert_policy().numpy_sampler()
    obs = np.linspace(-0.9, 0.9, 50, dtype=np.float32)[:, None]
    m = MixtureSampler(expert, _AlwaysRight(), beta=1.0)
    np.testing.assert_array_equal(m.sample(obs, np.random.default_rng(0)), expert_action(obs))


def test_dagger_aggregates_and_fixes_a_bad_learner():
    """Start from a learner trained on right-drifting data only; one DAgger round with the
    learner driving collects the states it gets wrong, labelled by the expert, and refitting
    on the aggregate makes it agree with the expert."""
    expert = expert_policy().numpy_sampler()
    torch.manual_seed(0)
    learner = CategoricalPolicy(1, 2, (16,))
    opt = torch.optim.AdamW(learner.parameters(), lr=1e-2, weight_decay=0.0)
    data_obs = np.full((50, 1), -0.2, np.float32)
    data_act = np.ones(50, dtype=np.int64)
    fit(learner, opt, data_obs, data_act, 200, 50, torch.Generator().manual_seed(0))
    env = make_vec(ENV_ID, 4)
    obs, labels, _ = dagger_iteration(expert, learner.numpy_sampler(), env, beta=0.0, rng=np.random.default_rng(1), seed=1)
    agg_obs, agg_act = np.concatenate([data_obs, obs]), np.concatenate([data_act, labels])
    assert len(agg_obs) == 50 + len(obs)
    fit(learner, opt, agg_obs, agg_act, 800, 128, torch.Generator().manual_seed(1))
    probe = np.array([[-0.6], [-0.3], [0.3], [0.6]], np.float32)
    np.testing.assert_array_equal(learner.numpy_sampler().sample(probe, None, greedy=True), expert_action(probe))


def test_shipped_cartpole_expert_loads_and_matches_its_metadata():
    from lib.experts import expert_dir, file_sha256, load_expert

    if not (expert_dir("cartpole_expert") / "metadata.json").exists():
        pytest.fail("experts/cartpole_expert is not shipped")
    policy, meta = load_expert("cartpole_expert")
    assert file_sha256(expert_dir("cartpole_expert") / "policy.pt") == meta["policy_sha256"]
    assert meta["config"]["baseline"] == "rloo" and meta["config"]["entropy_coef"] > 0
    assert meta["config"]["episodes"] == meta["episodes"]
    # the recorded test score is reproduced exactly by replaying the recorded test seed
    from lib.rollout import evaluate

    rets, _ = evaluate(policy.numpy_sampler(), make_vec(meta["env_id"], 100), meta["test_episodes"], seed=meta["test_seed"])
    assert float(rets.mean()) == pytest.approx(meta["test_mean"])
    assert json.loads((expert_dir("cartpole_expert") / "metadata.json").read_text())["seed"] == meta["seed"]


def test_tampered_expert_is_refused(tmp_path, monkeypatch):
    from lib import experts

    monkeypatch.setattr(experts, "EXPERTS_DIR", tmp_path)
    pol = expert_policy()
    meta = {"network": {"obs_dim": 1, "n_actions": 2, "hidden": [], "activation": "tanh"}}
    experts.save_expert("toy", pol.state_dict(), meta)
    experts.load_expert("toy")  # loads
    torch.save({k: v + 1 for k, v in pol.state_dict().items()}, tmp_path / "toy" / "policy.pt")
    with pytest.raises(ValueError, match="sha256"):
        experts.load_expert("toy")
