"""Section 08: the assignment's experiment 4: hyperparameters for sample efficiency on InvertedPendulum-v4.

A small grid search, run with its own seeds and an environment-step budget, picks the tuned
setting; the tuned setting and the assignment's default then run with fresh seeds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import spec
from ..learners.pg import PGConfig
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from . import pgexp
from .common import MUJOCO_STATISTICAL, animate_run, labelled, log_frame
from .protocol import GridConfig, SectionResult, seed_range
from ..publish.plots import colours

if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered

SECTION = "08_pendulum_tuning"
TITLE = "Tuning the policy gradient for sample efficiency on InvertedPendulum-v4"
REPRODUCES = MUJOCO_STATISTICAL


#: The flags every search point shares beyond the budgets (its -n, -b, -lr and -na come from the grid).
SEARCH_FLAGS: dict[str, Any] = {"use_reward_to_go": True, "discount": 0.99}


@dataclass(frozen=True)
class Config(GridConfig):
    """The default's budgets, the search grid and its budget, and the seeds (a profile sets these; the
    experiments are :func:`default_config` and :func:`point_config`). The defaults are the default profile's."""

    env_id: str = spec("InvertedPendulum-v4", doc="--env_name")
    default_iterations: int = spec(100, ge=1, doc="-n of the assignment's default command")
    default_batch: int = spec(5000, ge=1, doc="-b of the assignment's default command")
    eval_batch: int = spec(1000, ge=1, doc="-eb of every command")
    budget_steps: int = spec(100_000, ge=1, doc="environment steps a search point (and the tuned run) may use")
    batch_sizes: tuple[int, ...] = spec((1000, 2000))
    learning_rates: tuple[float, ...] = spec((0.005, 0.01, 0.02))
    normalize: tuple[bool, ...] = spec((True, False))
    search_seeds: tuple[int, ...] = spec((390, 391, 392), doc="seeds of the search (never used for the final runs)")
    threshold: float = spec(1000.0, doc="the maximum return")

    def check(self) -> list[str]:
        errs = []
        if not self.batch_sizes or not self.learning_rates or not self.normalize:
            errs.append("the search grid needs at least one value per hyperparameter")
        if any(b > self.budget_steps for b in self.batch_sizes):
            errs.append("key 'batch_sizes': a batch larger than 'budget_steps' leaves no iteration")
        if set(self.search_seeds) & set(range(self.first_seed, self.first_seed + self.seeds)):
            errs.append("key 'search_seeds' must not overlap the final seeds (first_seed .. first_seed + seeds - 1)")
        return errs + claim_problems(self.claims, ["pendulum", "pendulum_tuned"], list(CLAIM_METRICS), self.skip_claims)


def point_name(b: int, lr: float, na: bool) -> str:
    return f"pendulum_search_b{b}_lr{lr:g}{'_na' if na else ''}"


def grid(cfg: Config) -> dict[str, tuple[int, float, bool]]:
    return {point_name(b, lr, na): (b, lr, na) for b, lr, na in itertools.product(cfg.batch_sizes, cfg.learning_rates, cfg.normalize)}


def default_config(cfg: Config) -> PGConfig:
    """The assignment's default command (``pendulum``)."""
    return pgexp.assignment_config(cfg.env_id, n_iter=cfg.default_iterations, batch_size=cfg.default_batch,
                                   eval_batch_size=cfg.eval_batch)


