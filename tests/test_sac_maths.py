"""SAC's maths on hand-made batches, and the running-mean baseline on a known sequence of batches.

Each test names the wrong implementation it turns red on. The critics are made constant (every
weight and hidden bias 0, output biases c1, c2), so Q(s, a) = c1 or c2 whatever s and a, and the
only random quantity, the actor's log-density, is replayed from the same torch seed the update uses.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from lib.learners import sac
from lib.learners.sac import SACAgent, SACConfig, TwinQ

GAMMA, ALPHA = 0.9, 0.5
OBS, ACT, B = 3, 2, 4


def constant_critics(q: TwinQ, c1: float, c2: float) -> None:
    """Q1 = c1 and Q2 = c2 everywhere."""
    with torch.no_grad():
        for w, b in zip(q.weights, q.biases):
            w.zero_()
            b.zero_()
        q.biases[-1][0].fill_(c1)
        q.biases[-1][1].fill_(c2)


def hand_batch() -> tuple[torch.Tensor, ...]:
    """obs, act, rew, next_obs, not_done: the second transition ends in a terminal state."""
    g = torch.Generator().manual_seed(3)
    obs = torch.randn(B, OBS, generator=g)
    act = torch.rand(B, ACT, generator=g) * 2 - 1
    rew = torch.tensor([1.0, -2.0, 0.5, 3.0])
    next_obs = torch.randn(B, OBS, generator=g)
    not_done = torch.tensor([1.0, 0.0, 1.0, 1.0])
    return obs, act, rew, next_obs, not_done


def agent_with_constant_critics(seed: int = 0) -> SACAgent:
    torch.manual_seed(seed)
    agent = SACAgent(OBS, ACT, -np.ones(ACT), np.ones(ACT), SACConfig(hidden=8, gamma=GAMMA, alpha=ALPHA))
    constant_critics(agent.q_target, 2.0, 5.0)  # target critics: min 2, max 5
    constant_critics(agent.q, 1.0, -1.0)  # online critics: min -1, max 1
    with torch.no_grad():  # a narrow actor (log std at its floor): log pi is large, so its sign shows
        agent.actor.fc_logstd.weight.zero_()
        agent.actor.fc_logstd.bias.fill_(-10.0)
    return agent


def replayed_log_densities(agent: SACAgent, obs: torch.Tensor, next_obs: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(a'|s') and log pi(a|s) (B,) as the update draws them: next state first, then state."""
    torch.manual_seed(seed)
    with torch.no_grad():
        _, next_logp = agent.actor.sample(next_obs)
        _, logp = agent.actor.sample(obs)
    return next_logp.double(), logp.double()


def test_soft_bellman_target_takes_the_min_of_the_target_critics_minus_the_entropy_term_and_stops_at_terminals():
    """Red for: max instead of min of the twin targets; +alpha*logp instead of -; bootstrapping a terminal."""
    agent = agent_with_constant_critics()
    obs, act, rew, next_obs, not_done = hand_batch()
    next_logp, _ = replayed_log_densities(agent, obs, next_obs, seed=11)
    assert next_logp.abs().min() > 1.0  # the entropy term is far from 0, so its sign shows
    torch.manual_seed(11)
    out = agent.update(obs, act, rew, next_obs, not_done)
    # y = r + gamma * (1 - terminal) * (min(Q1', Q2') - alpha * log pi(a'|s')), with min(2, 5) = 2
    y = rew.double() + GAMMA * not_done.double() * (2.0 - ALPHA * next_logp)
    assert y[1] == -2.0  # the terminal transition's target is its reward alone
    # critic loss: sum over the two critics (constant 1 and -1) of the mean squared error to y
    want = float(((1.0 - y) ** 2).mean() + ((-1.0 - y) ** 2).mean())
    assert float(out["critic_loss"]) == pytest.approx(want, rel=1e-5)


def test_actor_loss_uses_the_min_over_critics_and_the_temperature_with_a_plus_sign():
    """Red for: max over critics in the actor loss; -alpha*logp; a loss not averaged over the batch."""
    agent = agent_with_constant_critics()
    obs, act, rew, next_obs, not_done = hand_batch()
    _, logp = replayed_log_densities(agent, obs, next_obs, seed=5)
    torch.manual_seed(5)
    out = agent.update(obs, act, rew, next_obs, not_done)
    # J_pi = mean(alpha * log pi(a|s) - min(Q1, Q2)(s, a)), with min(1, -1) = -1
    want = float((ALPHA * logp - (-1.0)).mean())
    assert float(out["actor_loss"]) == pytest.approx(want, rel=1e-5)


