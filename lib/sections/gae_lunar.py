"""Section 07: the assignment's experiment 3: a GAE lambda sweep on LunarLander (as the starter code makes it)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd

from ..config import spec
from ..data.envs import resolve_env_id
from ..learners.pg import PGConfig
from ..publish.plots import colours
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from . import pgexp
from .common import BIT_FOR_BIT, animate_run, labelled, log_frame
from .protocol import GridConfig, SectionResult, seed_range

if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered

SECTION = "07_gae_lunar"
TITLE = "GAE on LunarLander: the lambda sweep"
REPRODUCES = BIT_FOR_BIT
LAST = 10


#: Our variant beside the sweep: our previous protocol at lambda 0.98 (10% uniformly random actions, our
#: noise model, and V(s_T) bootstrapped where the time limit cut an episode).
OURS = "lunar_lander_lambda0.98_noise_bootstrap"


@dataclass(frozen=True)
class Config(GridConfig):
    """Experiment 3's budgets and lambdas (a profile sets these, its seeds and its workers; the experiments are
    :func:`variants`). The defaults are the default profile's: the assignment's command."""

    env_id: str = spec("LunarLander-v2", doc="--env_name")
    iterations: int = spec(200, ge=1, doc="-n")
    batch: int = spec(2000, ge=1, doc="-b")
    eval_batch: int = spec(2000, ge=1, doc="-eb")
    ep_len: int = spec(1000, ge=1, doc="--ep_len")
    layer_size: int = spec(128, ge=1, doc="-s (the assignment: 3 layers of 128)")
    lambdas: tuple[float, ...] = spec((0.0, 0.95, 0.98, 0.99, 1.0), doc="--gae_lambda of the sweep")
    ours: bool = spec(True, doc=f"run our variant {OURS} beside the sweep")
    threshold: float = spec(150.0, doc="eval return the best lambda should reach at least once")

    def check(self) -> list[str]:
        errs = []
        if any(not 0 <= x <= 1 for x in self.lambdas) or len(set(self.lambdas)) != len(self.lambdas):
            errs.append("key 'lambdas' must hold distinct values in [0, 1]")
        return errs + claim_problems(self.claims, list(variants(self)) if not errs else [], list(CLAIM_METRICS),
                                     self.skip_claims)


def exp_name(lam: float) -> str:
    return f"lunar_lander_lambda{lam:g}"


def variants(cfg: Config) -> dict[str, PGConfig]:
    """The assignment's experiment 3 (one command per lambda: reward-to-go, value baseline, GAE; discount
    0.99, lr 0.001, 3 layers) and, with ``cfg.ours``, our variant :data:`OURS`; --exp_name -> config
    (:func:`lib.sections.pgexp.assignment_config`; the page shows each as its command)."""
    flags = dict(ep_len=cfg.ep_len, discount=0.99, n_iter=cfg.iterations, batch_size=cfg.batch,
                 eval_batch_size=cfg.eval_batch, n_layers=3, layer_size=cfg.layer_size, learning_rate=0.001,
                 use_reward_to_go=True, use_baseline=True)
    base = pgexp.assignment_config(cfg.env_id, **flags)
    out = {exp_name(lam): replace(base, gae_lambda=lam) for lam in cfg.lambdas}
    if cfg.ours:
        out[OURS] = pgexp.assignment_config(cfg.env_id, **flags, gae_lambda=0.98, action_noise_prob=0.1,
                                            bootstrap_truncated=True)
    return out





def specs(cfg: Config) -> list[RunSpec]:
    return pgexp.make_specs(SECTION, variants(cfg), seed_range(cfg))


def labels(cfg: Config) -> dict[str, str]:
    """exp_name -> its label: the sweep by lambda, our variants by their --exp_name."""
    return {**{exp_name(lam): f"lambda = {lam:g}" for lam in cfg.lambdas}, **({OURS: f"{OURS} (ours)"} if cfg.ours else {})}


def _noise(c: PGConfig) -> str:
    return f"each action replaced with probability {c.action_noise_prob:g} by a uniformly random one"


def describe(cfg: Config) -> str:
    exps = variants(cfg)
    c = exps[exp_name(cfg.lambdas[0])]
    ours = {n: c for n, c in exps.items() if n == OURS}
    ours_text = "".join(
        f" **Ours**, beside the sweep: `{n}`"
        + (f", {_noise(o)} (our noise model: the agent learns from the action it chose; the noise has its own random "
           f"stream)" if o.action_noise_prob else "")
        + (", V(s_T) bootstrapped where the time limit cut an episode (`--bootstrap_truncated`)" if o.bootstrap_truncated else "")
        + "." for n, o in ours.items())
    return (
        f"- **Environment**: `{c.env_id}` (gymnasium 1.x: `{resolve_env_id(c.env_id)}`, discrete actions), episodes cut at "
        f"{c.max_episode_steps} steps, **made as the starter code makes it** (`gym.make(env_name)`, no wrapper): the "
        f"assignment's \"noisy actions\" are LunarLander's own, its engines' random dispersion"
        + (f"; the sweep adds {_noise(c)}" if c.action_noise_prob else "") + "." + ours_text + "\n"
        f"- **Learner**: categorical MLP {list(c.hidden)}, Adam lr {c.lr:g}, discount {c.gamma:g}, reward-to-go, value "
        f"baseline (lr {c.value_lr:g}, {c.value_steps} steps per iteration), {c.iterations} iterations of >= "
        f"{c.batch_steps} steps, evaluation of >= {c.eval_steps} steps per iteration.\n"
        f"- **GAE**: A_t = sum_k (gamma lambda)^k delta_(t+k), delta_t = r_t + gamma V(s_(t+1)) - V(s_t), computed "
        f"backwards; V after a terminal state is 0, and "
        + ("where the time limit cut an episode the value of the state reached is bootstrapped.\n" if c.bootstrap_truncated
           else f"as in the starter code, an episode the {c.max_episode_steps}-step limit cut is treated as ended too (pure "
                f"Monte-Carlo returns).\n")
        + pgexp.starter_markdown(cfg.seeds, next(iter(variants(cfg).values())).env_id)
        + f"- **Seeds**: {cfg.seeds} per lambda; bands and intervals are 95% percentile-bootstrap intervals over seeds.\n\n"
        + pgexp.commands_markdown(exps, seed_range(cfg))
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    return pgexp.per_run(results, cfg.threshold, last=LAST)


def frames(results: list[RunResult], cfg: Config, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "logs", every logged iteration of every run, ``variant`` its
    label ("lambda = 0.95"); "scores", the per-run rows, labelled, for the performance profile."""
    return {"logs": log_frame(results, labels(cfg)), "scores": labelled(runs, labels(cfg), f"last {LAST} mean")}


