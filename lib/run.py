"""The few calls every section notebook makes, the same for all nine.

::

    ctx = run.setup(section, profile, overrides)  # validated config, report folder; shows the set-up
    runs = run.runs(ctx)                           # every run the section needs (trained or from the store)
    result = run.analyse(ctx, runs)                # a SectionResult: table, claims, figures, ...
    fig, ax = plt.subplots()                       # a figure: the notebook draws the section's frames
    plots.curves(ax, result.frames["curves"], y="return", x="episode", palette=result.palette)
    run.figure(ctx, result, fig, "learning_curves")  # saved to the report folder and shown
    run.show(result, "table")                      # or "per_run", "claims", "animations", a text's name
    run.say("... a batch of {cfg.train.batch_episodes} episodes ...", cfg=ctx.cfg)  # prose with numbers
    run.animate(ctx, runs, result)                 # the section's policy animations, if it has any
    path = run.publish(ctx, runs, result)          # results.json (with the learners' code hashes)
    run.regression_check(ctx, path)                # smoke profile: against tests/reference/

A section computes (its frames, tables, claims); the notebook draws. Nothing here draws with
``plt.show()``: :func:`figure` saves each figure and shows it from its PNG file, so it reaches the
notebook, its HTML and its PDF whatever matplotlib's backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from .store import RunResult, run_grid
from .sections.common import log_frame
from .sections.protocol import SectionModule, SectionResult
from .config import ConfigError
from .store.grid import EXECUTORS
from .params import as_overrides, load_params
from .publish import animate as anim, plots, present
from .publish.report import conclusions, regression_check as check, report_dir, source_vs_here, write_results
from .provenance import code_hash
from .preregistration import statement


@dataclass(frozen=True)
class Context:
    """One execution of a section: its module, profile, overrides, validated config and report folder."""

    section: SectionModule
    profile: str
    overrides: dict[str, Any]
    cfg: Any
    out_dir: Path
    executor: str = "process"
    address: str | None = None


def _show_config_errors_briefly() -> None:
    """In an IPython kernel (a notebook, papermill), show a bad parameter as its message alone, not as
    a long traceback: a ConfigError already names the file or override, the key and what is allowed."""
    import sys

    ipython = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if ipython is None:
        return

    def brief(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001 - IPython's handler signature
        stb = [f"{etype.__name__}: {value}"]
        shell._showtraceback(etype, value, stb)  # what the notebook shows and the kernel replies
        return stb

    ipython.set_custom_exc((ConfigError,), brief)


def setup(section: SectionModule | ModuleType, profile: str = "smoke", overrides: Mapping[str, Any] | str | None = None,
          show: bool = True, executor: str = "process", address: str | None = None) -> Context:
    """Validate the parameters (``params/<profile>/<section>.yaml`` and ``overrides``), make the report
    folder, set the plot style, and show the section's set-up (``describe``) in Markdown. ``executor``
    ("process", "ray" or "serial") and ``address`` (a Ray cluster) say how the grid trains; they never
    change a result, so they are not parameters of the report."""

    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r} is not one of {', '.join(EXECUTORS)}")

    _show_config_errors_briefly()
    ov = as_overrides(overrides if overrides is not None else {})
    cfg = load_params(section.SECTION, profile, ov)
    ctx = Context(section, profile, ov, cfg, report_dir(section.SECTION, profile, ov), executor, address)  # type: ignore[arg-type]
    plots.style()
    if show:

        present.show_markdown(section.describe(cfg))
        present.show_markdown(statement(section, cfg, profile))
    return ctx


def runs(ctx: Context, verbose: bool = True) -> list[RunResult]:
    """Every run of the section: ``specs(cfg)``, then, for a section that chooses later runs from
    earlier ones (section 08's search, then its final runs), ``next_specs(cfg, runs)`` until empty."""
    section, cfg = ctx.section, ctx.cfg
    results = run_grid(section.specs(cfg), workers=cfg.workers, executor=ctx.executor, address=ctx.address)
    following = getattr(section, "next_specs", None)
    while following is not None:
        more = following(cfg, results)
        if not more:
            break
        results = results + run_grid(more, workers=cfg.workers, executor=ctx.executor, address=ctx.address)
    if verbose:
        print(f"{len(results)} runs, {sum(r.cached for r in results)} of them found in the run store" if results
              else "no runs to make: this section reads what is shipped")
    return results


def analyse(ctx: Context, results: list[RunResult]) -> SectionResult:
    """The section's analysis of its runs (``analyse(runs, cfg)``: data, tables and claims; the notebook
    draws the figures), with the source's statements set beside our numbers."""

    import pandas as pd

    result = ctx.section.analyse(results, ctx.cfg)
    rows = source_vs_here(getattr(ctx.cfg, "source", ()), result.claims, result.numbers)
    result.extra["source_vs_here"] = rows
    result.extra_tables.setdefault("source_vs_here", pd.DataFrame(rows, columns=["source", "where", "here", "verdict",
                                                                                "claim_id"]))
    result.text.setdefault("conclusions", conclusions(rows, result.claims))
    return result


def say(text: str, **values: Any) -> None:
    """Show ``text`` as Markdown with its ``{...}`` fields filled from ``values`` (``str.format``: attributes
    and indices too, e.g. ``{cfg.train.window}``, ``{cfg.other_batch_sizes[0]}``): the notebook's prose
    takes its numbers from the config and the results, so none is typed by hand."""
    present.show_markdown(text.format(**values))


def figure(ctx: Context, result: SectionResult, fig: Any, name: str) -> None:
    """Save ``fig`` (a matplotlib figure the notebook drew) as ``figures/<name>.png`` in the report
    folder, closing it; list it in ``result.figures`` (results.json and the index page, in the order the
    notebook shows them); and show it from the file. A figure with nothing drawn (a profile that runs
    none of its variants) is not saved: the cell says so."""
    if not any(ax.has_data() for ax in fig.axes):
        plt.close(fig)
        print(f"({name}: nothing to draw in this profile)")
        return
    path = plots.save(fig, ctx.out_dir / "figures" / f"{name}.png")
    if path not in result.figures:
        result.figures.append(path)
    present.show_figures(path)


def animate(ctx: Context, results: list[RunResult], result: SectionResult, show: bool = True) -> None:
    """Render the section's animations (``animations(runs, result, cfg, acfg)``, if it has one) into
    ``result.animations``, and show them. Returns nothing, so a notebook cell ending with this call
    shows the animations and not their list."""

    make = getattr(ctx.section, "animations", None)
    result.animations = list(make(results, result, ctx.cfg, anim.load_config(ctx.profile))) if make else []
    if show:
        present.show_animations(result.animations)


#: A per-run table longer than this is folded in the report (a click opens it).
FOLD_ROWS = 12


def show(result: SectionResult, what: str, index: int | slice | None = None, caption: str | None = None,
         transpose: bool = False) -> None:
    """Show one part of ``result``: "figures" (those saved so far), "animations" (``index`` picks some), "table",
    "per_run", "claims", the name of one of its texts (Markdown) or of one of its extra tables.
    ``transpose`` shows a one-row table as field/value rows."""

    def pick(items: list[Any]) -> list[Any]:
        if index is None:
            return items
        return items[index] if isinstance(index, slice) else items[index:index + 1]

    if what == "figures":
        present.show_figures(pick(result.figures))
    elif what == "animations":
        present.show_animations(pick(result.animations))
    elif what == "table":
        present.show_table(result.table, caption, transpose=transpose)
    elif what == "per_run":
        if not result.per_run.empty:  # one row per run: folded in the report, opened with a click
            n = len(result.per_run)
            present.show_table(result.per_run, caption, folded=f"Every run, one row each ({n} rows): click to open"
                               if n > FOLD_ROWS else None)
    elif what == "claims":
        present.show_claims(result.claims)
    elif what in result.text:
        if result.text[what]:
            present.show_markdown(result.text[what])
    elif what in result.extra_tables:
        if not result.extra_tables[what].empty:
            present.show_table(result.extra_tables[what], caption, transpose=transpose)
    else:
        raise KeyError(f"the result of this section has no {what!r}; it has figures, table, per_run, claims, "
                       f"animations, {', '.join([*result.text, *result.extra_tables])}")


def logs(results: list[RunResult]) -> pd.DataFrame:
    """Every run's log.csv in one tidy table, for exploring in the notebook: one row per logged row
    (iteration or evaluation) of each run, with ``variant`` and ``seed`` first, then the learner's log
    columns (:func:`lib.publish.plots.curves` draws any of them against any other)."""
    return log_frame(results, {r.spec.variant: r.spec.variant for r in results})


def learner_hashes(results: list[RunResult]) -> dict[str, str]:
    """learner ("module:function") -> the sha256 of the code its runs were keyed with."""

    return {t: code_hash(t) for t in sorted({r.spec.trainer for r in results})}


def prune_figures(out_dir: Path, shown: list[Path]) -> list[Path]:
    """Remove the PNGs of ``out_dir/figures`` that are not in ``shown`` (figures the page no longer shows:
    a renamed or dropped figure cell) and return what was removed."""
    keep = {p.resolve() for p in shown}
    gone = [png for png in sorted((out_dir / "figures").glob("*.png")) if png.resolve() not in keep]
    for png in gone:
        png.unlink()
    return gone


def publish(ctx: Context, results: list[RunResult], result: SectionResult) -> Path:
    """Write the section's results.json (table, claims, regression values, headline, figures, texts,
    extra tables and the code hashes of the learners its runs used) and return its path. Figures in the
    report folder that the notebook did not save this time (:func:`figure`) are removed."""

    extra = dict(result.extra)
    extra.update({name: text for name, text in result.text.items() if name not in extra})
    extra.update({name: t.to_dict(orient="records") for name, t in result.extra_tables.items() if name not in extra})
    extra["learners"] = learner_hashes(results)
    prune_figures(ctx.out_dir, result.figures)
    path = write_results(ctx.section.SECTION, ctx.section.TITLE, ctx.profile, ctx.cfg, result.table, result.claims,
                         regression=result.regression, headline=result.headline, figures=result.figures,
                         overrides=ctx.overrides, animations=result.animations, extra=extra)
    print("results written to", path)
    return path


def regression_check(ctx: Context, path: Path) -> str:
    """The smoke profile's regression check of ``path`` against the stored reference (other profiles
    say they are not checked)."""

    return check(path, ctx.profile)
