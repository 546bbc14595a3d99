"""Section 09: behaviour cloning on HalfCheetah from the SAC expert with several action heads (report 3).

Every variant is the one imitation learner (:func:`lib.learners.imitation.train`) on the same cached expert dataset
with the same number of gradient steps (diffusion: a longer budget, one of its ingredients); only
the head, its net and, for DAgger, extra expert labels change. Variants: the Gaussian
log-likelihood baseline and its beta-NLL form, a mixture of Gaussians (main k and a k sweep), a
deterministic MSE head on our net and on the source's wider one, the source's best method (the
mixture trained on MSE, on its net), DDPM diffusion with what diffusion policies use to work (an
average of the weights, deterministic DDIM sampling, longer training; a T sweep and one ablation
per ingredient), DAgger on the source's best method against behaviour cloning with as many expert
labels, and the source's own hyperparameters for its best method.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..learners.imitation import DemoConfig, ImitationConfig, TestAlso
from ..learners.heads import HeadConfig, noise_schedule
from ..paths import resolve
from ..config import ConfigError, spec
from ..data.envs import max_episode_steps
from ..data.experts import read_metadata
from ..publish.plots import PALETTE, save
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from ..stats import mean_ci
from .common import animate_run, profile
from .protocol import GridConfig, Reproducibility, SectionResult, seed_range

if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered

SECTION = "09_bc_heads"
TITLE = "Behaviour cloning on HalfCheetah: action heads compared, and DAgger"
REPRODUCES = Reproducibility(
    "statistically",
    "the expert's data, its DAgger labels and its test score are exact on any machine (its actions are computed "
    "in float64, lib.learners.nets.ExactSACActor). The cloned policies train in float32, whose last-bit differences between "
    "CPUs grow into different HalfCheetah episodes, so each head's returns, and any verdict close to its margin, can "
    "differ on another machine within the spread over seeds that the table shows.")

Ablation = Literal["no_ema", "ddpm_sampler", "short_training", "linear_schedule", "no_clip", "no_obs_norm"]
#: Ablations of what only acts: tested on the main diffusion head's own runs (no training of their
#: own; :attr:`lib.learners.imitation.ImitationConfig.test_also`), paired with it seed by seed.
TEST_TIME: dict[str, TestAlso] = {"no_ema": "raw_weights", "ddpm_sampler": "ddpm"}
#: what each ablation changes in the main diffusion head: (name suffix, description)
ABLATIONS: dict[str, tuple[str, str]] = {
    "no_ema": ("no_ema", "no weight average"),
    "ddpm_sampler": ("ddpm", "stochastic DDPM sampling"),
    "short_training": ("short", "the other heads' budget"),
    "linear_schedule": ("linear", "linear schedule"),
    "no_clip": ("noclip", "not clipped"),
    "no_obs_norm": ("rawobs", "raw observations"),
}


@dataclass(frozen=True)
class Config(GridConfig):
    """Section 09 parameters: the base learner (``bc``, the Gaussian baseline) and the variants."""

    mog_k: int = spec(5, ge=1, doc="the main mixture's number of components (also the mixture + MSE head's)")
    mog_ks: tuple[int, ...] = spec((2, 5, 10), doc="the k sweep (includes mog_k)")
    beta_nll: float = spec(0.5, ge=0, le=1, doc="beta of the Gaussian head's beta-NLL variant (0: no such variant)")
    wide_width: int = spec(512, ge=1, doc="the source's wider net for its MSE heads: width")
    wide_depth: int = spec(3, ge=1, doc="... and depth (its 'third linear layer')")
    diffusion_T: int = spec(25, ge=1, doc="the main diffusion head's number of steps")
    diffusion_Ts: tuple[int, ...] = spec((5, 25, 50), doc="the T sweep (includes diffusion_T)")
    diffusion_ema: float = spec(0.999, ge=0, lt=1, doc="the diffusion heads' weight average (0: none)")
    diffusion_sample_steps: int = spec(0, ge=0, doc="the diffusion heads' deterministic DDIM steps at test (0: all T)")
    diffusion_steps: int = spec(40_000, ge=1, doc="the diffusion heads' gradient steps (longer than bc.steps)")
    diffusion_ablations: tuple[Ablation, ...] = spec(("no_ema", "ddpm_sampler", "short_training", "linear_schedule"),
                                                     doc="one change each to the main diffusion head")
    dagger_head: Literal["gaussian", "mog_mse_wide"] = spec("mog_mse_wide", doc="the head DAgger runs on (fixed "
                                                            "here: the source's best method, not chosen on the data)")
    dagger_rounds: int = spec(10, ge=1)
    dagger_episodes: int = spec(2, ge=1)
    source_batch_size: int = spec(500, ge=1, doc="the source's hyperparameters for its best method: minibatch")
    source_lr: float = spec(1e-3, gt=0, doc="... learning rate (constant)")
    source_weight_decay: float = spec(1e-6, ge=0, doc="... weight decay")
    source_epochs: float = spec(3.0, gt=0, doc="... passes over the data")
    within: float = spec(0.10, gt=0, lt=1, doc="'close to the expert' = test mean >= (1 - within) x expert's")
    bc: ImitationConfig = spec(default_factory=lambda: ImitationConfig(
        env_id="HalfCheetah-v4", expert="halfcheetah_sac", demos=DemoConfig(episodes=1000, shared_seed=0),
        head=HeadConfig(head="gaussian"), normalize_obs=True, steps=20_000, lr_schedule="cosine", eval_every=2_000,
        eval_episodes=5, test_episodes=10))

    def check(self) -> list[str]:
        errs = []
        if self.mog_k not in self.mog_ks:
            errs.append(f"key 'mog_k' ({self.mog_k}) must be one of 'mog_ks' {list(self.mog_ks)}")
        if self.diffusion_T not in self.diffusion_Ts:
            errs.append(f"key 'diffusion_T' ({self.diffusion_T}) must be one of 'diffusion_Ts' {list(self.diffusion_Ts)}")
        for key in ("mog_ks", "diffusion_Ts"):
            vals = getattr(self, key)
            if len(set(vals)) != len(vals) or any(v < 1 for v in vals):
                errs.append(f"key '{key}' must list distinct positive integers")
        if self.bc.demos.temperature is not None:
            errs.append("key 'bc.demos.temperature' must be null: the SAC expert acts deterministically")
        if self.bc.head.head != "gaussian" or self.bc.dagger_rounds != 0 or self.bc.ema_decay:
            errs.append("key 'bc' is the baseline: 'bc.head.head' must be gaussian, 'bc.dagger_rounds' and "
                        "'bc.ema_decay' 0 (the other heads, DAgger and the diffusion ingredients are made from it)")
        if self.bc.demos.extra_episodes:
            errs.append("key 'bc.demos.extra_episodes' must be 0: the section adds DAgger's number of episodes to "
                        "the data of behaviour cloning with as many labels")
        return errs + claim_problems(self.claims, [v.name for v in variants(self)], list(CLAIM_METRICS), self.skip_claims)


@dataclass(frozen=True)
class Variant:
    """One row of the chart: its name, the method it belongs to, its parameters, and its config."""

    name: str
    method: str
    params: str
    config: ImitationConfig
    main: bool
    #: a test-time ablation: the row is the main diffusion head's runs tested this way (no runs of its own)
    derived: TestAlso | None = None


def head_config(cfg: Config, name: str) -> ImitationConfig:
    """The learner of a named head on the baseline's data and budget: ``gaussian``, ``mog_mse_wide``."""
    base = cfg.bc
    if name == "gaussian":
        return base
    return dataclasses.replace(base, head=dataclasses.replace(base.head, head="mog_mse", k=cfg.mog_k, width=cfg.wide_width,
                                                              depth=cfg.wide_depth))


