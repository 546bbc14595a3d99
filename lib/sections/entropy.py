"""Section 02: RLOO with an entropy bonus, constant and linearly scheduled (report 1.3)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import spec
from ..learners.pg import PGConfig
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from ..publish.plots import colours
from .common import BIT_FOR_BIT, CLAIM_METRICS, claim_columns, episode_frame, labelled, log_frame, median_inf, nanmean, run_metrics, test_ci
from .protocol import GridConfig, SectionResult, seed_range

SECTION = "02_entropy"
TITLE = "Entropy regularisation of RLOO REINFORCE on CartPole"
REPRODUCES = BIT_FOR_BIT


@dataclass(frozen=True)
class Config(GridConfig):
    """Section 02 parameters. The learner is section 01's RLOO learner plus an entropy bonus."""

    constants: tuple[float, ...] = spec((0.001, 0.01, 0.1, 1.0), doc="constant entropy coefficients alpha")
    schedule_start: float = spec(0.01, ge=0.0, doc="scheduled alpha at the first update")
    schedule_end: float = spec(0.0001, ge=0.0, doc="scheduled alpha at the last update (linear in between)")
    include_no_bonus: bool = spec(True, doc="also run alpha = 0 (section 01's RLOO runs, reused from the store)")
    solved: float = spec(195.0, gt=0)
    perfect: float = spec(500.0, gt=0)
    converged_fraction: float = spec(0.95, gt=0, le=1)
    last_episodes: int = spec(500, ge=1, doc="stability window at the end of training (episodes)")
    train: PGConfig = spec(default_factory=lambda: PGConfig(baseline="rloo", batch_episodes=2))

    def check(self) -> list[str]:
        errs = []
        if self.train.baseline != "rloo":
            errs.append("key 'train.baseline' must be 'rloo' here (the report builds on the RLOO learner)")
        if self.train.entropy_coef != 0.0 or self.train.entropy_coef_final is not None:
            errs.append("keys 'train.entropy_coef*' are set per setting; use 'constants' and 'schedule_*'")
        if any(a <= 0 for a in self.constants):
            errs.append("key 'constants' must hold values > 0 (alpha = 0 is 'include_no_bonus')")
        if self.train.episodes is not None and self.last_episodes > self.train.episodes:
            errs.append("key 'last_episodes' must not exceed 'train.episodes'")
        return errs + claim_problems(self.claims, list(settings(self)), list(CLAIM_METRICS), self.skip_claims)


def settings(cfg: Config) -> dict[str, tuple[str, float, float | None]]:
    """variant -> (label, alpha, final alpha or None), in plotting order."""
    out: dict[str, tuple[str, float, float | None]] = {}
    if cfg.include_no_bonus:
        out["alpha_0"] = ("no bonus", 0.0, None)
    for a in cfg.constants:
        out[f"alpha_{a:g}"] = (f"alpha = {a:g}", a, None)
    out["scheduled"] = (f"alpha {cfg.schedule_start:g} -> {cfg.schedule_end:g}", cfg.schedule_start, cfg.schedule_end)
    return out


def labels(cfg: Config) -> dict[str, str]:
    return {v: lab for v, (lab, _, _) in settings(cfg).items()}


def variants(cfg: Config) -> dict[str, PGConfig]:
    """setting name -> its run config, in the report's order (:func:`settings`): ``train`` (RLOO) with the
    setting's entropy coefficient, constant or scheduled linearly to its final value."""
    return {v: dataclasses.replace(cfg.train, entropy_coef=a, entropy_coef_final=a_end) for v, (_, a, a_end) in settings(cfg).items()}


def specs(cfg: Config) -> list[RunSpec]:
    """setting x seed runs of the one learner (:func:`variants`)."""
    return [RunSpec(section=SECTION, variant=v, exp_name="reinforce_rloo" if v == "alpha_0" else f"reinforce_rloo_{v}",
                    seed=seed, config=c) for v, c in variants(cfg).items() for seed in seed_range(cfg)]


