"""Section 03: the CartPole expert (report 1.4): RLOO + constant entropy, 5000 episodes, shipped.

The default profile loads the shipped expert from experts/<name>/ and re-checks its test score;
the full profile (or ``retrain: true``) trains it again through the run store, and
``ship: true`` writes the new one to experts/. The HalfCheetah SAC expert of report 3 is the
section's second part (:mod:`lib.sections.cheetah_expert`, key ``halfcheetah``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import spec, to_dict
from ..data.envs import make_vec, spaces
from ..data.experts import expert_dir, load, read_metadata, save_expert
from ..learners.pg import PGConfig
from ..publish.report import Claim
from ..verdicts import SourceClaim
from ..evaluation import evaluate
from ..store.runs import RunResult, RunSpec
from ..provenance import git_commit, package_versions
from ..stats import first_crossing, sliding_window_mean
from .cheetah_expert import CheetahExpertConfig
from .cheetah_expert import specs as cheetah_specs
from .protocol import Reproducibility, SectionResult
from . import cheetah_expert
from ..publish import animate
from .. import seeds

SECTION = "03_expert"
TITLE = "The experts: CartPole (RLOO with a constant entropy bonus) and HalfCheetah (SAC)"
REPRODUCES = Reproducibility(
    "bit for bit",
    "the experts are loaded, not trained. The CartPole expert's test replays exactly (discrete actions, as in "
    "section 01). The HalfCheetah actor's test actions are computed in float64 and rounded once to float32 "
    "(lib.policies.ExactSACActor), which removes their dependence on the CPU's BLAS kernel: with float32 actions the "
    "same weights score differently on different kernels, because HalfCheetah turns a last-bit change in one action "
    "into a different episode. Retraining the HalfCheetah expert (retrain: true) reproduces statistically only.")


if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered


@dataclass(frozen=True)
class Config:
    """Section 03 parameters."""

    name: str = spec("cartpole_expert", doc="directory under experts/")
    retrain: bool = spec(False, doc="train the expert again instead of loading the shipped one")
    ship: bool = spec(False, doc="write the retrained expert to experts/<name>/ (needs retrain)")
    seed: int = spec(0, ge=0)
    workers: int = spec(1, ge=1, le=64)
    solved: float = spec(195.0, gt=0)
    perfect: float = spec(500.0, gt=0)
    train: PGConfig = spec(default_factory=lambda: PGConfig(baseline="rloo", entropy_coef=0.01, episodes=5000))
    halfcheetah: CheetahExpertConfig = spec(default_factory=CheetahExpertConfig)
    source: tuple[SourceClaim, ...] = spec(default_factory=tuple, doc="the source's statements, quoted, each with the "
                                           "claim that answers it here (params/claims/03_expert.yaml)")

    def check(self) -> list[str]:
        errs = []
        if self.ship and not self.retrain:
            errs.append("key 'ship' needs 'retrain: true' (there is nothing new to ship)")
        if self.train.baseline != "rloo" or self.train.entropy_coef <= 0 or self.train.entropy_coef_final is not None:
            errs.append("key 'train': the report's expert is RLOO ('baseline: rloo') with a constant 'entropy_coef' > 0")
        return errs


@dataclass
class Expert:
    """An expert with everything the notebook shows: metadata and its training episodes."""

    metadata: dict[str, Any]
    episodes: pd.DataFrame
    source: str


def variants(cfg: Config) -> dict[str, Any]:
    """name -> learner config of the two experts: the CartPole expert (policy gradient) and the
    HalfCheetah expert (SAC)."""
    return {"expert": cfg.train, "halfcheetah_expert": cfg.halfcheetah.sac}


def specs(cfg: Config) -> list[RunSpec]:
    """The CartPole expert's run (if retrained), then the HalfCheetah expert's (if retrained)."""
    cartpole = [RunSpec(section=SECTION, variant="expert", exp_name=cfg.name, seed=cfg.seed, config=variants(cfg)["expert"])] \
        if cfg.retrain else []
    return cartpole + cheetah_specs(cfg.halfcheetah, SECTION)


def describe(cfg: Config) -> str:
    t = cfg.train
    src = (f"**retrained** now (seed {cfg.seed}) through the run store" + (", then shipped to `experts/`" if cfg.ship else ", not shipped"))\
        if cfg.retrain else f"**loaded** from `experts/{cfg.name}/` (set `retrain: true` to train it again)"
    return (
        f"- **Recipe** (report 1.4): section 01's learner with the RLOO baseline and a constant entropy bonus "
        f"alpha = {t.entropy_coef:g}, {t.episodes} episodes in batches of {t.batch_episodes} "
        f"({t.n_iterations} updates), AdamW lr {t.lr:g}, gamma {t.gamma:g}, policy MLP {list(t.hidden)}.\n"
        f"- **Kept checkpoint**: the policy behind the best {t.window}-episode running mean of training returns; "
        f"its test score is the mean and standard deviation of {t.test_episodes} test episodes, actions sampled "
        f"from the policy.\n"
        f"- **This notebook**: the expert is {src}."
    )


def metadata_from_run(run: RunResult, cfg: Config) -> dict[str, Any]:
    """What experts/<name>/metadata.json records about an expert trained in ``run``."""
    import json

    flags = json.loads((run.path / "flags.json").read_text())
    s = run.summary
    return {
        "name": cfg.name,
        "env_id": cfg.train.env_id,
        "config": to_dict(cfg.train),
        "seed": run.spec.seed,
        "run_key": flags["key"],
        "network": _network(cfg),
        "test_mean": s["test_mean"],
        "test_std": s["test_std"],
        "test_episodes": len(s["test_returns"]),
        "test_seed": s["test_seed"],
        "test_greedy": s["test_greedy"],
        "episodes": s["episodes"],
        "env_steps": s["env_steps"],
        "best_window_mean": s["best_window_mean"],
        "best_iteration": s["best_iteration"],
        "wall_time_s": s["wall_time_s"],
        "trained_on": flags["created"],
        "shipped_on": time.strftime("%Y-%m-%d"),
        "git_commit": git_commit(),
        "versions": package_versions(),
    }


def _network(cfg: Config) -> dict[str, Any]:
    space = spaces(cfg.train.env_id)
    return {
        "obs_dim": space.obs_dim,
        "n_actions": space.act_dim,
        "hidden": list(cfg.train.hidden),
        "activation": cfg.train.activation,
    }


def obtain(cfg: Config, results: list[RunResult]) -> Expert:
    """The retrained expert (shipping it if asked) or the shipped one."""
    if cfg.retrain:
        (run,) = [r for r in results if r.spec.variant == "expert"]
        meta = metadata_from_run(run, cfg)
        if cfg.ship:
            import torch

            state = torch.load(run.path / "agent.pt", weights_only=True)["policy"]
            save_expert(cfg.name, state, meta, {"log.csv": run.path / "log.csv", "episodes.csv": run.path / "episodes.csv"})
            meta = read_metadata(cfg.name)
        return Expert(meta, run.episodes(), f"run {run.path.name}")
    meta = read_metadata(cfg.name)
    return Expert(meta, pd.read_csv(expert_dir(cfg.name) / "episodes.csv"), f"experts/{cfg.name}")


def recheck(expert: Expert, cfg: Config) -> dict[str, float]:
    """Replay the recorded test episodes with the shipped weights (only for a shipped expert)."""
    if not (expert_dir(cfg.name) / "policy.pt").exists() or (cfg.retrain and not cfg.ship):
        return {}
    expert = load(cfg.name)
    meta = expert.meta
    env = make_vec(meta["env_id"], min(meta["test_episodes"], 100))  # the learner's test protocol (lib.learners.pg)
    rets, _ = evaluate(expert.network.numpy_sampler(), env, meta["test_episodes"], seed=meta["test_seed"], greedy=meta["test_greedy"])
    return {"replayed_test_mean": float(rets.mean()), "replayed_test_std": float(rets.std())}


def table(expert: Expert, cfg: Config, replay: dict[str, float]) -> pd.DataFrame:
    m = expert.metadata
    ret = expert.episodes["return"].to_numpy()
    first = first_crossing(sliding_window_mean(ret, cfg.train.window), cfg.solved)
    row = {
        "expert": m["name"],
        "seed": m["seed"],
        "test mean": round(m["test_mean"], 2),
        "test std": round(m["test_std"], 2),
        "test episodes": m["test_episodes"],
        "replayed test mean": round(replay["replayed_test_mean"], 2) if replay else None,
        "training episodes": m["episodes"],
        "env steps": m["env_steps"],
        f"episodes to {cfg.solved:g}": None if first is None else first + 1,
        "best window mean": round(m["best_window_mean"], 1),
        "kept after update": m["best_iteration"],
        "wall time (s)": round(m["wall_time_s"], 1),
        "source": expert.source,
    }
    return pd.DataFrame([row])


def frames(expert: Expert, cfg: Config, cheetah: "cheetah_expert.CheetahExpert") -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "cartpole", the CartPole expert's training episodes (``training
    episode``, ``return``, ``running-mean return`` over the training window); then the HalfCheetah
    expert's (:func:`lib.sections.cheetah_expert.frames`)."""
    ret = expert.episodes["return"].to_numpy()
    cartpole = pd.DataFrame({"training episode": np.arange(1, len(ret) + 1), "return": ret,
                             "running-mean return": sliding_window_mean(ret, cfg.train.window)})
    return {"cartpole": cartpole, **cheetah_expert.frames(cheetah)}