def dagger_config(cfg: Config) -> ImitationConfig:
    """DAgger on ``dagger_head`` with its behaviour-cloning budget: the steps split into
    ``dagger_rounds + 1`` equal phases; before each later phase the learner alone (beta = 0) plays
    ``dagger_episodes`` episodes whose states the expert labels."""
    c = head_config(cfg, cfg.dagger_head)
    phase = c.steps // (cfg.dagger_rounds + 1)
    return dataclasses.replace(c, steps=c.steps - cfg.dagger_rounds * phase, dagger_steps=phase,
                               dagger_rounds=cfg.dagger_rounds, dagger_episodes=cfg.dagger_episodes, beta0=0.0)


def dagger_labels(cfg: Config) -> int:
    """Expert labels DAgger queries on top of the data (every episode runs to the time limit)."""
    return cfg.dagger_rounds * cfg.dagger_episodes * episode_length(cfg)


def data_pairs(cfg: Config) -> int:
    """State-action pairs of the data every variant learns from: the file's, or episodes x episode length."""
    if cfg.bc.demos.file:
        path = resolve(cfg.bc.demos.file)
        return _file_pairs(str(path), path.stat().st_mtime_ns if path.is_file() else 0)
    return cfg.bc.demos.episodes * episode_length(cfg)