def describe(cfg: Config) -> str:
    t = cfg.train
    return (
        f"- **Learner**: section 01's RLOO REINFORCE under the source's protocol (its \"2000 total epochs\" read as one "
        f"episode per update; RLOO needs two or more, so it runs, as in section 01, at a batch of {t.batch_episodes} "
        f"episodes, `train.batch_episodes`; AdamW lr {t.lr:g}, gamma {t.gamma:g}), same budget: {t.episodes} episodes "
        f"({t.n_iterations} updates).\n"
        f"- **Bonus**: loss = policy-gradient loss - alpha * mean over the batch's steps of the policy's entropy "
        f"(in nats; the maximum for two actions is ln 2 = {np.log(2):.3f}).\n"
        f"- **Settings**: constant alpha in {{{', '.join(f'{a:g}' for a in cfg.constants)}}}; alpha linear from "
        f"{cfg.schedule_start:g} at the first update to {cfg.schedule_end:g} at the last"
        + ("; and no bonus (alpha = 0), which is section 01's RLOO run and comes from the run store." if cfg.include_no_bonus else ".")
        + f"\n- **Evaluation**: as section 01 (best {t.window}-episode window, {t.test_episodes} test episodes). "
        f"Stability at the end = share of the last {cfg.last_episodes} training episodes that reach {cfg.perfect:g}.\n"
        f"- **Seeds**: {cfg.seeds} per setting; bands and intervals are 95% percentile-bootstrap intervals over seeds."
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    conv = cfg.perfect * cfg.converged_fraction
    return pd.DataFrame([run_metrics(r, cfg.train.window, cfg.solved, conv, cfg.perfect, cfg.last_episodes) for r in results])


def summary_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    rows = []
    for v, (label, _, _) in settings(cfg).items():
        d = runs[runs.variant == v]
        m, lo, hi = test_ci(d)
        share = d.last_perfect_share.to_numpy()
        rows.append({
            "setting": label,
            "seeds": len(d),
            "test mean": round(m, 1),
            "test mean 95% CI": f"[{lo:.1f}, {hi:.1f}]",
            "test std (within run)": round(float(d.test_std.mean()), 1),
            f"episodes to {cfg.solved:g} (median)": median_inf(d.episodes_to_solved),
            f"episodes to {cfg.perfect * cfg.converged_fraction:g} (median)": median_inf(d.episodes_to_converged),
            f"last {cfg.last_episodes} at {cfg.perfect:g} (share)": round(float(share.mean()), 3),
            "relapse share": round(nanmean(d.relapse_share), 3),
            "wall time per run (s)": round(float(d.wall_time_s.mean()), 1),
        })
    return pd.DataFrame(rows)


def frames(results: list[RunResult], cfg: Config, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "curves", every setting's running-mean training return per
    episode and seed (:func:`lib.sections.common.episode_frame`); "trio", the schedule, the best constant
    (:func:`best_constant`) and no bonus; "logs", every run's log (its ``Entropy`` per update); "scores",
    the per-run rows labelled for the performance profile."""
    lab = labels(cfg)
    curves = episode_frame(results, lab, cfg.train.window)
    trio = [lab[v] for v in ("scheduled", f"alpha_{best_constant(runs, cfg):g}", "alpha_0") if v in lab]
    return {"curves": curves, "trio": pd.concat([curves[curves.variant == t] for t in trio], ignore_index=True),
            "logs": log_frame(results, lab), "scores": labelled(runs, lab, "last_perfect_share")}


def titles(cfg: Config, runs: pd.DataFrame) -> dict[str, str]:
    """Figure titles and axis labels, from the config (and the best constant, from the runs)."""
    return {"return": f"training return ({cfg.train.window}-episode running mean)",
            "curves": "RLOO + entropy bonus: mean over seeds, 95% CI",
            "trio": f"schedule against the best constant (alpha = {best_constant(runs, cfg):g}) and no bonus",
            "share": f"share of the last {cfg.last_episodes} training episodes at {cfg.perfect:g}",
            "profile": f"performance profile over seeds ({cfg.seeds} per setting), 95% bootstrap band"}


def best_constant(runs: pd.DataFrame, cfg: Config) -> float:
    """The constant alpha with the highest end-of-training stability, then test mean (ties: smaller alpha)."""
    scores = []
    for a in cfg.constants:
        d = runs[runs.variant == f"alpha_{a:g}"]
        scores.append((float(d.last_perfect_share.mean()), float(d.test_mean.mean()), -a))
    return -max(scores)[2]


def claims(runs: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims, decided by the rules in params (:func:`lib.verdicts.judge`, Holm across them)."""
    conv = cfg.perfect * cfg.converged_fraction
    lab = labels(cfg)

    def line(v: str) -> str:
        d = runs[runs.variant == v]
        return (f"{lab[v]}: median {median_inf(d.episodes_to_converged):.0f} episodes to {conv:g}, "
                f"{float(d.last_perfect_share.mean()):.3f} of the last {cfg.last_episodes} at {cfg.perfect:g}")

    data = claim_columns(runs, float(cfg.train.episodes or 0))
    every = "All settings: " + "; ".join(line(v) for v in settings(cfg)) + "."
    return [Claim.judged(v, every if i == 0 else "") for i, v in enumerate(judge(decided_claims(cfg), data, cfg.alpha))]


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    out: dict[str, tuple[object, float]] = {"runs": (len(runs), 0), "settings": (list(settings(cfg)), 0), "seeds": (cfg.seeds, 0)}
    for v in settings(cfg):
        d = runs[runs.variant == v]
        m = float(d.test_mean.mean())
        out[f"{v}.test_mean"] = (round(m, 1), 0)
    return out


def headline(table: pd.DataFrame, cfg: Config) -> str:
    col = f"last {cfg.last_episodes} at {cfg.perfect:g} (share)"
    parts = [f"{r['setting']} {r[col]:.2f}" for _, r in table.iterrows()]
    return f"Share of the last {cfg.last_episodes} training episodes at {cfg.perfect:g} ({cfg.seeds} seeds): " + "; ".join(parts) + "."


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """Per-run metrics, the settings table, the curves' data, the claims (see the module's functions)."""
    runs = per_run(results, cfg)
    table = summary_table(runs, cfg)
    return SectionResult(table=table, per_run=runs, claims=claims(runs, cfg), frames=frames(results, cfg, runs),
                         palette=colours(list(labels(cfg).values())), titles=titles(cfg, runs),
                         marks={"return": {f"solved ({cfg.solved:g})": cfg.solved}, "entropy": {"ln 2 (uniform)": float(np.log(2))}},
                         regression=regression_values(runs, cfg), headline=headline(table, cfg))
