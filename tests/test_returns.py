"""Known answers for returns and baselines on hand-made rewards."""

import numpy as np
import pytest

from lib.learners.returns import RunningMeanBaseline, normalize, reward_to_go, rloo_baseline, trajectory_return


def test_reward_to_go_single_episode():
    """Red for: reward-to-go summed forwards, or discounted by gamma^t instead of gamma^(t' - t)."""
    r = np.array([[1.0], [2.0], [3.0]])
    # gamma = 0.5: G2 = 3, G1 = 2 + 1.5 = 3.5, G0 = 1 + 1.75 = 2.75
    np.testing.assert_allclose(reward_to_go(r, 0.5)[:, 0], [2.75, 3.5, 3.0])


def test_reward_to_go_undiscounted_counts_remaining_steps():
    """Red for: an off-by-one (the current step's reward left out)."""
    r = np.ones((5, 1))
    np.testing.assert_allclose(reward_to_go(r, 1.0)[:, 0], [5, 4, 3, 2, 1])


def test_reward_to_go_padded_episodes_do_not_leak():
    # episode 0 has 3 steps, episode 1 has 1 step (then padding with reward 0)
    """Red for: a padded step given a return, one episode's rewards leaking into another's."""
    r = np.array([[1.0, 10.0], [1.0, 0.0], [1.0, 0.0]])
    g = reward_to_go(r, 0.9)
    np.testing.assert_allclose(g[:, 0], [1 + 0.9 + 0.81, 1.9, 1.0])
    np.testing.assert_allclose(g[:, 1], [10.0, 0.0, 0.0])


def test_trajectory_return_is_whole_discounted_sum_at_every_step():
    """Red for: the assignment's case 1 taken from step t on (reward-to-go) or undiscounted."""
    r = np.array([[1.0], [2.0], [3.0]])
    np.testing.assert_allclose(trajectory_return(r, 0.5)[:, 0], [2.75, 2.75, 2.75])


def test_rloo_baseline_is_mean_of_the_others():
    """Red for: the episode's own return inside its baseline, a sum instead of a mean."""
    q = np.array([[1.0, 2.0, 3.0, 6.0]])
    b = rloo_baseline(q)
    np.testing.assert_allclose(b[0], [11 / 3, 10 / 3, 3.0, 2.0])
    # every entry: mean of the other three
    for i in range(4):
        assert b[0, i] == pytest.approx(np.delete(q[0], i).mean())


def test_rloo_needs_two_episodes():
    """Red for: a leave-one-out baseline over one episode (a division by zero) passing silently."""
    with pytest.raises(ValueError, match="at least 2"):
        rloo_baseline(np.ones((3, 1)))


def test_running_mean_baseline_uses_past_batches_only():
    """Red for: no bias correction, a first batch whose baseline is not 0, the EMA's weights swapped."""
    b = RunningMeanBaseline(decay=0.5)
    assert b.value() == 0.0  # first batch: no history
    b.update(2.0)
    assert b.value() == pytest.approx(2.0)  # bias-corrected: 1.0 / (1 - 0.5)
    b.update(4.0)
    assert b.value() == pytest.approx(2.5 / 0.75)


def test_normalize_has_zero_mean_unit_std():
    """Red for: normalisation without centring or without scaling."""
    x = np.array([1.0, 2.0, 3.0, 10.0])
    y = normalize(x)
    assert y.mean() == pytest.approx(0.0, abs=1e-12)
    assert y.std() == pytest.approx(1.0, abs=1e-6)
