"""Figures: learning curves with a confidence band over seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter
import numpy as np
import pandas as pd
import seaborn as sns

from ..stats import mean_ci, performance_profile

PALETTE = sns.color_palette("colorblind")
#: The line styles of a figure's horizontal reference lines, in order (a threshold, then a second level).
REFERENCE_STYLES = ("--", ":", "-.")


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


def legend(ax: plt.Axes, where: str | None = "outside") -> None:
    """The legend of ``ax``: "outside" (right of the axes, covering no data: the default for a figure of one
    axes), "below", "inside" (matplotlib's best place: small multiples), or None (none)."""
    if where is None:
        return
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
    marker: str | None = None,
    styles: Mapping[str, Any] | None = None,
) -> plt.Axes:
    """One line per label: mean over seeds with a ``level`` percentile-bootstrap band (:func:`lib.stats.mean_ci`).

    ``curves[label] = (x (G,), y (S, G))``: S seeds sampled on a shared x grid of G points.
    ``hlines`` draws labelled horizontal reference lines (thresholds, an expert's return); ``palette``
    (:func:`colours`) fixes each label's colour, ``styles`` a line style for some ("--": an ablation dashed in
    the colour of what it changes); ``where`` places the legend (:func:`legend`). Returns ``ax``.
    """
    for i, (label, (x, y)) in enumerate(curves.items()):
        mean, lo, hi = mean_ci(y, level)
        color = _colour(label, i, palette)
        ax.plot(x, mean, color=color, lw=1.6, marker=marker, ls=(styles or {}).get(label, "-"), label=f"{label} (n={y.shape[0]})")
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
    for j, (label, yv) in enumerate((hlines or {}).items()):
        ax.axhline(yv, color="0.3", ls=REFERENCE_STYLES[j % len(REFERENCE_STYLES)], lw=1, label=label)
    legend(ax, where)
    return ax


def grid_over_seeds(logs: Sequence[pd.DataFrame], x: str, y: str, points: int | None = 120) -> tuple[np.ndarray, np.ndarray]:
    """(grid (G,), ``y`` of each seed on it (S, G)) from one table per seed.

    Seeds may log at slightly different ``x`` (a batch is complete episodes), so each seed's curve is
    linearly interpolated onto ``points`` values spanning the range every seed reached. With ``points``
    None the grid is the first seed's own ``x`` values within that range (the seeds share their ``x``,
    as episode numbers or a grid of n do), so nothing is resampled. Rows without ``y`` are dropped first.
    """
    logs = [lg.dropna(subset=[y]).sort_values(x) for lg in logs]
    lo = max(lg[x].iloc[0] for lg in logs)
    hi = min(lg[x].iloc[-1] for lg in logs)
    if points is None:
        first = logs[0][x].to_numpy(dtype=float)
        grid = first[(first >= lo) & (first <= hi)]
    else:
        grid = np.linspace(lo, hi, points)
    return grid, np.stack([np.interp(grid, lg[x].to_numpy(dtype=float), lg[y].to_numpy(dtype=float)) for lg in logs])


def _groups(frame: pd.DataFrame, hue: str) -> dict[str, pd.DataFrame]:
    """``frame``'s rows per value of ``hue``, in the order the values first appear."""
    return {str(k): g for k, g in frame.groupby(hue, sort=False)}


def curves(ax: plt.Axes, frame: pd.DataFrame, y: str, x: str, hue: str = "variant", points: int | None = 120,
           palette: Mapping[str, Any] | None = None, hlines: Mapping[str, float] | None = None,
           where: str = "outside", marker: str | None = None, styles: Mapping[str, Any] | None = None) -> plt.Axes:
    """Mean of ``y`` over seeds against ``x``, with a 95% bootstrap band, one line per value of ``hue``
    (labelled with its seed count).

    ``frame``: a tidy table, one row per (``hue``, ``seed``, ``x``) point: a section's curve frame, or every
    logged row of its runs (``lib.run.logs``). Each seed's rows are put on a shared grid
    (:func:`grid_over_seeds`; ``points`` None keeps the seeds' own ``x``), then drawn by :func:`band_plot`
    (``palette``: :func:`colours`; ``styles``: line styles by label; ``hlines``: labelled reference lines;
    ``where``: the legend, see :func:`legend`). Returns ``ax``, with ``x`` and ``y`` as its axis labels.
    """
    groups = {}
    for label, rows in _groups(frame.dropna(subset=[y]), hue).items():  # a variant that never logs y is left out
        groups[label] = grid_over_seeds([g for _, g in rows.groupby("seed", sort=True)], x, y, points)
    band_plot(ax, groups, hlines=hlines, palette=palette, where=where, marker=marker, styles=styles)
    ax.set(xlabel=x, ylabel=y)
    return ax


