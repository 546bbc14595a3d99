"""The policy-gradient update on a hand-made batch: loss and gradient of every estimator the sections
use, against the same quantities written out in numpy.

The batch holds three short episodes of a two-dimensional observation and two actions: one that
terminates after three steps, one that the time limit cuts after two (its observation after the cut is
``FINAL[1]``), and one that terminates after one step. The policy is linear (no hidden layer), so its
log-probabilities are ``log_softmax(W s + b)`` and their gradients ``(onehot(a) - pi(.|s)) s^T``; the
value net is linear too, ``V(s) = w.s + c``. Every reference below is computed per episode, per step,
from these formulas, without any function of ``lib.learners.returns``.

Each test names, in one line, the wrong implementation it turns red for.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

from lib.data.rollout import EpisodeBatch
from lib.learners.pg import PGConfig, PGLearner

GAMMA = 0.9
OBS_DIM, N_ACT = 2, 2
# episode k: observations (L_k, 2), actions (L_k,), rewards (L_k,); whether it terminated; s_{L_k}
EPISODES = [
    (np.array([[0.5, -1.0], [1.0, 0.2], [-0.3, 0.8]]), np.array([1, 0, 1]), np.array([1.0, 2.0, -1.0])),
    (np.array([[-0.7, 0.4], [0.9, -0.6]]), np.array([0, 1]), np.array([0.5, 3.0])),
    (np.array([[0.1, 1.5]]), np.array([0]), np.array([2.0])),
]
TERMINATED = np.array([True, False, True])
# observations after each episode's last step: only episode 1's (cut by the time limit) may be used
FINAL = np.array([[1.0, 1.0], [0.2, 0.3], [-2.0, 0.5]])
W0 = np.array([[0.3, -0.2], [-0.1, 0.4]])  # policy: logits = W s + b
B0 = np.array([0.05, -0.05])
WV, CV = np.array([0.6, -0.4]), 0.5  # value: V(s) = WV . s + CV

FAKE_ENV = SimpleNamespace(single_observation_space=gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32),
                           single_action_space=gym.spaces.Discrete(N_ACT))


def hand_batch(episodes=EPISODES, terminated=TERMINATED, final=FINAL) -> EpisodeBatch:
    """The episodes above on the learner's padded, time-major grid (T, K)."""
    k, t_max = len(episodes), max(len(r) for _, _, r in episodes)
    obs = np.zeros((t_max, k, OBS_DIM), np.float32)
    act = np.zeros((t_max, k), np.int64)
    rew = np.zeros((t_max, k), np.float32)
    mask = np.zeros((t_max, k), bool)
    for j, (o, a, r) in enumerate(episodes):
        n = len(r)
        obs[:n, j], act[:n, j], rew[:n, j], mask[:n, j] = o, a, r, True
        obs[n:, j] = 9.0  # padding that must never be read
    lengths = np.array([len(r) for _, _, r in episodes], np.int64)
    return EpisodeBatch(obs=obs, actions=act, rewards=rew, mask=mask, lengths=lengths,
                        terminated=np.asarray(terminated), final_obs=np.asarray(final, np.float32))


def make_learner(**kw) -> PGLearner:
    """A learner on the fake env with the linear policy (W0, B0) and, with a value baseline, the linear V."""
    cfg = PGConfig(env_id="CartPole-v1", episodes=None, iterations=10, batch_episodes=3, gamma=GAMMA, hidden=(),
                   value_hidden=(), **kw)
    learner = PGLearner(cfg, 0, env=FAKE_ENV)
    with torch.no_grad():
        learner.policy.net[0].weight.copy_(torch.tensor(W0))
        learner.policy.net[0].bias.copy_(torch.tensor(B0))
        if learner.value is not None:
            learner.value.net[0].weight.copy_(torch.tensor(WV[None]))
            learner.value.net[0].bias.fill_(CV)
    return learner


# --------------------------------------------------------------------------- the references, by hand
def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def value_of(s: np.ndarray, w: np.ndarray = WV, c: float = CV) -> float:
    return float(np.dot(w, s) + c)


def tail_of(k: int, bootstrap: bool) -> float:
    """V(s_{L_k}) for an episode the time limit cut (when bootstrapping), 0 after a termination."""
    return value_of(FINAL[k]) if (bootstrap and not TERMINATED[k]) else 0.0


