"""SAC: checkpoint layout, the fused update, acting, and resuming an interrupted run exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lib.learners import sac
from lib.policies import NumpySACActor, SACActor
from lib.learners.sac import ReplayBuffer, SACAgent, SACConfig, TwinQ


def test_actor_loads_the_reports_checkpoint_layout():
    keys = ["action_scale", "action_bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
            "fc_mean.weight", "fc_mean.bias", "fc_logstd.weight", "fc_logstd.bias"]
    g = torch.Generator().manual_seed(0)
    shapes = {"action_scale": (6,), "action_bias": (6,), "fc1.weight": (256, 17), "fc1.bias": (256,),
              "fc2.weight": (256, 256), "fc2.bias": (256,), "fc_mean.weight": (6, 256), "fc_mean.bias": (6,),
              "fc_logstd.weight": (6, 256), "fc_logstd.bias": (6,)}
    state = {k: torch.randn(shapes[k], generator=g) for k in keys}
    state["action_scale"] = torch.full((6,), 2.0)
    actor = SACActor.from_state_dict(state)
    assert sorted(actor.state_dict()) == sorted(keys)
    obs = torch.randn(3, 17, generator=g)
    h = torch.relu(state["fc2.weight"] @ torch.relu(state["fc1.weight"] @ obs.T + state["fc1.bias"][:, None]) + state["fc2.bias"][:, None])
    want = torch.tanh((state["fc_mean.weight"] @ h).T + state["fc_mean.bias"]) * 2.0 + state["action_bias"]
    torch.testing.assert_close(actor.act_deterministic(obs), want, rtol=1e-4, atol=1e-4)
    # the numpy actor acts the same, on one observation and on a batch
    np.testing.assert_allclose(NumpySACActor(actor)(obs.numpy()), want.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(NumpySACActor(actor)(obs[0].numpy()), want[0].numpy(), rtol=1e-4, atol=1e-4)


def test_log_prob_of_the_squashed_gaussian():
    torch.manual_seed(0)
    actor = SACActor(3, 2, 16, np.array([-2.0, -1.0]), np.array([2.0, 3.0]))
    obs = torch.randn(5, 3)
    torch.manual_seed(1)
    a, logp = actor.sample(obs)
    mean, log_std = actor(obs)
    y = (a - actor.action_bias) / actor.action_scale
    u = torch.atanh(y.clamp(-1 + 1e-6, 1 - 1e-6))
    base = torch.distributions.Normal(mean, log_std.exp()).log_prob(u).sum(-1)
    want = base - torch.log(actor.action_scale * (1 - y.pow(2))).sum(-1)
    torch.testing.assert_close(logp, want, rtol=1e-3, atol=1e-3)


def test_twin_q_matches_two_separate_networks():
    torch.manual_seed(0)
    q = TwinQ(5, 8)
    x = torch.randn(4, 5)
    out = q(x)
    for i in range(2):
        h = torch.relu(x @ q.weights[0][i] + q.biases[0][i])
        h = torch.relu(h @ q.weights[1][i] + q.biases[1][i])
        torch.testing.assert_close(out[i], (h @ q.weights[2][i].T + q.biases[2][i]).squeeze(-1))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_update_on_a_fixed_batch_lowers_the_critic_loss_and_moves_what_it_should(dtype: str):
    torch.manual_seed(0)
    cfg = SACConfig(hidden=32, compute_dtype=dtype)
    agent = SACAgent(4, 2, -np.ones(2), np.ones(2), cfg)
    g = torch.Generator().manual_seed(1)
    batch = (torch.randn(64, 4, generator=g), torch.rand(64, 2, generator=g) * 2 - 1, torch.randn(64, generator=g),
             torch.randn(64, 4, generator=g), torch.ones(64))
    target_before = [p.clone() for p in agent.q_target.parameters()]
    q_before = [p.clone() for p in agent.q.parameters()]
    first = float(agent.update(*batch)["critic_loss"])
    # the target critics moved by exactly tau towards the (pre-step) critics... after the step
    for tb, qb, tn, qn in zip(target_before, q_before, agent.q_target.parameters(), agent.q.parameters()):
        torch.testing.assert_close(tn, tb + cfg.tau * (qn - tb))
    for _ in range(150):
        last = float(agent.update(*batch)["critic_loss"])
    assert last < 0.5 * first
    # that the actor's loss never trains the critics is tested in test_sac_maths.py, with a non-zero critic lr


def test_temperature_moves_towards_the_target_entropy():
    torch.manual_seed(0)
    agent = SACAgent(4, 2, -np.ones(2), np.ones(2), SACConfig(hidden=32))
    batch = (torch.randn(64, 4), torch.zeros(64, 2), torch.zeros(64), torch.randn(64, 4), torch.ones(64))
    before = agent.log_alpha.item()
    # a fresh actor's entropy is far above -act_dim, so alpha must fall
    agent.update(*batch)
    assert agent.log_alpha.item() < before


def test_replay_buffer_roundtrip_and_truncation(tmp_path):
    buf = ReplayBuffer(3, 1, 10)
    for i in range(6):
        buf.add(np.full(3, i), np.full(1, -i), float(i), np.full(3, i + 1), i == 5)
    buf.save(tmp_path / "r.npz")
    other = ReplayBuffer(3, 1, 10)
    other.load(tmp_path / "r.npz", size=4)
    assert other.size == 4 and other.pos == 4
    np.testing.assert_array_equal(other.rew[:4], [0, 1, 2, 3])
    assert buf.not_done[5] == 0 and buf.not_done[4] == 1
    with pytest.raises(ValueError, match="holds 6 transitions"):
        other.load(tmp_path / "r.npz", size=7)


def test_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    cfg = SACConfig(env_id="InvertedPendulum-v4", total_steps=1300, learning_starts=200, batch_size=32, hidden=16,
                    eval_every=650, eval_episodes=1, checkpoint_every=500, test_episodes=1)
    whole = sac.train_sac(cfg, 3, tmp_path / "whole", verbose=False)

    real = sac.evaluate
    calls = {"n": 0}

    def crash_on_second_eval(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sac, "evaluate", crash_on_second_eval)
    with pytest.raises(KeyboardInterrupt):
        sac.train_sac(cfg, 3, tmp_path / "cut", verbose=False)
    assert (tmp_path / "cut" / "checkpoint.pt").exists()
    monkeypatch.setattr(sac, "evaluate", real)
    resumed = sac.train_sac(cfg, 3, tmp_path / "cut", verbose=False)
    assert resumed["test_returns"] == whole["test_returns"]
    a = torch.load(tmp_path / "whole" / "actor.pt")
    b = torch.load(tmp_path / "cut" / "actor.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole" / "episodes.csv"), pd.read_csv(tmp_path / "cut" / "episodes.csv"))
    assert math.isfinite(resumed["test_mean"])


def test_the_store_resumes_an_interrupted_sac_run(tmp_path, monkeypatch):
    """Through the run contract: a run killed mid-training keeps its work directory (it holds a
    checkpoint); the next call resumes it and publishes the same run as an uninterrupted one."""
    from lib.store.runs import RunSpec, RunStore

    cfg = SACConfig(env_id="InvertedPendulum-v4", total_steps=1300, learning_starts=200, batch_size=32, hidden=16,
                    eval_every=650, eval_episodes=1, checkpoint_every=500, test_episodes=1)
    spec = RunSpec(section="t", variant="v", exp_name="sac", seed=3, config=cfg, trainer="lib.learners.sac:train")
    whole = RunStore(tmp_path / "a")
    ref = whole.load(spec, whole.execute(spec, spec.key()), False)
    real, calls = sac.evaluate, {"n": 0}

    def crash_on_second_eval(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    store = RunStore(tmp_path / "b")
    monkeypatch.setattr(sac, "evaluate", crash_on_second_eval)
    with pytest.raises(KeyboardInterrupt):
        store.execute(spec, spec.key())
    assert (store.tmp / spec.key() / "checkpoint.pt").exists() and store.find(spec.key()) is None
    assert store.clean_stale() == 0  # a checkpoint is kept for the next call
    monkeypatch.setattr(sac, "evaluate", real)
    run = store.load(spec, store.execute(spec, spec.key()), False)
    assert run.summary["test_returns"] == ref.summary["test_returns"]
    assert sorted(p.name for p in run.path.iterdir()) == ["agent.pt", "episodes.csv", "flags.json", "log.csv", "summary.json"]
    pd.testing.assert_frame_equal(pd.read_csv(run.path / "episodes.csv"), pd.read_csv(ref.path / "episodes.csv"))


def test_output_layer_gradients_match_autograd():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, 5, 4, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(2, 1, 4, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(2, 1, 1, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(sac._OutputLayer.apply, (h, w, b))
    out = sac._OutputLayer.apply(h, w, b)
    torch.testing.assert_close(out, h @ w.transpose(1, 2) + b)


def test_the_return_comparison_trains_every_configuration_and_writes_its_table(tmp_path, monkeypatch):
    """scripts/sac_compare.py on a tiny pendulum budget: one run per configuration and seed, each with
    its configuration's fields (CleanRL's: sequential update, policy frequency 2, alpha from 1); the
    table has a row per configuration with each seed's numbers; a second call finds every run in the
    store. Red for: a configuration that trains the defaults, a summary mixing seeds or configurations."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import sac_compare

    monkeypatch.setenv("RLWB_RUNS", str(tmp_path / "runs"))
    base = SACConfig(env_id="InvertedPendulum-v4", learning_starts=100, batch_size=16, hidden=8, eval_every=150,
                     eval_episodes=1, test_episodes=1)
    result = sac_compare.compare(600, (3,), 1, base, executor="serial", speed_steps=20)
    rows = {r["configuration"]: r for r in result["rows"]}
    assert all(r["steps_per_s"] > 0 for r in rows.values()) and result["speed_steps"] == 20
    assert list(rows) == list(sac_compare.CONFIGS) and all(r["seeds"] == [3] for r in rows.values())
    assert result["last_steps"] == 300 and all(len(r["late_eval"]) == 1 for r in rows.values())
    from lib.store.runs import RunStore

    found = [RunStore().find(s.key()) for s in sac_compare.specs(600, (3,), base)]
    assert all(f is not None for f in found)
    used = {json.loads((f / "flags.json").read_text())["config"]["update"] for f in found}
    assert used == {"sequential", "fused"}
    text = "\n".join(sac_compare.return_section(result))
    assert all(f"| {name} |" in text for name in sac_compare.CONFIGS) and "1.00x" in text
    again = sac_compare.compare(600, (3,), 1, base, executor="serial", speed_steps=20)
    assert [r["late_eval"] for r in again["rows"]] == [r["late_eval"] for r in result["rows"]]
    two = sac_compare.compare(600, (3,), 1, base, executor="serial", speed_steps=20, configs=("fast", "CleanRL"))
    assert [r["configuration"] for r in two["rows"]] == ["CleanRL", "fast"]  # the reference first, whatever the order
    assert [r["late_eval"] for r in two["rows"]] == [rows["CleanRL"]["late_eval"], rows["fast"]["late_eval"]]


