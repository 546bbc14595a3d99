"""The policy-gradient assignment's command line, on this workbook's learner and run store.

Every command of the assignment runs as written once ``uv run src/scripts/run.py`` is replaced
by ``./workbook run``::

    ./workbook run --env_name CartPole-v0 -n 100 -b 1000 -rtg --exp_name cartpole_rtg

Flags and defaults are the assignment's. The run goes through the run store (so repeating a
command reuses the finished run) and is then written, as the assignment's autograder expects,
to ``exp/<env_name>_<exp_name>_sd<seed>_<YYYYmmdd_HHMMSS>/`` with flags.json, log.csv, log.pkl
and agent.pt. Environment ids that gymnasium 1.x renamed are accepted (LunarLander-v2 runs
LunarLander-v3; the mapping is printed and recorded in flags.json).
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import shlex
import shutil
import sys
import time
from dataclasses import fields
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import pandas as pd

from .config import ConfigError, build, to_dict
from .data.envs import RENAMED_IDS, max_episode_steps, resolve_env_id
from .learners.pg import PGConfig
from .paths import REPO_ROOT
from .store.runs import RunSpec
from .store.grid import run_grid
from .checks import budget_problem, env_id_problem, store_problem

MAX_PARALLEL_ENVS = 16


class _Parser(argparse.ArgumentParser):
    """The assignment's parser: no abbreviations, and an error is one line, not a usage dump."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists every flag)\n")


def _number(kind: type, ge: float | None = None, gt: float | None = None, le: float | None = None) -> Callable[[str], Any]:
    """An argparse type: an int or a finite float within the bounds; the message states them."""
    bounds = " and ".join(f"{sym} {b:g}" for sym, b in ((">", gt), (">=", ge), ("<=", le)) if b is not None)
    what = ("an integer" if kind is int else "a finite number") + (f" {bounds}" if bounds else "")

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
        if (ge is not None and value < ge) or (gt is not None and value <= gt) or (le is not None and value > le):
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in some messages
    return convert


def _exp_name(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.=+-]*", text):
        raise argparse.ArgumentTypeError(f"must be a name of letters, digits and _ . = + - (it names a folder); got {text!r}")
    return text


def _env_name(text: str) -> str:

    problem = env_id_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def parser() -> argparse.ArgumentParser:
    """The assignment's flags and defaults; every number is checked against its range as it is read."""
    p = _Parser(
        prog="./workbook run",
        description="Policy-gradient runs with the assignment's flags (see lib/assignment.py).",
        allow_abbrev=False,
    )
    p.add_argument("--env_name", type=_env_name, required=True, help="a gymnasium id (LunarLander-v2 runs LunarLander-v3)")
    p.add_argument("--exp_name", type=_exp_name, required=True)
    p.add_argument("--n_iter", "-n", type=_number(int, ge=1), default=200, help="iterations (policy updates)")
    p.add_argument("--use_reward_to_go", "-rtg", action="store_true")
    p.add_argument("--use_baseline", action="store_true")
    p.add_argument("--baseline_learning_rate", "-blr", type=_number(float, gt=0, le=1), default=5e-3)
    p.add_argument("--baseline_gradient_steps", "-bgs", type=_number(int, ge=1), default=5)
    p.add_argument("--gae_lambda", type=_number(float, ge=0, le=1), default=None, help="GAE lambda in [0, 1] (needs --use_baseline)")
    p.add_argument("--normalize_advantages", "-na", action="store_true")
    p.add_argument("--batch_size", "-b", type=_number(int, ge=1), default=1000, help="env steps collected per iteration")
    p.add_argument("--eval_batch_size", "-eb", type=_number(int, ge=1), default=400, help="env steps collected per evaluation")
    p.add_argument("--discount", type=_number(float, ge=0, le=1), default=1.0, help="gamma in [0, 1]")
    p.add_argument("--learning_rate", "-lr", type=_number(float, gt=0, le=1), default=5e-3)
    p.add_argument("--n_layers", "-l", type=_number(int, ge=0, le=64), default=2)
    p.add_argument("--layer_size", "-s", type=_number(int, ge=1, le=65536), default=64)
    p.add_argument("--ep_len", type=_number(int, ge=1), default=None, help="time limit (default: the env's registered one)")
    p.add_argument("--seed", type=_number(int, ge=0, le=999), default=1)
    p.add_argument("--no_gpu", "-ngpu", action="store_true", help="accepted; everything runs on the CPU")
    p.add_argument("--which_gpu", "-gpu_id", default=0, help="accepted and ignored")
    p.add_argument("--video_log_freq", type=_number(int), default=-1, help="accepted; no videos are recorded here")
    p.add_argument("--scalar_log_freq", type=_number(int, ge=1), default=1, help="evaluate and log every N iterations")
    p.add_argument("--action_noise_std", type=_number(float, ge=0), default=0.0, help="continuous envs: Gaussian action noise (>= 0)")
    # ours
    p.add_argument("--action_noise_prob", type=_number(float, ge=0, le=1), default=0.0,
                   help="discrete envs: chance in [0, 1] that an executed action is random")
    p.add_argument("--bootstrap_truncated", action="store_true",
                   help="with --use_baseline, bootstrap V(s_T) where the time limit cut an episode (the starter's "
                        "returns are pure Monte Carlo: a cut episode is treated as ended)")
    p.add_argument("--parallel_envs", type=_number(int, ge=1, le=4096), default=None,
                   help="env copies filling a batch (default: ceil(b / ep_len), at most 16)")
    p.add_argument("--exp_dir", type=str, default=str(REPO_ROOT / "exp"), help="where the run folder is written")
    return p


