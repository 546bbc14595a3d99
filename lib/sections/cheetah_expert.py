"""Section 03, second part: the HalfCheetah SAC expert of report 3.

The default profile loads ``experts/<name>/`` (actor weights in the report's checkpoint layout,
metadata, the evaluation curve and the training episodes) and replays its recorded test;
the full profile (``retrain: true``) trains it again through the run store (resumable), and
``ship: true`` replaces the shipped copy.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from ..config import spec, to_dict
from .. import seeds
from ..data.experts import expert_dir, load, read_metadata, save_expert
from ..evaluation import evaluate
from ..policies import NumpySACActor, SACActor
from ..learners.sac import CLEANRL, SACConfig
from ..provenance import git_commit, package_versions
from ..publish.report import Claim
from ..store.runs import RunResult, RunSpec
from ..publish import animate


if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered


@dataclass(frozen=True)
class CheetahExpertConfig:
    """The HalfCheetah expert: where it is shipped, whether to retrain it, and SAC's settings."""

    name: str = spec("halfcheetah_sac", doc="directory under experts/")
    retrain: bool = spec(False, doc="train SAC again instead of loading the shipped actor")
    ship: bool = spec(False, doc="write the retrained actor to experts/<name>/ (needs retrain)")
    seed: int = spec(3, ge=0)
    aim: float = spec(9000.0, doc="the test return the expert should reach")
    sac: SACConfig = spec(default_factory=lambda: SACConfig(**CLEANRL), doc="SAC's settings (default: CleanRL's, the shipped expert's)")

    def check(self) -> list[str]:
        return ["key 'halfcheetah.ship' needs 'halfcheetah.retrain: true'"] if self.ship and not self.retrain else []


@dataclass
class CheetahExpert:
    metadata: dict[str, Any]
    log: pd.DataFrame
    episodes: pd.DataFrame
    source: str


def specs(cfg: CheetahExpertConfig, section: str) -> list[RunSpec]:
    if not cfg.retrain:
        return []
    return [RunSpec(section=section, variant="halfcheetah_expert", exp_name=cfg.name, seed=cfg.seed, config=cfg.sac,
                    trainer="lib.learners.sac:train")]


def metadata(name: str, sac_cfg: SACConfig, seed: int, actor: SACActor, log: pd.DataFrame, step: int,
             wall_s: float, test: np.ndarray, source: str, test_seed: int) -> dict[str, Any]:
    """What experts/<name>/metadata.json records: config, seed, steps, test score and its seed."""
    return {
        "name": name,
        "env_id": sac_cfg.env_id,
        "algorithm": "SAC",
        "config": to_dict(sac_cfg),
        "seed": seed,
        "network": {"kind": "sac_actor", "obs_dim": int(actor.fc1.in_features), "act_dim": int(actor.fc_mean.out_features),
                    "hidden": int(actor.fc1.out_features)},
        "env_steps": int(step),
        "planned_steps": int(sac_cfg.total_steps),
        "wall_time_s": float(wall_s),
        "steps_per_s": float(step / wall_s),
        "test_mean": float(test.mean()),
        "test_std": float(test.std()),
        "test_returns": test.tolist(),
        "test_episodes": int(len(test)),
        "test_seed": int(test_seed),
        "test_actions": "deterministic (tanh of the mean)",
        "test_forward": TEST_FORWARD,
        "last_eval_mean": float(log["eval_mean"].iloc[-1]),
        "source": source,
        "shipped_on": time.strftime("%Y-%m-%d"),
        "git_commit": git_commit(),
        "versions": package_versions(),
    }


