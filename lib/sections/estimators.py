"""Section 05: the assignment's experiment 1: reward-to-go, advantage normalisation and batch size on CartPole-v0."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..config import spec
from ..publish.report import Claim, verdict_word
from ..store.runs import RunResult, RunSpec
from . import pgexp
from .common import BIT_FOR_BIT
from .protocol import GridConfig, SectionResult, seed_range

SECTION = "05_estimators"
TITLE = "Policy-gradient estimators on CartPole-v0: reward-to-go, normalisation, batch size"
REPRODUCES = BIT_FOR_BIT
LAST = 10


@dataclass(frozen=True)
class Config(GridConfig):
    """The eight commands of experiment 1 and the seeds they run with."""

    experiments: tuple[str, ...] = spec(())
    threshold: float = spec(200.0, gt=0, doc="the maximum return of CartPole-v0")

    def check(self) -> list[str]:
        errs = pgexp.check_commands(self.experiments)
        if not errs:
            names = set(pgexp.experiments(self.experiments))
            need = {"cartpole", "cartpole_rtg", "cartpole_na", "cartpole_rtg_na"}
            need |= {n.replace("cartpole", "cartpole_lb") for n in need}
            if not need <= names:
                errs.append(f"key 'experiments' must include the eight --exp_name of experiment 1: {', '.join(sorted(need))}")
        return errs



def specs(cfg: Config) -> list[RunSpec]:
    return pgexp.make_specs(SECTION, pgexp.experiments(cfg.experiments), seed_range(cfg))


def describe(cfg: Config) -> str:
    exps = pgexp.experiments(cfg.experiments)
    c = exps["cartpole"]
    return (
        f"- **Learner**: the workbook's one policy-gradient learner with the assignment's settings: Adam "
        f"(AdamW, no weight decay) lr {c.lr:g}, MLP {list(c.hidden)}, discount {c.gamma:g}, "
        f"{c.iterations} iterations; a batch is complete episodes holding at least `-b` steps; after every "
        f"iteration an evaluation plays complete episodes holding at least `-eb` = {c.eval_steps} steps with "
        f"actions sampled from the policy (`Eval_AverageReturn`).\n"
        f"- **Estimators**: without `-rtg` every action is weighted by the discounted return of its whole "
        f"trajectory (the assignment's case 1); with `-rtg` by the reward-to-go (case 2). `-na` normalises the "
        f"advantages of a batch to mean 0 and standard deviation 1.\n"
        f"- **Seeds**: {cfg.seeds} per experiment; bands are Student-t 95% intervals over seeds; the x-axis is "
        f"`Train_EnvstepsSoFar`.\n\n" + pgexp.commands_markdown(exps, seed_range(cfg))
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    return pgexp.per_run(results, cfg.threshold, last=LAST)


def figures(results: list[RunResult], cfg: Config, out_dir: Path) -> list[Path]:
    names = list(pgexp.experiments(cfg.experiments))
    small = [n for n in names if "_lb" not in n]
    large = [n for n in names if "_lb" in n]
    b_small, b_large = batch_sizes(cfg)
    paths = []
    for group, title, fname in ((small, f"small batch (-b {b_small})", "small_batch.png"),
                                (large, f"large batch (-b {b_large})", "large_batch.png")):
        cs = pgexp.step_curves(results, group, "Eval_AverageReturn")
        paths.append(pgexp.curves_figure(cs, out_dir / "figures" / fname, ylabel="Eval_AverageReturn",
                                         title=f"{pgexp.experiments(cfg.experiments)['cartpole'].env_id}, {title}: mean over {cfg.seeds} seeds, 95% CI",
                                         hlines={f"maximum ({cfg.threshold:g})": cfg.threshold}))
    plt.close("all")
    return [p for p in paths if p is not None]


def batch_sizes(cfg: Config) -> tuple[int, int]:
    """(-b of the small-batch experiments, -b of the large-batch ones), read from their commands."""
    exps = pgexp.experiments(cfg.experiments)
    return int(exps["cartpole"].batch_steps or 0), int(exps["cartpole_lb"].batch_steps or 0)


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    return pgexp.table(runs, list(pgexp.experiments(cfg.experiments)), cfg.threshold, last=LAST)


def answers(runs: pd.DataFrame, cfg: Config) -> str:
    """The assignment's four questions, answered from the runs (area under the eval curve = its mean over training)."""
    col = "mean over training"
    lines = []
    for pre, size in (("cartpole", "small batch"), ("cartpole_lb", "large batch")):
        ma, mb, p = pgexp.compare(runs, f"{pre}_rtg", pre, col)
        lines.append(pgexp.verdict_text("reward-to-go", "trajectory return", ma, mb, p, f"{size}, no normalisation"))
    q1 = "; ".join(lines)
    lines = []
    for pre, size in (("cartpole", "small"), ("cartpole_lb", "large")):
        for rtg in ("", "_rtg"):
            ma, mb, p = pgexp.compare(runs, f"{pre}{rtg}_na", f"{pre}{rtg}", col)
            lines.append(pgexp.verdict_text("with -na", "without", ma, mb, p, f"{size} batch{', rtg' if rtg else ''}"))
    q3 = "; ".join(lines)
    lines = []
    b_small, b_large = batch_sizes(cfg)
    for suffix in ("", "_rtg", "_na", "_rtg_na"):
        ma, mb, p = pgexp.compare(runs, f"cartpole_lb{suffix}", f"cartpole{suffix}", "best")
        lines.append(pgexp.verdict_text(f"-b {b_large}", f"-b {b_small}", ma, mb, p, f"best eval return{', ' + suffix[1:].replace('_', ' + ') if suffix else ''}"))
    steps = runs.groupby(runs.variant.str.contains("_lb"))["steps to threshold"].median()
    q4 = "; ".join(lines) + (
        f". Environment steps to the first evaluation at {cfg.threshold:g} (median over the runs that got there): "
        f"small batches {steps.get(False, float('nan')):.0f}, large batches {steps.get(True, float('nan')):.0f}."
    )
    return (
        f"1. **Trajectory return or reward-to-go, without normalisation?** Mean eval return over training: {q1}.\n"
        f"2. **Why is one preferred?** Reward-to-go drops the rewards earned before an action, which that action "
        f"cannot have caused: the estimate keeps its expectation and loses the variance those rewards add, so "
        f"the same batch gives a less noisy gradient. The comparison above is the measured effect on CartPole.\n"
        f"3. **Did advantage normalisation help?** Mean eval return over training: {q3}.\n"
        f"4. **Did the batch size matter?** Per iteration, -b {b_large} sees {b_large / b_small:.3g} times the data "
        f"of -b {b_small}: {q4}"
    )