def test_the_return_comparison_refuses_configurations_without_the_reference():
    """--configs without CleanRL's (the reference), or with a name it does not know: one error naming
    the flag and what is allowed, before any run."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "sac_compare.py"
    for bad in (["fast"], ["CleanRL", "fastest"]):
        out = subprocess.run([sys.executable, str(script), "--configs", *bad], capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "--configs must name 'CleanRL'" in out.stderr and "'fast'" in out.stderr


def test_a_speed_trick_survives_only_when_every_seed_clears_the_bar():
    """The comparison's rule on hand-made returns: with CleanRL's mean 10,000 and a 10% margin the bar
    is 9,000; every seed at or above it keeps the return, every seed below costs it, a split is
    undecided; the speed-up that remains is the fastest configuration that keeps the return, not the
    fastest. Red for: a verdict on the mean (9,500 and 8,000 would keep), a strict bar (9,000 would
    not), or the fastest configuration reported whatever its return."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import sac_compare

    assert sac_compare.verdict([9_000.0, 9_400.0], 10_000.0, 0.1) == "keeps return"
    assert sac_compare.verdict([8_999.0, 8_000.0], 10_000.0, 0.1) == "costs return"
    assert sac_compare.verdict([9_500.0, 8_000.0], 10_000.0, 0.1) == "undecided"

    def row(name, late, rate):
        return {"configuration": name, "late_eval": late, "late_eval_mean": sum(late) / len(late), "steps_per_s": rate}

    rows = [row("CleanRL", [9_800.0, 10_200.0], 50.0), row("CleanRL, bfloat16", [9_300.0, 9_900.0], 90.0),
            row("fast", [7_000.0, 8_000.0], 120.0)]
    text = "\n".join(sac_compare.conclusions(rows, 0.1))
    assert "**CleanRL, bfloat16** (bfloat16 matmuls): keeps return" in text
    assert "**fast**" in text and "costs return" in text and "2.40x CleanRL's speed" in text
    assert "remains here with the return kept: **1.80x** (CleanRL, bfloat16)" in text
    assert "undecided" not in text
    rows[1]["late_eval"] = [9_300.0, 8_500.0]
    text = "\n".join(sac_compare.conclusions(rows, 0.1))
    assert "remains here with the return kept: **1.00x** (CleanRL); undecided, so neither kept nor dropped: CleanRL, bfloat16" in text