@functools.lru_cache(maxsize=4)
def _file_pairs(path: str, mtime_ns: int) -> int:
    """Pairs in a dataset file; 0 if it cannot be read (lib.checks refuses such a file, naming what is
    wrong, before any run: the variants can still be listed for the other checks)."""
    from ..data.datasets import load_file

    try:
        return int(load_file(Path(path))["observations"].shape[0])
    except Exception:
        return 0


def epochs(cfg: Config, c: ImitationConfig) -> float:
    """Passes over the data a learner's gradient steps make (its extra episodes included)."""
    return c.total_steps * c.batch_size / (data_pairs(cfg) + c.demos.extra_episodes * episode_length(cfg))


def variants(cfg: Config) -> list[Variant]:
    """Every variant, main ones first in the report's order, then the sweeps and ablations."""
    base = cfg.bc
    h = base.head

    def with_head(c: ImitationConfig = base, **kw) -> ImitationConfig:
        return dataclasses.replace(c, head=dataclasses.replace(c.head, **kw))

    wide = f"{cfg.wide_depth} x {cfg.wide_width} net"
    sampler = "ddim"

    def diffusion(T: int, ablation: str | None = None) -> ImitationConfig:
        c = dataclasses.replace(with_head(head="diffusion", T=T, sampler=sampler, sample_steps=cfg.diffusion_sample_steps),
                                steps=cfg.diffusion_steps, ema_decay=cfg.diffusion_ema)
        if T == cfg.diffusion_T and ablation is None:  # the main head's runs also test the test-time ablations
            c = dataclasses.replace(c, test_also=tuple(TEST_TIME[a] for a in cfg.diffusion_ablations if a in TEST_TIME))
        if ablation == "no_ema":
            c = dataclasses.replace(c, ema_decay=0.0)
        elif ablation == "ddpm_sampler":
            c = with_head(c, sampler="ddpm")
        elif ablation == "short_training":
            c = dataclasses.replace(c, steps=base.steps)
        elif ablation == "linear_schedule":
            c = with_head(c, schedule="linear" if h.schedule == "cosine" else "cosine")
        elif ablation == "no_clip":
            c = with_head(c, clip_sample=False)
        elif ablation == "no_obs_norm":
            c = dataclasses.replace(c, normalize_obs=False)
        return c

    def diffusion_params(T: int) -> str:
        return (f"T={T}, {h.schedule} schedule, clipped, weight average {cfg.diffusion_ema:g}, "
                f"DDIM {min(cfg.diffusion_sample_steps or T, T)} steps")

    out = [Variant("gaussian", "Gaussian, log-likelihood", "", base, True)]
    if cfg.beta_nll:
        out.append(Variant("gaussian_beta_nll", "Gaussian, beta-NLL", f"beta={cfg.beta_nll:g}",
                           with_head(beta_nll=cfg.beta_nll), True))
    out += [Variant(f"mog_k{cfg.mog_k}", "Mixture of Gaussians", f"k={cfg.mog_k}", with_head(head="mog", k=cfg.mog_k), True),
            Variant("mse", "Deterministic, MSE", "", with_head(head="mse"), True),
            Variant("mse_wide", "Deterministic, MSE", wide, with_head(head="mse", width=cfg.wide_width, depth=cfg.wide_depth), True),
            Variant("mog_mse_wide", "Mixture + MSE (the source's best)", f"k={cfg.mog_k}, {wide}",
                    head_config(cfg, "mog_mse_wide"), True),
            Variant(f"diffusion_T{cfg.diffusion_T}", "Diffusion", diffusion_params(cfg.diffusion_T), diffusion(cfg.diffusion_T), True),
            Variant("dagger", f"DAgger ({'mixture + MSE' if cfg.dagger_head == 'mog_mse_wide' else 'Gaussian'} head)",
                    f"{cfg.dagger_rounds} rounds x {cfg.dagger_episodes} episodes", dagger_config(cfg), True),
            Variant("bc_equal_labels", f"BC with DAgger's labels ({'mixture + MSE' if cfg.dagger_head == 'mog_mse_wide' else 'Gaussian'} head)",
                    f"the data + {cfg.dagger_rounds * cfg.dagger_episodes} expert episodes",
                    dataclasses.replace(head_config(cfg, cfg.dagger_head), demos=dataclasses.replace(
                        base.demos, extra_episodes=cfg.dagger_rounds * cfg.dagger_episodes)), True)]
    src = head_config(cfg, "mog_mse_wide")
    steps = max(1, round(cfg.source_epochs * data_pairs(cfg) / cfg.source_batch_size))
    out.append(Variant("source_hparams", "Mixture + MSE, the source's hyperparameters",
                       f"k={cfg.mog_k}, {wide}, batch {cfg.source_batch_size}, lr {cfg.source_lr:g} constant, weight decay "
                       f"{cfg.source_weight_decay:g}, {cfg.source_epochs:g} epochs",
                       dataclasses.replace(src, batch_size=cfg.source_batch_size, lr=cfg.source_lr, lr_schedule="constant",
                                           weight_decay=cfg.source_weight_decay, steps=steps), True))
    for k in cfg.mog_ks:
        if k != cfg.mog_k:
            out.append(Variant(f"mog_k{k}", "Mixture of Gaussians", f"k={k}", with_head(head="mog", k=k), False))
    for T in cfg.diffusion_Ts:
        if T != cfg.diffusion_T:
            out.append(Variant(f"diffusion_T{T}", "Diffusion", diffusion_params(T), diffusion(T), False))
    for ab in cfg.diffusion_ablations:
        suffix, what = ABLATIONS[ab]
        derived = TEST_TIME.get(ab)
        out.append(Variant(f"diffusion_T{cfg.diffusion_T}_{suffix}", "Diffusion",
                           f"T={cfg.diffusion_T}, as the main head but {what}",
                           diffusion(cfg.diffusion_T) if derived else diffusion(cfg.diffusion_T, ab), False, derived))
    return out


