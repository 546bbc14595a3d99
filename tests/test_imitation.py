"""The one imitation learner with a categorical head: demonstrations, the DAgger mixture and round,
a whole DAgger run fixing what behaviour cloning gets wrong, on a toy env with a known expert; and
the shipped CartPole expert."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from lib.data.datasets import demonstrations
from lib.data.envs import make_vec
from lib.data.experts import Expert
from lib.learners.heads import BCPolicy, HeadConfig
from lib.learners.imitation import DemoConfig, ImitationConfig, MixtureSampler, Teacher, dagger_round, teacher, train
from tests.toy_env import ENV_ID, expert_action, expert_policy


def toy_expert() -> Expert:
    return Expert("toy", expert_policy(), {"policy_sha256": "0" * 64, "env_id": ENV_ID})


def test_categorical_head_reaches_zero_error_on_a_separable_set():
    """Red for: a cross-entropy that cannot fit separable labels (labels misaligned with states, a wrong
    target)."""
    rng = np.random.default_rng(0)
    obs = torch.from_numpy(rng.uniform(-1, 1, size=(400, 2)).astype(np.float32))
    actions = (obs[:, 0] + 0.5 * obs[:, 1] > 0).long()  # linearly separable
    torch.manual_seed(0)
    pol = BCPolicy(2, HeadConfig(head="categorical", width=32, depth=1), torch.zeros(2), torch.ones(2), n_actions=2)
    opt = torch.optim.AdamW(pol.parameters(), lr=1e-2, weight_decay=0.0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(1500):
        idx = torch.randint(0, 400, (128,), generator=gen)
        loss = pol.loss(obs[idx], actions[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert bool((pol.act(obs) == actions).all())
    assert float(pol.loss(obs, actions).detach()) < 0.05


def test_demonstrations_perfect_keeps_only_full_length_episodes():
    """Red for: short episodes kept by the perfect filter, shapes or dtypes unlike the report's."""
    demos = demonstrations(toy_expert(), ENV_ID, 5, seed=0, temperature=1.0, full_length_only=True, max_attempts=50)
    assert len(demos.lengths) == 5 and (demos.lengths == 40).all()
    assert demos.obs.shape == (200, 1) and demos.actions.shape == (200,) and demos.actions.dtype == np.int64
    assert demos.short_share == 0.0 and (demos.returns == 40).all()


def test_demonstrations_imperfect_keep_short_episodes():
    """Red for: the temperature ignored (a hot expert playing greedily), short episodes dropped."""
    demos = demonstrations(toy_expert(), ENV_ID, 20, seed=0, temperature=50.0)  # nearly uniform: falls out
    assert len(demos.lengths) == 20
    assert demos.short_share > 0.5
    assert demos.obs.shape[0] == demos.lengths.sum()


def test_greedy_demonstrations_are_the_experts_actions():
    """Red for: greedy demonstrations labelled with sampled actions."""
    demos = demonstrations(toy_expert(), ENV_ID, 3, seed=0)
    np.testing.assert_array_equal(demos.actions, expert_action(demos.obs))


def test_perfect_demonstrations_give_up_with_a_clear_error():
    """Red for: an endless search for full-length episodes, or fewer returned silently."""
    with pytest.raises(RuntimeError, match="episodes of length 40"):
        demonstrations(toy_expert(), ENV_ID, 3, seed=0, temperature=1000.0, full_length_only=True, max_attempts=6)


class _AlwaysRight:
    def sample(self, obs, rng, greedy=False):
        return np.ones(obs.shape[0], dtype=np.int64)


def test_dagger_round_relabels_visited_states_with_the_expert():
    """Red for: DAgger labels taken from the learner, or states from the expert's own play only."""
    env = make_vec(ENV_ID, 4)
    # beta = 0: the learner (always right) drives, so it visits states the expert never would
    obs, labels, batch = dagger_round(Teacher(toy_expert(), None), _AlwaysRight(), env, 0.0, np.random.default_rng(0), seed=0)
    assert obs.shape[0] == labels.shape[0] == batch.lengths.sum()
    np.testing.assert_array_equal(labels, expert_action(obs))
    assert (obs[:, 0] > 0.5).any(), "an always-right learner drifts to the right edge"
    assert (labels == 0).any() and batch.terminated.all()


def test_mixture_with_beta_one_is_the_expert_and_zero_the_learner():
    """Red for: beta inverted (the expert's share 1 - beta)."""
    obs = np.linspace(-0.9, 0.9, 50, dtype=np.float32)[:, None]
    expert = toy_expert().actor()
    np.testing.assert_array_equal(MixtureSampler(expert, _AlwaysRight(), 1.0).sample(obs, np.random.default_rng(0)),
                                  expert_action(obs))
    np.testing.assert_array_equal(MixtureSampler(expert, _AlwaysRight(), 0.0).sample(obs, np.random.default_rng(0)),
                                  np.ones(50))


