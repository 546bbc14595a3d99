"""Section 04: behaviour cloning against DAgger from a perfect and an imperfect expert (report 1, part 2)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..config import spec
from ..data.experts import read_metadata
from ..learners.imitation import DemoConfig, ImitationConfig
from ..publish.plots import PALETTE, save
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from ..stats import mean_ci
from .common import BIT_FOR_BIT, profile
from .protocol import GridConfig, SectionResult, seed_range

SECTION = "04_bc_dagger"
TITLE = "Behaviour cloning against DAgger on CartPole, from a perfect and an imperfect expert"
REPRODUCES = BIT_FOR_BIT

Setting = Literal["perfect", "imperfect"]
Method = Literal["bc", "dagger"]
METHOD_LABEL = {"bc": "behaviour cloning", "dagger": "DAgger"}


@dataclass(frozen=True)
class Config(GridConfig):
    """Section 04 parameters: the grid (settings x methods x n x seeds) and the imitation learner."""

    ns: tuple[int, ...] = spec((1, 2, 5, 10, 50, 100), doc="numbers of expert trajectories")
    settings: tuple[Setting, ...] = spec(("perfect", "imperfect"))
    methods: tuple[Method, ...] = spec(("bc", "dagger"))
    perfect: float = spec(500.0, gt=0)
    perfect_tolerance: float = spec(0.99, gt=0, le=1)
    perfect_temperature: float = spec(1.0, gt=0, doc="the expert's temperature in the perfect setting (only episodes "
                                      "that reach the time limit are kept)")
    imperfect_temperature: float = spec(2.0, gt=0, doc="the expert's temperature in the imperfect setting (every "
                                        "episode is kept)")
    dagger_rounds: int = spec(10, ge=1, doc="DAgger's rounds")
    imitation: ImitationConfig = spec(default_factory=ImitationConfig)

    def check(self) -> list[str]:
        errs = []
        if not self.ns or any(n < 1 for n in self.ns):
            errs.append("key 'ns' must list positive numbers of trajectories")
        for key in ("ns", "settings", "methods"):
            vals = getattr(self, key)
            if not vals or len(set(vals)) != len(vals):
                errs.append(f"key '{key}' must be non-empty without repeats")
        if self.imitation.dagger_rounds != 0 or self.imitation.demos != DemoConfig():
            errs.append("keys 'imitation.dagger_rounds' and 'imitation.demos' are set by the grid; use 'ns', 'methods', "
                        "'settings', 'dagger_rounds' and the temperatures")
        if self.imitation.head.head != "categorical":
            errs.append("key 'imitation.head.head' must be categorical (CartPole's actions are discrete)")
        return errs + claim_problems(self.claims, claim_variants(self), list(CLAIM_METRICS), self.skip_claims)


def variant(setting: str, method: str, n: int) -> str:
    return f"{setting}_{method}_n{n}"


def run_config(cfg: Config, setting: str, method: str, n: int) -> ImitationConfig:
    """The learner's config at one point of the grid (the expert's sha256 is part of every key)."""
    sha = read_metadata(cfg.imitation.expert)["policy_sha256"]
    perfect = setting == "perfect"
    demos = DemoConfig(episodes=n, temperature=cfg.perfect_temperature if perfect else cfg.imperfect_temperature,
                       full_length_only=perfect)
    return dataclasses.replace(cfg.imitation, expert_sha256=sha, demos=demos,
                               dagger_rounds=cfg.dagger_rounds if method == "dagger" else 0)


def grid(cfg: Config) -> list[tuple[str, str, int]]:
    """(setting, method, n) of every point, in the report's order."""
    return [(s, m, n) for s in cfg.settings for m in cfg.methods for n in cfg.ns]


def specs(cfg: Config) -> list[RunSpec]:
    """One run per setting x method x n x seed."""
    return [RunSpec(section=SECTION, variant=variant(s, m, n), exp_name=f"{m}_{s}_n{n}", seed=seed,
                    config=run_config(cfg, s, m, n), trainer="lib.learners.imitation:train")
            for s, m, n in grid(cfg) for seed in seed_range(cfg)]