def specs(cfg: Config) -> list[RunSpec]:
    """One run per variant x seed; the expert's sha256 is part of every key."""
    sha = read_metadata(cfg.bc.expert)["policy_sha256"]
    data_sha = ""
    if cfg.bc.demos.file:
        from ..data.experts import file_sha256

        path = resolve(cfg.bc.demos.file)
        if not path.exists():
            raise ConfigError(f"key 'bc.dataset_file': {path} does not exist")
        data_sha = file_sha256(path)
    out = []
    for v in variants(cfg):
        if v.derived:  # tested on the main diffusion head's runs
            continue
        run_cfg = dataclasses.replace(v.config, expert_sha256=sha, demos=dataclasses.replace(v.config.demos, file_sha256=data_sha))
        for seed in seed_range(cfg):
            out.append(RunSpec(section=SECTION, variant=v.name, exp_name=f"bc_{v.name}", seed=seed, config=run_cfg,
                               trainer="lib.learners.imitation:train"))
    return out


def expert_score(cfg: Config) -> dict[str, float]:
    m = read_metadata(cfg.bc.expert)
    return {"test_mean": float(m["test_mean"]), "test_std": float(m["test_std"]), "test_episodes": int(m["test_episodes"]),
            "steps": int(m["env_steps"])}


def episode_length(cfg: Config) -> int:
    """Steps of one episode: HalfCheetah never terminates, so every episode runs to the registered time limit."""
    return int(max_episode_steps(cfg.bc.env_id) or 0)


