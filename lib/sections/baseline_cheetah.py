"""Section 06: the assignment's experiment 2: a neural value baseline on HalfCheetah-v4."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..config import spec
from ..data.envs import max_episode_steps
from ..publish.plots import colours, legend, save
from ..publish.report import Claim, said as report_said
from ..verdicts import Verdict, claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from . import pgexp
from .common import MUJOCO_STATISTICAL, profile
from .protocol import GridConfig, SectionResult, seed_range

SECTION = "06_baseline_cheetah"
TITLE = "A neural baseline for the policy gradient on HalfCheetah-v4"
REPRODUCES = MUJOCO_STATISTICAL
LAST = 5


@dataclass(frozen=True)
class Config(GridConfig):
    """The experiment-2 commands (no baseline, baseline, and the weaker-baseline runs) and seeds."""

    experiments: tuple[str, ...] = spec(())
    no_baseline: str = spec("cheetah", doc="--exp_name of the run without baseline")
    baseline: str = spec("cheetah_baseline", doc="--exp_name of the baselined run the claim is about")
    threshold: float = spec(300.0, doc="eval return the baselined run should end above")

    def check(self) -> list[str]:
        errs = pgexp.check_commands(self.experiments)
        if not errs:
            names = set(pgexp.experiments(self.experiments))
            for key in ("no_baseline", "baseline"):
                if getattr(self, key) not in names:
                    errs.append(f"key '{key}' ({getattr(self, key)!r}) is not an --exp_name in 'experiments'")
            errs += claim_problems(self.claims, sorted(names), list(CLAIM_METRICS), self.skip_claims)
        return errs



def specs(cfg: Config) -> list[RunSpec]:
    return pgexp.make_specs(SECTION, pgexp.experiments(cfg.experiments), seed_range(cfg))


def describe(cfg: Config) -> str:
    exps = pgexp.experiments(cfg.experiments)
    b = exps[cfg.baseline]
    return (
        f"- **Learner**: Gaussian MLP policy {list(b.hidden)} (state-independent log-std), Adam lr {b.lr:g}, "
        f"discount {b.gamma:g}, reward-to-go, {b.iterations} iterations of >= {b.batch_steps} steps; evaluation "
        f">= {b.eval_steps} steps per iteration with sampled actions.\n"
        f"- **Baseline**: a value MLP fitted to the reward-to-go with `-bgs` full-batch Adam steps of lr `-blr` per "
        f"iteration (its loss before the last step of each iteration is `Baseline Loss`); the advantage is "
        f"reward-to-go minus its prediction. HalfCheetah episodes always end at the "
        f"{b.max_episode_steps or max_episode_steps(b.env_id)}-step limit. **As the starter code does**, the "
        f"reward-to-go is pure Monte Carlo: a cut episode is treated as ended, and the value of the state it reached "
        f"is not added. **Ours**, beside it: "
        + (", ".join(f"`{n}`" for n, c in exps.items() if c.bootstrap_truncated) or "none")
        + " bootstraps V of the state where the limit cut the episode (`--bootstrap_truncated`), which the "
        f"discount {b.gamma:g} makes worth about {1 / (1 - b.gamma):.0f} rewards at the cut.\n"
        + pgexp.starter_markdown(cfg.seeds)
        + f"- **Seeds**: {cfg.seeds} per experiment; bands and intervals are 95% percentile-bootstrap intervals over seeds.\n\n"
        + pgexp.commands_markdown(exps, seed_range(cfg))
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    """One row per run (:func:`lib.sections.pgexp.per_run`) with "final above threshold" (1 or 0)."""
    runs = pgexp.per_run(results, cfg.threshold, last=LAST)
    return runs.assign(**{"final above threshold": (runs.final >= cfg.threshold).astype(float)})


def numbers(runs: pd.DataFrame, cfg: Config, runs_allowed: int = 3) -> dict[str, str]:
    """The assignment's "it should not take more than 2-3 runs" in numbers: the baselined run's per-run
    chance p of ending at or above the threshold, with its exact (Clopper-Pearson) 95% interval, and the
    chance 1 - (1 - p)^k that ``runs_allowed`` runs pass at least once (the interval mapped through it)."""
    from scipy.stats import binomtest

    d = runs[runs.variant == cfg.baseline]
    k, n = int((d.final >= cfg.threshold).sum()), len(d)
    if not n:
        return {}
    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    within = lambda p: 1 - (1 - p) ** runs_allowed  # noqa: E731
    return {"pass_within_3_runs": (
        f"{k} of {n} seeds of {cfg.baseline} end at or above {cfg.threshold:g}: a per-run chance of {k / n:.2f} "
        f"[{ci.low:.2f}, {ci.high:.2f}] (exact 95%), so {runs_allowed} runs pass at least once with chance "
        f"{within(k / n):.2f} [{within(ci.low):.2f}, {within(ci.high):.2f}]")}


def figures(results: list[RunResult], cfg: Config, out_dir: Path) -> list[Path]:
    names = list(pgexp.experiments(cfg.experiments))
    with_baseline = [n for n in names if pgexp.experiments(cfg.experiments)[n].baseline == "value"]
    env = pgexp.experiments(cfg.experiments)[names[0]].env_id
    paths = []  # the eval return first: the main figure (the index shows it)
    palette = colours(names)  # one colour per experiment in every figure
    cs = pgexp.step_curves(results, names, "Eval_AverageReturn")
    paths.append(pgexp.curves_figure(cs, out_dir / "figures" / "eval_return.png", ylabel="Eval_AverageReturn",
                                     title=f"{env}: eval return, 95% CI over {cfg.seeds} seeds", hlines={f"{cfg.threshold:g}": cfg.threshold},
                                     palette=palette))
    cs = pgexp.step_curves(results, with_baseline, "Baseline Loss")
    paths.append(pgexp.curves_figure(cs, out_dir / "figures" / "baseline_loss.png", ylabel="Baseline Loss (MSE, log scale)",
                                     title=f"{env}: value-baseline loss, 95% CI over {cfg.seeds} seeds", logy=True, palette=palette))
    fig, ax = plt.subplots()
    for n in names:
        for r in results:
            if r.spec.variant == n and r.spec.seed == cfg.first_seed:
                lg = r.log()
                ax.plot(lg.Train_EnvstepsSoFar, lg.Eval_AverageReturn, lw=1, label=n, color=palette[n])
    ax.set(xlabel="environment steps", ylabel="Eval_AverageReturn", title=f"one seed ({cfg.first_seed}) per experiment, unsmoothed")
    legend(ax)
    paths.append(save(fig, out_dir / "figures" / "eval_return_seed.png"))
    return [p for p in paths if p is not None]


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    return pgexp.table(runs, list(pgexp.experiments(cfg.experiments)), cfg.threshold, last=LAST)


#: Per-seed metrics claims may name (columns of :func:`lib.sections.pgexp.per_run`).
CLAIM_METRICS = {
    f"last {LAST} mean": f"the mean eval return over the last {LAST} iterations",
    "final": "the eval return of the last iteration",
    "final above threshold": "1 if the eval return of the last iteration is at or above the threshold, else 0",
    "final baseline loss": "the value baseline's loss at the last iteration",
}


def answers(cfg: Config, verdicts: list[Verdict]) -> str:
    """What a weaker baseline (fewer gradient steps, lower lr) and -na did, from the verdicts of the
    claims that compare another baselined experiment with ``cfg.baseline``."""
    exps = pgexp.experiments(cfg.experiments)
    base = exps[cfg.baseline]
    lines = []
    for name, c in exps.items():
        if name in (cfg.baseline, cfg.no_baseline):
            continue
        what = []
        if c.value_steps != base.value_steps:
            what.append(f"-bgs {c.value_steps} instead of {base.value_steps}")
        if c.value_lr != base.value_lr:
            what.append(f"-blr {c.value_lr:g} instead of {base.value_lr:g}")
        if c.normalize_advantages and not base.normalize_advantages:
            what.append("-na added")
        if c.bootstrap_truncated and not base.bootstrap_truncated:
            what.append("V(s_T) bootstrapped at the time limit, ours")
        said = [report_said(v)
                for v in verdicts if name in (v.versus, *v.seeds) and cfg.baseline in v.seeds]
        lines.append(f"- **{name}** ({', '.join(what) or 'same baseline'}): " + ("; ".join(said) or "no claim in params compares it") + ".")
    return "\n".join(lines)


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    """Counts and env steps only: a smoke run's HalfCheetah returns are noise that differs between machines."""
    return pgexp.regression_values(runs, 50.0, returns=False, steps=True, seeds=cfg.seeds)


