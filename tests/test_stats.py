"""Statistics helpers against hand-computed values."""

import numpy as np
import pytest

from lib.stats import first_crossing, mean_ci, relapse_share, sliding_window_mean


def test_sliding_window_mean_known_values():
    """Red for: a window that is not trailing, or that divides by the full width before it is full."""
    np.testing.assert_allclose(sliding_window_mean(np.array([2, 4, 6, 8]), 2), [2, 3, 5, 7])


def test_mean_ci_bootstrap_stays_inside_the_scores_and_covers_the_mean():
    """Nine seeds at CartPole's cap and one at 480: Student's t would give [493.5, 502.5]; the
    bootstrap interval stays in [480, 500]. Two columns at once, one of them constant. Red for: a t
    interval, an interval that misses the mean, NaN on a constant column."""
    x = np.stack([np.array([500.0] * 9 + [480.0]), np.full(10, 7.0)], axis=1)  # (S=10, 2)
    m, lo, hi = mean_ci(x)
    assert m.tolist() == [498.0, 7.0]
    assert 480 <= lo[0] < 498 < hi[0] <= 500
    assert lo[1] == hi[1] == 7.0
    # the percentile interval of resampled means: ten seeds, one of them 480 -> the low end is
    # 496 (two 480s drawn) or 494 at 95%, never below
    assert lo[0] in (494.0, 496.0) and hi[0] == 500.0
    # deterministic, and along another axis the same
    assert [a.tolist() for a in mean_ci(x)] == [a.tolist() for a in mean_ci(x.T, axis=1)]
    one = mean_ci(np.array([[3.0, 4.0]]))
    assert [a.tolist() for a in one] == [[3.0, 4.0]] * 3


def test_first_crossing_and_relapse():
    """Red for: the first crossing off by one, relapses counted before the first crossing."""
    running = np.array([100, 150, 200, 190, 210, 220])
    assert first_crossing(running, 195) == 2
    assert relapse_share(running, 195) == pytest.approx(1 / 4)
    assert first_crossing(running, 500) is None
    assert relapse_share(running, 500) is None


def test_performance_profile_known_shares_and_bands_inside_0_1():
    """Seeds 0, 0, 500, 500 (bimodal): half above 100, none above 500, all above -1.
    Red for: shares counted with >= instead of >, bands outside [0, 1]."""
    from lib.stats import performance_profile

    share, lo, hi = performance_profile(np.array([0.0, 0, 500, 500]), np.array([-1.0, 100, 500]))
    assert share.tolist() == [1.0, 0.5, 0.0]
    assert (0 <= lo).all() and (hi <= 1).all() and (lo <= share).all() and (share <= hi).all()
    assert lo[0] == hi[0] == 1.0 and lo[1] < 0.5 < hi[1]