def titles(expert: Expert, cfg: Config, cheetah: "cheetah_expert.CheetahExpert") -> dict[str, str]:
    """Figure titles and labels, from the config and the experts' metadata."""
    return {"cartpole": f"CartPole expert (seed {expert.metadata['seed']}): training curve",
            "running": f"{cfg.train.window}-episode running mean", **cheetah_expert.titles(cheetah)}


def marks(expert: Expert, cfg: Config, cheetah: "cheetah_expert.CheetahExpert") -> dict[str, dict[str, float]]:
    """Reference lines: the 'solved' level and the kept checkpoint of the CartPole expert, then the
    HalfCheetah expert's."""
    best_ep = (expert.metadata["best_iteration"] + 1) * cfg.train.batch_episodes
    return {"solved": {f"solved ({cfg.solved:g})": cfg.solved}, "kept": {f"kept checkpoint (episode {best_ep})": best_ep},
            **cheetah_expert.marks(cheetah, cfg.halfcheetah)}


def claims(expert: Expert, cfg: Config, replay: dict[str, float]) -> list[Claim]:
    m = expert.metadata
    perfect = m["test_mean"] >= cfg.perfect and m["test_std"] == 0
    out = [Claim.exact(
        "5000 episodes of RLOO with a constant entropy bonus give an optimal expert", bool(perfect),
        f"every one of the shipped policy's {m['test_episodes']} test episodes lasts {cfg.perfect:g} steps (one policy, "
        "one training seed: a fact about it, not an estimate over seeds)",
        f"Test: {m['test_mean']:.2f} ± {m['test_std']:.2f}.", effect=float(m["test_mean"]), id="expert_optimal",
    )]
    if replay:
        same = abs(replay["replayed_test_mean"] - m["test_mean"]) < 1e-9
        out.append(Claim.exact(
            "The shipped weights reproduce the recorded test score", bool(same),
            "replaying the recorded test episodes gives the recorded mean to 1e-9",
            f"Replaying the {m['test_episodes']} test episodes (seed {m['test_seed']}) with experts/{cfg.name}/policy.pt "
            f"gives {replay['replayed_test_mean']:.2f} (recorded {m['test_mean']:.2f}).",
            effect=float(replay["replayed_test_mean"] - m["test_mean"]), id="expert_replays",
        ))
    return out


