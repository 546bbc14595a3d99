"""Figures: learning curves with a confidence band over seeds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ..stats import mean_ci

PALETTE = sns.color_palette("colorblind")


def style() -> None:
    """The workbook's plot style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "figure.figsize": (8.0, 4.5)})


def band_plot(
    ax: plt.Axes,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    level: float = 0.95,
    hlines: Mapping[str, float] | None = None,
) -> None:
    """One line per label: mean over seeds with a ``level`` percentile-bootstrap band (:func:`lib.stats.mean_ci`).

    ``curves[label] = (x (G,), y (S, G))``: S seeds sampled on a shared x grid of G points.
    ``hlines`` draws labelled horizontal reference lines (thresholds, an expert's return).
    """
    for i, (label, (x, y)) in enumerate(curves.items()):
        mean, lo, hi = mean_ci(y, level)
        color = PALETTE[i % len(PALETTE)]
        ax.plot(x, mean, color=color, lw=1.6, label=f"{label} (n={y.shape[0]})")
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
    for j, (label, yv) in enumerate((hlines or {}).items()):
        ax.axhline(yv, color="0.3", ls=(0, (4, 2 + 2 * j)), lw=1, label=label)
    ax.legend(loc="best", fontsize="small")


def save(fig: plt.Figure, path: Path) -> Path:
    """Save ``fig`` as PNG (creating the folder), close it and return the path.

    Figures are shown from their files (:func:`lib.publish.present.show_figures`), the same way in
    JupyterLab, papermill and the exported reports, whatever matplotlib backend is active.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def profile_figure(scores: Mapping[str, np.ndarray], path: Path, *, xlabel: str, title: str,
                   lo: float | None = None, hi: float | None = None, points: int = 201) -> Path:
    """Performance profiles: for each label, the share of its seeds scoring above each threshold, with a
    95% bootstrap band over seeds (:func:`lib.stats.performance_profile`). ``scores[label]``: one
    score per seed (S,). Shows what a mean hides: a bimodal set of seeds, a ceiling, one bad seed.
    The thresholds run over [lo, hi] (default: the range of all scores)."""
    from ..stats import performance_profile

    every = np.concatenate([np.asarray(v, dtype=np.float64) for v in scores.values()])
    lo = float(every.min()) if lo is None else lo
    hi = float(every.max()) if hi is None else hi
    pad = 0.02 * (hi - lo or 1.0)
    taus = np.linspace(lo - pad, hi + pad, points)
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    for i, (label, x) in enumerate(scores.items()):
        share, blo, bhi = performance_profile(np.asarray(x, dtype=np.float64), taus)
        color = PALETTE[i % len(PALETTE)]
        ax.step(taus, share, where="post", color=color, lw=1.6, label=f"{label} (n={len(x)})")
        ax.fill_between(taus, blo, bhi, step="post", color=color, alpha=0.15, lw=0)
    ax.set(xlabel=xlabel, ylabel="share of seeds scoring above x", ylim=(-0.02, 1.02), title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return save(fig, path)