def reward_to_go_ref(r: np.ndarray, tail: float = 0.0) -> np.ndarray:
    """G_t = sum_{t' >= t} gamma^(t' - t) r_t' + gamma^(L - t) tail, as an explicit sum."""
    n = len(r)
    return np.array([sum(GAMMA ** (u - t) * r[u] for u in range(t, n)) + GAMMA ** (n - t) * tail for t in range(n)])


def trajectory_ref(r: np.ndarray) -> np.ndarray:
    """sum_t gamma^t r_t at every step of the episode."""
    return np.full(len(r), sum(GAMMA**t * x for t, x in enumerate(r)))


def gae_ref(o: np.ndarray, r: np.ndarray, tail: float, lam: float) -> np.ndarray:
    """A_t = sum_l (gamma lam)^l delta_{t+l}, delta_t = r_t + gamma V(s_{t+1}) - V(s_t), V(s_L) = tail."""
    n = len(r)
    v = [value_of(s) for s in o] + [tail]
    delta = [r[t] + GAMMA * v[t + 1] - v[t] for t in range(n)]
    return np.array([sum((GAMMA * lam) ** (u - t) * delta[u] for u in range(t, n)) for t in range(n)])


def normalised(adv: list[np.ndarray]) -> list[np.ndarray]:
    flat = np.concatenate(adv)
    mean, std = flat.mean(), np.sqrt(((flat - flat.mean()) ** 2).mean())
    return [(a - mean) / (std + 1e-8) for a in adv]