def test_a_tempered_expert_labels_and_acts_at_its_temperature():
    """dagger_labels "demos" with demonstrations at temperature 2: DAgger's expert draws its labels (and its
    actions in the mixture) from softmax(logits / 2), as the demonstrations were drawn; "greedy" takes the
    argmax. On the toy expert, the share of labels that differ from the argmax matches softmax(logits / 2)
    state by state. Red for: a tempered setting whose DAgger labels are the argmax (behaviour cloning and
    DAgger learning from different experts), a temperature applied twice or not at all."""
    expert = toy_expert()
    obs = np.full((20_000, 1), 0.05, dtype=np.float32)  # logits (1, -1): at temperature 2, p = (0.73, 0.27)
    with torch.no_grad():
        logits = expert.network.net(torch.from_numpy(obs[:1])).numpy()[0]
    p = np.exp(logits / 2.0 - (logits / 2.0).max())
    p /= p.sum()
    hot = ImitationConfig(env_id=ENV_ID, demos=DemoConfig(temperature=2.0))
    t = teacher(hot, expert)
    labels = t.label(obs, np.random.default_rng(0))
    assert labels.dtype == np.int64
    assert np.mean(labels == np.argmax(logits)) == pytest.approx(p.max(), abs=0.01)
    acted = MixtureSampler(t, _AlwaysRight(), 1.0).sample(obs, np.random.default_rng(1))
    assert np.mean(acted == np.argmax(logits)) == pytest.approx(p.max(), abs=0.01)
    greedy = teacher(dataclasses.replace(hot, dagger_labels="greedy"), expert)
    np.testing.assert_array_equal(greedy.label(obs[:50], np.random.default_rng(0)), expert_action(obs[:50]))
    assert p.max() < 0.8  # the premise: at temperature 2 the expert's draw differs from its argmax


def test_dagger_fixes_what_cloning_one_skewed_demonstration_gets_wrong(tmp_path, shipped_toy):
    """One demonstration from a hot expert (temperature 3) covers few states; cloning it leaves the
    learner wrong somewhere; DAgger rounds driven by the learner (beta 0) collect the states it gets
    wrong, labelled by the expert, and the learner ends up agreeing with the expert everywhere.
    Red for: DAgger rounds that add no expert labels on the learner's states, or replace the data."""
    base = ImitationConfig(env_id=ENV_ID, expert="toy", expert_sha256=shipped_toy.sha256,
                           demos=DemoConfig(episodes=1, temperature=3.0),
                           head=HeadConfig(head="categorical", width=16, depth=1), steps=300, dagger_steps=300,
                           batch_size=64, lr=1e-2, dagger_episodes=4, beta0=0.0, eval_episodes=4, test_episodes=8,
                           dagger_labels="greedy")  # DAgger queries the expert's most likely action
    probe = np.linspace(-0.95, 0.95, 39, dtype=np.float32)[:, None]

    def agreement(cfg: ImitationConfig, name: str) -> tuple[float, dict, pd.DataFrame]:
        out = tmp_path / name
        out.mkdir()
        summary = train(cfg, 3, out)
        from lib.learners.imitation import make_policy

        pol = make_policy(cfg, torch.zeros(1, 1))
        pol.load_state_dict(torch.load(out / "agent.pt", weights_only=True)["policy"])
        acts = pol.act(torch.from_numpy(probe)).numpy()
        return float((acts == expert_action(probe)).mean()), summary, pd.read_csv(out / "log.csv")

    bc, s_bc, _ = agreement(base, "bc")
    dagger, s_dg, log = agreement(base.__class__(**{**base.__dict__, "dagger_rounds": 3}), "dagger")
    assert dagger == 1.0 and bc < 1.0
    assert s_dg["expert_labels"] == s_dg["demo_labels"] + sum(
        int(x) for x in np.diff(log.expert_labels.to_numpy())) and list(log["round"]) == [0, 1, 2, 3]
    assert s_bc["expert_labels"] == s_bc["demo_labels"] and len(s_dg["dagger_returns"]) == 3


def test_test_both_gives_each_protocol_what_a_run_of_that_protocol_alone_gives(tmp_path, shipped_toy):
    """Behaviour cloning (its training does not depend on the test protocol) tested both ways: the
    second protocol's returns are exactly those of a run whose main protocol it is, on the same
    starts. Red for: the second test on other starts, swapped names, a main score taken from the
    wrong protocol."""
    base = ImitationConfig(env_id=ENV_ID, expert="toy", expert_sha256=shipped_toy.sha256,
                           demos=DemoConfig(episodes=1, temperature=3.0), head=HeadConfig(head="categorical", width=8, depth=1),
                           steps=50, batch_size=32, lr=1e-2, eval_episodes=2, test_episodes=12)
    runs = {}
    for name, greedy, both in (("both", True, True), ("greedy", True, False), ("sampled", False, False)):
        (tmp_path / name).mkdir()
        runs[name] = train(base.__class__(**{**base.__dict__, "test_greedy": greedy, "test_both": both}), 5, tmp_path / name)
    both = runs["both"]
    assert both["test_protocol"] == "greedy" and runs["sampled"]["test_protocol"] == "sampled"
    assert both["test_returns_greedy"] == both["test_returns"] == runs["greedy"]["test_returns"]
    assert both["test_returns_sampled"] == runs["sampled"]["test_returns"]
    assert both["test_mean_sampled"] == runs["sampled"]["test_mean"] and "test_mean_sampled" not in runs["greedy"]
    # a hot demonstration and a tiny net: the two protocols do differ here, or the test proves nothing
    assert both["test_returns_sampled"] != both["test_returns_greedy"]


