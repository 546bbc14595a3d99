"""Statistics helpers against hand-computed values."""

import numpy as np
import pytest

from lib.stats import first_crossing, mean_ci, relapse_share, sliding_window_mean


def test_sliding_window_mean_known_values():
    np.testing.assert_allclose(sliding_window_mean(np.array([2, 4, 6, 8]), 2), [2, 3, 5, 7])


def test_mean_ci_student_t():
    x = np.array([[1.0], [2.0], [3.0]])
    m, lo, hi = mean_ci(x)
    # mean 2, sd 1, sem 1/sqrt(3), t(0.975, 2) = 4.302653
    half = 4.302653 / np.sqrt(3)
    assert m[0] == pytest.approx(2.0)
    assert lo[0] == pytest.approx(2 - half, rel=1e-5)
    assert hi[0] == pytest.approx(2 + half, rel=1e-5)


def test_first_crossing_and_relapse():
    running = np.array([100, 150, 200, 190, 210, 220])
    assert first_crossing(running, 195) == 2
    assert relapse_share(running, 195) == pytest.approx(1 / 4)
    assert first_crossing(running, 500) is None
    assert relapse_share(running, 500) is None
