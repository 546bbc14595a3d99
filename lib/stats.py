"""Aggregation over seeds: running means, confidence intervals, threshold crossings.

Every interval is a percentile bootstrap over seeds, which stays inside the score range: bands and
table intervals (:func:`mean_ci`), and the verdicts' stratified bootstrap (:mod:`lib.verdicts`). Performance profiles and the probability of improvement follow rliable's definitions.
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


def mean_ci(samples: np.ndarray, level: float = 0.95, axis: int = 0, n_boot: int = 2000,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and the two ends of its percentile-bootstrap ``level`` interval (scipy's
    ``bootstrap``, resampling seeds), along ``axis``.

    ``samples`` (S, ...) -> three arrays of shape (...). The interval stays inside the range of the
    scores (a Student-t interval runs past CartPole's cap of 500 when most seeds sit on it). With one
    seed, or equal scores, the interval is the mean. Deterministic: the resampling generator is seeded
    with ``seed``.
    """
    x = np.moveaxis(np.asarray(samples, dtype=np.float64), axis, 0)
    mean = x.mean(0)
    if x.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    flat = x.reshape(x.shape[0], -1)
    res = _st.bootstrap((flat,), np.mean, axis=0, vectorized=True, n_resamples=n_boot, method="percentile",
                        confidence_level=level, batch=max(1, 4_000_000 // max(1, flat.size)),
                        rng=np.random.default_rng(seed))
    lo = np.asarray(res.confidence_interval.low, dtype=np.float64).reshape(mean.shape)
    hi = np.asarray(res.confidence_interval.high, dtype=np.float64).reshape(mean.shape)
    flat_equal = np.ptp(x, axis=0) == 0  # no spread: scipy's interval of a constant can be NaN
    lo, hi = np.where(flat_equal, mean, np.minimum(lo, mean)), np.where(flat_equal, mean, np.maximum(hi, mean))
    return mean, lo, hi


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