def per_seed(fig: plt.Figure, frame: pd.DataFrame, y: str, x: str, hue: str = "variant",
             hline: float | None = None, ylim: tuple[float, float] | None = None, cols: int = 4,
             title: str | None = None) -> np.ndarray:
    """Small multiples on ``fig``: one panel per value of ``hue``, every seed's ``y`` against ``x`` as a line
    of its own (where instability shows), at most ``cols`` panels a row, shared y axis; ``hline``: a
    dashed reference (a threshold); ``title``: the figure's. ``frame`` as for :func:`curves`. Returns the
    panels (rows, cols)."""
    groups = _groups(frame.dropna(subset=[y]), hue)
    cols = min(len(groups), cols)
    rows = -(-len(groups) // cols)
    fig.set_size_inches(3.2 * cols, 3.0 * rows + 0.3)
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False)
    for ax, (label, g) in zip(axes.flat, groups.items()):
        for _, one in g.groupby("seed", sort=True):
            ax.plot(one[x].to_numpy(), one[y].to_numpy(), lw=0.9, alpha=0.8)
        if hline is not None:
            ax.axhline(hline, color="0.3", ls="--", lw=0.8)
        ax.set(xlabel=x, ylim=ylim)
        ax.set_title(label, fontsize="small")
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    for r in range(rows):
        axes[r][0].set_ylabel(y)
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return axes