def test_a_changed_expert_is_refused_before_anything_runs(tmp_path, shipped_toy):
    """Red for: an expert whose file changed since its runs were keyed used anyway."""
    cfg = ImitationConfig(env_id=ENV_ID, expert="toy", expert_sha256="f" * 64)
    with pytest.raises(ValueError, match="the config expects sha256 ffffff"):
        train(cfg, 0, tmp_path)


def test_shipped_cartpole_expert_loads_and_matches_its_metadata():
    """Red for: a shipped expert whose recorded test score its recorded seed does not reproduce, a checksum
    that does not match."""
    from lib.data.experts import expert_dir, file_sha256, load
    from lib.evaluation import evaluate

    if not (expert_dir("cartpole_expert") / "metadata.json").exists():
        pytest.fail("experts/cartpole_expert is not shipped")
    expert = load("cartpole_expert")
    meta = expert.meta
    assert expert.discrete and file_sha256(expert_dir("cartpole_expert") / "policy.pt") == meta["policy_sha256"]
    assert meta["config"]["baseline"] == "rloo" and meta["config"]["entropy_coef"] > 0
    assert meta["config"]["episodes"] == meta["episodes"]
    # the recorded test score is reproduced exactly by replaying the recorded test seed
    rets, _ = evaluate(expert.network.numpy_sampler(), make_vec(meta["env_id"], 100), meta["test_episodes"],
                       seed=meta["test_seed"])
    assert float(rets.mean()) == pytest.approx(meta["test_mean"])
    assert json.loads((expert_dir("cartpole_expert") / "metadata.json").read_text())["seed"] == meta["seed"]


def test_tampered_expert_is_refused(tmp_path, monkeypatch):
    """Red for: a policy file whose sha256 differs from its metadata's loaded anyway."""
    from lib.data import experts

    monkeypatch.setattr(experts, "EXPERTS_DIR", tmp_path)
    pol = expert_policy()
    meta = {"network": {"kind": "categorical", "obs_dim": 1, "n_actions": 2, "hidden": [], "activation": "tanh"}}
    experts.save_expert("toy", pol.state_dict(), meta)
    experts.load("toy")  # loads
    torch.save({k: v + 1 for k, v in pol.state_dict().items()}, tmp_path / "toy" / "policy.pt")
    with pytest.raises(ValueError, match="sha256"):
        experts.load("toy")


def test_dagger_rounds_follow_the_beta_and_learning_rate_schedules(tmp_path, shipped_toy):
    """Three DAgger rounds with beta0 0.5 and decay 0.5 log beta 1 (cloning), 0.5, 0.25, 0.125; the
    cosine learning rate logged at the last step s of each phase is lr (1 + cos(pi s / total)) / 2,
    s counted from 0 over all 4 x 20 steps; every round adds the states its 2 episodes visited.
    Red for: beta0 decay^r instead of decay^(r - 1), a schedule that rises or restarts each round,
    a learning rate over the first fit's steps only, DAgger data replaced instead of aggregated."""
    cfg = ImitationConfig(env_id=ENV_ID, expert="toy", expert_sha256=shipped_toy.sha256, demos=DemoConfig(episodes=1),
                          head=HeadConfig(head="categorical", width=8, depth=1), steps=20, dagger_rounds=3,
                          dagger_steps=20, dagger_episodes=2, beta0=0.5, beta_decay=0.5, lr=1e-2, lr_schedule="cosine",
                          batch_size=16, eval_episodes=2, test_episodes=2)
    summary = train(cfg, 4, tmp_path)
    log = pd.read_csv(tmp_path / "log.csv")
    np.testing.assert_allclose(log["beta"], [1.0, 0.5, 0.25, 0.125])
    np.testing.assert_array_equal(log["step"], [20, 40, 60, 80])
    np.testing.assert_allclose(log["lr"], [0.5 * 1e-2 * (1 + math.cos(math.pi * (s - 1) / 80)) for s in log["step"]], rtol=1e-9)
    labels = log["expert_labels"].to_numpy()
    assert labels[0] == summary["demo_labels"] and (np.diff(labels) > 0).all()
    assert labels[-1] == summary["expert_labels"]


def test_evaluation_asks_the_policy_for_the_protocol_it_was_given():
    """evaluate(greedy=True) asks every step for the deterministic action, and by default for a
    sample. Red for: an evaluation that ignores its greedy flag."""
    from lib.evaluation import evaluate

    class Recorder:
        def __init__(self):
            self.flags = set()

        def sample(self, obs, rng, greedy=False):
            self.flags.add(greedy)
            return np.zeros(obs.shape[0], dtype=np.int64)

    for greedy in (True, False):
        rec = Recorder()
        evaluate(rec, "CartPole-v1", 3, seed=0, greedy=greedy)
        assert rec.flags == {greedy}