def regression_values(expert: Expert, cfg: Config) -> dict[str, tuple[object, float]]:
    m = expert.metadata
    return {
        "episodes": (m["episodes"], 0),
        "test_mean": (round(m["test_mean"], 1), 0),
    }


def headline(expert: Expert, cfg: Config) -> str:
    m = expert.metadata
    return (f"Expert (seed {m['seed']}, {m['episodes']} episodes): test {m['test_mean']:.1f} ± {m['test_std']:.1f} "
            f"over {m['test_episodes']} episodes.")


def cartpole_animations(cfg: Config, acfg: "AnimationConfig") -> list["Rendered"]:
    """The shipped CartPole expert at work (argmax actions)."""
    if not acfg.enabled:
        return []

    env_id = read_metadata(cfg.name)["env_id"]
    return [animate.animate(expert_dir(cfg.name) / "policy.pt", lambda: animate.categorical_expert_actor(cfg.name), env_id,
                            seeds.seed("animation", cfg.seed), f"the CartPole expert (experts/{cfg.name})", acfg, "greedy")]


def animations(results: list[RunResult], result: SectionResult, cfg: Config, acfg: "AnimationConfig") -> list["Rendered"]:
    """Both experts at work: CartPole (argmax actions), then HalfCheetah (deterministic actions)."""
    return cartpole_animations(cfg, acfg) + cheetah_expert.animations(cfg.halfcheetah, acfg)


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """Both experts: the CartPole expert (table, training curve, claims, replayed test), then the
    HalfCheetah SAC expert (its set-up as a text, its table, curve, claims and replayed test)."""
    expert = obtain(cfg, results)
    replay = recheck(expert, cfg)
    cheetah = cheetah_expert.obtain(cfg.halfcheetah, results)
    cheetah_replay = cheetah_expert.recheck(cheetah, cfg.halfcheetah)
    cheetah_table = cheetah_expert.table(cheetah, cheetah_replay)
    return SectionResult(
        table=table(expert, cfg, replay),
        claims=claims(expert, cfg, replay) + cheetah_expert.claims(cheetah, cfg.halfcheetah, cheetah_replay),
        frames=frames(expert, cfg, cheetah), titles=titles(expert, cfg, cheetah), marks=marks(expert, cfg, cheetah),
        regression=regression_values(expert, cfg) | cheetah_expert.regression_values(cheetah),
        headline=headline(expert, cfg) + " " + cheetah_expert.headline(cheetah),
        text={"halfcheetah_setup": cheetah_expert.describe(cfg.halfcheetah)},
        extra_tables={"halfcheetah_table": cheetah_table},
        extra={"expert": expert.metadata, "halfcheetah_expert": cheetah_expert.summary_json(cheetah)})