def point_config(cfg: Config, b: int, lr: float, na: bool) -> PGConfig:
    """One search point: :data:`SEARCH_FLAGS` with batch ``b``, learning rate ``lr``, ``-na`` if ``na``, and
    as many iterations as fit the budget (``-n`` = budget // b)."""
    return pgexp.assignment_config(cfg.env_id, eval_batch_size=cfg.eval_batch, n_iter=max(1, cfg.budget_steps // b),
                                   batch_size=b, learning_rate=lr, normalize_advantages=na, **SEARCH_FLAGS)


def variants(cfg: Config, scores: pd.DataFrame | None = None) -> dict[str, PGConfig]:
    """name -> config of every experiment: the search's points (:func:`grid`, on the search seeds), the
    assignment's default (``pendulum``) and, once the search is scored (``scores``, :func:`score`), the
    point it ranks first (``pendulum_tuned``), both on the fresh seeds."""
    out = {name: point_config(cfg, *p) for name, p in grid(cfg).items()} | {"pendulum": default_config(cfg)}
    return out | ({"pendulum_tuned": tuned_config(cfg, scores)} if scores is not None else {})


def search_specs(cfg: Config) -> list[RunSpec]:
    points = grid(cfg)
    return pgexp.make_specs(SECTION, {n: c for n, c in variants(cfg).items() if n in points}, list(cfg.search_seeds))


def score(search_runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Each search point: share of search seeds that reached the threshold within the budget,
    mean eval return over training (the area under the curve: high when the threshold comes
    early *and* holds), mean steps to the threshold (an unreached seed counts as the whole budget).
    Sorted best first: reached share, then mean eval return, then steps."""
    rows = []
    for name, (b, lr, na) in grid(cfg).items():
        d = search_runs[search_runs.variant == name]
        steps = pd.to_numeric(d["steps to threshold"], errors="coerce")
        within = steps <= cfg.budget_steps
        rows.append({"point": name, "-b": b, "-lr": lr, "-na": na, "reached share": float(within.mean()),
                     "mean steps to threshold": float(steps.where(within, cfg.budget_steps).mean()),
                     "mean eval return": float(d["mean over training"].mean())})
    return pd.DataFrame(rows).sort_values(["reached share", "mean eval return", "mean steps to threshold"],
                                          ascending=[False, False, True]).reset_index(drop=True)


#: Most resamples of the search seeds :func:`search_spread` enumerates exactly (k^k of them); past it, a
#: seeded random sample of this many.
MAX_RESAMPLES = 50_000


def search_spread(search_runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """How firm the pick is: for each search point, on how many search seeds taken alone it would be
    picked (:func:`score`'s rule on that seed's run), and in what share of the resamples of the search
    seeds (k seeds drawn with replacement, all k^k of them) it is picked. Rows in :func:`score`'s order
    of the whole search."""
    seeds = list(cfg.search_seeds)
    k = len(seeds)
    by_seed = {s: search_runs[search_runs.seed == s] for s in seeds}
    alone = pd.Series([score(by_seed[s], cfg).iloc[0]["point"] for s in seeds]).value_counts()
    if k ** k <= MAX_RESAMPLES:
        draws = list(itertools.product(range(k), repeat=k))
    else:
        rng = np.random.default_rng(0)
        draws = [tuple(row) for row in rng.integers(0, k, size=(MAX_RESAMPLES, k))]
    picks: dict[tuple[int, ...], str] = {}
    for d in draws:
        key = tuple(sorted(d))  # the pick depends on the multiset of seeds only
        if key not in picks:
            picks[key] = score(pd.concat([by_seed[seeds[i]] for i in key], ignore_index=True), cfg).iloc[0]["point"]
    chosen = pd.Series([picks[tuple(sorted(d))] for d in draws]).value_counts() / len(draws)
    order = score(search_runs, cfg)["point"]
    return pd.DataFrame({"point": order, f"picked on one seed (of {k})": [int(alone.get(p, 0)) for p in order],
                         f"picked in resamples of the {k} seeds": [round(float(chosen.get(p, 0.0)), 3) for p in order]})


def spread_text(spread: pd.DataFrame, cfg: Config) -> str:
    """The search's spread in a sentence, from :func:`search_spread`."""
    k = len(cfg.search_seeds)
    one, res = spread.columns[1], spread.columns[2]
    winners = spread[spread[one] > 0]
    top = spread.iloc[0]
    return (f"**How firm the pick is.** Taken one at a time, the {k} search seeds pick {len(winners)} different "
            f"point{'s' if len(winners) != 1 else ''} ("
            + ", ".join(f"`{p}` on {n}" for p, n in zip(winners.point, winners[one])) + "). "
            f"Resampling the search seeds with replacement, the tuned point `{top.point}` is picked in "
            f"{top[res]:.0%} of the resamples" + (f"; the runner-up, `{spread.sort_values(res, ascending=False).iloc[1].point}`, in "
            f"{spread[res].sort_values(ascending=False).iloc[1]:.0%}." if len(spread) > 1 else ".")
            + " A pick that few seeds share is a noisy one: the fresh-seed runs below test it as it is.")


def tuned_config(cfg: Config, scores: pd.DataFrame) -> PGConfig:
    """The search point :func:`score` ranks first."""
    best = scores.iloc[0]
    return point_config(cfg, int(best["-b"]), float(best["-lr"]), bool(best["-na"]))


def tuned_command(cfg: Config, scores: pd.DataFrame) -> str:
    """The tuned point's command, with each searched flag (-b, -lr) written even where it is the default."""
    return pgexp.command(tuned_config(cfg, scores), "pendulum_tuned", force=("-n", "-b", "-lr"))


def final_experiments(cfg: Config, scores: pd.DataFrame) -> dict[str, PGConfig]:
    """The default and the tuned point (:func:`variants`), run on the fresh seeds."""
    return {n: c for n, c in variants(cfg, scores).items() if n in ("pendulum", "pendulum_tuned")}


def final_specs(cfg: Config, scores: pd.DataFrame) -> list[RunSpec]:
    return pgexp.make_specs(SECTION, final_experiments(cfg, scores), seed_range(cfg))


def specs(cfg: Config) -> list[RunSpec]:
    """The search runs (the final runs depend on its outcome: see :func:`next_specs`)."""
    return search_specs(cfg)


def split(results: list[RunResult], cfg: Config) -> tuple[list[RunResult], list[RunResult]]:
    """(search runs, final runs) of a section's runs."""
    points = grid(cfg)
    return [r for r in results if r.spec.variant in points], [r for r in results if r.spec.variant not in points]


def next_specs(cfg: Config, results: list[RunResult]) -> list[RunSpec]:
    """After the search, the final runs of the default and of the point it picked, on fresh seeds."""
    search, final = split(results, cfg)
    return [] if final else final_specs(cfg, score(per_run(search, cfg), cfg))


def describe(cfg: Config) -> str:
    n = len(grid(cfg))
    return (
        f"- **Default**: the assignment's `{pgexp.command(default_config(cfg), 'pendulum')}`.\n"
        f"- **Search** (reproducible: a fixed grid and fixed seeds): every combination of batch size `-b` in "
        f"{{{', '.join(map(str, cfg.batch_sizes))}}}, learning rate `-lr` in {{{', '.join(f'{x:g}' for x in cfg.learning_rates)}}} "
        f"and advantage normalisation `-na` in {{{', '.join('on' if x else 'off' for x in cfg.normalize)}}} on top of "
        f"`{pgexp.command(pgexp.assignment_config(cfg.env_id, eval_batch_size=cfg.eval_batch, **SEARCH_FLAGS), 'x').rsplit(' --exp_name', 1)[0]}`: {n} points, each run with the search seeds {list(cfg.search_seeds)} for "
        f"{cfg.budget_steps:,} environment steps (`-n` = budget / `-b`), {n * len(cfg.search_seeds)} runs and "
        f"{n * len(cfg.search_seeds) * cfg.budget_steps:,} training steps in all.\n"
        f"- **Choice**: the point whose search seeds most often reach an evaluation of {cfg.threshold:g} within the budget; "
        f"ties go to the higher mean eval return over training (reaching {cfg.threshold:g} early and staying there), "
        f"then to fewer steps. (Ranking ties by steps alone picked a setting that got there fast once and then fell "
        f"away; the mean eval return rewards holding the maximum too.)\n"
        + pgexp.starter_markdown(cfg.seeds, cfg.env_id) +
        f"- **Final runs**: the default and the tuned setting with {cfg.seeds} fresh seeds "
        f"({cfg.first_seed}..{cfg.first_seed + cfg.seeds - 1}); bands and intervals are 95% percentile-bootstrap intervals over seeds."
    )


def importance(scores: pd.DataFrame) -> pd.DataFrame:
    """Which hyperparameters mattered: the search score averaged over every other hyperparameter."""
    rows = []
    for hp in ("-b", "-lr", "-na"):
        g = scores.groupby(hp)[["reached share", "mean steps to threshold", "mean eval return"]].mean()
        spread = float(g["mean eval return"].max() - g["mean eval return"].min())
        for value, r in g.iterrows():
            rows.append({"hyperparameter": hp, "value": value, **{k: round(float(v), 3) for k, v in r.items()},
                         "spread of mean eval return": round(spread, 1)})
    return pd.DataFrame(rows)


def importance_text(imp: pd.DataFrame) -> str:
    spread = imp.groupby("hyperparameter")["spread of mean eval return"].first().sort_values(ascending=False)
    parts = []
    for hp, s in spread.items():
        g = imp[imp.hyperparameter == hp].sort_values("mean eval return", ascending=False)
        parts.append(f"`{hp}` (best {g.iloc[0]['value']}, spread {s:.0f})")
    return ("Ordered by how much the mean eval return of the search moves when the hyperparameter changes "
            "(averaged over the others): " + ", ".join(parts) + ".")


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    return pgexp.per_run(results, cfg.threshold, last=5)


def frames(final: list[RunResult], cfg: Config, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "panels", every logged iteration of the final runs (default and
    tuned, fresh seeds) under ``range`` "default against tuned, 95% CI", and again, up to 5% past
    ``budget_steps``, under "the first <budget_steps> steps"; "scores", the final runs' steps to the
    threshold (never: all) for the performance profile."""
    names = {"pendulum": "pendulum", "pendulum_tuned": "pendulum_tuned"}
    logs = log_frame(final, names)
    short = logs[logs.Train_EnvstepsSoFar <= cfg.budget_steps * 1.05]
    panels = pd.concat([logs.assign(range="default against tuned, 95% CI"),
                        short.assign(range=f"the first {cfg.budget_steps:,} steps")], ignore_index=True)
    return {"panels": panels, "scores": labelled(claim_table(runs, cfg), names, "steps to threshold (never = all)")}


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    t = pgexp.table(runs, ["pendulum", "pendulum_tuned"], cfg.threshold)
    within = runs.groupby("variant").apply(lambda d: int((pd.to_numeric(d["steps to threshold"], errors="coerce") <= cfg.budget_steps).sum()),
                                           include_groups=False)
    t[f"seeds at {cfg.threshold:g} within {cfg.budget_steps:,} steps"] = [f"{within.get(v, 0)}/{cfg.seeds}" for v in t.experiment]
    return t


#: Per-seed metrics claims may name (columns of :func:`claim_table`).
CLAIM_METRICS = {
    "reached within budget": "1 if an evaluation reached the threshold within budget_steps environment steps, else 0",
    "steps to threshold (never = all)": "environment steps until the first evaluation at the threshold; a run that never "
                                        "got there counts as all the steps it made",
}


def claim_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """``runs`` with the filled per-seed metrics of :data:`CLAIM_METRICS`."""
    steps = pd.to_numeric(runs["steps to threshold"], errors="coerce")
    return runs.assign(**{"reached within budget": (steps <= cfg.budget_steps).astype(float),
                          "steps to threshold (never = all)": steps.fillna(runs["env steps"].astype(float))})


def decision_seeds(cfg: Config) -> list[int]:
    """Every seed the verdicts rest on: the search's (which chose the tuned setting) and the final ones."""
    return sorted(set(cfg.search_seeds) | set(seed_range(cfg)))


def claims(runs: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims on the fresh seeds, decided by the rules in params (Holm across them)."""
    dd = runs[runs.variant == "pendulum"]
    ds = pd.to_numeric(dd["steps to threshold"], errors="coerce")
    d = runs[runs.variant == "pendulum_tuned"]
    steps = pd.to_numeric(d["steps to threshold"], errors="coerce")
    said = (f"Tuned: {int((steps <= cfg.budget_steps).sum())}/{len(d)} seeds within the budget (median steps {steps.median():.0f}); "
            f"default: {int((ds <= cfg.budget_steps).sum())}/{len(dd)} within the budget, {int(ds.notna().sum())}/{len(dd)} at "
            f"all (median steps {ds.median():.0f}).")
    verdicts = judge(decided_claims(cfg), claim_table(runs, cfg), cfg.alpha)
    return [Claim.judged(v, said if i == 0 else "") for i, v in enumerate(verdicts)]


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    """The run count only: a smoke run's pendulum returns (and so its episode lengths and the search's
    pick) are noise that differs between machines."""
    return pgexp.regression_values(runs, returns=False, experiments=sorted(runs.variant.unique()))


def headline(runs: pd.DataFrame, cfg: Config, scores: pd.DataFrame) -> str:
    d = runs[runs.variant == "pendulum_tuned"]
    k = int((pd.to_numeric(d["steps to threshold"], errors="coerce") <= cfg.budget_steps).sum())
    best = scores.iloc[0]
    flags = f"-b {int(best['-b'])} -lr {float(best['-lr']):g}{' -na' if bool(best['-na']) else ''}"
    return (f"Tuned ({flags}): "
            f"{k}/{len(d)} seeds reach {cfg.threshold:g} within {cfg.budget_steps:,} steps.")


def animations(results: list[RunResult], result: SectionResult, cfg: Config, acfg: "AnimationConfig") -> list["Rendered"]:
    """The tuned setting's policy at work (its first fresh seed)."""
    if not acfg.enabled:
        return []
    r = next(r for r in results if r.spec.variant == "pendulum_tuned")
    return [animate_run(r, acfg, f"the tuned setting, training seed {r.spec.seed}, kept checkpoint")]


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """The search's scores and what mattered in it, then the default against the tuned point on fresh
    seeds: table, curves, claim."""
    search, final = split(results, cfg)
    search_runs = per_run(search, cfg)
    scores = score(search_runs, cfg)
    spread = search_spread(search_runs, cfg)
    imp = importance(scores)
    runs = per_run(final, cfg)
    return SectionResult(
        table=table(runs, cfg), per_run=runs, claims=claims(runs, cfg),
        frames=frames(final, cfg, runs), palette=colours(["pendulum", "pendulum_tuned"]),
        titles={"steps": f"environment steps to the first evaluation at {cfg.threshold:g} (never: all)",
                "profile": f"performance profile over fresh seeds ({cfg.seeds} per setting), 95% bootstrap band"},
        marks={"return": {f"{cfg.threshold:g}": cfg.threshold}, "budget": {f"{cfg.budget_steps:,} steps": cfg.budget_steps}},
        regression=regression_values(runs, cfg), headline=headline(runs, cfg, scores),
        text={"tuned": f"Tuned: `{tuned_command(cfg, scores)}`", "spread": spread_text(spread, cfg),
              "importance": importance_text(imp),
              "commands": pgexp.commands_markdown(final_experiments(cfg, scores), seed_range(cfg))},
        extra_tables={"search": scores.merge(spread, on="point"), "importance_by_flag": imp}, extra={"tuned_command": tuned_command(cfg, scores)})