def panels(fig: plt.Figure, frame: pd.DataFrame, by: str, y: str, x: str, hue: str = "variant",
           where: str = "figure", size: tuple[float, float] = (4.4, 3.6), title: str | None = None,
           axes_kw: Mapping[str, Any] | None = None, **kw: Any) -> np.ndarray:
    """One :func:`curves` axes per value of ``by`` on ``fig`` (in a row, shared y axis, titled with the
    value); ``kw`` goes to :func:`curves`, ``axes_kw`` to each panel's ``ax.set`` (limits, scales, labels).
    ``where``: "figure" puts one legend below all panels (each line once, also a line only some panels
    have); "inside" gives each panel its own. ``title``: the figure's. Returns the panels (1, n)."""
    groups = _groups(frame, by)
    fig.set_size_inches(size[0] * len(groups), size[1])
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)
    for ax, (value, g) in zip(axes[0], groups.items()):
        curves(ax, g, y, x, hue, where="inside", **kw)
        ax.set(title=value, **(axes_kw or {}))
        if ax is not axes[0][0]:
            ax.set_ylabel("")
    if title:
        fig.suptitle(title, fontsize="medium")
    if where == "figure":
        lines: dict[str, Any] = {}
        for ax in axes[0]:
            for h, name in zip(*ax.get_legend_handles_labels()):
                lines.setdefault(name, h)
            ax.get_legend().remove()
        fig.legend(list(lines.values()), list(lines), loc="lower center", ncol=min(len(lines), 4), frameon=False)
        fig.tight_layout(rect=(0, 0.04 + 0.06 * -(-len(lines) // 4), 1, 1))  # room for the legend's rows
    else:
        fig.tight_layout()
    return axes


def profile(ax: plt.Axes, frame: pd.DataFrame, score: str, hue: str = "variant", palette: Mapping[str, Any] | None = None,
            lo: float | None = None, hi: float | None = None, points: int = 201) -> plt.Axes:
    """Performance profiles: for each value of ``hue``, the share of its seeds whose ``score`` is above each
    threshold, with a 95% bootstrap band over seeds (:func:`lib.stats.performance_profile`). ``frame``: one
    row per run (a section's ``per_run``). Shows what a mean hides: a bimodal set of seeds, a ceiling, one
    bad seed. The thresholds run over the range of all scores, padded by 5% of it (``lo``/``hi`` only narrow
    it: a profile's x-axis holds the scores, not the empty range up to a cap). Returns ``ax``."""

    scores = {label: pd.to_numeric(g[score], errors="coerce").dropna().to_numpy(dtype=np.float64)
              for label, g in _groups(frame, hue).items()}
    scores = {k: v for k, v in scores.items() if len(v)}
    every = np.concatenate(list(scores.values()))
    a, b = float(every.min()), float(every.max())
    a, b = max(a, lo) if lo is not None else a, min(b, hi) if hi is not None else b
    pad = 0.05 * (b - a or abs(b) or 1.0)
    taus = np.linspace(a - pad, b + pad, points)
    for i, (label, xs) in enumerate(scores.items()):
        share, blo, bhi = performance_profile(xs, taus)
        color = _colour(label, i, palette)
        ax.step(taus, share, where="post", color=color, lw=1.6, label=f"{label} (n={len(xs)})")
        ax.fill_between(taus, blo, bhi, step="post", color=color, alpha=0.15, lw=0)
    ax.set(xlabel=score, ylabel="share of seeds scoring above x", ylim=(-0.02, 1.02))
    legend(ax)
    return ax


def trace(ax: plt.Axes, frame: pd.DataFrame, y: str, x: str, label: str, band: str | None = None, colour: int = 0,
          alpha: float = 1.0, lw: float = 1.6) -> plt.Axes:
    """One run's ``y`` against ``x`` as one line (a training record, not a mean over seeds), in the palette's
    ``colour``; ``band``: a column of its spread, drawn as ``y`` ± it. Returns ``ax``."""
    color = PALETTE[colour % len(PALETTE)]
    ax.plot(frame[x].to_numpy(), frame[y].to_numpy(), color=color, alpha=alpha, lw=lw, label=label)
    if band is not None:
        ax.fill_between(frame[x].to_numpy(), (frame[y] - frame[band]).to_numpy(), (frame[y] + frame[band]).to_numpy(),
                        color=color, alpha=0.15, lw=0)
    return ax


def lines(ax: plt.Axes, hlines: Mapping[str, float] | None = None, vlines: Mapping[str, float] | None = None,
          where: str | None = "outside") -> plt.Axes:
    """Labelled reference lines: ``hlines`` horizontal (grey, in :data:`REFERENCE_STYLES`, as :func:`band_plot`
    draws them), ``vlines`` vertical (dotted); then the legend (:func:`legend`; None: leave it as it
    is). Returns ``ax``."""
    for label, value in (vlines or {}).items():
        ax.axvline(value, color=PALETTE[3], ls=":", lw=1.2, label=label)
    for j, (label, value) in enumerate((hlines or {}).items()):
        ax.axhline(value, color="0.3", ls=REFERENCE_STYLES[j % len(REFERENCE_STYLES)], lw=1, label=label)
    legend(ax, where)
    return ax


def minutes_axis(ax: plt.Axes, frame: pd.DataFrame, x: str, seconds: str) -> plt.Axes:
    """A second x axis on top of ``ax``: the wall-clock minutes at which the run reached each ``x``
    (``frame[seconds]``, interpolated; the run starts at 0). Returns the new axis."""
    xs = np.r_[0.0, frame[x].to_numpy(dtype=float)]
    minutes = np.r_[0.0, frame[seconds].to_numpy(dtype=float) / 60]
    top = ax.secondary_xaxis("top", functions=(lambda v: np.interp(v, xs, minutes), lambda m: np.interp(m, minutes, xs)))
    top.set_xlabel("wall-clock minutes (training)")
    return top


def thousands(ax: plt.Axes) -> plt.Axes:
    """Label ``ax``'s x ticks in thousands ("250k"). Returns ``ax``."""
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:.0f}k"))
    return ax


def log_x(axes: plt.Axes | np.ndarray, ticks: Sequence[float] | None = None) -> plt.Axes | np.ndarray:
    """A logarithmic x axis on each of ``axes``, its labels plain numbers ("1,000", not "10^3"), ticks at
    ``ticks`` if given, no minor labels. Returns ``axes``."""
    for ax in np.atleast_1d(axes).flat:
        ax.set_xscale("log")
        if ticks is not None:
            ax.set_xticks(list(ticks), [f"{t:,.0f}" for t in ticks])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    return axes


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
