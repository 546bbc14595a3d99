"""Shared by the assignment sections (05-08): experiments given as the assignment's own commands,
curves against environment steps, and per-experiment statistics.

An experiment is a command line of the assignment (``--env_name ... --exp_name ...``), parsed
by :mod:`lib.assignment` into the learner's config, so the parameter files hold exactly the
commands a reader would type, and the notebooks print them as the runs' "exact command lines".
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..assignment import command_for, config_from_args, parser
from ..config import ConfigError
from ..learners.pg import PGConfig
from ..store.runs import RunResult, RunSpec
from ..stats import mean_ci
from ..data.envs import RENAMED_IDS, spaces


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def parse_command(command: str, where: str) -> tuple[str, PGConfig]:
    """(exp_name, config) of one assignment command; ConfigError naming ``where`` if it is wrong."""
    p = parser()
    p.__class__ = _RaisingParser
    try:
        args = p.parse_args(shlex.split(command))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc} (in {command!r})") from None
    if "--seed" in shlex.split(command):
        raise ConfigError(f"{where}: leave --seed out; the section's 'seeds' sets them (in {command!r})")
    try:
        return args.exp_name, config_from_args(args)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc} (in {command!r})") from None


def assignment_config(env_name: str, **flags: Any) -> PGConfig:
    """The config the assignment's command line gives for ``flags`` (its option names as the starter code's
    argparse stores them: ``n_iter``, ``batch_size``, ``eval_batch_size``, ``use_reward_to_go``, ...; a switch
    is on when True), the starter code's defaults for every other flag. The flags are written out as a
    command and parsed (:func:`parse_command`), so they are checked exactly as on the command line."""
    options = {a.dest: a for a in parser()._actions if a.option_strings}
    unknown = sorted(set(flags) - set(options))
    if unknown:
        raise ConfigError(f"the assignment has no option {unknown}; it has {', '.join(sorted(options))}")
    argv = ["--env_name", env_name]
    for dest, value in flags.items():
        flag = options[dest].option_strings[0]
        if options[dest].nargs == 0:  # a switch
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return parse_command(shlex.join(argv + ["--exp_name", "x"]), f"--env_name {env_name}")[1]


def action_count(env_id: str) -> int:
    """How many actions a discrete environment has."""
    return spaces(env_id).act_dim


def make_specs(section: str, exps: dict[str, PGConfig], seeds: Sequence[int]) -> list[RunSpec]:
    return [RunSpec(section=section, variant=name, exp_name=name, seed=s, config=c) for name, c in exps.items() for s in seeds]


def starter_markdown(seeds: int, env_id: str) -> str:
    """Where the assignment sections follow the starter code (``berkeleydeeprlcourse/homework_spring2026``,
    hw2) and where they depart, as a Markdown bullet; ``env_id``: the section's env (a renamed one says
    which gymnasium id runs it)."""
    renamed = (f"; `{env_id}` runs gymnasium 1.x's `{RENAMED_IDS[env_id]}`" if env_id in RENAMED_IDS else "")
    return (
        "- **As the starter code** (`hw2/src/scripts/run.py`, `pg_agent.py`): the assignment's commands and flag "
        "defaults; the env made by `gym.make(env_name)` with no wrapper; a batch is complete trajectories holding at "
        "least `-b` steps, an evaluation complete trajectories holding at least `-eb` steps with actions sampled "
        "from the policy; a trajectory cut by the time limit counts as ended (pure Monte-Carlo returns); "
        "advantages normalised per batch with `-na`. **Where we depart, and why**: a batch is played on "
        "ceil(b / ep_len) env copies at once instead of one env (the same complete trajectories, faster); Adam is "
        f"AdamW with weight decay 0 (the same update); every command runs with {seeds} seeds instead of one, so a "
        f"claim has an interval (the assignment itself recommends several seeds){renamed}. Variants of ours are named "
        "as such beside the assignment's runs.\n"
    )


def command(cfg: PGConfig, exp_name: str, force: Sequence[str] = ("-n", "-b")) -> str:
    """The assignment's command line (its flags, no program, no seed) that makes ``cfg``
    (:func:`lib.assignment.command_for`; ``force``: flags written even at their default)."""
    return command_for(cfg, exp_name, 0, program="", force=force).rsplit(" --seed ", 1)[0].strip()


def commands_markdown(exps: dict[str, PGConfig], seeds: Sequence[int]) -> str:
    """The exact command of every experiment (seed as a placeholder) as a Markdown code block."""
    lines = [f"./workbook run {command(c, name)} --seed $SEED" for name, c in exps.items()]
    return (f"Each command ran with `SEED` in {{{', '.join(map(str, seeds))}}}:\n\n```bash\n" + "\n".join(lines) + "\n```")


def per_run(results: list[RunResult], threshold: float, column: str = "Eval_AverageReturn", last: int = 5) -> pd.DataFrame:
    """One row per run: final, mean and best ``column``, when it first reached ``threshold``, wall time."""
    rows = []
    for r in results:
        lg = r.log().dropna(subset=[column])
        y = lg[column].to_numpy()
        hit = np.flatnonzero(y >= threshold)
        rows.append({
            "variant": r.spec.variant,
            "seed": r.spec.seed,
            "final": float(y[-1]),
            f"last {last} mean": float(y[-last:].mean()),
            "mean over training": float(y.mean()),
            "best": float(y.max()),
            "reached": bool(hit.size),
            "steps to threshold": float(lg.Train_EnvstepsSoFar.iloc[hit[0]]) if hit.size else None,
            "env steps": int(lg.Train_EnvstepsSoFar.iloc[-1]),
            "final baseline loss": float(r.log()["Baseline Loss"].dropna().iloc[-1]) if r.log()["Baseline Loss"].notna().any() else None,
            "wall_time_s": r.summary["wall_time_s"],
        })
    return pd.DataFrame(rows)


def table(runs: pd.DataFrame, variants: Sequence[str], threshold: float, last: int = 5) -> pd.DataFrame:
    """One row per experiment: final and best eval return with 95% intervals, seeds reaching the threshold."""
    rows = []
    for v in variants:
        d = runs[runs.variant == v]
        m, lo, hi = mean_ci(d[f"last {last} mean"].to_numpy())
        b = d.best.to_numpy()
        steps = pd.to_numeric(d["steps to threshold"], errors="coerce")
        rows.append({
            "experiment": v,
            "seeds": len(d),
            f"eval return, last {last} iterations": round(float(m), 1),
            "95% CI": f"[{lo:.1f}, {hi:.1f}]",
            "best eval return (mean)": round(float(b.mean()), 1),
            f"seeds reaching {threshold:g}": f"{int(d.reached.sum())}/{len(d)}",
            f"steps to {threshold:g} (median of those)": float(steps.median()) if steps.notna().any() else None,
            "final baseline loss": round(float(d["final baseline loss"].mean()), 2) if d["final baseline loss"].notna().any() else None,
            "wall time per run (s)": round(float(d.wall_time_s.mean()), 1),
        })
    return pd.DataFrame(rows)


def regression_values(runs: pd.DataFrame, returns: bool = True, steps: bool = False,
                      **exact: object) -> dict[str, tuple[object, float]]:
    """The smoke regression values of an assignment section, all compared exactly: ``exact`` items and
    the run count; with ``returns``, each experiment's mean eval return (rounded to 0.1); with
    ``steps``, each experiment's env steps per run.

    ``returns`` only for sections that reproduce bit for bit (discrete actions: CartPole, LunarLander;
    see :data:`lib.sections.common.BIT_FOR_BIT`): there a smoke run's returns are the same on any CPU,
    and CI checks it by running the notebooks again on other CPU kernels. Leave it off where returns
    differ between machines (the MuJoCo sections); ``steps`` only where episode lengths do not depend
    on the policy (HalfCheetah: every episode runs to the time limit).
    """
    out: dict[str, tuple[object, float]] = {"runs": (len(runs), 0), **{k: (v, 0) for k, v in exact.items()}}
    for v, d in runs.groupby("variant", sort=False):
        if returns:
            m = float(d["mean over training"].mean())
            out[f"{v}.mean_eval"] = (round(m, 1), 0)
        if steps:
            out[f"{v}.env_steps"] = (sorted({int(x) for x in d["env steps"]}), 0)
    return out