def titles(cfg: Config) -> dict[str, str]:
    """Figure titles and axis labels, from the config."""
    return {"return": f"{next(iter(variants(cfg).values())).env_id}: GAE lambda sweep, 95% CI over {cfg.seeds} seeds",
            "last": f"eval return, mean of the last {LAST} iterations",
            "profile": f"performance profile over seeds ({cfg.seeds} per lambda), 95% bootstrap band"}


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    t = pgexp.table(runs, list(variants(cfg)), cfg.threshold, last=LAST)
    t.insert(1, "lambda", [c.gae_lambda for c in variants(cfg).values()])
    return t


def answers(runs: pd.DataFrame, cfg: Config) -> str:
    means = {lam: float(runs[runs.variant == exp_name(lam)][f"last {LAST} mean"].mean()) for lam in cfg.lambdas}
    order = sorted(means, key=means.get, reverse=True)
    lo, hi = min(cfg.lambdas), max(cfg.lambdas)
    text = (
        "**How lambda affected performance.** Mean eval return over the last "
        f"{LAST} iterations, best first: " + ", ".join(f"lambda = {lam:g}: {means[lam]:.1f}" for lam in order) + ".\n\n"
    )
    if lo == 0.0 and hi == 1.0:
        text += (
            f"**lambda = 0** makes the advantage the one-step TD residual r_t + gamma V(s_(t+1)) - V(s_t): the least "
            f"variance, but all the bias of the learned V. **lambda = 1** makes it the reward-to-go minus V(s_t), the "
            f"Monte Carlo estimate: no bias from V beyond its role as a baseline, but the full variance of a "
            f"{next(iter(variants(cfg).values())).max_episode_steps}-step return. Here lambda = 0 reached "
            f"{means[0.0]:.1f} and lambda = 1 reached {means[1.0]:.1f}; the best was lambda = {order[0]:g} ({means[order[0]]:.1f})."
        )
    for n, o in {n: c for n, c in variants(cfg).items() if n == OURS}.items():
        same = exp_name(o.gae_lambda) if o.gae_lambda in cfg.lambdas else None
        mine = float(runs[runs.variant == n][f"last {LAST} mean"].mean())
        if same is not None:
            text += (f"\n\n**Ours beside it.** `{n}` (the sweep's lambda = {o.gae_lambda:g} with our changes) ended at "
                     f"{mine:.1f} against {means[o.gae_lambda]:.1f} on the starter's protocol ({cfg.seeds} seeds each).")
    return text


