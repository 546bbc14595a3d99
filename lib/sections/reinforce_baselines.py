"""Section 01: vanilla REINFORCE against three baselines on CartPole (report 1.1 and 1.2)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..config import spec
from ..learners.pg import PGConfig
from ..publish.plots import colours
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from .common import BIT_FOR_BIT, CLAIM_METRICS, animate_run, claim_columns, episode_frame, labelled, median_inf, nanmean, run_metrics, test_ci
from .protocol import GridConfig, SectionResult, seed_range

if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered

SECTION = "01_reinforce_baselines"
TITLE = "REINFORCE on CartPole: vanilla against three baselines"
REPRODUCES = BIT_FOR_BIT

Variant = Literal["vanilla", "running_mean", "value", "rloo"]
#: variant -> the learner's ``baseline`` option
BASELINE = {"vanilla": "none", "running_mean": "running_mean", "value": "value", "rloo": "rloo"}
LABEL = {
    "vanilla": "vanilla",
    "running_mean": "running-mean baseline",
    "value": "value baseline",
    "rloo": "RLOO baseline",
}


@dataclass(frozen=True)
class Config(GridConfig):
    """Section 01 parameters: which variants, how many seeds, and the learner's settings."""

    variants: tuple[Variant, ...] = spec(("vanilla", "running_mean", "value", "rloo"))
    other_batch_sizes: tuple[int, ...] = spec((8,), doc="episodes per update to run beside train.batch_episodes (ours, "
                                              "beside the source's one), for every variant that allows them (RLOO "
                                              "needs 2 or more); same episode budget")
    solved: float = spec(195.0, gt=0, doc="'solved' threshold for the running mean")
    perfect: float = spec(500.0, gt=0, doc="the maximum return (CartPole-v1 time limit)")
    perfect_tolerance: float = spec(0.99, gt=0, le=1, doc="test mean >= perfect * this counts as perfect")
    converged_fraction: float = spec(0.95, gt=0, le=1, doc="'converged' = running mean >= perfect * this")
    train: PGConfig = spec(default_factory=lambda: PGConfig(batch_episodes=1, episodes=2000, lr=0.003, gamma=0.99),
                           doc="the learner: the source's protocol, one episode per update (RLOO at its minimum, 2)")

    def check(self) -> list[str]:
        errs = []
        if not self.variants:
            errs.append("key 'variants' must list at least one variant")
        if len(set(self.variants)) != len(self.variants):
            errs.append("key 'variants' lists a variant twice")
        if self.train.baseline != "none":
            errs.append("key 'train.baseline' is set per variant; list the variants in 'variants' instead")
        if any(b < 1 for b in self.other_batch_sizes) or self.train.batch_episodes in self.other_batch_sizes \
                or len(set(self.other_batch_sizes)) != len(self.other_batch_sizes):
            errs.append(f"key 'other_batch_sizes' must list episodes per update >= 1, without repeats and without "
                        f"train.batch_episodes ({self.train.batch_episodes}), got {list(self.other_batch_sizes)}")
        return errs + claim_problems(self.claims, list(grid(self)), list(CLAIM_METRICS), self.skip_claims)


#: RLOO's fewest episodes per update: its baseline for an episode is the mean of the others.
RLOO_MIN = 2


def batch_of(variant: Variant, b: int) -> int:
    """Episodes per update of ``variant`` asked to run at ``b``: ``b``, but at least :data:`RLOO_MIN` for RLOO."""
    return max(b, RLOO_MIN) if variant == "rloo" else b


def grid(cfg: Config) -> dict[str, tuple[Variant, int]]:
    """variant name -> (baseline variant, episodes per update), in the report's order: every variant at
    ``train.batch_episodes`` (named as the variant; RLOO at its minimum of 2 when that is 1, with the same
    episode budget), then each of ``other_batch_sizes`` (named ``<variant>_b<size>``) for the variants it
    gives a batch they do not already run."""
    out: dict[str, tuple[Variant, int]] = {v: (v, batch_of(v, cfg.train.batch_episodes)) for v in cfg.variants}
    for b in cfg.other_batch_sizes:
        out.update({f"{v}_b{b}": (v, b) for v in cfg.variants if batch_of(v, b) == b and out[v][1] != b})
    return out