def ship_snapshot(run_dir: Path, step: int, cfg: CheetahExpertConfig, source: str) -> dict[str, Any]:
    """Ship the actor that ``train_sac`` saved at ``step`` in ``run_dir`` (``actor_<step>.pt``, or
    ``actor.pt`` for the end of training): test it, write metadata and the curves up to ``step``."""
    run_dir = Path(run_dir)
    weights = run_dir / ("actor.pt" if step == cfg.sac.total_steps else f"actor_{step}.pt")
    state = torch.load(weights, weights_only=True)
    actor = SACActor.from_state_dict(state)
    log = pd.read_csv(run_dir / "log.csv")
    log = log[log.step <= step]
    episodes = pd.read_csv(run_dir / "episodes.csv")
    episodes = episodes[episodes.step <= step]
    wall = float(np.interp(step, log.step, log.wall_s))
    test_seed = seeds.seed("sac.test", cfg.seed)
    test = test_returns(actor, cfg.sac.env_id, cfg.sac.test_episodes, test_seed)
    meta = metadata(cfg.name, cfg.sac, cfg.seed, actor, log, step, wall, test, source, test_seed)
    tmp = run_dir / "_ship"
    tmp.mkdir(exist_ok=True)
    log.to_csv(tmp / "log.csv", index=False)
    episodes.to_csv(tmp / "episodes.csv", index=False)
    save_expert(cfg.name, state, meta, {"log.csv": tmp / "log.csv", "episodes.csv": tmp / "episodes.csv"})
    return read_metadata(cfg.name)


def rescore(name: str) -> dict[str, Any]:
    """Test the shipped actor again with today's evaluation (:func:`lib.evaluation.evaluate`) on its recorded test
    seeds and record that score in its metadata, keeping the earlier one under ``earlier_tests``.

    Used when evaluation moved to the float64 forward (machine-independent returns: the score recorded
    at shipping came from a float32 forward whose rounding depends on the CPU's BLAS kernel), and again
    when the one evaluation replaced SAC's own (the same episodes; returns now summed from float32
    rewards, which moves the score in its fifth significant digit). The weights (and their sha256) do
    not change."""
    expert = load(name)
    meta = expert.meta
    test = test_returns(expert.network, meta["env_id"], meta["test_episodes"], meta["test_seed"])
    earlier = {k: meta[k] for k in ("test_mean", "test_std", "test_returns", "test_actions") if k in meta}
    earlier["forward"] = meta.get("test_forward", "float32 numpy (rounding depends on the CPU's BLAS kernel)")
    earlier["replaced_on"] = time.strftime("%Y-%m-%d")
    meta["earlier_tests"] = meta.get("earlier_tests", []) + [earlier]
    meta.update(test_mean=float(test.mean()), test_std=float(test.std()), test_returns=test.tolist(),
                test_forward=TEST_FORWARD, rescored_by=f"scripts/ship_sac_expert.py --rescore at {git_commit()}")
    path = expert_dir(name) / "metadata.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    tmp.replace(path)
    return meta


#: How test actions are computed (recorded in metadata.json with every test score).
TEST_FORWARD = ("float64 numpy actions rounded to float32 (lib.policies.ExactSACActor), played by the one evaluation "
                "(lib.evaluation.evaluate: episode i reset with test_seed + i, returns summed from float32 rewards): the same "
                "returns on any x86-64 machine")


def test_returns(actor: SACActor, env_id: str, episodes: int, seed: int) -> np.ndarray:
    """The deterministic actor's returns (E,) under the one evaluation: episode i reset with seed + i."""
    rets, _ = evaluate(NumpySACActor(actor).exact(), env_id, episodes, seed)
    return rets


