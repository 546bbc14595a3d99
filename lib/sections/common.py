"""Analysis shared by the policy-gradient sections: per-run metrics, curves over seeds, tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..store.runs import RunResult
from .. import seeds
from .protocol import Reproducibility
from ..stats import first_crossing, mean_ci, relapse_share, sliding_window_mean
from ..publish import animate

if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered


#: The sections with discrete actions (CartPole, LunarLander).
BIT_FOR_BIT = Reproducibility(
    "bit for bit",
    "every episode, test score, table and verdict is the same on any x86-64 machine with the README's set-up. "
    "The actions are discrete, drawn from the policy's probabilities with the run's seeded generator; the last-bit "
    "differences (about 1e-7) that other CPU kernels make in float32 have not moved a single draw across a "
    "probability boundary. CI checks it: it runs every notebook again on another set of CPU kernels "
    "(ATEN_CPU_CAPABILITY=default), and the smoke results must match exactly. Only the logged losses can differ "
    "in their last digits.")

#: The policy-gradient sections on MuJoCo (continuous actions).
MUJOCO_STATISTICAL = Reproducibility(
    "statistically",
    "the policy's float32 arithmetic differs in its last bits between CPUs (BLAS and torch kernels), and MuJoCo's "
    "chaotic dynamics turn that into different episodes within a few iterations. So every run can differ on another "
    "machine, and with it the table and any verdict close to its threshold, within the spread over seeds that the "
    "tables show. Exact on any machine: the commands, the seeds and the budgets.")


def median_inf(x: pd.Series | Sequence[float | None]) -> float:
    """Median over seeds where a seed that never got there (None/NaN) counts as infinite."""
    v = pd.to_numeric(pd.Series(list(x)), errors="coerce").fillna(np.inf).to_numpy()
    return float(np.median(v)) if len(v) else float("nan")


def nanmean(x: pd.Series | Sequence[float | None]) -> float:
    """Mean ignoring missing values; NaN when nothing is left."""
    v = pd.to_numeric(pd.Series(list(x)), errors="coerce").to_numpy(dtype=float)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def run_metrics(r: RunResult, window: int, solved: float, converged: float, perfect: float, last: int) -> dict:
    """Convergence and stability of one run from its episode returns.

    episodes_to_solved / _to_converged: first episode (1-based) at which the ``window``-episode
    running mean reaches ``solved`` / ``converged`` (None if never); relapse_share: share of
    later episodes whose running mean is below ``solved`` again; std_after_solved: standard
    deviation of the returns from that point on; last_perfect_share: share of the last ``last``
    episodes whose return is ``perfect``.
    """
    ret = r.episodes()["return"].to_numpy()
    running = sliding_window_mean(ret, window)
    first = first_crossing(running, solved)
    conv = first_crossing(running, converged)
    return {
        "variant": r.spec.variant,
        "seed": r.spec.seed,
        "test_mean": r.summary["test_mean"],
        "test_std": r.summary["test_std"],
        "episodes_to_solved": None if first is None else first + 1,
        "episodes_to_converged": None if conv is None else conv + 1,
        "relapse_share": relapse_share(running, solved),
        "std_after_solved": None if first is None else float(ret[first:].std()),
        "std_all": float(ret.std()),
        "last_perfect_share": float((ret[-last:] >= perfect).mean()),
        "best_iteration": r.summary["best_iteration"],
        "env_steps": r.summary["env_steps"],
        "wall_time_s": r.summary["wall_time_s"],
    }


#: Per-seed metrics of a REINFORCE run that claims may name (columns of :func:`claim_columns`), with
#: what a run that never reaches the level counts as.
CLAIM_METRICS = {
    "test_mean": "mean return of the test episodes of the kept checkpoint",
    "last_perfect_share": "share of the last episodes of training at the maximum return",
    "relapse (never solved = 1)": "share of episodes after the running mean first reached 'solved' in which it was below "
                                  "it again; a run that never got there counts as 1",
    "std after solved (never = whole run)": "standard deviation of the training returns from the first 'solved' on; a run "
                                            "that never got there: of all its returns",
    "episodes to converged (never = budget)": "episodes until the running mean first reaches the 'converged' level; a run "
                                              "that never does counts as the whole budget",
}


def claim_columns(runs: pd.DataFrame, budget: float) -> pd.DataFrame:
    """``runs`` (rows of :func:`run_metrics`) with the filled metrics of :data:`CLAIM_METRICS`;
    ``budget``: the training episodes, for runs that never converge."""
    out = runs.copy()
    out["relapse (never solved = 1)"] = pd.to_numeric(runs.relapse_share, errors="coerce").fillna(1.0)
    out["std after solved (never = whole run)"] = pd.to_numeric(runs.std_after_solved, errors="coerce").fillna(runs.std_all)
    out["episodes to converged (never = budget)"] = pd.to_numeric(runs.episodes_to_converged, errors="coerce").fillna(budget)
    return out


#: The columns of :func:`episode_frame`.
EPISODE, RUNNING = "training episode", "running-mean return"


def episode_frame(results: list[RunResult], labels: Mapping[str, str], window: int) -> pd.DataFrame:
    """One row per training episode of every run of the variants in ``labels`` (name -> label, in
    order): ``variant`` (its label), ``seed``, ``training episode`` (1-based), ``running-mean return``
    (the ``window``-episode running mean of training return). :func:`lib.publish.plots.curves` draws it
    with ``points=None``."""
    frames = []
    for name, label in labels.items():
        for r in results:
            if r.spec.variant == name:
                y = sliding_window_mean(r.episodes()["return"].to_numpy(), window)
                frames.append(pd.DataFrame({"variant": label, "seed": r.spec.seed, EPISODE: np.arange(1, len(y) + 1),
                                            RUNNING: y}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variant", "seed", EPISODE, RUNNING])


def log_frame(results: list[RunResult], labels: Mapping[str, str]) -> pd.DataFrame:
    """Every logged row (one per iteration) of every run of the variants in ``labels`` (name -> label,
    in order): ``variant`` (its label), ``seed``, then the learner's log columns."""
    frames = [r.log().assign(variant=label, seed=r.spec.seed) for name, label in labels.items()
              for r in results if r.spec.variant == name]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variant", "seed"])
    return table[["variant", "seed", *[c for c in table.columns if c not in ("variant", "seed")]]]


