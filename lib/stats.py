"""Aggregation over seeds: running means, confidence intervals, threshold crossings.

Bands over seeds in figures use Student's t (:func:`mean_ci`); verdicts and the intervals of
capped scores use the stratified bootstrap of :mod:`lib.verdicts`, which stays inside the score
range. Performance profiles and the probability of improvement follow rliable's definitions.
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


def performance_profile(scores: np.ndarray, taus: np.ndarray, level: float = 0.95, n_boot: int = 2000,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The share of seeds scoring above each threshold (Agarwal et al. 2021's performance profile),
    with a percentile bootstrap band over seeds: ``scores`` (S,), ``taus`` (T,) -> three (T,) arrays
    (share, low, high), each in [0, 1]. Shows what a mean hides: bimodal seeds, a ceiling."""
    x = np.asarray(scores, dtype=np.float64)
    taus = np.asarray(taus, dtype=np.float64)
    share = (x[:, None] > taus[None, :]).mean(0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    boots = (x[idx][:, :, None] > taus[None, None, :]).mean(1)  # (B, T)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return share, lo, hi


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) for a seed of X against a seed of Y, ties counting half: the Mann-Whitney U statistic
    over the number of pairs (rliable's "probability of improvement" on one task)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(_st.mannwhitneyu(x, y).statistic / (len(x) * len(y)))
