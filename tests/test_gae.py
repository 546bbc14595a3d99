"""GAE against slow references of the assignment's equations; terminations against truncations."""

import numpy as np
import pytest
import torch

from lib.learners.returns import gae, reward_to_go


def _random_batch(seed=0, k=5, t_max=12):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t_max + 1, k)
    lengths[0] = t_max
    rewards = rng.normal(size=(t_max, k))
    values = rng.normal(size=(t_max, k))
    mask = np.arange(t_max)[:, None] < lengths[None, :]
    rewards[~mask] = 0.0
    tail = rng.normal(size=k) * (rng.random(k) < 0.5)  # some episodes terminated (0), some bootstrap
    return rewards, values, tail, lengths, mask


def _delta(r, v, tail, h, gamma):
    vn = np.append(v[1:h], tail)
    return r[:h] + gamma * vn - v[:h]


def test_gae_equals_eq21_explicit_sum():
    """Red for: a recursion with another factor than gamma lambda, the bootstrap value in the wrong place,
    padding read."""
    r, v, tail, lengths, _ = _random_batch()
    gamma, lam = 0.97, 0.9
    got = gae(r, v, tail, lengths, gamma, lam)
    for k, h in enumerate(lengths):
        d = _delta(r[:, k], v[:, k], tail[k], h, gamma)
        for t in range(h):
            ref = sum((gamma * lam) ** (tp - t) * d[tp] for tp in range(t, h))  # eq. 21
            assert got[t, k] == pytest.approx(ref, rel=1e-10, abs=1e-10)
        assert (got[h:, k] == 0).all()


def test_gae_equals_exponentially_weighted_n_step_advantages():
    """The finite-horizon form of eq. 18/19: weights (1 - lam) lam^(n-1) on the n-step advantages,
    with the remaining weight lam^(N-1) on the longest (Monte Carlo, bootstrapped) one.

    (The assignment's eq. 18 renormalises the truncated weights instead; that differs from the
    recursion near the end of an episode and agrees with it as the horizon grows.)
    Red for: GAE that is not the lambda-weighted average of the n-step advantages."""
    r, v, tail, lengths, _ = _random_batch(seed=1)
    gamma, lam = 0.95, 0.8
    got = gae(r, v, tail, lengths, gamma, lam)
    for k, h in enumerate(lengths):
        vk = np.append(v[:h, k], tail[k])  # V(s_0..s_h), V(s_h) the bootstrap

        def a_n(t, n):  # n-step advantage: n rewards then gamma^n V(s_{t+n})
            return sum(gamma**l * r[t + l, k] for l in range(n)) + gamma**n * vk[t + n] - vk[t]

        for t in range(h):
            big_n = h - t
            ref = sum((1 - lam) * lam ** (n - 1) * a_n(t, n) for n in range(1, big_n)) + lam ** (big_n - 1) * a_n(t, big_n)
            assert got[t, k] == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_lambda_zero_is_td_residual_and_one_is_reward_to_go_minus_value():
    """Red for: lambda 0 not the TD residual, lambda 1 not the (bootstrapped) Monte Carlo advantage."""
    r, v, tail, lengths, mask = _random_batch(seed=2)
    gamma = 0.9
    a0 = gae(r, v, tail, lengths, gamma, 0.0)
    for k, h in enumerate(lengths):
        np.testing.assert_allclose(a0[:h, k], _delta(r[:, k], v[:, k], tail[k], h, gamma), rtol=1e-12)
    a1 = gae(r, v, tail, lengths, gamma, 1.0)
    q = reward_to_go(r, gamma, tail, lengths)
    np.testing.assert_allclose(a1[mask], (q - v)[mask], rtol=1e-10, atol=1e-12)


def test_reward_to_go_bootstrap_tail():
    """Red for: the tail value undiscounted, or added on the last real step instead of after it."""
    r = np.array([[1.0], [1.0], [0.0]])
    q = reward_to_go(r, 0.5, tail=np.array([8.0]), lengths=np.array([2]))
    # G1 = 1 + 0.5 * 8 = 5; G0 = 1 + 0.5 * 5 = 3.5; padded row 0
    np.testing.assert_allclose(q[:, 0], [3.5, 5.0, 0.0])


