"""Section 05: the assignment's experiment 1: reward-to-go, advantage normalisation and batch size on CartPole-v0."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..config import spec
from ..publish.plots import colours
from ..publish.report import Claim, said
from ..verdicts import Verdict, claim_problems, decided_claims, judge
from ..learners.pg import PGConfig
from ..store.runs import RunResult, RunSpec
from . import pgexp
from .common import BIT_FOR_BIT, labelled, log_frame
from .protocol import GridConfig, SectionResult, seed_range

SECTION = "05_estimators"
TITLE = "Policy-gradient estimators on CartPole-v0: reward-to-go, normalisation, batch size"
REPRODUCES = BIT_FOR_BIT
LAST = 10


@dataclass(frozen=True)
class Config(GridConfig):
    """Experiment 1's budgets (a profile sets these, its seeds and its workers; the eight variants are
    :func:`variants`). The defaults are the default profile's: the assignment's commands."""

    env_id: str = spec("CartPole-v0", doc="--env_name")
    iterations: int = spec(100, ge=1, doc="-n of every command")
    small_batch: int = spec(1000, ge=1, doc="-b of the four small-batch commands")
    large_batch: int = spec(4000, ge=1, doc="-b of the four large-batch commands (--exp_name ..._lb...)")
    eval_batch: int = spec(400, ge=1, doc="-eb of every command (the starter code's default: 400)")
    threshold: float = spec(200.0, gt=0, doc="the maximum return of CartPole-v0")

    def check(self) -> list[str]:
        return claim_problems(self.claims, list(variants(self)), list(CLAIM_METRICS), self.skip_claims)


def variants(cfg: Config) -> dict[str, PGConfig]:
    """The assignment's eight commands of experiment 1, in its order: without and with reward-to-go
    (``-rtg``) and advantage normalisation (``-na``), at the small and the large batch; --exp_name ->
    config (:func:`lib.sections.pgexp.assignment_config`; the page shows each as its command)."""
    out = {}
    for size, batch in (("", cfg.small_batch), ("_lb", cfg.large_batch)):
        for rtg, na in ((False, False), (True, False), (False, True), (True, True)):
            name = f"cartpole{size}" + ("_rtg" if rtg else "") + ("_na" if na else "")
            out[name] = pgexp.assignment_config(cfg.env_id, n_iter=cfg.iterations, batch_size=batch,
                                                eval_batch_size=cfg.eval_batch, use_reward_to_go=rtg,
                                                normalize_advantages=na)
    return out


def specs(cfg: Config) -> list[RunSpec]:
    return pgexp.make_specs(SECTION, variants(cfg), seed_range(cfg))


def describe(cfg: Config) -> str:
    exps = variants(cfg)
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
        + pgexp.starter_markdown(cfg.seeds, variants(cfg)["cartpole"].env_id) +
        f"- **Seeds**: {cfg.seeds} per experiment; bands and intervals are 95% percentile-bootstrap intervals over seeds; the x-axis is "
        f"`Train_EnvstepsSoFar`.\n\n" + pgexp.commands_markdown(exps, seed_range(cfg))
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    return pgexp.per_run(results, cfg.threshold, last=LAST)


def frames(results: list[RunResult], cfg: Config, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: every logged iteration of the small-batch experiments
    ("small") and of the large-batch ones ("large"), with ``variant``, ``seed`` and the log columns; "scores",
    the per-run rows for the performance profile."""
    names = list(variants(cfg))
    logs = log_frame(results, {n: n for n in names})
    return {"small": logs[~logs.variant.str.contains("_lb")], "large": logs[logs.variant.str.contains("_lb")],
            "scores": labelled(runs, {n: n for n in names}, f"last {LAST} mean")}


def titles(cfg: Config) -> dict[str, str]:
    """Figure titles and axis labels, from the config."""
    b_small, b_large = batch_sizes(cfg)
    env = variants(cfg)["cartpole"].env_id
    return {"small": f"{env}, small batch (-b {b_small}): mean over {cfg.seeds} seeds, 95% CI",
            "large": f"{env}, large batch (-b {b_large}): mean over {cfg.seeds} seeds, 95% CI",
            "last": f"eval return, mean of the last {LAST} iterations",
            "profile": f"performance profile over seeds ({cfg.seeds} per experiment), 95% bootstrap band"}


