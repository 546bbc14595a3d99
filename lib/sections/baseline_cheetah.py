"""Section 06: the assignment's experiment 2: a neural value baseline on HalfCheetah-v4."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from ..config import spec
from ..data.envs import max_episode_steps
from ..publish.plots import colours
from ..publish.report import Claim, said as report_said
from ..verdicts import Verdict, claim_problems, decided_claims, judge
from ..learners.pg import PGConfig
from ..store.runs import RunResult, RunSpec
from . import pgexp
from .common import MUJOCO_STATISTICAL, labelled, log_frame
from .protocol import GridConfig, SectionResult, seed_range

SECTION = "06_baseline_cheetah"
TITLE = "A neural baseline for the policy gradient on HalfCheetah-v4"
REPRODUCES = MUJOCO_STATISTICAL
LAST = 5


#: --exp_name of the run without a baseline, and of the baselined run the claims are about.
NO_BASELINE, BASELINE = "cheetah", "cheetah_baseline"


@dataclass(frozen=True)
class Config(GridConfig):
    """Experiment 2's budgets (a profile sets these, its seeds and its workers; the experiments are
    :func:`variants`). The defaults are the default profile's: the assignment's commands."""

    env_id: str = spec("HalfCheetah-v4", doc="--env_name")
    iterations: int = spec(100, ge=1, doc="-n")
    batch: int = spec(5000, ge=1, doc="-b")
    eval_batch: int = spec(3000, ge=1, doc="-eb")
    ep_len: int | None = spec(None, ge=1, doc="--ep_len (null: the env's own time limit, 1000 steps)")
    only: tuple[str, ...] = spec((), doc="run only these experiments (empty: all of variants(); the smoke profile "
                                         "runs three)")
    threshold: float = spec(300.0, doc="eval return the baselined run should end above")

    def check(self) -> list[str]:
        names = list(variants(replace(self, only=())))
        errs = [f"key 'only': {n!r} is not an experiment; they are {', '.join(names)}" for n in self.only if n not in names]
        errs += [f"key 'only' must keep {n!r}: the claims and the page are about it" for n in (NO_BASELINE, BASELINE)
                 if self.only and n not in self.only]
        return errs + claim_problems(self.claims, list(variants(self)), list(CLAIM_METRICS), self.skip_claims)


def variants(cfg: Config) -> dict[str, PGConfig]:
    """The assignment's experiment 2 and our variant beside it, --exp_name -> config
    (:func:`lib.sections.pgexp.assignment_config`; the page shows each as its command): reward-to-go,
    discount 0.95, lr 0.01, without and with a value baseline (-blr 0.01, -bgs 5); the baseline made
    weaker (-bgs 1; -blr 0.001); with -na; and ours, ``--bootstrap_truncated``."""
    base = dict(n_iter=cfg.iterations, batch_size=cfg.batch, eval_batch_size=cfg.eval_batch, ep_len=cfg.ep_len,
                use_reward_to_go=True, discount=0.95, learning_rate=0.01)
    baselined = dict(base, use_baseline=True, baseline_learning_rate=0.01, baseline_gradient_steps=5)
    flags = {
        NO_BASELINE: base,
        BASELINE: baselined,
        "cheetah_baseline_bgs1": dict(baselined, baseline_gradient_steps=1),
        "cheetah_baseline_blr0.001": dict(baselined, baseline_learning_rate=0.001),
        "cheetah_baseline_na": dict(baselined, normalize_advantages=True),
        "cheetah_baseline_bootstrap": dict(baselined, bootstrap_truncated=True),  # ours: V(s_T) where the limit cut
    }
    return {name: pgexp.assignment_config(cfg.env_id, **f) for name, f in flags.items() if not cfg.only or name in cfg.only}


def specs(cfg: Config) -> list[RunSpec]:
    return pgexp.make_specs(SECTION, variants(cfg), seed_range(cfg))


def describe(cfg: Config) -> str:
    exps = variants(cfg)
    b = exps[BASELINE]
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
        + pgexp.starter_markdown(cfg.seeds, next(iter(variants(cfg).values())).env_id)
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

    d = runs[runs.variant == BASELINE]
    k, n = int((d.final >= cfg.threshold).sum()), len(d)
    if not n:
        return {}
    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    within = lambda p: 1 - (1 - p) ** runs_allowed  # noqa: E731
    return {"pass_within_3_runs": (
        f"{k} of {n} seeds of {BASELINE} end at or above {cfg.threshold:g}: a per-run chance of {k / n:.2f} "
        f"[{ci.low:.2f}, {ci.high:.2f}] (exact 95%), so {runs_allowed} runs pass at least once with chance "
        f"{within(k / n):.2f} [{within(ci.low):.2f}, {within(ci.high):.2f}]")}


def frames(results: list[RunResult], cfg: Config, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "logs", every logged iteration of every experiment (``variant``,
    ``seed``, the log columns, ``Baseline Loss`` among them for the value-baseline runs); "first_seed", the
    rows of seed ``first_seed``; "scores", the per-run rows for the performance profile."""
    names = {n: n for n in variants(cfg)}
    logs = log_frame(results, names)
    return {"logs": logs, "first_seed": logs[logs.seed == cfg.first_seed], "scores": labelled(runs, names, f"last {LAST} mean")}


