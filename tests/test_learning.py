"""Learning tests that can fail: each learner must solve a tiny task within a small, fixed budget, and
the same test, run with the gradient's sign flipped, must fail (so the test is known to be able to).

- The policy-gradient learner, with every baseline, on a contextual bandit of five steps (written
  here): each step shows a sign c = +-1 and pays 1 for the action that matches it, so a random policy
  earns 2.5 and a solved one 5. "Solved" is a *sampled* test return of at least 4.5: the policy must
  put about 90% on the right action in both contexts, which no untrained or barely trained policy does.
- The imitation learner on the toy corridor (``tests/toy_env.py``): behaviour cloning from two expert
  episodes must keep every test episode alive for the whole 40-step limit.
"""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch

from lib.learners import pg
from lib.learners.heads import BCPolicy, HeadConfig
from lib.learners.imitation import DemoConfig, ImitationConfig
from lib.learners.imitation import train as imitation_train
from lib.policies import CategoricalPolicy
from tests.toy_env import ENV_ID as CORRIDOR

SIGNS_ID = "RLWBTest/Signs-v0"
HORIZON = 5
SOLVED = 0.9 * HORIZON


class Signs(gym.Env):
    """Observation (c, t / H), c = +-1 drawn each step; action 1 pays 1 when c > 0, action 0 when
    c < 0; the episode terminates after H steps."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t, self.c = 0, 1.0

    def _obs(self) -> np.ndarray:
        return np.array([self.c, self.t / HORIZON], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.c = 0, float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(), {}

    def step(self, action):
        reward = float(int(action) == int(self.c > 0))
        self.t += 1
        self.c = float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(), reward, self.t >= HORIZON, False, {}


if SIGNS_ID not in gym.registry:
    gym.register(SIGNS_ID, entry_point=Signs, max_episode_steps=50)


@pytest.fixture
def flipped_pg(monkeypatch):
    """The policy gradient with its sign flipped: log pi(a|s) negated inside the loss."""
    original = CategoricalPolicy.log_prob_entropy

    def flipped(self, obs, actions):
        logp, entropy = original(self, obs, actions)
        return -logp, entropy

    monkeypatch.setattr(CategoricalPolicy, "log_prob_entropy", flipped)


BASE = pg.PGConfig(env_id=SIGNS_ID, episodes=None, iterations=60, batch_episodes=8, gamma=0.99, hidden=(16,),
                   value_hidden=(16,), lr=1e-2, value_lr=1e-2, window=16, test_episodes=40, test_greedy=False)
ESTIMATORS = {
    "none": {},
    "running_mean": {"baseline": "running_mean"},
    "value": {"baseline": "value"},
    "gae": {"baseline": "value", "gae_lambda": 0.95},
    "rloo": {"baseline": "rloo"},
    "normalised": {"normalize_advantages": True},
}


def _pg_run(name: str, tmp_path) -> tuple[float, float]:
    """The kept policy's sampled test mean, and the mean training return of the last 10 iterations."""
    import pandas as pd

    summary = pg.train(replace(BASE, **ESTIMATORS[name]), 1, tmp_path)
    return summary["test_mean"], float(pd.read_csv(tmp_path / "log.csv").Train_AverageReturn.iloc[-10:].mean())


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_policy_gradient_solves_the_signs_task(name, tmp_path):
    """Red for: any estimator whose gradient does not point uphill (a flipped sign, the advantage
    replaced by its baseline, q + V), a learner that never updates, or one that updates on stale data."""
    test_mean, last = _pg_run(name, tmp_path)
    assert test_mean >= SOLVED and last >= SOLVED


@pytest.mark.parametrize("name", ["none", "value", "rloo"])
def test_with_the_gradients_sign_flipped_the_same_test_fails(name, tmp_path, flipped_pg):
    """The test above can fail: descending instead of ascending, the kept checkpoint (the best window,
    near the random start) is far from solved, and the last iterations earn far below random (2.5).
    Red for: a task so easy that any update solves it (the test above would then prove nothing)."""
    test_mean, last = _pg_run(name, tmp_path)
    assert test_mean < SOLVED and last < 1.0


def test_the_kept_checkpoint_is_what_is_tested(tmp_path, flipped_pg):
    """A run that gets worse (the flipped gradient) keeps its best-window policy: the summary's test
    returns are those of agent.pt's kept policy replayed on the test seed, not those of its final
    policy, which plays far worse. Red for: testing the final policy, saving the wrong one as kept."""
    from lib import seeds
    from lib.evaluation import evaluate

    cfg = replace(BASE, **ESTIMATORS["none"])
    summary = pg.train(cfg, 1, tmp_path)
    saved = torch.load(tmp_path / "agent.pt", weights_only=False)
    test_seed = seeds.seed("pg.test", 1)
    assert summary["test_seed"] == test_seed
    replay = {}
    for which in ("policy", "final_policy"):
        policy = CategoricalPolicy(2, 2, cfg.hidden, cfg.activation)
        policy.load_state_dict(saved[which])
        env = pg.make_env(cfg, cfg.test_episodes, noise_seed=test_seed)
        replay[which] = evaluate(policy.numpy_sampler(), env, cfg.test_episodes, seed=test_seed)[0].tolist()
    assert summary["test_returns"] == replay["policy"]
    assert np.mean(replay["final_policy"]) < np.mean(replay["policy"]) - 1.0


def _bc(tmp_path, expert, **kw) -> dict:
    cfg = ImitationConfig(env_id=CORRIDOR, expert="toy", expert_sha256=expert.sha256, demos=DemoConfig(episodes=2),
                          head=HeadConfig(head="categorical", width=16, depth=1), steps=300, batch_size=64, lr=1e-2,
                          eval_episodes=4, test_episodes=20, **kw)
    return imitation_train(cfg, 2, tmp_path)


def test_behaviour_cloning_solves_the_corridor(tmp_path, shipped_toy):
    """Two expert episodes (80 labelled states) and 300 steps: every test episode lasts the 40-step
    limit. Red for: a loss that does not fit the labels (wrong target, labels shuffled against their
    states), a learner that tests something other than what it trained."""
    s = _bc(tmp_path, shipped_toy)
    assert s["test_mean"] == 40.0 and s["final_accuracy"] > 0.95


def test_dagger_solves_the_corridor(tmp_path, shipped_toy):
    """The same with two DAgger rounds driven by the learner (beta 0). Red for: DAgger rounds that
    label with the learner, or lose the demonstrations."""
    s = _bc(tmp_path, shipped_toy, dagger_rounds=2, dagger_steps=150, dagger_episodes=2, beta0=0.0)
    assert s["test_mean"] == 40.0 and s["expert_labels"] > s["demo_labels"]


def test_behaviour_cloning_with_the_losss_sign_flipped_fails(tmp_path, shipped_toy, monkeypatch):
    """The cloning test can fail: ascending the loss, the learner picks the expert's wrong action and
    leaves the corridor early. Red for: a corridor any policy survives."""
    original = BCPolicy.loss
    monkeypatch.setattr(BCPolicy, "loss", lambda self, *a, **k: -original(self, *a, **k))
    s = _bc(tmp_path, shipped_toy)
    assert s["test_mean"] < 20.0
