"""Aggregation over seeds: running means, confidence intervals, threshold crossings.

Confidence intervals over seeds use Student's t (with 5-10 seeds a bootstrap interval is too
narrow); :func:`bootstrap_ci` is there for statistics that are not means.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st


def sliding_window_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each position (fewer at the start): (E,) -> (E,)."""
    values = np.asarray(values, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def mean_ci(samples: np.ndarray, level: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and the two ends of a Student-t ``level`` interval along ``axis`` (seeds).

    ``samples`` (S, ...) -> three arrays of shape (...). With one seed the interval is the mean.
    """
    x = np.asarray(samples, dtype=np.float64)
    n = x.shape[axis]
    mean = x.mean(axis)
    if n < 2:
        return mean, mean.copy(), mean.copy()
    sem = x.std(axis, ddof=1) / np.sqrt(n)
    half = _st.t.ppf(0.5 + level / 2, df=n - 1) * sem
    return mean, mean - half, mean + half


def bootstrap_ci(samples: np.ndarray, stat=np.mean, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` over a 1-D sample."""
    x = np.asarray(samples, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = np.array([stat(x[rng.integers(0, len(x), len(x))]) for _ in range(n_boot)])
    return float(np.quantile(boots, (1 - level) / 2)), float(np.quantile(boots, (1 + level) / 2))


def first_crossing(values: np.ndarray, threshold: float) -> int | None:
    """Index of the first value >= ``threshold``, or None if none reaches it."""
    hits = np.flatnonzero(np.asarray(values) >= threshold)
    return int(hits[0]) if hits.size else None


def relapse_share(running: np.ndarray, threshold: float) -> float | None:
    """Share of positions after ``running`` first reaches ``threshold`` where it is below it again.

    0 means the run never fell back once converged; None if it never got there.
    """
    first = first_crossing(running, threshold)
    if first is None:
        return None
    after = np.asarray(running)[first:]
    return float((after < threshold).mean())