#: Per-seed metrics claims may name (columns of :func:`lib.sections.pgexp.per_run`).
CLAIM_METRICS = {
    f"last {LAST} mean": f"the mean eval return over the last {LAST} iterations",
    "reached": "1 if an evaluation reached the threshold, else 0",
}


def claims(runs: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims, decided by the rules in params (:func:`lib.verdicts.judge`, Holm across them)."""
    reach = {lam: int(runs[runs.variant == exp_name(lam)].reached.sum()) for lam in cfg.lambdas}
    n = {lam: int((runs.variant == exp_name(lam)).sum()) for lam in cfg.lambdas}
    said = (f"Seeds with an evaluation at or above {cfg.threshold:g}, per lambda: "
            + ", ".join(f"{lam:g}: {reach[lam]}/{n[lam]}" for lam in cfg.lambdas) + ".")
    verdicts = judge(decided_claims(cfg), runs.assign(reached=runs.reached.astype(float)), cfg.alpha)
    return [Claim.judged(v, said if i == 0 else "") for i, v in enumerate(verdicts)]


def numbers(runs: pd.DataFrame, cfg: Config) -> dict[str, str]:
    """Beside the assignment's "the best run should reach 150 at least once": how many seeds of each
    experiment had an evaluation at or above the threshold."""
    names = labels(cfg)
    return {"reached_150_by_lambda": f"seeds with an evaluation at or above {cfg.threshold:g}: " + ", ".join(
        f"{names[v]} {int(runs[runs.variant == v].reached.sum())} of {int((runs.variant == v).sum())}" for v in names)}


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    return pgexp.regression_values(runs, lambdas=list(cfg.lambdas))


def headline(runs: pd.DataFrame, cfg: Config) -> str:
    means = {lam: float(runs[runs.variant == exp_name(lam)][f"last {LAST} mean"].mean()) for lam in cfg.lambdas}
    best = max(means, key=means.get)
    return (f"Best lambda {best:g}: eval return {means[best]:.0f} over the last {LAST} iterations; "
            + ", ".join(f"{lam:g}: {means[lam]:.0f}" for lam in cfg.lambdas) + f" ({cfg.seeds} seeds).")


def animations(results: list[RunResult], result: SectionResult, cfg: Config, acfg: "AnimationConfig") -> list["Rendered"]:
    """The best lambda's policy at work (best mean eval return over the last iterations; its first seed)."""
    if not acfg.enabled:
        return []
    best = result.per_run.groupby("variant")[f"last {LAST} mean"].mean().idxmax()
    r = next(r for r in results if r.spec.variant == best)
    lam = r.spec.config.gae_lambda
    return [animate_run(r, acfg, f"the best lambda ({lam:g}), training seed {r.spec.seed}, kept checkpoint")]


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """Per-run scores, the lambda table, the curves, the assignment's answers and the claims."""
    runs = per_run(results, cfg)
    return SectionResult(table=table(runs, cfg), per_run=runs, claims=claims(runs, cfg), numbers=numbers(runs, cfg),
                         frames=frames(results, cfg, runs), palette=colours(list(labels(cfg).values())), titles=titles(cfg),
                         marks={"return": {f"{cfg.threshold:g}": cfg.threshold}},
                         regression=regression_values(runs, cfg),
                         headline=headline(runs, cfg), text={"answers": answers(runs, cfg)})
