"""Figures: learning curves with a confidence band over seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..stats import mean_ci, performance_profile

PALETTE = sns.color_palette("colorblind")


def style() -> None:
    """The workbook's plot style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "figure.figsize": (8.0, 4.5)})


def colours(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per label, in order (the colour-blind palette, cycled): a section makes it once from
    all its variants, so a variant keeps its colour in every figure, whatever subset a figure shows."""
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def _colour(label: str, i: int, palette: Mapping[str, Any] | None) -> Any:
    """``label``'s colour: from ``palette`` (by the label, or by its text before " (n="), else by position."""
    if palette:
        for key in (label, label.split(" (n=")[0]):
            if key in palette:
                return palette[key]
    return PALETTE[i % len(PALETTE)]


def legend(ax: plt.Axes, where: str = "outside") -> None:
    """The legend of ``ax``: "outside" (right of the axes, covering no data: the default for a figure of one
    axes), "below", or "inside" (matplotlib's best place: small multiples)."""
    if where == "outside":
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    elif where == "below":
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small", frameon=False)
    else:
        ax.legend(loc="best", fontsize="small")


def band_plot(
    ax: plt.Axes,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    level: float = 0.95,
    hlines: Mapping[str, float] | None = None,
    palette: Mapping[str, Any] | None = None,
    where: str = "outside",
) -> plt.Axes:
    """One line per label: mean over seeds with a ``level`` percentile-bootstrap band (:func:`lib.stats.mean_ci`).

    ``curves[label] = (x (G,), y (S, G))``: S seeds sampled on a shared x grid of G points.
    ``hlines`` draws labelled horizontal reference lines (thresholds, an expert's return); ``palette``
    (:func:`colours`) fixes each label's colour; ``where`` places the legend (:func:`legend`). Returns ``ax``.
    """
    for i, (label, (x, y)) in enumerate(curves.items()):
        mean, lo, hi = mean_ci(y, level)
        color = _colour(label, i, palette)
        ax.plot(x, mean, color=color, lw=1.6, label=f"{label} (n={y.shape[0]})")
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
    for j, (label, yv) in enumerate((hlines or {}).items()):
        ax.axhline(yv, color="0.3", ls=(0, (4, 2 + 2 * j)), lw=1, label=label)
    legend(ax, where)
    return ax


def grid_over_seeds(logs: Sequence[pd.DataFrame], x: str, y: str, points: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """(grid (G,), ``y`` of each seed interpolated onto it (S, G)) from one log per seed.

    Seeds log at slightly different ``x`` (a batch is complete episodes), so each seed's curve is linearly
    interpolated onto ``points`` values spanning the range every seed reached; rows without ``y`` are
    dropped first.
    """
    logs = [lg.dropna(subset=[y]) for lg in logs]
    lo = max(lg[x].iloc[0] for lg in logs)
    hi = min(lg[x].iloc[-1] for lg in logs)
    grid = np.linspace(lo, hi, points)
    return grid, np.stack([np.interp(grid, lg[x].to_numpy(), lg[y].to_numpy()) for lg in logs])


def curves(ax: plt.Axes, logs: pd.DataFrame, y: str, x: str, hue: str = "variant", points: int = 120,
           palette: Mapping[str, Any] | None = None, hlines: Mapping[str, float] | None = None,
           where: str = "outside") -> plt.Axes:
    """Mean of ``y`` over seeds against ``x``, with a 95% bootstrap band, one line per value of ``hue``.

    ``logs``: a tidy table of logged rows (``lib.run.logs``: one row per logged iteration of each
    run, with ``variant``, ``seed`` and the learner's log columns). Each seed's rows are interpolated onto a
    shared grid (:func:`grid_over_seeds`), then drawn by :func:`band_plot`. Returns ``ax``, labelled.
    """
    groups = {}
    for label, rows in logs.dropna(subset=[y]).groupby(hue, sort=False):  # a variant that never logs y is left out
        groups[str(label)] = grid_over_seeds([g for _, g in rows.groupby("seed", sort=True)], x, y, points)
    band_plot(ax, groups, hlines=hlines, palette=palette, where=where)
    ax.set(xlabel=x, ylabel=y)
    return ax


def save(fig: plt.Figure, path: Path) -> Path:
    """Save ``fig`` as PNG (creating the folder), close it and return the path.

    Figures are shown from their files (:func:`lib.publish.present.show_figures`), the same way in
    JupyterLab, papermill and the exported reports, whatever matplotlib backend is active.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", metadata={"Description": describe(fig)})
    plt.close(fig)
    return path


def describe(fig: plt.Figure) -> str:
    """A figure in words, for its alt text: its title(s), each axes' title, axis labels and legend entries."""
    parts = [fig.get_suptitle()]
    for ax in fig.axes:
        leg = ax.get_legend()
        what = [ax.get_title(), f"{ax.get_ylabel()} against {ax.get_xlabel()}" if ax.get_xlabel() else ""]
        if leg is not None:
            what.append("lines: " + ", ".join(t.get_text() for t in leg.get_texts()))
        parts.append("; ".join(w for w in what if w))
    return ". ".join(p for p in parts if p)[:1500]


def alt_text(path: Path) -> str:
    """The alt text :func:`save` stored in a PNG (its Description), else the file's name in words."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            text = str(im.info.get("Description", ""))
    except OSError:
        text = ""
    return text or f"figure: {Path(path).stem.replace('_', ' ')}"


def profile_figure(scores: Mapping[str, np.ndarray], path: Path, *, xlabel: str, title: str,
                   lo: float | None = None, hi: float | None = None, points: int = 201,
                   palette: Mapping[str, Any] | None = None) -> Path:
    """Performance profiles: for each label, the share of its seeds scoring above each threshold, with a
    95% bootstrap band over seeds (:func:`lib.stats.performance_profile`). ``scores[label]``: one
    score per seed (S,). Shows what a mean hides: a bimodal set of seeds, a ceiling, one bad seed.
    The thresholds run over the range of all scores, padded by 5% of it (``lo``/``hi`` only narrow it:
    a profile's x-axis holds the scores, not the empty range up to a cap)."""

    every = np.concatenate([np.asarray(v, dtype=np.float64) for v in scores.values()])
    a, b = float(every.min()), float(every.max())
    a, b = max(a, lo) if lo is not None else a, min(b, hi) if hi is not None else b
    pad = 0.05 * (b - a or abs(b) or 1.0)
    taus = np.linspace(a - pad, b + pad, points)
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    for i, (label, x) in enumerate(scores.items()):
        share, blo, bhi = performance_profile(np.asarray(x, dtype=np.float64), taus)
        color = _colour(label, i, palette)
        ax.step(taus, share, where="post", color=color, lw=1.6, label=f"{label} (n={len(x)})")
        ax.fill_between(taus, blo, bhi, step="post", color=color, alpha=0.15, lw=0)
    ax.set(xlabel=xlabel, ylabel="share of seeds scoring above x", ylim=(-0.02, 1.02), title=title)
    legend(ax)
    return save(fig, path)