def describe(cfg: Config) -> str:
    b, h = cfg.bc, cfg.bc.head
    e = expert_score(cfg)
    names = {v.name: v for v in variants(cfg)}
    diff = names[f"diffusion_T{cfg.diffusion_T}"].config
    pairs = data_pairs(cfg)
    return (
        f"- **Expert**: `experts/{b.expert}` (section 03, SAC after {e['steps']:,} steps; test "
        f"{e['test_mean']:.0f} ± {e['test_std']:.0f} over {e['test_episodes']} episodes, deterministic actions).\n"
        + (f"- **Data**: `{b.demos.file}` ({pairs:,} state-action pairs in the report's format, made elsewhere).\n"
           if b.demos.file else
           f"- **Data**: {b.demos.episodes:,} expert episodes ({pairs:,} state-action pairs, deterministic expert "
           f"actions), in the report's format with the expert's mean and std return; made once, cached under "
           f"`runs/datasets/`.\n")
        + f"- **Learner**: MLP trunk {h.depth} x {h.width} (ReLU; the source's wider {cfg.wide_depth} x {cfg.wide_width} "
        f"where the chart says so) on observations normalised by the data's mean and std, actions in [-1, 1]; "
        f"{b.steps:,} AdamW steps of {b.batch_size} pairs ({epochs(cfg, b):.1f} epochs), lr {b.lr:g} cosine-decayed to 0, "
        f"weight decay {b.weight_decay:g}: the **same budget for every head** but diffusion.\n"
        f"- **Heads**: Gaussian (log-likelihood; acts with its mean; and beta-NLL, each dimension's NLL weighted by its "
        f"variance^beta), mixture of k Gaussians (log-likelihood; acts with the mean of its heaviest component), "
        f"deterministic (MSE), mixture + MSE (the mixture's mean action trained on MSE, acting with it: the source's "
        f"best method as it describes it), diffusion (DDPM training, predicts the noise; step embedding of size "
        f"{h.time_dim}) with what diffusion policies use to work: an exponential average of the weights (decay "
        f"{cfg.diffusion_ema:g}), deterministic DDIM sampling at test ({diff.head.sample_steps or diff.head.T} steps, each "
        f"clipping its clean-action estimate to [-1, 1]) and a longer budget, {cfg.diffusion_steps:,} steps "
        f"({epochs(cfg, diff):.1f} epochs); each ablation takes one of them away. What only acts (the average, the "
        f"sampler) is ablated on the main head's own runs, each tested also without it on the same test episodes' "
        f"starts (a paired comparison at no training cost); the rest by runs of their own.\n"
        f"- **DAgger**: the {cfg.dagger_head} head with its behaviour-cloning budget split into {cfg.dagger_rounds + 1} "
        f"phases; before each later phase the learner plays {cfg.dagger_episodes} episodes whose states the expert "
        f"labels ({dagger_labels(cfg):,} labels in all). Beside it, behaviour cloning of the same head on the data "
        f"and {cfg.dagger_rounds * cfg.dagger_episodes:,} more expert episodes (each run seed its own): as many expert "
        f"labels and as many gradient steps.\n"
        f"- **Evaluation**: every {b.eval_every:,} steps {b.eval_episodes} episodes; the final return is the mean of "
        f"{b.test_episodes} test episodes on seeds of their own. {cfg.seeds} seeds per variant; intervals are "
        f"95% percentile-bootstrap intervals over seeds."
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    """One row per variant x seed; a test-time ablation's rows are its main head's runs tested its way
    (wall time 0: no training of its own)."""
    vs = variants(cfg)
    names = {v.name: v for v in vs}
    main_diffusion = f"diffusion_T{cfg.diffusion_T}"
    rows = []
    for r in results:
        s = r.summary
        row = {"seed": r.spec.seed, "dataset_size": s["expert_labels"]}
        v = names[r.spec.variant]
        rows.append({"variant": v.name, "method": v.method, "params": v.params, "main": v.main, **row,
                     "test_mean": s["test_mean"], "test_std": s["test_std"], "wall_time_s": s["wall_time_s"]})
        for d in (d for d in vs if d.derived and r.spec.variant == main_diffusion):
            rets = np.asarray(s[f"test_returns_{d.derived}"])
            rows.append({"variant": d.name, "method": d.method, "params": d.params, "main": d.main, **row,
                         "test_mean": float(rets.mean()), "test_std": float(rets.std()), "wall_time_s": 0.0})
    order = {v.name: i for i, v in enumerate(vs)}
    return pd.DataFrame(rows).sort_values(["variant", "seed"], key=lambda c: c.map(order) if c.name == "variant" else c,
                                          kind="stable", ignore_index=True)


def _note(v: Variant, cfg: Config) -> str:
    if v.name == "gaussian":
        return "baseline"
    if v.name == "dagger":
        return f"+{dagger_labels(cfg):,} expert labels on the learner's own states"
    if v.name == "bc_equal_labels":
        return f"as many expert labels and gradient steps as DAgger"
    if v.name == "source_hparams":
        return f"{v.config.steps:,} steps ({epochs(cfg, v.config):.1f} epochs)"
    if v.derived:
        return "the main head's runs, tested this way"
    if v.config.head.head == "diffusion":
        s = noise_schedule(v.config.head.T, v.config.head.schedule)
        return f"{v.config.steps:,} steps; alpha_bar at the last step {float(s['alpha_bar'][-1]):.3g}"
    return "sweep" if not v.main else ""


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The report's chart: method, parameters, final return (mean, 95% CI over seeds), share of the
    expert, mean wall time of a run (one core; "-" for a test-time ablation: no training of its own), notes."""
    expert = expert_score(cfg)["test_mean"]
    rows = []
    for v in variants(cfg):
        d = runs[runs.variant == v.name]
        m, lo, hi = mean_ci(d.test_mean.to_numpy())
        rows.append({"variant": v.name, "method": v.method, "parameters": v.params or "-", "seeds": len(d),
                     "final return": round(float(m), 0), "95% CI": f"[{lo:.0f}, {hi:.0f}]",
                     "% of expert": round(100 * float(m) / expert, 1),
                     f"within {cfg.within:.0%}": bool(m >= (1 - cfg.within) * expert),
                     "s per run": "-" if v.derived else round(float(d.wall_time_s.mean()), 0), "notes": _note(v, cfg)})
    return pd.DataFrame(rows)


def curves_figure(results: list[RunResult], cfg: Config, out_dir: Path, main: bool = True) -> Path:
    """Evaluation return over gradient steps, mean and 95% band over seeds, with the expert's return."""
    expert = expert_score(cfg)["test_mean"]
    vs = [v for v in variants(cfg) if (v.main if main else v.config.head.head == "diffusion")]
    # steps differ between variants (diffusion trains longer): each curve on its own x
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for i, v in enumerate(vs):
        logs = [r.log() for r in results if r.spec.variant == v.name]
        if not logs:
            continue
        n = min(len(lg) for lg in logs)
        x = logs[0]["step"].to_numpy()[:n]
        y = np.stack([lg["eval_mean"].to_numpy()[:n] for lg in logs])
        m, lo, hi = mean_ci(y)
        label = v.method + (f" ({v.params})" if v.params else "")
        ax.plot(x, m, color=PALETTE[i % len(PALETTE)], lw=1.6, label=label)
        if len(logs) > 1:
            ax.fill_between(x, lo, hi, color=PALETTE[i % len(PALETTE)], alpha=0.15)
    ax.axhline(expert, color="0.2", ls="--", lw=1, label=f"expert ({expert:.0f})")
    ax.axhline((1 - cfg.within) * expert, color="0.5", ls=":", lw=1, label=f"{1 - cfg.within:.0%} of expert")
    ax.set(xlabel="gradient step", ylabel="evaluation return",
           title="Reward over training" + ("" if main else ": diffusion variants"))
    # below the axes, clear of the curves, in two columns: the labels are long and beside the axes they
    # squeezed the plot to half the figure's width
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    path = save(fig, out_dir / "figures" / ("curves.png" if main else "curves_diffusion.png"))
    return path


def sweep_figure(runs: pd.DataFrame, cfg: Config, out_dir: Path) -> Path:
    """Final return against k (mixture) and T (diffusion), mean and 95% CI over seeds."""
    expert = expert_score(cfg)["test_mean"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), sharey=True)
    for ax, (param, values, prefix) in zip(axes, [("k", cfg.mog_ks, "mog_k"), ("T", cfg.diffusion_Ts, "diffusion_T")]):
        ms, los, his = [], [], []
        for val in sorted(values):
            d = runs[runs.variant == f"{prefix}{val}"].test_mean.to_numpy()
            m, lo, hi = mean_ci(d)
            ms.append(m), los.append(lo), his.append(hi)
        xs = sorted(values)
        pos = np.arange(len(xs))  # evenly spaced, labelled with the values
        ms_a = np.array(ms)
        err = np.nan_to_num([ms_a - np.array(los), np.array(his) - ms_a])
        ax.errorbar(pos, ms_a, yerr=err, marker="o", capsize=3, color=PALETTE[0])
        ax.axhline(expert, color="0.2", ls="--", lw=1, label="expert")
        ax.set(xlabel=param, xticks=pos, xticklabels=[str(x) for x in xs],
               title="mixture of Gaussians" if param == "k" else "diffusion (main head's ingredients)")
    axes[0].set_ylabel("final return")
    path = save(fig, out_dir / "figures" / "sweeps.png")
    return path