def claims(runs: pd.DataFrame, cfg: Config) -> list[Claim]:
    out = []
    for large, size in ((False, "small"), (True, "large")):
        d = runs[runs.variant.str.contains("_lb") == large]
        best = d.groupby("variant")[f"last {LAST} mean"].mean().idxmax()
        b = d[d.variant == best]
        out.append(Claim(
            f"The best configuration reaches {cfg.threshold:g} with the {size} batch in most seeds",
            verdict_word(bool(b.reached.sum() * 2 > len(b))),
            f"Rule: the experiment with the best mean eval return over its last {LAST} iterations ({best}) has an "
            f"evaluation at {cfg.threshold:g} in more than half of its seeds: {int(b.reached.sum())}/{len(b)}.",
        ))
    return out


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    return pgexp.regression_values(runs, 10.0, seeds=cfg.seeds)


def headline(tab: pd.DataFrame, cfg: Config) -> str:
    col = f"seeds reaching {cfg.threshold:g}"
    best = tab.sort_values(f"eval return, last {LAST} iterations", ascending=False).iloc[0]
    return (f"Best: {best['experiment']} ({best[f'eval return, last {LAST} iterations']:.1f} over the last {LAST} iterations, "
            f"{best[col]} seeds reach {cfg.threshold:g}); {cfg.seeds} seeds per experiment.")


def analyse(results: list[RunResult], cfg: Config, out_dir: Path) -> SectionResult:
    """Per-run scores, the experiment table, the curves, the assignment's answers and the claims."""
    runs = per_run(results, cfg)
    tab = table(runs, cfg)
    return SectionResult(table=tab, claims=claims(runs, cfg), figures=figures(results, cfg, out_dir),
                         regression=regression_values(runs, cfg), headline=headline(tab, cfg),
                         text={"answers": answers(runs, cfg)})