def obtain(cfg: CheetahExpertConfig, results: list[RunResult]) -> CheetahExpert:
    """The retrained expert (shipped if asked) or the shipped one."""
    if cfg.retrain:
        (run,) = [r for r in results if r.spec.variant == "halfcheetah_expert"]
        if cfg.ship:
            actor_path = run.path / "actor.pt"
            torch.save(torch.load(run.path / "agent.pt", weights_only=True)["policy"], actor_path)
            meta = ship_snapshot(run.path, cfg.sac.total_steps, cfg, f"run {run.path.name}")
        else:
            state = torch.load(run.path / "agent.pt", weights_only=True)["policy"]
            actor = SACActor.from_state_dict(state)
            s = run.summary
            meta = metadata(cfg.name, cfg.sac, cfg.seed, actor, run.log(), s["steps"], s["wall_s"],
                            np.array(s["test_returns"]), f"run {run.path.name}", s["test_seed"])
        return CheetahExpert(meta, run.log(), pd.read_csv(run.path / "episodes.csv"), f"run {run.path.name}")
    meta = read_metadata(cfg.name)
    d = expert_dir(cfg.name)
    return CheetahExpert(meta, pd.read_csv(d / "log.csv"), pd.read_csv(d / "episodes.csv"), f"experts/{cfg.name}")


def recheck(expert: CheetahExpert, cfg: CheetahExpertConfig) -> dict[str, float]:
    """Replay the recorded test episodes with the shipped weights (only for a shipped expert)."""
    if cfg.retrain and not cfg.ship:
        return {}
    expert = load(cfg.name)
    meta = expert.meta
    rets = test_returns(expert.network, meta["env_id"], meta["test_episodes"], meta["test_seed"])
    return {"replayed_test_mean": float(rets.mean()), "replayed_test_std": float(rets.std())}


def describe(cfg: CheetahExpertConfig) -> str:
    s = cfg.sac
    src = ("**retrained** now through the run store (resumable)" + (", then shipped" if cfg.ship else ", not shipped")) \
        if cfg.retrain else f"**loaded** from `experts/{cfg.name}/` (set `halfcheetah.retrain: true` to train it again)"
    return (
        f"- **Learner**: SAC ({s.env_id}), actor and twin critics MLP 2 x {s.hidden} (ReLU), batch {s.batch_size}, "
        f"gamma {s.gamma:g}, tau {s.tau:g}, lr {s.policy_lr:g} (actor) / {s.q_lr:g} (critics, temperature), "
        f"temperature {'tuned from' if s.autotune else 'fixed at'} {s.alpha:g}"
        + (f" towards entropy -|A| (its loss on {s.alpha_loss.replace('_', ' ')})" if s.autotune else "")
        + f", {s.learning_starts:,} random steps first, " + (
            f"then CleanRL's update order: each env step the critics' step, and every {s.policy_frequency} steps "
            f"{s.policy_frequency} actor steps on the updated critics, each followed by a temperature step on a fresh "
            f"sample" if s.update == "sequential" else
            "then one fused update per env step (one backward pass and one Adam step for critics, actor and "
            "temperature)")
        + (f", the log-density's tanh correction with {s.log_prob_eps:g} added" if s.log_prob_eps else "")
        + f", hidden-layer matmuls in {s.compute_dtype}; planned {s.total_steps:,} steps.\n"
        f"- **Actor layout**: the report's checkpoint (`fc1`, `fc2`, `fc_mean`, `fc_logstd`, `action_scale`, "
        f"`action_bias`), so a checkpoint made elsewhere loads too.\n"
        f"- **Test**: {s.test_episodes} episodes with deterministic actions (tanh of the mean) on seeds of their own.\n"
        f"- **This notebook**: the expert is {src}."
    )


def table(expert: CheetahExpert, replay: dict[str, float]) -> pd.DataFrame:
    m = expert.metadata
    row = {"expert": m["name"], "seed": m["seed"], "env steps": m["env_steps"], "planned steps": m["planned_steps"],
           "test mean": round(m["test_mean"], 1), "test std": round(m["test_std"], 1), "test episodes": m["test_episodes"],
           "replayed test mean": round(replay["replayed_test_mean"], 1) if replay else None,
           "wall time (min)": round(m["wall_time_s"] / 60, 1), "env steps / s": round(m["steps_per_s"], 1),
           "source": expert.source}
    return pd.DataFrame([row])