def batch_sizes(cfg: Config) -> tuple[int, int]:
    """(-b of the small-batch experiments, -b of the large-batch ones)."""
    return cfg.small_batch, cfg.large_batch


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    return pgexp.table(runs, list(variants(cfg)), cfg.threshold, last=LAST)


#: Per-seed metrics claims may name (columns of :func:`lib.sections.pgexp.per_run`).
CLAIM_METRICS = {
    "mean over training": "the mean eval return over all iterations (the area under the eval curve)",
    f"last {LAST} mean": f"the mean eval return over the last {LAST} iterations",
    "best": "the best eval return of the run",
    "steps to threshold (never = budget)": "environment steps until the first evaluation at the threshold; a run that never "
                                           "got there counts as all the steps it made",
    "reached": "1 if an evaluation reached the threshold, else 0",
}


def _said(verdicts: dict[str, "Verdict"], *ids: str) -> str:
    """The verdicts of ``ids`` in a sentence each (:func:`lib.publish.report.said`)."""
    out = [said(verdicts[i]) for i in ids if i in verdicts]
    return "; ".join(out) if out else "no claim in params decides it"


def answers(runs: pd.DataFrame, cfg: Config, verdicts: dict[str, "Verdict"]) -> str:
    """The assignment's four questions, answered by the section's verdicts (rules in params/claims)."""
    b_small, b_large = batch_sizes(cfg)
    steps = runs.groupby(runs.variant.str.contains("_lb"))["steps to threshold"].median()
    capped = int((runs.best >= cfg.threshold).sum())
    return (
        f"1. **Trajectory return or reward-to-go, without normalisation?** "
        f"{_said(verdicts, 'rtg_helps_small', 'rtg_helps_large')}.\n"
        f"2. **Why is one preferred?** Reward-to-go drops the rewards earned before an action, which that action "
        f"cannot have caused: the estimate keeps its expectation and loses the variance those rewards add, so "
        f"the same batch gives a less noisy gradient. The comparison above is the measured effect on CartPole.\n"
        f"3. **Did advantage normalisation help?** "
        f"{_said(verdicts, 'na_helps_small', 'na_helps_small_rtg', 'na_helps_large', 'na_helps_large_rtg')}.\n"
        f"4. **Did the batch size matter?** Per iteration, -b {b_large} sees {b_large / b_small:.3g} times the data "
        f"of -b {b_small}. The best eval return cannot tell them apart: it tops out at {cfg.threshold:g}, CartPole-v0's "
        f"cap, in {capped} of the {len(runs)} runs. What the batch changes is the cost of getting there, in "
        f"environment steps to the first evaluation at {cfg.threshold:g} (a run that never got there counts all its "
        f"steps): {_said(verdicts, 'large_batch', 'large_batch_rtg', 'large_batch_na', 'large_batch_rtg_na')}. "
        f"Median over the runs that got there: small batches {steps.get(False, float('nan')):,.0f}, large batches "
        f"{steps.get(True, float('nan')):,.0f}."
    )


def claim_table(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with the filled per-seed metrics of :data:`CLAIM_METRICS`."""
    steps = pd.to_numeric(runs["steps to threshold"], errors="coerce")
    return runs.assign(reached=runs.reached.astype(float),
                       **{"steps to threshold (never = budget)": steps.fillna(runs["env steps"].astype(float))})


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    return pgexp.regression_values(runs, seeds=cfg.seeds)


def headline(tab: pd.DataFrame, cfg: Config) -> str:
    col = f"seeds reaching {cfg.threshold:g}"
    best = tab.sort_values(f"eval return, last {LAST} iterations", ascending=False).iloc[0]
    return (f"Best: {best['experiment']} ({best[f'eval return, last {LAST} iterations']:.1f} over the last {LAST} iterations, "
            f"{best[col]} seeds reach {cfg.threshold:g}); {cfg.seeds} seeds per experiment.")


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """Per-run scores, the experiment table, the curves, the assignment's answers and the claims."""
    runs = per_run(results, cfg)
    tab = table(runs, cfg)
    verdicts = judge(decided_claims(cfg), claim_table(runs), cfg.alpha)
    return SectionResult(table=tab, claims=[Claim.judged(v) for v in verdicts],
                         frames=frames(results, cfg, runs), palette=colours(list(variants(cfg))), titles=titles(cfg),
                         marks={"return": {f"maximum ({cfg.threshold:g})": cfg.threshold}},
                         regression=regression_values(runs, cfg), headline=headline(tab, cfg),
                         text={"answers": answers(runs, cfg, {v.id: v for v in verdicts})})