def labelled(runs: pd.DataFrame, labels: Mapping[str, str], score: str) -> pd.DataFrame:
    """The per-run rows of the variants in ``labels`` (name -> label), in that order, with ``variant``
    replaced by its label and a ``score`` column (a copy of the column ``score``, the section's
    per-seed score): the data of a performance profile (:func:`lib.publish.plots.profile`)."""
    rows = [runs[runs.variant == name].assign(variant=label, score=runs[score]) for name, label in labels.items()]
    return pd.concat(rows, ignore_index=True) if rows else runs.iloc[:0].assign(score=[])


def test_ci(d: pd.DataFrame) -> tuple[float, float, float]:
    """Mean over seeds of the per-run test mean, with its 95% percentile-bootstrap interval over seeds."""
    m, lo, hi = mean_ci(d.test_mean.to_numpy())
    return float(m), float(lo), float(hi)


def animate_run(r: RunResult, acfg: "AnimationConfig", caption: str) -> "Rendered":
    """The animation of one run's stored policy (policy-gradient or behaviour-cloning run), acting as
    its test does, on the seeds table's ``animation`` seed of the run, in the run's own environment
    (with its action noise)."""

    cfg, seed = r.spec.config, seeds.seed("animation", r.spec.seed)
    if r.spec.trainer == "lib.learners.imitation:train":
        mode = {"gaussian": "mean", "mse": "deterministic", "mog": "heaviest-component mean", "mog_mse": "mixture mean",
                "diffusion": "deterministic DDIM" if cfg.head.sampler == "ddim" else "sampled"}[cfg.head.head]
        make = lambda: animate.bc_actor(r.path, cfg, seed)  # noqa: E731
        noise = 0.0
    else:
        mode = animate.pg_mode(cfg)
        make = lambda: animate.pg_actor(r.path, cfg, seed)  # noqa: E731
        noise = float(getattr(cfg, "action_noise_prob", 0.0))
    kwargs = {"max_episode_steps": cfg.max_episode_steps} if getattr(cfg, "max_episode_steps", None) else {}
    text = caption + (f" (actions replaced by uniform ones with probability {noise:g}, as in training)" if noise else "")
    return animate.animate(r.path / "agent.pt", make, cfg.env_id, seed, text, acfg, mode, kwargs, noise)
