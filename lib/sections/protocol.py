"""The section protocol: what every section module provides, and the one result it returns.

A section module (``lib/sections/<name>.py``) defines

- ``SECTION`` (its id: the notebook's and the params files' name), ``TITLE``, ``REPRODUCES``;
- ``Config``: a frozen dataclass (validated by :mod:`lib.config`), whose grid fields (``seeds``,
  ``first_seed``, ``workers``) come from :class:`GridConfig` (section 03, which makes single runs,
  has ``seed`` and ``workers`` of its own);
- ``describe(cfg) -> str``: the set-up in Markdown, from the config;
- ``variants(cfg) -> dict[str, config]``: every experiment, declared once, each a learner config made
  from the section's base config with ``dataclasses.replace`` (a section that picks later runs from
  earlier ones, 08 and 09, takes their outcome as a second argument);
- ``specs(cfg) -> list[RunSpec]``: every run the section needs (variants x seeds);
- ``analyse(runs, cfg) -> SectionResult``: everything the report shows, from the runs, as data: tables,
  the tidy frames its notebook draws, claims (it draws nothing and writes no file).

Optional: ``animations(runs, result, cfg, acfg)``, and ``next_specs(cfg, runs)`` for a section that
chooses later runs from earlier ones. Notebooks call the same few functions for every section
(:mod:`lib.run`): ``setup`` -> ``runs`` -> ``analyse`` -> figure calls on its frames (:mod:`lib.publish.plots`,
:func:`lib.run.figure`) and ``show`` -> ``publish``. :func:`check_module` checks a module
against the protocol (``tests/test_sections.py`` runs it on all nine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pandas as pd

from ..config import spec
from ..verdicts import Rule, SourceClaim

if TYPE_CHECKING:
    from ..publish.report import Claim
    from ..store.runs import RunResult, RunSpec


@dataclass(frozen=True)
class Reproducibility:
    """How a section's report reproduces on another machine: ``kind`` is "bit for bit" or
    "statistically", ``why`` says what is exact, what is not, and why (shown in the report's
    "How this was made" box)."""

    kind: Literal["bit for bit", "statistically"]
    why: str


@dataclass(frozen=True)
class GridConfig:
    """The grid fields every section's Config has: how many seeds per variant, from which, and how
    many worker processes train them."""

    seeds: int = spec(10, ge=1, le=1000, doc="seeds per variant")
    first_seed: int = spec(300, ge=0, le=999, doc="the first run seed (seeds first_seed, first_seed + 1, ...)")
    workers: int = spec(2, ge=1, le=64, doc="parallel worker processes")
    claims: tuple[Rule, ...] = spec(default_factory=tuple, doc="the source's claims with their decision rules, fixed before the runs")
    alpha: float = spec(0.05, gt=0, lt=0.5, doc="family-wise error rate of the section's verdicts (Holm)")
    source: tuple[SourceClaim, ...] = spec(default_factory=tuple, doc="the source report's statements, quoted, each "
                                           "with the claim or number that answers it here (the 'source says / here' table)")
    skip_claims: tuple[str, ...] = spec((), doc="ids of claims this profile does not decide (the smoke profile: "
                                              "variants it does not run); the registered profiles skip none")


def seed_range(cfg: Any) -> list[int]:
    """The section's run seeds: ``cfg.first_seed`` .. ``cfg.first_seed + cfg.seeds - 1``."""
    return list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))


@dataclass
class SectionResult:
    """Everything a section's report shows, made by its ``analyse``.

    ``table``: the headline table (one row per variant); ``per_run``: one row per run (may be empty);
    ``claims``: the verdict on each claim of the source; ``frames``: the tidy data the notebook's
    figures draw (name -> one row per point: ``variant`` label, ``seed``, x and y columns); ``palette``:
    variant label -> its colour, the same in every figure of the section; ``styles``: variant label -> a
    line style where it is not solid (an ablation dashed in its head's colour); ``titles``: figure titles and
    axis labels written from the config; ``marks``: named sets of labelled reference values (a threshold, the
    expert's return: ``{"return": {"solved (195)": 195.0}}``) for figures' horizontal lines; ``figures``: the PNG paths the notebook saved, in display
    order (:func:`lib.run.figure` appends them);
    ``regression``: name -> (value, tolerance) for the smoke regression check; ``headline``: one
    sentence for the index; ``text``: named Markdown paragraphs the notebook shows between its
    parts (e.g. "imperfection"); ``extra_tables``: named further tables; ``extra``: further
    JSON-able entries of results.json; ``animations``: rendered policies (filled by
    :func:`lib.run.animate`); ``numbers``: name -> our number with its interval and seeds, as
    text, for the source's statements that name it (params ``source``). Texts and extra tables go to
    results.json too.
    """

    table: pd.DataFrame
    claims: list[Claim]
    regression: dict[str, tuple[Any, float]]
    headline: str
    per_run: pd.DataFrame = field(default_factory=pd.DataFrame)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    palette: dict[str, Any] = field(default_factory=dict)
    styles: dict[str, Any] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    marks: dict[str, dict[str, float]] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    animations: list[Any] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)


class SectionModule(Protocol):
    """The typed interface of a section module (a module satisfies it structurally; see the module doc)."""

    SECTION: str
    TITLE: str
    REPRODUCES: Reproducibility
    Config: type

    def describe(self, cfg: Any) -> str: ...

    def variants(self, cfg: Any) -> dict[str, Any]: ...

    def specs(self, cfg: Any) -> list[RunSpec]: ...

    def analyse(self, runs: list[RunResult], cfg: Any) -> SectionResult: ...


#: What a section module must define: name -> what it is.
REQUIRED: dict[str, str] = {
    "SECTION": "the section id",
    "TITLE": "the report's title",
    "REPRODUCES": "a Reproducibility",
    "Config": "a frozen dataclass of the section's parameters",
    "describe": "describe(cfg) -> Markdown of the set-up",
    "variants": "variants(cfg) -> {name: learner config}, every experiment declared once",
    "specs": "specs(cfg) -> list[RunSpec]",
    "analyse": "analyse(runs, cfg) -> SectionResult",
}
#: Optional: ``animations(runs, result, cfg, acfg) -> list[Rendered]``, and ``next_specs(cfg, runs) ->
#: list[RunSpec]`` for a section that chooses later runs from earlier ones.
OPTIONAL = ("animations", "next_specs")


def check_module(module: ModuleType) -> list[str]:
    """What ``module`` lacks of the protocol (empty when it keeps it)."""
    import dataclasses

    problems = [f"{module.__name__} lacks {name} ({what})" for name, what in REQUIRED.items() if not hasattr(module, name)]
    cfg_cls = getattr(module, "Config", None)
    if cfg_cls is not None:
        if not dataclasses.is_dataclass(cfg_cls) or not cfg_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            problems.append(f"{module.__name__}.Config is not a frozen dataclass")
        elif "workers" not in {f.name for f in dataclasses.fields(cfg_cls)}:
            problems.append(f"{module.__name__}.Config has no 'workers' (derive it from GridConfig)")
    if not isinstance(getattr(module, "REPRODUCES", None), Reproducibility):
        problems.append(f"{module.__name__}.REPRODUCES is not a Reproducibility")
    for name in ("describe", "variants", "specs", "analyse", *OPTIONAL):
        if hasattr(module, name) and not isinstance(getattr(module, name), Callable):  # type: ignore[arg-type]
            problems.append(f"{module.__name__}.{name} is not callable")
    return problems


__all__: Sequence[str] = ("GridConfig", "Reproducibility", "SectionModule", "SectionResult", "check_module", "seed_range")