#: Per-seed metrics claims may name (columns of :func:`claim_table`).
CLAIM_METRICS = {"% of expert": "the mean test return as a percentage of the expert's recorded test return"}


def claim_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    return runs.assign(**{"% of expert": 100 * runs.test_mean / expert_score(cfg)["test_mean"]})


def claims(runs: pd.DataFrame, tab: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims (and the issue's aim), decided by the rules in params (Holm across them)."""
    expert = expert_score(cfg)["test_mean"]
    lin = f"diffusion_T{cfg.diffusion_T}_linear"
    abar = (f" With the linear schedule alpha_bar at the last step is {float(noise_schedule(cfg.diffusion_T, 'linear')['alpha_bar'][-1]):.2f}: "
            "the noisiest training inputs still hold most of the action, while sampling starts from pure noise."
            if lin in set(runs.variant) else "")
    said = f"The expert's recorded test return: {expert:.0f}."
    verdicts = judge(decided_claims(cfg), claim_table(runs, cfg), cfg.alpha)
    return [Claim.judged(v, (said if i == 0 else "") + (abar if lin in v.seeds else "")) for i, v in enumerate(verdicts)]


#: One-factor contrasts of the chart (from, to, what changes): each pair of variants differs in one thing.
CONTRASTS: tuple[tuple[str, str, str], ...] = (
    ("gaussian", "gaussian_beta_nll", "beta-NLL instead of the Gaussian's NLL"),
    ("gaussian", "mse", "a deterministic MSE head instead of the Gaussian's NLL"),
    ("mse", "mse_wide", "the source's wider net for the MSE head"),
    ("mse_wide", "mog_mse_wide", "the mixture trained on MSE instead of the plain MSE head (wider net)"),
    ("bc_equal_labels", "dagger", "DAgger's labels on the learner's own states instead of as many expert labels"),
    ("mog_mse_wide", "source_hparams", "the source's own hyperparameters instead of ours (mixture + MSE)"),
)


def difference_text(runs: pd.DataFrame, cfg: Config) -> str:
    """What made the difference, from the chart's one-factor contrasts (:data:`CONTRASTS`, those whose
    two variants ran): per contrast the two means in % of the expert and the mean of the per-seed
    differences with its 95% bootstrap interval. Variants share run seeds and the expert dataset, so seed s
    of one is paired with seed s of the other. Descriptive: the verdicts are the claims'."""
    pct = claim_table(runs, cfg).pivot_table(index="seed", columns="variant", values="% of expert")
    rows = []
    for a, b, what in CONTRASTS:
        if a not in pct or b not in pct:
            continue
        d = (pct[b] - pct[a]).dropna().to_numpy()
        m, lo, hi = mean_ci(d)
        rows.append((float(m), what, f"- **{what}** (`{a}` -> `{b}`): "
                     f"{pct[a].mean():.0f}% -> {pct[b].mean():.0f}% of the expert, {m:+.1f} points "
                     f"[{lo:+.1f}, {hi:+.1f}] over {len(d)} paired seeds."))
    if not rows:
        return ""
    top = max(rows, key=lambda r: abs(r[0]))
    lines = [r[2] for r in rows]
    lines.append(f"\nThe largest of these single changes: **{top[1]}** ({top[0]:+.1f} points of the expert's return).")
    return "\n".join(lines)


def ablation_text(runs: pd.DataFrame, cfg: Config) -> str:
    """What made the difference for diffusion, read from the ablations (empty if none were run)."""
    names = {v.name: v for v in variants(cfg)}
    main = f"diffusion_T{cfg.diffusion_T}"
    m0 = runs[runs.variant == main].test_mean.mean()
    lines = [f"- Main diffusion head ({names[main].params}, {names[main].config.steps:,} steps): **{m0:.0f}**."]
    drops: dict[str, float] = {}
    for v in variants(cfg):
        if v.name.startswith(main + "_"):
            m = runs[runs.variant == v.name].test_mean.mean()
            drops[v.params.split("as the main head but ")[-1]] = m0 - m
            lines.append(f"- {v.params.split('as the main head but ')[-1]} ({_note(v, cfg)}): **{m:.0f}** ({m - m0:+.0f}).")
    ts = sorted(cfg.diffusion_Ts)
    if len(ts) > 1:
        parts = ", ".join(f"T={t}: {runs[runs.variant == f'diffusion_T{t}'].test_mean.mean():.0f}" for t in ts)
        lines.append(f"- Number of steps: {parts}.")
    if drops:
        worst = max(drops, key=lambda k: drops[k])
        if drops[worst] > 0:
            lines.append(f"\nOf the single changes tried, the costliest is **{worst}** ({-drops[worst]:+.0f} against the "
                         f"main head).")
        else:
            lines.append("\nNone of the single changes tried costs return against the main head.")
    return "\n".join(lines)


def regression_values(tab: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    """The table's shape, variants and seeds, exactly; no returns: in the smoke profile the heads have
    not learned, and their HalfCheetah returns are noise that differs between machines."""
    return {"variants": (len(tab), 0), "variant_names": (list(tab.variant), 0), "columns": (list(tab.columns), 0),
            "seeds": ([int(s) for s in tab.seeds], 0)}


def short_labels(cfg: Config) -> dict[str, str]:
    """Main variant -> its method, with its parameters only where two main variants share the method
    (the MSE head on two nets): the headline's and the profile legend's names."""
    main = [v for v in variants(cfg) if v.main]
    methods = [v.method for v in main]
    return {v.name: v.method + (f" ({v.params})" if methods.count(v.method) > 1 and v.params else "") for v in main}


def headline(tab: pd.DataFrame, cfg: Config) -> str:
    labels = short_labels(cfg)
    main = tab[tab.variant.isin(list(labels))]
    parts = ", ".join(f"{labels[r.variant]} {r['final return']:.0f}" for _, r in main.iterrows())
    return f"Final test return ({cfg.seeds} seeds, expert {expert_score(cfg)['test_mean']:.0f}): {parts}."


def animations(results: list[RunResult], result: SectionResult, cfg: Config, acfg: "AnimationConfig") -> list["Rendered"]:
    """The best and the worst of the main methods at work (by mean test return over seeds; their first seed)."""
    if not acfg.enabled:
        return []
    main = result.per_run[result.per_run.main.astype(bool)]
    means = main.groupby("variant")["test_mean"].mean()
    names = {v.name: v for v in variants(cfg)}
    out = []
    for which, name in (("best", means.idxmax()), ("worst", means.idxmin())):
        r = next(r for r in results if r.spec.variant == name)
        v = names[name]
        label = v.method + (f" ({v.params})" if v.params else "")
        out.append(animate_run(r, acfg, f"the {which} method, {label}, training seed {r.spec.seed}"))
    return out


def analyse(results: list[RunResult], cfg: Config, out_dir: Path) -> SectionResult:
    """The chart of methods, the learning curves (main methods, then sweeps and ablations), the sweep
    figure, what the diffusion ablations say, and the claims."""
    runs = per_run(results, cfg)
    tab = table(runs, cfg)
    main = [v for v in variants(cfg) if v.main]
    figures = [curves_figure(results, cfg, out_dir, main=True), curves_figure(results, cfg, out_dir, main=False),
               sweep_figure(runs, cfg, out_dir),
               profile(claim_table(runs, cfg), "% of expert", [v.name for v in main],
                       short_labels(cfg), out_dir / "figures" / "profile.png",
                       xlabel="test return, % of the expert's", lo=0.0, hi=110.0,
                       title=f"performance profile over seeds ({cfg.seeds} per method), 95% bootstrap band")]
    diffusion = ablation_text(runs, cfg)
    return SectionResult(table=tab, per_run=runs, claims=claims(runs, tab, cfg), figures=figures,
                         regression=regression_values(tab, cfg), headline=headline(tab, cfg),
                         text={"diffusion": diffusion, "difference": difference_text(runs, cfg)},
                         extra={"expert": expert_score(cfg)})