def frames(expert: CheetahExpert) -> dict[str, pd.DataFrame]:
    """The data of the expert's training figure: "cheetah_episodes" (``step``, ``return``: each training
    episode, stochastic actions) and "cheetah_evals" (``step``, ``eval_mean``, ``eval_std``, ``wall_s``:
    each evaluation, deterministic actions)."""
    return {"cheetah_episodes": expert.episodes[["step", "return"]],
            "cheetah_evals": expert.log[["step", "eval_mean", "eval_std", "wall_s"]]}


def titles(expert: CheetahExpert) -> dict[str, str]:
    m = expert.metadata
    return {"episodes": "training episode (stochastic actions)", "evals": "evaluation (deterministic, mean of episodes)",
            "cheetah": f"HalfCheetah SAC expert (seed {m['seed']}): {m['env_steps']:,} steps in {m['wall_time_s'] / 60:.0f} min"}


def marks(expert: CheetahExpert, cfg: CheetahExpertConfig) -> dict[str, dict[str, float]]:
    """The aim and the shipped actor's test return, as labelled reference lines."""
    test = float(expert.metadata["test_mean"])
    return {"cheetah": {f"aim ({cfg.aim:,.0f})": cfg.aim, f"shipped actor's test ({test:,.0f})": test}}


def claims(expert: CheetahExpert, cfg: CheetahExpertConfig, replay: dict[str, float]) -> list[Claim]:
    m = expert.metadata
    out = [Claim.exact(
        f"The SAC expert reaches a test return of at least {cfg.aim:,.0f} (issue's aim)", bool(m["test_mean"] >= cfg.aim),
        f"the shipped actor's mean over its {m['test_episodes']} deterministic test episodes is at least {cfg.aim:,.0f} "
        "(one policy, one training seed: a fact about it, not an estimate over seeds)",
        f"Test over {m['test_episodes']} deterministic episodes: {m['test_mean']:.0f} ± {m['test_std']:.0f}, after "
        f"{m['env_steps']:,} of {m['planned_steps']:,} planned steps ({m['wall_time_s'] / 60:.0f} min on "
        f"{m['steps_per_s']:.0f} env steps/s).", effect=float(m["test_mean"] - cfg.aim), id="cheetah_expert_aim",
    )]
    if replay:
        diff = float(replay["replayed_test_mean"] - m["test_mean"])
        out.append(Claim.exact(
            "The shipped HalfCheetah actor reproduces its recorded test score", abs(diff) < 1e-6,
            "replaying the recorded test episodes gives the recorded mean to 1e-6",
            f"Replayed: {replay['replayed_test_mean']:.2f}; recorded: {m['test_mean']:.2f}.", effect=diff, id="cheetah_expert_replays",
        ))
    return out


def summary_json(expert: CheetahExpert) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in expert.metadata.items() if k != "test_returns"}))


def regression_values(expert: CheetahExpert) -> dict[str, tuple[object, float]]:
    m = expert.metadata
    return {"halfcheetah_env_steps": (m["env_steps"], 0),
            "halfcheetah_test_mean": (round(m["test_mean"], 2), 0)}


def headline(expert: CheetahExpert) -> str:
    m = expert.metadata
    return (f"HalfCheetah SAC expert (seed {m['seed']}, {m['env_steps']:,} steps, {m['wall_time_s'] / 60:.0f} min): "
            f"test {m['test_mean']:.0f} ± {m['test_std']:.0f} over {m['test_episodes']} episodes.")


def animations(cfg: CheetahExpertConfig, acfg: "AnimationConfig") -> list["Rendered"]:
    """The shipped HalfCheetah SAC expert at work (deterministic actions)."""
    if not acfg.enabled:
        return []

    env_id = read_metadata(cfg.name)["env_id"]
    return [animate.animate(expert_dir(cfg.name) / "policy.pt", lambda: animate.sac_expert_actor(cfg.name), env_id,
                            seeds.seed("animation", cfg.seed), f"the HalfCheetah SAC expert (experts/{cfg.name})", acfg,
                            "deterministic")]