def expected_loss_and_grads(adv: list[np.ndarray], alpha: float = 0.0, w: np.ndarray = W0, b: np.ndarray = B0,
                            episodes=EPISODES) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The policy loss -mean_n(log pi(a_n|s_n) A_n), the mean entropy, and the gradients of
    ``loss - alpha * entropy`` with respect to W (2, 2) and b (2,), over every step n of the batch."""
    loss = ent = 0.0
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    n = sum(len(r) for _, _, r in episodes)
    for (o, a, _), ad in zip(episodes, adv):
        for s, act, at in zip(o, a, ad):
            p = softmax(w @ s + b)
            h = -(p * np.log(p)).sum()
            dlogp = np.eye(N_ACT)[act] - p  # d log pi(a|s) / d logits
            dh = -p * (np.log(p) + h)  # d H / d logits
            dz = (-at * dlogp - alpha * dh) / n
            loss -= np.log(p[act]) * at / n
            ent += h / n
            gw += np.outer(dz, s)
            gb += dz
    return loss, ent, gw, gb


def assert_update(learner: PGLearner, stats: dict, adv: list[np.ndarray], alpha: float = 0.0,
                  w: np.ndarray = W0, b: np.ndarray = B0) -> None:
    """The learner's reported loss, entropy and the policy's gradients are the reference's."""
    loss, ent, gw, gb = expected_loss_and_grads(adv, alpha, w, b)
    lin = learner.policy.net[0]
    assert stats["Actor Loss"] == pytest.approx(loss, rel=1e-5, abs=1e-6)
    assert stats["Entropy"] == pytest.approx(ent, rel=1e-5)
    np.testing.assert_allclose(lin.weight.grad.numpy(), gw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(lin.bias.grad.numpy(), gb, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- the estimators
@pytest.mark.parametrize("return_type, norm", [("trajectory", False), ("trajectory", True),
                                               ("reward_to_go", False), ("reward_to_go", True)])
def test_no_baseline_returns_and_normalisation(return_type, norm):
    """Case 1 and case 2 of the assignment, raw and normalised: the loss and gradient weight each
    log-probability by the episode's whole discounted return or by its reward-to-go.
    Red for: the policy loss's sign flipped, reward-to-go summed forwards or undiscounted, the
    trajectory return undiscounted or taken from step t on, padding read as steps, normalisation with
    n - 1 or without centring, a sum instead of a mean over steps."""
    learner = make_learner(return_type=return_type, normalize_advantages=norm)
    ret = reward_to_go_ref if return_type == "reward_to_go" else trajectory_ref
    adv = [ret(r) for _, _, r in EPISODES]
    stats = learner.update(hand_batch(), 0.0)
    assert_update(learner, stats, normalised(adv) if norm else adv)
    assert np.isnan(stats["Baseline Loss"])


def test_the_update_steps_against_the_gradient():
    """After the update, the policy weights moved against the gradient (Adam's first step moves each
    weight by about lr in the direction of -sign(gradient)). Red for: a step up the loss (gradient
    ascent on the loss, or the optimiser's maximize flag)."""
    learner = make_learner(return_type="reward_to_go", weight_decay=0.0, lr=1e-3)
    learner.update(hand_batch(), 0.0)
    _, _, gw, gb = expected_loss_and_grads([reward_to_go_ref(r) for _, _, r in EPISODES])
    lin = learner.policy.net[0]
    np.testing.assert_allclose(lin.weight.detach().numpy(), W0 - 1e-3 * np.sign(gw), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(lin.bias.detach().numpy(), B0 - 1e-3 * np.sign(gb), rtol=1e-4, atol=1e-6)


def test_running_mean_baseline_over_three_updates():
    """Batch 1 sees no baseline; batch 2 the mean reward-to-go of batch 1; batch 3 the bias-corrected
    EMA (d m1 + m2) / (1 + d) of the first two (decay d = 0.8), each mean taken over the batch's steps.
    Red for: a baseline that includes the current batch, a mean over episodes instead of steps, the
    EMA's weights swapped, no bias correction, the baseline added instead of subtracted."""
    d = 0.8
    learner = make_learner(baseline="running_mean", running_mean_decay=d)
    batches = [EPISODES, [(o, a, r * 2 - 1) for o, a, r in EPISODES], [(o, a, r + 3) for o, a, r in EPISODES]]
    means = [float(np.concatenate([reward_to_go_ref(r) for _, _, r in eps]).mean()) for eps in batches]
    baselines = [0.0, means[0], (d * means[0] + means[1]) / (1 + d)]
    for eps, base in zip(batches, baselines):
        lin = learner.policy.net[0]
        w, b = lin.weight.detach().numpy().astype(np.float64), lin.bias.detach().numpy().astype(np.float64)
        stats = learner.update(hand_batch(eps), 0.0)
        loss, _, gw, gb = expected_loss_and_grads([reward_to_go_ref(r) - base for _, _, r in eps], 0.0, w, b, eps)
        assert stats["Actor Loss"] == pytest.approx(loss, rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(lin.weight.grad.numpy(), gw, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(lin.bias.grad.numpy(), gb, rtol=1e-4, atol=1e-6)


def test_rloo_baseline_is_the_mean_of_the_other_episodes():
    """A_t^i = G_t^i - mean_{j != i} G_t^j, where an episode that already ended counts 0 at step t.
    Red for: the baseline itself used as the advantage, the mean over all episodes (own included), a
    sum instead of a mean, the other episodes' whole returns instead of their reward-to-go at t."""
    learner = make_learner(baseline="rloo")
    g = [reward_to_go_ref(r) for _, _, r in EPISODES]
    t_max = max(len(x) for x in g)
    padded = np.array([np.pad(x, (0, t_max - len(x))) for x in g])  # (K, T), 0 after the end
    adv = [np.array([g[i][t] - np.mean([padded[j, t] for j in range(3) if j != i]) for t in range(len(g[i]))])
           for i in range(3)]
    stats = learner.update(hand_batch(), 0.0)
    assert_update(learner, stats, adv)


@pytest.mark.parametrize("bootstrap", [True, False])
def test_value_baseline_subtracts_v_before_fitting_it(bootstrap):
    """A_t = G_t - V(s_t) with the value net as it was before this batch's fit; G_t bootstraps
    gamma^(L - t) V(s_L) for the episode the time limit cut (only when ``bootstrap_truncated``), never
    for a terminated one. Red for: q + V, V fitted first, a bootstrap after a termination, no bootstrap
    when asked for one, a bootstrap when not."""
    learner = make_learner(baseline="value", bootstrap_truncated=bootstrap)
    adv = [reward_to_go_ref(r, tail_of(k, bootstrap)) - np.array([value_of(s) for s in o])
           for k, (o, _, r) in enumerate(EPISODES)]
    stats = learner.update(hand_batch(), 0.0)
    assert_update(learner, stats, adv)


@pytest.mark.parametrize("lam, bootstrap", [(0.0, True), (0.95, True), (1.0, True), (0.95, False)])
def test_gae_advantages(lam, bootstrap):
    """GAE(gamma, lambda) from the explicit sum of TD residuals; lambda 0 is the one-step residual,
    lambda 1 the (bootstrapped) reward-to-go minus V. Red for: lambda replaced by gamma (or gamma by
    lambda), the residual's sign, V(s_{t+1}) undiscounted, the tail value after a termination."""
    learner = make_learner(baseline="value", gae_lambda=lam, bootstrap_truncated=bootstrap)
    adv = [gae_ref(o, r, tail_of(k, bootstrap), lam) for k, (o, _, r) in enumerate(EPISODES)]
    stats = learner.update(hand_batch(), 0.0)
    assert_update(learner, stats, adv)


def test_gae_with_normalised_advantages():
    """Normalisation comes after GAE, over every step of the batch. Red for: normalising the rewards
    or the returns instead of the advantages, or per episode."""
    learner = make_learner(baseline="value", gae_lambda=0.95, normalize_advantages=True)
    adv = [gae_ref(o, r, tail_of(k, True), 0.95) for k, (o, _, r) in enumerate(EPISODES)]
    stats = learner.update(hand_batch(), 0.0)
    assert_update(learner, stats, normalised(adv))


# --------------------------------------------------------------------------- the value net's fit
def adamw_ref(params: np.ndarray, grad_fn, steps: int, lr: float, wd: float,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[np.ndarray, float]:
    """``steps`` AdamW steps from ``params`` (decoupled weight decay, bias-corrected moments); returns
    the final parameters and the loss at the last step's starting point (what the learner logs)."""
    m, v = np.zeros_like(params), np.zeros_like(params)
    loss = float("nan")
    for t in range(1, steps + 1):
        loss, g = grad_fn(params)
        params = params * (1 - lr * wd)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        params = params - lr / (1 - betas[0] ** t) * m / (np.sqrt(v) / np.sqrt(1 - betas[1] ** t) + eps)
    return params, loss


@pytest.mark.parametrize("bootstrap, lam", [(True, None), (False, None), (True, 0.5)])
def test_value_net_regresses_on_discounted_bootstrapped_returns(bootstrap, lam):
    """``value_steps`` (the assignment's -bgs) full-batch AdamW steps of the mean squared error between
    V(s_t) and G_t (discounted, bootstrapped as the advantages are; with GAE too); the logged loss is
    the last step's. Red for: a target of undiscounted returns, of the advantages, of G_t without the
    time limit's bootstrap, one step instead of value_steps, a sum instead of a mean."""
    steps, lr, wd = 4, 0.05, 0.01
    learner = make_learner(baseline="value", bootstrap_truncated=bootstrap, gae_lambda=lam, value_steps=steps,
                           value_lr=lr, weight_decay=wd)
    obs = np.concatenate([o for o, _, _ in EPISODES])
    target = np.concatenate([reward_to_go_ref(r, tail_of(k, bootstrap)) for k, (_, _, r) in enumerate(EPISODES)])
    x = np.hstack([obs, np.ones((len(obs), 1))])  # V = x @ [w, c]

    def mse(p: np.ndarray) -> tuple[float, np.ndarray]:
        err = x @ p - target
        return float((err**2).mean()), 2 * x.T @ err / len(err)

    p, loss = adamw_ref(np.append(WV, CV), mse, steps, lr, wd)
    stats = learner.update(hand_batch(), 0.0)
    assert stats["Baseline Loss"] == pytest.approx(loss, rel=1e-4)
    lin = learner.value.net[0]
    np.testing.assert_allclose(lin.weight.detach().numpy()[0], p[:2], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(lin.bias.detach().numpy(), p[2:], rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- the entropy bonus
def test_entropy_bonus_is_subtracted_from_the_loss():
    """loss = policy loss - alpha * mean entropy: the gradient gains -alpha dH/dlogits (a push towards
    more randomness), and the logged actor loss is the policy loss alone. Red for: the bonus's sign
    flipped, alpha ignored, the entropy summed instead of averaged, the bonus inside the logged loss."""
    learner = make_learner(entropy_coef=0.3)
    adv = [reward_to_go_ref(r) for _, _, r in EPISODES]
    stats = learner.update(hand_batch(), 0.3)
    assert_update(learner, stats, adv, alpha=0.3)
    _, _, gw0, _ = expected_loss_and_grads(adv, alpha=0.0)
    assert not np.allclose(learner.policy.net[0].weight.grad.numpy(), gw0, atol=1e-4)  # the bonus does act


@pytest.mark.parametrize("it, alpha", [(0, 0.5), (3, 0.5 + (0.05 - 0.5) * 3 / 9), (9, 0.05)])
def test_the_scheduled_entropy_coefficient_reaches_the_gradient(it, alpha):
    """learn() at iteration ``it`` of 10 uses alpha moving linearly from 0.5 to 0.05 over the run, in
    the gradient and in the log row. Red for: the schedule's ends swapped, a schedule over iterations
    + 1, the constant start value used throughout, the row's coefficient not the one applied."""
    learner = make_learner(entropy_coef=0.5, entropy_coef_final=0.05)
    row = learner.learn(hand_batch(), it)
    assert row["Entropy Coef"] == pytest.approx(alpha)
    assert_update(learner, row, [reward_to_go_ref(r) for _, _, r in EPISODES], alpha=alpha)


def test_gaussian_policy_log_density_entropy_and_gradients():
    """A linear Gaussian policy (mean w.s + b, one learned log std): log pi = -z^2/2 - log sigma -
    log(2 pi)/2, entropy 1/2 + log(2 pi)/2 + log sigma, and with an entropy bonus the log std's
    gradient is -mean(A (z^2 - 1)) - alpha. Red for: the log-density's or entropy's sign, a missing
    log sigma term, the bonus pushing the std down."""
    alpha = 0.2
    env = SimpleNamespace(single_observation_space=FAKE_ENV.single_observation_space,
                          single_action_space=gym.spaces.Box(-1.0, 1.0, (1,), np.float32))
    cfg = PGConfig(env_id="InvertedPendulum-v4", episodes=None, iterations=5, batch_episodes=3, gamma=GAMMA, hidden=(),
                   entropy_coef=alpha)
    learner = PGLearner(cfg, 0, env=env)
    w, b, logstd = np.array([0.4, -0.3]), 0.1, -0.5
    with torch.no_grad():
        learner.policy.net[0].weight.copy_(torch.tensor(w[None]))
        learner.policy.net[0].bias.fill_(b)
        learner.policy.logstd.fill_(logstd)
    acts = [np.array([0.2, -0.4, 0.9]), np.array([-0.1, 0.3]), np.array([0.6])]
    batch = hand_batch()
    batch.actions = np.zeros(batch.obs.shape[:2] + (1,), np.float32)
    for k, a in enumerate(acts):
        batch.actions[: len(a), k, 0] = a
    adv = [reward_to_go_ref(r) for _, _, r in EPISODES]
    sigma, n = np.exp(logstd), 6
    loss, gw, gb, gls = 0.0, np.zeros(2), 0.0, 0.0
    for (o, _, _), a, ad in zip(EPISODES, acts, adv):
        for s, x, at in zip(o, a, ad):
            z = (x - (w @ s + b)) / sigma
            loss -= (-0.5 * z**2 - logstd - 0.5 * np.log(2 * np.pi)) * at / n
            gw -= at * z / sigma * s / n
            gb -= at * z / sigma / n
            gls -= at * (z**2 - 1) / n
    stats = learner.update(batch, alpha)
    assert stats["Actor Loss"] == pytest.approx(loss, rel=1e-5)
    assert stats["Entropy"] == pytest.approx(0.5 + 0.5 * np.log(2 * np.pi) + logstd, rel=1e-6)
    np.testing.assert_allclose(learner.policy.net[0].weight.grad.numpy()[0], gw, rtol=1e-4, atol=1e-6)
    assert float(learner.policy.net[0].bias.grad[0]) == pytest.approx(gb, rel=1e-4, abs=1e-6)
    assert float(learner.policy.logstd.grad[0]) == pytest.approx(gls - alpha, rel=1e-4, abs=1e-6)


def test_a_batch_with_one_episode_per_update_is_a_plain_reinforce_step():
    """Section 01's source protocol, one episode per update: the loss and gradient are those of the
    single episode's steps. Red for: an update that needs several episodes (a baseline leaking in)."""
    one = EPISODES[:1]
    learner = PGLearner(replace(make_learner().cfg, batch_episodes=1), 0, env=FAKE_ENV)
    with torch.no_grad():
        learner.policy.net[0].weight.copy_(torch.tensor(W0))
        learner.policy.net[0].bias.copy_(torch.tensor(B0))
    stats = learner.update(hand_batch(one, TERMINATED[:1], FINAL[:1]), 0.0)
    loss, _, gw, gb = expected_loss_and_grads([reward_to_go_ref(r) for _, _, r in one], episodes=one)
    assert stats["Actor Loss"] == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(learner.policy.net[0].weight.grad.numpy(), gw, rtol=1e-4, atol=1e-6)