def titles(cfg: Config) -> dict[str, str]:
    """Figure titles and axis labels, from the config."""
    env = next(iter(variants(cfg).values())).env_id
    return {"return": f"{env}: eval return, 95% CI over {cfg.seeds} seeds",
            "loss": f"{env}: value-baseline loss, 95% CI over {cfg.seeds} seeds",
            "first_seed": f"one seed ({cfg.first_seed}) per experiment, unsmoothed",
            "last": f"eval return, mean of the last {LAST} iterations",
            "profile": f"performance profile over seeds ({cfg.seeds} per experiment), 95% bootstrap band"}


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    return pgexp.table(runs, list(variants(cfg)), cfg.threshold, last=LAST)


#: Per-seed metrics claims may name (columns of :func:`lib.sections.pgexp.per_run`).
CLAIM_METRICS = {
    f"last {LAST} mean": f"the mean eval return over the last {LAST} iterations",
    "final": "the eval return of the last iteration",
    "final above threshold": "1 if the eval return of the last iteration is at or above the threshold, else 0",
    "final baseline loss": "the value baseline's loss at the last iteration",
}


def answers(cfg: Config, verdicts: list[Verdict]) -> str:
    """What a weaker baseline (fewer gradient steps, lower lr) and -na did, from the verdicts of the
    claims that compare another baselined experiment with ``BASELINE``."""
    exps = variants(cfg)
    base = exps[BASELINE]
    lines = []
    for name, c in exps.items():
        if name in (BASELINE, NO_BASELINE):
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
                for v in verdicts if name in (v.versus, *v.seeds) and BASELINE in v.seeds]
        lines.append(f"- **{name}** ({', '.join(what) or 'same baseline'}): " + ("; ".join(said) or "no claim in params compares it") + ".")
    return "\n".join(lines)


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    """Counts and env steps only: a smoke run's HalfCheetah returns are noise that differs between machines."""
    return pgexp.regression_values(runs, returns=False, steps=True, seeds=cfg.seeds)


def headline(runs: pd.DataFrame, cfg: Config) -> str:
    d = runs[runs.variant == BASELINE]
    nb = runs[runs.variant == NO_BASELINE]
    return (f"Final eval return, {cfg.seeds} seeds: {BASELINE} {d.final.mean():.0f} "
            f"({int((d.final > cfg.threshold).sum())}/{len(d)} above {cfg.threshold:g}), {NO_BASELINE} {nb.final.mean():.0f}.")


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """Per-run scores, the experiment table, the curves, the assignment's answers and the claims."""
    runs = per_run(results, cfg)
    verdicts = judge(decided_claims(cfg), runs, cfg.alpha)
    d = runs[runs.variant == BASELINE]
    finals = f"Final eval returns of {BASELINE}: {', '.join(f'{x:.0f}' for x in d.final)}."
    return SectionResult(table=table(runs, cfg), claims=[Claim.judged(v, finals if i == 0 else "") for i, v in enumerate(verdicts)],
                         numbers=numbers(runs, cfg),
                         frames=frames(results, cfg, runs), palette=colours(list(variants(cfg))), titles=titles(cfg),
                         marks={"return": {f"{cfg.threshold:g}": cfg.threshold}},
                         regression=regression_values(runs, cfg), headline=headline(runs, cfg), text={"answers": answers(cfg, verdicts)})