#: The flag that sets each learner key, so that a rule spanning several keys is told in flags.
FLAG_OF_KEY = {
    "env_id": "--env_name", "max_episode_steps": "--ep_len", "iterations": "-n", "batch_steps": "-b",
    "batch_episodes": "--parallel_envs", "gamma": "--discount", "return_type": "-rtg", "value_lr": "-blr",
    "value_steps": "-bgs", "gae_lambda": "--gae_lambda", "normalize_advantages": "-na", "hidden": "-l/-s",
    "value_hidden": "-l/-s", "lr": "-lr", "action_noise_std": "--action_noise_std",
    "action_noise_prob": "--action_noise_prob", "bootstrap_truncated": "--bootstrap_truncated", "eval_every": "--scalar_log_freq", "eval_steps": "-eb",
}


def in_flags(message: str) -> str:
    """A learner-config message told in the command line's words (keys -> flags)."""
    import re

    message = message.replace("baseline 'value'", "--use_baseline").replace("return_type 'reward_to_go'", "-rtg")
    return re.sub(r"key '([a-z_]+)'", lambda m: f"flag {FLAG_OF_KEY.get(m.group(1), m.group(1))}", message)


def parallel_envs(batch_size: int, ep_len: int) -> int:
    """Copies that fill a batch without overshooting it by more than the assignment's sampler
    does: one per full-length episode the batch holds."""
    return max(1, min(MAX_PARALLEL_ENVS, math.ceil(batch_size / ep_len)))


def config_from_args(args: argparse.Namespace) -> PGConfig:
    """The learner config an assignment command means (raises ConfigError on bad values)."""
    ep_len = args.ep_len or max_episode_steps(args.env_name) or 1000
    hidden = [args.layer_size] * args.n_layers
    data = {
        "env_id": args.env_name,
        "max_episode_steps": args.ep_len,
        "episodes": None,
        "iterations": args.n_iter,
        "batch_steps": args.batch_size,
        "batch_episodes": args.parallel_envs or parallel_envs(args.batch_size, ep_len),
        "gamma": args.discount,
        "return_type": "reward_to_go" if args.use_reward_to_go else "trajectory",
        "baseline": "value" if args.use_baseline else "none",
        "value_lr": args.baseline_learning_rate,
        "value_steps": args.baseline_gradient_steps,
        "gae_lambda": args.gae_lambda,
        "normalize_advantages": args.normalize_advantages,
        "hidden": hidden,
        "value_hidden": hidden,
        "lr": args.learning_rate,
        "weight_decay": 0.0,
        "action_noise_std": args.action_noise_std,
        "action_noise_prob": args.action_noise_prob,
        "bootstrap_truncated": args.bootstrap_truncated,
        "eval_every": args.scalar_log_freq,
        "eval_steps": args.eval_batch_size,
        "test_episodes": 5,
    }
    try:
        return build(PGConfig, data, "command line")
    except ConfigError as exc:
        raise ConfigError(in_flags(str(exc))) from None


def command_for(cfg: PGConfig, exp_name: str, seed: int, program: str = "./workbook run",
                force: Sequence[str] = ("-n", "-b")) -> str:
    """The assignment-style command that makes ``cfg``: the flags that differ from the defaults, and those of
    ``force`` always (the budgets, which the assignment's commands always state)."""
    defaults = argparse.Namespace(**{a.dest: a.default for a in parser()._actions})
    parts = program.split() + ["--env_name", cfg.env_id]
    if cfg.max_episode_steps is not None:
        parts += ["--ep_len", str(cfg.max_episode_steps)]

    def opt(flag: str, value: Any, default: Any) -> None:
        if value != default or (flag in force and value is not None):
            parts.extend([flag, f"{value:g}" if isinstance(value, float) else str(value)])

    opt("--discount", cfg.gamma, defaults.discount)
    opt("-n", cfg.iterations, defaults.n_iter)
    if cfg.hidden:
        opt("-l", len(cfg.hidden), defaults.n_layers)
        opt("-s", cfg.hidden[0], defaults.layer_size)
    opt("-b", cfg.batch_steps, defaults.batch_size)
    opt("-eb", cfg.eval_steps, defaults.eval_batch_size)
    opt("-lr", cfg.lr, defaults.learning_rate)
    if cfg.return_type == "reward_to_go":
        parts.append("-rtg")
    if cfg.normalize_advantages:
        parts.append("-na")
    if cfg.baseline == "value":
        parts.append("--use_baseline")
        opt("-blr", cfg.value_lr, defaults.baseline_learning_rate)
        opt("-bgs", cfg.value_steps, defaults.baseline_gradient_steps)
    if cfg.gae_lambda is not None:
        parts += ["--gae_lambda", f"{cfg.gae_lambda:g}"]
    opt("--action_noise_std", cfg.action_noise_std, 0.0)
    opt("--action_noise_prob", cfg.action_noise_prob, 0.0)
    if cfg.bootstrap_truncated:
        parts.append("--bootstrap_truncated")
    opt("--scalar_log_freq", cfg.eval_every, defaults.scalar_log_freq)
    ep_len = cfg.max_episode_steps or max_episode_steps(cfg.env_id) or 1000
    if cfg.batch_steps is not None and cfg.batch_episodes != parallel_envs(cfg.batch_steps, ep_len):
        parts += ["--parallel_envs", str(cfg.batch_episodes)]
    parts += ["--exp_name", exp_name, "--seed", str(seed)]
    return " ".join(shlex.quote(p) for p in parts)