def describe(cfg: Config) -> str:
    c = cfg.imitation
    meta = read_metadata(c.expert)
    return (
        f"- **Expert**: `experts/{c.expert}` (section 03; test {meta['test_mean']:.1f} ± {meta['test_std']:.1f}).\n"
        f"- **Demonstrations**: the expert plays with its actions sampled at a temperature; a demonstration is the "
        f"states it visited with the actions it took. *Perfect*: temperature {cfg.perfect_temperature:g}, only "
        f"trajectories that reach {cfg.perfect:g} steps are kept. *Imperfect*: temperature {cfg.imperfect_temperature:g} "
        f"(logits divided by it, so the expert errs more often), every trajectory is kept, short ones included.\n"
        f"- **Behaviour cloning**: a fresh MLP policy ({c.head.depth} x {c.head.width}, {c.head.activation}), "
        f"cross-entropy on the demonstration pairs, {c.steps} AdamW steps (lr {c.lr:g}, minibatch {c.batch_size}).\n"
        f"- **DAgger**: the same start, then {cfg.dagger_rounds} rounds: play {c.dagger_episodes} episodes where "
        f"each step is the expert's action with probability beta_i = {c.beta0:g} x {c.beta_decay:g}^(i-1) and the "
        f"learner's otherwise, label every visited state with the expert's most likely action, add them to the "
        f"data and train {c.dagger_steps} more steps on the whole aggregate.\n"
        f"- **Test**: {c.test_episodes} episodes with the learner's most likely action, on a seed of their own; "
        f"n in {{{', '.join(map(str, cfg.ns))}}}; {cfg.seeds} seeds per point; bands are Student-t 95% intervals."
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    rows = []
    for r in results:
        c: ImitationConfig = r.spec.config
        s = r.summary
        rows.append({
            "setting": "perfect" if c.demos.full_length_only else "imperfect",
            "method": "dagger" if c.dagger_rounds else "bc", "n": c.demos.episodes, "seed": r.spec.seed,
            "test_mean": s["test_mean"], "test_std": s["test_std"], "expert_labels": s["expert_labels"],
            "demo_labels": s["demo_labels"], "demo_short_share": s["demo_short_share"],
            "demo_mean_length": float(np.mean(s["demo_lengths"])), "wall_time_s": s["wall_time_s"],
        })
    return pd.DataFrame(rows)


def summary_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Every point of the figure: setting x method x n."""
    rows = []
    top = cfg.perfect * cfg.perfect_tolerance
    for (setting, method, n), d in runs.groupby(["setting", "method", "n"], sort=False):
        m, lo, hi = mean_ci(d.test_mean.to_numpy())
        rows.append({
            "setting": setting, "method": METHOD_LABEL[method], "n": int(n), "seeds": len(d),
            "test mean": round(float(m), 1), "test mean 95% CI": f"[{lo:.1f}, {hi:.1f}]",
            "test std (within run)": round(float(d.test_std.mean()), 1),
            f"seeds at {cfg.perfect:g}": f"{int((d.test_mean >= top).sum())}/{len(d)}",
            "expert labels (mean)": int(round(d.expert_labels.mean())),
            "demonstration labels (mean)": int(round(d.demo_labels.mean())),
            "wall time per run (s)": round(float(d.wall_time_s.mean()), 1),
        })
    return pd.DataFrame(rows)


def imperfection(runs: pd.DataFrame) -> dict[str, float]:
    """How imperfect the imperfect demonstrations were, pooled over runs (weighted by trajectories)."""
    d = runs[runs.setting == "imperfect"]
    if d.empty:
        return {}
    w = d.n.to_numpy(dtype=float)
    return {
        "short_share": float(np.average(d.demo_short_share, weights=w)),
        "mean_length": float(np.average(d.demo_mean_length, weights=w)),
        "trajectories": int(w.sum()),
    }


def imperfection_markdown(imp: dict[str, float], cfg: Config) -> str:
    """One sentence on how imperfect the imperfect demonstrations were (empty without that setting)."""
    if not imp:
        return ""
    return (f"Over the {imp['trajectories']} imperfect demonstrations these runs drew, **{imp['short_share']:.0%} ended "
            f"before {cfg.perfect:g} steps**; their mean length was {imp['mean_length']:.1f}.")


def figure(runs: pd.DataFrame, cfg: Config, out_dir: Path) -> list[Path]:
    fig, axes = plt.subplots(1, len(cfg.settings), figsize=(5.2 * len(cfg.settings), 4.0), sharey=True, squeeze=False)
    for ax, setting in zip(axes[0], cfg.settings):
        for i, method in enumerate(cfg.methods):
            d = runs[(runs.setting == setting) & (runs.method == method)]
            ns = sorted(d.n.unique())
            y = np.stack([d[d.n == n].sort_values("seed").test_mean.to_numpy() for n in ns], axis=1)
            m, lo, hi = mean_ci(y)
            ax.plot(ns, m, marker="o", color=PALETTE[i], label=f"{METHOD_LABEL[method]} (n={y.shape[0]} seeds)")
            ax.fill_between(ns, lo, hi, color=PALETTE[i], alpha=0.2, lw=0)
        ax.axhline(cfg.perfect, color="0.3", ls="--", lw=1, label=f"expert ({cfg.perfect:g})")
        ax.set(xscale="log", xlabel="expert trajectories n", title=f"{setting} expert", ylim=(0, cfg.perfect * 1.05))
        ax.set_xticks(list(cfg.ns), [str(n) for n in cfg.ns])
        ax.legend(loc="lower right", fontsize="small")
    axes[0][0].set_ylabel(f"test return (mean of {cfg.imitation.test_episodes} episodes)")
    fig.tight_layout()
    path = save(fig, out_dir / "figures" / "bc_vs_dagger.png")
    return [path]


def _point(runs: pd.DataFrame, setting: str, method: str, n: int | None = None) -> pd.DataFrame:
    d = runs[(runs.setting == setting) & (runs.method == method)]
    return d if n is None else d[d.n == n]


#: Per-seed metrics claims may name.
CLAIM_METRICS = {"test_mean": "mean return of the test episodes"}


def claim_variants(cfg: Config) -> list[str]:
    """The names claims use: ``<setting>_<method>_n<n>`` for a point of the grid, and
    ``<setting>_<method>_all`` for a seed's mean over every n."""
    points = [variant(s, m, n) for s, m, n in grid(cfg)]
    return points + [f"{s}_{m}_all" for s in cfg.settings for m in cfg.methods]


def claim_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, seed) of :func:`claim_variants`: the grid's runs, and each seed's mean
    over n per setting and method."""
    points = runs.assign(variant=[variant(s, m, n) for s, m, n in zip(runs.setting, runs.method, runs.n)])
    pooled = runs.groupby(["setting", "method", "seed"], sort=False).test_mean.mean().reset_index()
    pooled["variant"] = [f"{s}_{m}_all" for s, m in zip(pooled.setting, pooled.method)]
    return pd.concat([points[["variant", "seed", "test_mean"]], pooled[["variant", "seed", "test_mean"]]], ignore_index=True)


def claims(runs: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims, decided by the rules in params (:func:`lib.verdicts.judge`, Holm across them)."""
    means = runs.groupby(["setting", "method", "n"], sort=False).test_mean.mean()
    by_n = "Mean test return by point: " + "; ".join(
        f"{s} {METHOD_LABEL[m]}: " + ", ".join(f"n={n} {means[(s, m, n)]:.1f}" for n in cfg.ns)
        for s in cfg.settings for m in cfg.methods) + "."
    verdicts = judge(decided_claims(cfg), claim_table(runs), cfg.alpha)
    return [Claim.judged(v, by_n if i == 0 else "") for i, v in enumerate(verdicts)]


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    out: dict[str, tuple[object, float]] = {"runs": (len(runs), 0), "ns": (list(cfg.ns), 0), "seeds": (cfg.seeds, 0)}
    for (setting, method), d in runs.groupby(["setting", "method"], sort=False):
        m = float(d.test_mean.mean())
        out[f"{setting}.{method}.test_mean"] = (round(m, 1), 0)
        out[f"{setting}.{method}.expert_labels"] = (int(d.expert_labels.sum()), 0)
    return out