def labels(cfg: Config) -> dict[str, str]:
    """variant name -> its label; a batch other than ``train.batch_episodes`` says its size."""
    return {name: LABEL[v] if b == cfg.train.batch_episodes else
            (f"{LABEL[v]}, {b} ep/update" + (" (its minimum)" if name == v else ""))
            for name, (v, b) in grid(cfg).items()}


def variants(cfg: Config) -> dict[str, PGConfig]:
    """variant name -> its run config, in the report's order (:func:`grid`): ``train`` with the variant's
    baseline and episodes per update."""
    return {name: dataclasses.replace(cfg.train, baseline=BASELINE[v], batch_episodes=b) for name, (v, b) in grid(cfg).items()}


def specs(cfg: Config) -> list[RunSpec]:
    """variant x seed runs of the one learner (:func:`variants`)."""
    return [RunSpec(section=SECTION, variant=name, exp_name=f"reinforce_{name}", seed=seed, config=c)
            for name, c in variants(cfg).items() for seed in seed_range(cfg)]


def _per_update(b: int) -> str:
    return f"{b} episode{'s' if b > 1 else ''}"


def describe(cfg: Config) -> str:
    """The experimental set-up in Markdown, from the config (nothing typed by hand)."""
    t = cfg.train
    steps = t.max_episode_steps or 500
    return (
        f"- **Environment**: `{t.env_id}`, episodes capped at {steps} steps, reward 1 per step.\n"
        f"- **Budget**: {t.episodes} training episodes per run, the same for every variant. **The source's protocol** "
        f"(its \"2000 total epochs\"): {_per_update(t.batch_episodes)} per update, so a run makes {t.n_iterations} "
        f"updates" + (f"; RLOO needs at least {RLOO_MIN} episodes per update (its baseline for an episode is the mean "
                      f"of the others), so it runs at its minimum, {RLOO_MIN}, with the same {t.episodes} episodes "
                      f"({math.ceil((t.episodes or 0) / RLOO_MIN)} updates)"
                      if "rloo" in cfg.variants and t.batch_episodes < RLOO_MIN else "") + "." + "".join(
            f" **Ours**, beside it: {_per_update(b)} per update ({math.ceil((t.episodes or 0) / b)} updates), for "
            f"{', '.join(LABEL[v] for v in cfg.variants if f'{v}_b{b}' in grid(cfg))}."
            for b in cfg.other_batch_sizes) + "\n"
        f"- **Learner**: categorical MLP policy {list(t.hidden)} ({t.activation}), AdamW lr {t.lr:g} "
        f"(weight decay {t.weight_decay:g}), discounted reward-to-go with gamma = {t.gamma:g}; "
        f"loss = mean over the batch's steps of -log pi(a|s) * (G - b).\n"
        f"- **Baselines b**: running mean = bias-corrected EMA (decay {t.running_mean_decay:g}) of the mean "
        f"reward-to-go of earlier batches; value = MLP {list(t.value_hidden)} fitted to reward-to-go with "
        f"{t.value_steps} AdamW steps (lr {t.value_lr:g}) per update, its prediction taken before it is fitted; "
        f"RLOO = for each episode and step, the mean reward-to-go of the batch's other episodes "
        f"at that step.\n"
        f"- **Evaluation** (as the report): keep the policy with the best {t.window}-episode sliding-window "
        f"mean of training returns ({t.checkpoint_ties} one on ties), then play {t.test_episodes} test episodes "
        f"({'argmax actions' if t.test_greedy else 'actions sampled from the policy'}) on a separate seed.\n"
        f"- **Seeds**: {cfg.seeds} per variant (seeds {cfg.first_seed}..{cfg.first_seed + cfg.seeds - 1}); "
        f"bands and intervals are 95% percentile-bootstrap intervals of the mean over seeds."
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    """One row per run: test score, convergence and stability measures, wall time."""
    return pd.DataFrame([
        run_metrics(r, cfg.train.window, cfg.solved, cfg.perfect * cfg.converged_fraction, cfg.perfect, cfg.train.window)
        for r in results
    ])


def summary_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """One row per variant (the report's table)."""
    rows = []
    perfect = cfg.perfect * cfg.perfect_tolerance
    for v, label in labels(cfg).items():
        d = runs[runs.variant == v]
        m, lo, hi = test_ci(d)
        rows.append(
            {
                "variant": label,
                "seeds": len(d),
                "test mean": round(m, 1),
                "test mean 95% CI": f"[{lo:.1f}, {hi:.1f}]",
                "test std (within run)": round(float(d.test_std.mean()), 1),
                f"seeds >= {cfg.solved:g}": f"{int((d.test_mean >= cfg.solved).sum())}/{len(d)}",
                f"seeds at {cfg.perfect:g}": f"{int((d.test_mean >= perfect).sum())}/{len(d)}",
                f"episodes to {cfg.solved:g} (median)": median_inf(d.episodes_to_solved),
                "never solved": int(pd.to_numeric(d.episodes_to_solved, errors="coerce").isna().sum()),
                f"episodes to {cfg.perfect * cfg.converged_fraction:g} (median)": median_inf(d.episodes_to_converged),
                "relapse share": round(nanmean(d.relapse_share), 3),
                "return std after solved": round(nanmean(d.std_after_solved), 1),
                "wall time per run (s)": round(float(d.wall_time_s.mean()), 1),
            }
        )
    return pd.DataFrame(rows)


def frames(results: list[RunResult], cfg: Config) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "curves", every variant's running-mean training return per
    episode and seed (:func:`lib.sections.common.episode_frame`); "main", the variants of the source's
    protocol; "batch", each variant that runs at several batch sizes, with ``baseline`` (its label) and
    ``batch`` ("8 episodes per update") columns."""
    names = labels(cfg)
    curves = episode_frame(results, names, cfg.train.window)
    main = curves[curves.variant.isin([names[v] for v in cfg.variants])]
    varied = [v for v in cfg.variants if any(g == v for g, b in grid(cfg).values() if b != cfg.train.batch_episodes)]
    batch = [curves[curves.variant == names[n]].assign(baseline=LABEL[g], batch=f"{b} episode{'s' if b > 1 else ''} per update")
             for v in varied for n, (g, b) in sorted(grid(cfg).items(), key=lambda kv: -kv[1][1]) if g == v]
    return {"curves": curves, "main": main, "batch": pd.concat(batch, ignore_index=True) if batch else curves.iloc[:0]}


def titles(cfg: Config) -> dict[str, str]:
    """Figure titles and axis labels, from the config."""
    rloo = (f", RLOO {RLOO_MIN}" if batch_of("rloo", cfg.train.batch_episodes) != cfg.train.batch_episodes
            and "rloo" in cfg.variants else "")
    return {"return": f"training return ({cfg.train.window}-episode running mean)",
            "curves": f"REINFORCE on {cfg.train.env_id}, the source's protocol ({_per_update(cfg.train.batch_episodes)} "
                      f"per update{rloo}): mean over seeds ({cfg.seeds}), 95% CI",
            "batch": f"episodes per update: mean over seeds ({cfg.seeds}), 95% bootstrap band",
            "test": f"test return (mean of {cfg.train.test_episodes} episodes)",
            "profile": f"performance profile over seeds ({cfg.seeds} per variant), 95% bootstrap band"}


def claims(runs: pd.DataFrame, table: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims, decided by the rules in params (:func:`lib.verdicts.judge`, Holm across them)."""
    data = claim_columns(runs, float(cfg.train.episodes or 0))
    names = labels(cfg)
    ets = {names[v]: median_inf(runs[runs.variant == v].episodes_to_solved) for v in names}
    notes = {
        "relapse (never solved = 1)": "Seeds at the maximum: " + ", ".join(
            f"{names[v]} {int((runs[runs.variant == v].test_mean >= cfg.perfect * cfg.perfect_tolerance).sum())}/"
            f"{int((runs.variant == v).sum())}" for v in names) + ".",
        "episodes to converged (never = budget)": f"Median episodes to the 'solved' level {cfg.solved:g}: "
            + ", ".join(f"{k} {'never' if not np.isfinite(m) else f'{m:.0f}'}" for k, m in ets.items()) + ".",
    }
    verdicts = judge(decided_claims(cfg), data, cfg.alpha)
    seen: set[str] = set()  # each note once, beside the first claim on its metric
    out = []
    for r, v in zip(decided_claims(cfg), verdicts):
        out.append(Claim.judged(v, "" if r.metric in seen else notes.get(r.metric, "")))
        seen.add(r.metric)
    return out


def numbers(runs: pd.DataFrame, cfg: Config) -> dict[str, str]:
    """Our numbers beside the source's (params ``source``): vanilla's test returns, and how often each
    baseline tests perfect, under the source's protocol (the main variants)."""
    perfect = cfg.perfect * cfg.perfect_tolerance
    names = labels(cfg)

    def at_max(v: str) -> str:
        d = runs[runs.variant == v]
        return f"{names[v]} {int((d.test_mean >= perfect).sum())} of {len(d)}"

    out = {}
    if "vanilla" in names:
        d = runs[runs.variant == "vanilla"]
        m, lo, hi = test_ci(d)
        out["vanilla_test"] = (f"vanilla, {_per_update(cfg.train.batch_episodes)} per update: test mean {m:.1f} "
                               f"[{lo:.1f}, {hi:.1f}] over {len(d)} seeds; seeds testing at {cfg.perfect:g}: "
                               f"{int((d.test_mean >= perfect).sum())} of {len(d)}")
    base = [v for v in cfg.variants if v != "vanilla"]
    if base:
        out["baselines_perfect"] = f"seeds testing at {cfg.perfect:g}: " + ", ".join(at_max(v) for v in base)
    return out


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    """What the smoke regression check compares, exactly: the section reproduces bit for bit (every episode
    the same on any CPU; see :data:`lib.sections.common.BIT_FOR_BIT`), so its returns are exact values."""
    out: dict[str, tuple[object, float]] = {
        "runs": (len(runs), 0),
        "variants": (list(grid(cfg)), 0),
        "seeds": (cfg.seeds, 0),
    }
    for v in grid(cfg):
        d = runs[runs.variant == v]
        m = float(d.test_mean.mean())
        out[f"{v}.test_mean"] = (round(m, 1), 0)
        steps = float(d.env_steps.mean())
        out[f"{v}.env_steps_per_run"] = (round(steps), 0)
    return out


def headline(table: pd.DataFrame, cfg: Config) -> str:
    parts = [f"{r['variant']} {r['test mean']:.1f}" for _, r in table.iterrows()]
    return f"Test mean episode length over {cfg.seeds} seeds: " + "; ".join(parts) + "."


def animations(results: list[RunResult], result: SectionResult, cfg: Config, acfg: "AnimationConfig") -> list["Rendered"]:
    """A vanilla and an RLOO policy at work: the kept checkpoint of each one's first seed."""
    if not acfg.enabled:
        return []
    out = []
    for v in ("vanilla", "rloo"):
        runs_v = [r for r in results if r.spec.variant == v]
        if runs_v:
            r = runs_v[0]
            out.append(animate_run(r, acfg, f"{LABEL[v]}, training seed {r.spec.seed}, kept checkpoint"))
    return out


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """Per-run metrics, the variant table, the curves' data, the claims (see the module's functions)."""
    runs = per_run(results, cfg)
    table = summary_table(runs, cfg)
    names = labels(cfg)
    return SectionResult(table=table, per_run=runs, claims=claims(runs, table, cfg), numbers=numbers(runs, cfg),
                         frames={**frames(results, cfg), "scores": labelled(runs, names, "test_mean")},
                         palette=colours(list(names.values())), titles=titles(cfg),
                         marks={"return": {f"solved ({cfg.solved:g})": cfg.solved}},
                         regression=regression_values(runs, cfg), headline=headline(table, cfg))