def headline(runs: pd.DataFrame, cfg: Config) -> str:
    d = runs[runs.variant == cfg.baseline]
    nb = runs[runs.variant == cfg.no_baseline]
    return (f"Final eval return, {cfg.seeds} seeds: {cfg.baseline} {d.final.mean():.0f} "
            f"({int((d.final > cfg.threshold).sum())}/{len(d)} above {cfg.threshold:g}), {cfg.no_baseline} {nb.final.mean():.0f}.")


def analyse(results: list[RunResult], cfg: Config, out_dir: Path) -> SectionResult:
    """Per-run scores, the experiment table, the curves, the assignment's answers and the claims."""
    runs = per_run(results, cfg)
    verdicts = judge(decided_claims(cfg), runs, cfg.alpha)
    d = runs[runs.variant == cfg.baseline]
    finals = f"Final eval returns of {cfg.baseline}: {', '.join(f'{x:.0f}' for x in d.final)}."
    return SectionResult(table=table(runs, cfg), claims=[Claim.judged(v, finals if i == 0 else "") for i, v in enumerate(verdicts)],
                         numbers=numbers(runs, cfg),
                         figures=figures(results, cfg, out_dir) + [profile(
                             runs, f"last {LAST} mean", list(pgexp.experiments(cfg.experiments)), {}, out_dir / "figures" / "profile.png",
                             xlabel=f"eval return, mean of the last {LAST} iterations",
                             title=f"performance profile over seeds ({cfg.seeds} per experiment), 95% bootstrap band")],
                         regression=regression_values(runs, cfg), headline=headline(runs, cfg), text={"answers": answers(cfg, verdicts)})