def headline(runs: pd.DataFrame, cfg: Config) -> str:
    parts = []
    for setting in cfg.settings:
        for method in cfg.methods:
            d = _point(runs, setting, method, min(cfg.ns))
            parts.append(f"{METHOD_LABEL[method]} ({setting}) {d.test_mean.mean():.0f}")
    return f"Test return from n = {min(cfg.ns)} expert trajectory ({cfg.seeds} seeds): " + "; ".join(parts) + "."


def analyse(results: list[RunResult], cfg: Config, out_dir: Path) -> SectionResult:
    """Per-run scores, every point of the figure as a table row, the figure, the claims, and how
    imperfect the imperfect demonstrations were."""
    runs = per_run(results, cfg)
    imp = imperfection(runs)
    return SectionResult(table=summary_table(runs, cfg), claims=claims(runs, cfg),
                         figures=figure(runs, cfg, out_dir) + [profile(
                             claim_table(runs), "test_mean", [f"{s}_{m}_all" for s in cfg.settings for m in cfg.methods],
                             {f"{s}_{m}_all": f"{METHOD_LABEL[m]}, {s} expert" for s in cfg.settings for m in cfg.methods},
                             out_dir / "figures" / "profile.png", lo=0.0, hi=cfg.perfect,
                             xlabel=f"a seed's test return, mean over n in {{{', '.join(map(str, cfg.ns))}}}",
                             title=f"performance profile over seeds ({cfg.seeds} per point), 95% bootstrap band")],
                         regression=regression_values(runs, cfg), headline=headline(runs, cfg),
                         text={"imperfection": imperfection_markdown(imp, cfg)}, extra={"imperfection": imp})