def test_temperature_loss_and_its_direction():
    """J_alpha = -mean(log_alpha * (log pi + target_entropy)), target_entropy = -act_dim.

    Red for: a flipped sign (alpha would fall while the policy's entropy is below the target),
    a target entropy of +act_dim, or the temperature reading the current alpha instead of log alpha."""
    agent = agent_with_constant_critics()  # narrow: log pi >> act_dim, entropy far below -act_dim
    obs, act, rew, next_obs, not_done = hand_batch()
    _, logp = replayed_log_densities(agent, obs, next_obs, seed=2)
    assert logp.mean() > ACT
    torch.manual_seed(2)
    before = agent.log_alpha.item()
    out = agent.update(obs, act, rew, next_obs, not_done)
    want = -math.log(ALPHA) * float((logp - ACT).mean())
    assert float(out["alpha_loss"]) == pytest.approx(want, rel=1e-5)
    assert float(out["alpha"]) == pytest.approx(ALPHA)  # the update reports the alpha it used
    assert agent.log_alpha.item() > before  # too little entropy: the temperature rises


def test_the_actors_gradient_never_reaches_the_critics():
    """With a non-zero critic learning rate, the critics' gradients after an update are exactly those
    of the critic loss alone (recomputed here from the same draw). Red if the actor loss reads the
    critics through weights that carry gradient, or if the target is not computed under no_grad."""
    torch.manual_seed(0)
    cfg = SACConfig(hidden=16, gamma=GAMMA, alpha=ALPHA, q_lr=1e-3)
    agent = SACAgent(OBS, ACT, -np.ones(ACT), np.ones(ACT), cfg)
    with torch.no_grad():  # target critics different from the online ones
        for p in agent.q_target.parameters():
            p.mul_(1.5)
    reference = copy.deepcopy(agent)
    obs, act, rew, next_obs, not_done = hand_batch()
    torch.manual_seed(9)
    agent.update(obs, act, rew, next_obs, not_done)

    torch.manual_seed(9)
    with torch.no_grad():
        next_act, next_logp = reference.actor.sample(next_obs)
        q_next = reference.q_target(torch.cat([next_obs, next_act], 1)).min(0).values - ALPHA * next_logp
        y = rew + GAMMA * not_done * q_next
    critic_loss = (reference.q(torch.cat([obs, act], 1)) - y).pow(2).mean(1).sum()
    critic_loss.backward()
    for got, want in zip(agent.q.parameters(), reference.q.parameters()):
        assert want.grad is not None and want.grad.abs().sum() > 0
        torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=1e-7)
    assert all(p.grad is None for p in reference.actor.parameters())  # the critic loss alone: no actor gradient
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.actor.parameters())
    assert all(p.grad is None for p in agent.q_target.parameters())


@pytest.mark.parametrize("env_id, terminal_expected", [("HalfCheetah-v4", False), ("InvertedPendulum-v4", True)])
def test_training_stores_terminations_as_terminal_and_time_limits_as_not(tmp_path, env_id: str, terminal_expected: bool):
    """The replay that train_sac checkpoints has not_done = 0 exactly on the last transition of each
    episode that ended in a terminal state, and 1 everywhere else: HalfCheetah never terminates (its
    1000-step episodes are cut by the time limit), InvertedPendulum terminates when the pole falls.
    Red for: storing a truncation as terminal, or dropping terminations."""
    cfg = SACConfig(env_id=env_id, total_steps=1001 if not terminal_expected else 400, learning_starts=100_000,
                    hidden=8, eval_every=100_000, checkpoint_every=1000 if not terminal_expected else 200,
                    test_episodes=1)
    sac.train_sac(cfg, 0, tmp_path, verbose=False)
    with np.load(tmp_path / "replay.npz") as data:
        not_done = data["not_done"]
    episodes = pd.read_csv(tmp_path / "episodes.csv")
    ends = episodes["step"].to_numpy() - 1  # index of each episode's last transition
    ends = ends[ends < len(not_done)]
    assert len(ends) >= 1
    want = np.ones_like(not_done)
    if terminal_expected:
        assert (episodes["length"] < 1000).all()
        want[ends] = 0.0
    else:
        assert episodes["length"].iloc[0] == 1000 and len(not_done) == 1000
    np.testing.assert_array_equal(not_done, want)