def unsupported(cfg: PGConfig) -> list[str]:
    """PGConfig fields a command line cannot express, where ``cfg`` differs from the CLI's mapping."""
    args = parser().parse_args(shlex.split(command_for(cfg, "x", 0))[2:])
    back = config_from_args(args)
    return [f.name for f in fields(PGConfig) if getattr(back, f.name) != getattr(cfg, f.name)]


def write_exp_dir(run_path: Path, exp_root: Path, env_name: str, exp_name: str, seed: int, argv: list[str], cfg: PGConfig) -> Path:
    """Copy a finished run into the assignment's layout and add log.pkl and the flags."""
    stamp = time.strftime("%Y%m%d_%H%M%S")
    out = exp_root / f"{env_name}_{exp_name}_sd{seed}_{stamp}"
    n = 1
    while out.exists():  # the same command twice within a second
        out = exp_root / f"{env_name}_{exp_name}_sd{seed}_{stamp}_{n}"
        n += 1
    out.mkdir(parents=True)
    for name in ("log.csv", "agent.pt"):
        shutil.copyfile(run_path / name, out / name)
    log = pd.read_csv(run_path / "log.csv")
    with open(out / "log.pkl", "wb") as f:
        pickle.dump(log.to_dict(orient="records"), f)
    store_flags = json.loads((run_path / "flags.json").read_text())
    flags = {
        "command": "./workbook run " + " ".join(shlex.quote(a) for a in argv),
        "env_name": env_name,
        "resolved_env_id": resolve_env_id(env_name),
        "config": to_dict(cfg),
        "run_store_path": str(run_path),
        **{k: store_flags[k] for k in ("key", "versions", "git_commit")},
    }
    (out / "flags.json").write_text(json.dumps(flags, indent=1) + "\n")
    return out


def progress_line(row: dict[str, Any]) -> str:
    """One line per iteration, as the assignment's logger prints them: iteration, env steps, train and
    eval return (when evaluated), seconds so far."""
    ev = row.get("Eval_AverageReturn")
    eval_text = f"eval {ev:9.2f}" if ev is not None and not (isinstance(ev, float) and math.isnan(ev)) else "eval         -"
    return (f"iter {int(row['Iteration']):5d}  env steps {int(row['Train_EnvstepsSoFar']):>11,}  "
            f"train {row['Train_AverageReturn']:9.2f}  {eval_text}  {row['wall_s']:8.1f} s")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    prog = "./workbook run"
    try:
        cfg = config_from_args(args)

        spec = RunSpec(section="cli", variant=args.exp_name, exp_name=args.exp_name, seed=args.seed, config=cfg)

        problem = budget_problem([spec], 1, "this command") or store_problem()
        if problem:
            raise ConfigError(problem)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.env_name in RENAMED_IDS:
        print(f"note: {args.env_name} is {RENAMED_IDS[args.env_name]} in gymnasium 1.x; running that", file=sys.stderr)
    if args.video_log_freq != -1:
        print("note: --video_log_freq is accepted but no videos are recorded (no display here)", file=sys.stderr)

    def show(row: dict[str, Any]) -> None:
        print(progress_line(row), flush=True)

    try:
        (result,) = run_grid([spec], workers=1, progress=False, on_iteration=show)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; the run was not finished and nothing of it is kept (the same command starts it again)",
              file=sys.stderr)
        return 130
    out = write_exp_dir(result.path, Path(args.exp_dir), args.env_name, args.exp_name, args.seed, argv, cfg)
    log = result.log()
    last = log.iloc[-1]
    print(f"{'reused' if result.cached else 'trained'} {result.path.name}; Eval_AverageReturn {last.get('Eval_AverageReturn', float('nan')):.1f} "
          f"after {int(last.Train_EnvstepsSoFar)} env steps -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