class _Const:
    def __init__(self, a):
        self.a = a

    def sample(self, obs, rng, greedy=False):
        return np.full(obs.shape[0], self.a, dtype=np.int64)


@pytest.mark.parametrize("limit,truncated", [(5, True), (500, False)])
def test_learner_bootstraps_truncations_only(limit, truncated):
    """Pushing left drops the pole in ~10 steps: with a 5-step limit every episode is cut
    (bootstrap V(s_T)); with 500 every episode terminates (future value 0).
    Red for: a bootstrap after a termination, none after a time-limit cut, bootstrap_truncated=False ignored."""
    from lib.learners.pg import PGConfig, PGLearner, make_env
    from lib.data.rollout import collect_round

    cfg = PGConfig(baseline="value", gae_lambda=0.95, max_episode_steps=limit, batch_episodes=3, hidden=(8,), value_hidden=(8,))
    learner = PGLearner(cfg, seed=0)
    batch = collect_round(make_env(cfg, 3, noise_seed=0), _Const(0), np.random.default_rng(0), seed=0)
    assert (~batch.terminated).all() == truncated
    v, tail = learner.values(batch)
    with torch.no_grad():
        v_final = learner.value(torch.from_numpy(batch.final_obs)).double().numpy()
    if truncated:
        np.testing.assert_allclose(tail, v_final, rtol=1e-6)
        assert (tail != 0).all()
    else:
        assert (tail == 0).all()
    off = PGLearner(PGConfig(baseline="value", bootstrap_truncated=False, max_episode_steps=limit, batch_episodes=3, hidden=(8,), value_hidden=(8,)), seed=0)
    assert (off.values(batch)[1] == 0).all()


def test_gaussian_log_prob_matches_torch_distributions():
    """Red for: a Gaussian log-density or entropy unlike torch's, a numpy sampler with another mean or std."""
    from lib.policies import GaussianPolicy

    torch.manual_seed(0)
    pol = GaussianPolicy(3, 2, (8,), logstd_init=-0.5)
    obs = torch.randn(16, 3)
    act = torch.randn(16, 2)
    logp, ent = pol.log_prob_entropy(obs, act)
    dist = torch.distributions.Independent(torch.distributions.Normal(pol.net(obs), pol.logstd.exp().expand(16, 2)), 1)
    torch.testing.assert_close(logp, dist.log_prob(act))
    torch.testing.assert_close(ent, dist.entropy())
    samples = pol.numpy_sampler().sample(np.repeat(obs[:1].numpy(), 20000, 0), np.random.default_rng(0))
    np.testing.assert_allclose(samples.mean(0), pol.net(obs[:1]).detach().numpy()[0], atol=0.02)
    np.testing.assert_allclose(samples.std(0), np.exp(-0.5), atol=0.02)


def test_assignment_eq18_normalised_form_matches_far_from_the_end_only():
    """Eq. 18 renormalises the weights of the n-step advantages it sums (n = 1 .. N-1). Far from the
    end of a long episode the missing tail weight is ~lam^N and it equals the recursion; two steps
    from the end it does not, which is why the learner uses the recursion (eq. 21/22).
    Red for: the learner switched to eq. 18's renormalised form, which differs near an episode's end."""
    rng = np.random.default_rng(3)
    h, gamma, lam = 300, 0.99, 0.9
    r = rng.normal(size=(h, 1))
    v = rng.normal(size=(h, 1))
    tail = np.array([0.0])
    got = gae(r, v, tail, np.array([h]), gamma, lam)[:, 0]
    vk = np.append(v[:, 0], 0.0)

    def a_n(t, n):
        return sum(gamma**l * r[t + l, 0] for l in range(n)) + gamma**n * vk[t + n] - vk[t]

    def eq18(t):
        big_n = h - t
        return (1 - lam) / (1 - lam ** (big_n - 1)) * sum(lam ** (n - 1) * a_n(t, n) for n in range(1, big_n))

    assert eq18(0) == pytest.approx(got[0], rel=1e-9, abs=1e-9)
    assert abs(eq18(h - 3) - got[h - 3]) > 1e-6