def test_running_mean_baseline_on_a_known_sequence_of_batches(monkeypatch):
    """The running-mean baseline is the bias-corrected EMA of earlier batches' mean return; a batch never
    sees its own. With decay 0.5 and batch means 5/3, 11/3, the baselines are 0, 5/3, 3.
    Red for: updating the EMA before it is used, no bias correction, or the wrong decay."""
    from lib.learners import pg
    from lib.learners.pg import PGConfig, PGLearner
    from lib.data.rollout import EpisodeBatch

    cfg = PGConfig(env_id="CartPole-v1", episodes=8, batch_episodes=2, baseline="running_mean", running_mean_decay=0.5,
                   return_type="trajectory", gamma=1.0, normalize_advantages=True, hidden=(4,))
    learner = PGLearner(cfg, seed=0)
    seen: list[np.ndarray] = []
    monkeypatch.setattr(pg, "normalize", lambda adv: seen.append(np.array(adv)) or adv)

    def batch(r_a: float, r_b: float) -> EpisodeBatch:
        """Episode A: two steps with reward r_a/2 each; episode B: one step with reward r_b."""
        rewards = np.array([[r_a / 2, r_b], [r_a / 2, 0.0]], dtype=np.float32)
        mask = np.array([[True, True], [True, False]])
        return EpisodeBatch(obs=np.zeros((2, 2, 4), np.float32), actions=np.zeros((2, 2), np.int64), rewards=rewards,
                            mask=mask, lengths=np.array([2, 1]), terminated=np.array([True, True]),
                            final_obs=np.zeros((2, 4), np.float32))

    # q per real step, flattened time-major: (A, B, A) = (r_a, r_b, r_a); batch means 5/3, 11/3, 1
    for r_a, r_b in ((2.0, 1.0), (4.0, 3.0), (1.0, 1.0)):
        learner.update(batch(r_a, r_b), alpha=0.0)
    np.testing.assert_allclose(seen[0], [2.0, 1.0, 2.0])
    np.testing.assert_allclose(seen[1], np.array([4.0, 3.0, 4.0]) - 5 / 3)
    np.testing.assert_allclose(seen[2], np.array([1.0, 1.0, 1.0]) - 3.0)


def _cleanrl_agent(seed: int = 0, **kw) -> SACAgent:
    torch.manual_seed(seed)
    cfg = SACConfig(hidden=16, gamma=GAMMA, **{**sac.CLEANRL, **kw})
    agent = SACAgent(OBS, ACT, -np.ones(ACT), np.ones(ACT), cfg)
    with torch.no_grad():  # target critics different from the online ones
        for p in agent.q_target.parameters():
            p.mul_(1.5)
    return agent


def _by_hand(ref: SACAgent, batch: tuple[torch.Tensor, ...], policy_step: bool) -> dict[str, float]:
    """CleanRL's update written out: critics' Adam step; then, on a policy step, twice an actor step on
    the updated critics and a temperature step (loss -alpha * (log pi + target entropy)) on a fresh
    sample; then the targets. Draws in the same order as the agent."""
    obs, act, rew, next_obs, not_done = batch
    cfg = ref.cfg
    q_opt = torch.optim.Adam(ref.q.parameters(), lr=cfg.q_lr, fused=True)
    pi_opt = torch.optim.Adam(ref.actor.parameters(), lr=cfg.policy_lr, fused=True)
    a_opt = torch.optim.Adam([ref.log_alpha], lr=cfg.q_lr, fused=True)
    alpha = ref.log_alpha.exp().item()

    def draw(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return sac.actor_sample(ref.actor, x, log_prob_eps=cfg.log_prob_eps)

    with torch.no_grad():
        next_act, next_logp = draw(next_obs)
        y = rew + GAMMA * not_done * (ref.q_target(torch.cat([next_obs, next_act], 1)).min(0).values - alpha * next_logp)
    critic_loss = (ref.q(torch.cat([obs, act], 1)) - y).pow(2).mean(1).sum()
    q_opt.zero_grad()
    critic_loss.backward()
    q_opt.step()
    out = {"critic_loss": critic_loss.item()}
    if policy_step:
        for _ in range(2):
            pi, logp = draw(obs)
            actor_loss = (alpha * logp - ref.q(torch.cat([obs, pi], 1)).min(0).values).mean()
            pi_opt.zero_grad()
            actor_loss.backward()
            pi_opt.step()
            with torch.no_grad():
                _, logp = draw(obs)
            alpha_loss = (-ref.log_alpha.exp() * (logp + ref.target_entropy)).mean()
            a_opt.zero_grad()
            alpha_loss.backward()
            a_opt.step()
            alpha = ref.log_alpha.exp().item()
            out.update(actor_loss=actor_loss.item(), alpha_loss=alpha_loss.item())
    with torch.no_grad():
        for t, q in zip(ref.q_target.parameters(), ref.q.parameters()):
            t.copy_(cfg.tau * q + (1 - cfg.tau) * t)
    return {**out, "alpha": alpha}


@pytest.mark.parametrize("global_step, policy_step", [(0, True), (1, False), (6, True)])
def test_the_cleanrl_configuration_updates_in_cleanrls_order(global_step, policy_step):
    """One sequential update against CleanRL's update written out by hand, on a large critic learning
    rate so that the actor's loss shows whether it read the critics before or after their step. Red
    for: the actor on the old critics, a temperature step on the actor's pre-update sample, log alpha
    instead of alpha in its loss, policy updates on odd steps or only once, a missed target update."""
    agent = _cleanrl_agent(q_lr=0.05)
    ref = copy.deepcopy(agent)
    stale = copy.deepcopy(agent)
    batch = hand_batch()
    torch.manual_seed(4)
    got = agent.update(*batch, global_step=global_step)
    torch.manual_seed(4)
    want = _by_hand(ref, batch, policy_step)
    assert set(got) == set(want)
    for k, v in want.items():
        assert float(got[k]) == pytest.approx(v, rel=1e-5, abs=1e-6), k
    for mod in ("actor", "q", "q_target"):
        for a, b in zip(getattr(agent, mod).parameters(), getattr(ref, mod).parameters()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert agent.log_alpha.item() == pytest.approx(ref.log_alpha.item(), abs=1e-7)
    if policy_step:  # the order is visible: the actor on the pre-step critics would report another loss
        torch.manual_seed(4)
        with torch.no_grad():
            stale.sample(batch[3])
            pi, logp = stale.sample(batch[0])
            old = (logp - stale.q(torch.cat([batch[0], pi], 1)).min(0).values).mean().item()  # alpha = 1 at start
        assert abs(old - want["actor_loss"]) > 1e-3
    else:
        torch.testing.assert_close(agent.actor.fc1.weight, stale.actor.fc1.weight, rtol=0, atol=0)


def test_the_log_density_with_cleanrls_epsilon():
    """With eps = 1e-6, log pi = log N(u) - sum log(1 - tanh(u)^2 + 1e-6): equal to the exact form
    for a moderate action, and capped for a saturated one (where the exact correction grows without
    bound). Red for: eps ignored, eps added outside the log, the scale left out."""
    from lib.policies import SACActor

    actor = SACActor(OBS, ACT, 8, -2 * np.ones(ACT), 2 * np.ones(ACT))  # scale 2
    obs = torch.randn(3, OBS, generator=torch.Generator().manual_seed(0))
    for bias, close in ((0.0, True), (12.0, False)):
        with torch.no_grad():
            actor.fc_mean.weight.zero_()
            actor.fc_mean.bias.fill_(bias)
        torch.manual_seed(1)
        _, exact = sac.actor_sample(actor, obs)
        torch.manual_seed(1)
        a, capped = sac.actor_sample(actor, obs, log_prob_eps=1e-6)
        mean, log_std = actor(obs)
        torch.manual_seed(1)
        u = mean + log_std.exp() * torch.randn_like(mean)
        want = (torch.distributions.Normal(mean, log_std.exp()).log_prob(u)
                - torch.log(2.0 * (1 - torch.tanh(u) ** 2) + 1e-6)).sum(-1)
        torch.testing.assert_close(capped, want, rtol=1e-5, atol=1e-4)
        if close:
            torch.testing.assert_close(capped, exact, rtol=1e-4, atol=1e-3)
        else:
            assert (exact - capped > 5).all()  # saturated: the exact correction is far larger
