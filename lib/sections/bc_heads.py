"""Section 09: behaviour cloning on HalfCheetah from the SAC expert with several action heads (report 3).

Every variant is the one imitation learner (:func:`lib.learners.imitation.train`) on the same cached expert dataset
with the same number of gradient steps; only the head (and, for DAgger, extra expert labels)
changes. Variants: the Gaussian log-likelihood baseline, a mixture of Gaussians (main k and a
k sweep), a deterministic MSE head, DDPM diffusion (main T, a T sweep, and two ablations that
isolate what a working diffusion head needs: the noise schedule and the clipping of each
step's clean-action estimate), and DAgger on the baseline head.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..learners.imitation import DemoConfig, ImitationConfig
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

Ablation = Literal["linear_schedule", "no_clip", "no_obs_norm"]


@dataclass(frozen=True)
class Config(GridConfig):
    """Section 09 parameters: the base learner (``bc``, the Gaussian baseline) and the variants."""

    mog_k: int = spec(5, ge=1, doc="the main mixture's number of components")
    mog_ks: tuple[int, ...] = spec((2, 5, 10), doc="the k sweep (includes mog_k)")
    diffusion_T: int = spec(25, ge=1, doc="the main diffusion head's number of steps")
    diffusion_Ts: tuple[int, ...] = spec((5, 25, 50), doc="the T sweep (includes diffusion_T)")
    diffusion_ablations: tuple[Ablation, ...] = spec(("linear_schedule", "no_clip", "no_obs_norm"),
                                                     doc="one change each to the main diffusion head")
    dagger_rounds: int = spec(4, ge=1)
    dagger_episodes: int = spec(2, ge=1)
    within: float = spec(0.10, gt=0, lt=1, doc="'close to the expert' = test mean >= (1 - within) x expert's")
    bc: ImitationConfig = spec(default_factory=lambda: ImitationConfig(
        env_id="HalfCheetah-v4", expert="halfcheetah_sac", demos=DemoConfig(episodes=200, shared_seed=0),
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
        if self.bc.head.head != "gaussian" or self.bc.dagger_rounds != 0:
            errs.append("key 'bc' is the baseline: 'bc.head.head' must be gaussian and 'bc.dagger_rounds' 0 "
                        "(the other heads and DAgger are made from it)")
        return errs + claim_problems(self.claims, [v.name for v in variants(self)], list(CLAIM_METRICS), self.skip_claims)


@dataclass(frozen=True)
class Variant:
    """One row of the chart: its name, the method it belongs to, its parameters, and its config."""

    name: str
    method: str
    params: str
    config: ImitationConfig
    main: bool


def dagger_config(cfg: Config) -> ImitationConfig:
    """DAgger on the baseline head with the baseline's budget: its steps split into ``dagger_rounds + 1``
    equal phases; before each later phase the learner alone (beta = 0) plays ``dagger_episodes``
    episodes whose states the expert labels."""
    phase = cfg.bc.steps // (cfg.dagger_rounds + 1)
    return dataclasses.replace(cfg.bc, steps=phase, dagger_steps=phase, dagger_rounds=cfg.dagger_rounds,
                               dagger_episodes=cfg.dagger_episodes, beta0=0.0)


def variants(cfg: Config) -> list[Variant]:
    """Every variant, main ones first in the report's order, then the sweeps and ablations."""
    base = cfg.bc
    h = base.head

    def with_head(**kw) -> ImitationConfig:
        return dataclasses.replace(base, head=dataclasses.replace(h, **kw))

    out = [Variant("gaussian", "Gaussian, log-likelihood", "", base, True),
           Variant(f"mog_k{cfg.mog_k}", "Mixture of Gaussians", f"k={cfg.mog_k}", with_head(head="mog", k=cfg.mog_k), True),
           Variant("mse", "Deterministic, MSE", "", with_head(head="mse"), True),
           Variant(f"diffusion_T{cfg.diffusion_T}", "Diffusion (DDPM)", f"T={cfg.diffusion_T}, {h.schedule} schedule, clipped",
                   with_head(head="diffusion", T=cfg.diffusion_T), True),
           Variant("dagger", "DAgger (Gaussian head)", f"{cfg.dagger_rounds} rounds x {cfg.dagger_episodes} episodes",
                   dagger_config(cfg), True)]
    for k in cfg.mog_ks:
        if k != cfg.mog_k:
            out.append(Variant(f"mog_k{k}", "Mixture of Gaussians", f"k={k}", with_head(head="mog", k=k), False))
    for T in cfg.diffusion_Ts:
        if T != cfg.diffusion_T:
            out.append(Variant(f"diffusion_T{T}", "Diffusion (DDPM)", f"T={T}, {h.schedule} schedule, clipped",
                               with_head(head="diffusion", T=T), False))
    for ab in cfg.diffusion_ablations:
        if ab == "linear_schedule":
            other = "linear" if h.schedule == "cosine" else "cosine"
            out.append(Variant(f"diffusion_T{cfg.diffusion_T}_{other}", "Diffusion (DDPM)",
                               f"T={cfg.diffusion_T}, {other} schedule, clipped",
                               with_head(head="diffusion", T=cfg.diffusion_T, schedule=other), False))
        elif ab == "no_clip":
            out.append(Variant(f"diffusion_T{cfg.diffusion_T}_noclip", "Diffusion (DDPM)",
                               f"T={cfg.diffusion_T}, {h.schedule} schedule, not clipped",
                               with_head(head="diffusion", T=cfg.diffusion_T, clip_sample=False), False))
        else:
            out.append(Variant(f"diffusion_T{cfg.diffusion_T}_rawobs", "Diffusion (DDPM)",
                               f"T={cfg.diffusion_T}, {h.schedule} schedule, clipped, raw observations",
                               dataclasses.replace(with_head(head="diffusion", T=cfg.diffusion_T), normalize_obs=False), False))
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
    return (
        f"- **Expert**: `experts/{b.expert}` (section 03, SAC after {e['steps']:,} steps; test "
        f"{e['test_mean']:.0f} ± {e['test_std']:.0f} over {e['test_episodes']} episodes, deterministic actions).\n"
        + (f"- **Data**: `{b.demos.file}` (a dataset in the report's format, made elsewhere).\n" if b.demos.file else
           f"- **Data**: {b.demos.episodes} expert episodes ({b.demos.episodes * episode_length(cfg):,} state-action pairs, "
           f"deterministic expert actions), in the report's format; cached under `runs/datasets/`.\n")
        + f"- **Learner**: MLP trunk {h.depth} x {h.width} (ReLU) on observations normalised by the data's mean and "
        f"std, actions in [-1, 1]; {b.steps:,} AdamW steps of {b.batch_size} pairs, lr {b.lr:g} cosine-decayed to 0, "
        f"weight decay {b.weight_decay:g}: the **same budget for every head**.\n"
        f"- **Heads**: Gaussian (log-likelihood; acts with its mean), mixture of k Gaussians (log-likelihood; acts "
        f"with the mean of its heaviest component), deterministic (MSE), DDPM diffusion (predicts the noise; acts "
        f"with a sample from T reverse steps, each clipping its clean-action estimate to [-1, 1]; step embedding "
        f"of size {h.time_dim}). DAgger: the Gaussian learner; the budget is split into {cfg.dagger_rounds + 1} "
        f"phases and before each later phase the learner plays {cfg.dagger_episodes} episodes whose states the "
        f"expert labels.\n"
        f"- **Evaluation**: every {b.eval_every:,} steps {b.eval_episodes} episodes; the final return is the mean of "
        f"{b.test_episodes} test episodes on seeds of their own. {cfg.seeds} seeds per variant; intervals are "
        f"95% percentile-bootstrap intervals over seeds."
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    names = {v.name: v for v in variants(cfg)}
    rows = []
    for r in results:
        v = names[r.spec.variant]
        s = r.summary
        rows.append({"variant": v.name, "method": v.method, "params": v.params, "main": v.main, "seed": r.spec.seed,
                     "test_mean": s["test_mean"], "test_std": s["test_std"], "dataset_size": s["expert_labels"],
                     "wall_time_s": s["wall_time_s"]})
    return pd.DataFrame(rows)


def _note(v: Variant, cfg: Config) -> str:
    if v.name == "gaussian":
        return "baseline"
    if v.name == "dagger":
        extra = cfg.dagger_rounds * cfg.dagger_episodes * episode_length(cfg)
        return f"+{extra:,} expert labels on the learner's own states"
    if v.config.head.head == "diffusion":
        s = noise_schedule(v.config.head.T, v.config.head.schedule)
        return f"alpha_bar at the last step {float(s['alpha_bar'][-1]):.3g}"
    return "sweep" if not v.main else ""


def table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The report's chart: method, parameters, final return (mean, 95% CI over seeds), share of the expert, notes."""
    expert = expert_score(cfg)["test_mean"]
    rows = []
    for v in variants(cfg):
        d = runs[runs.variant == v.name]
        m, lo, hi = mean_ci(d.test_mean.to_numpy())
        rows.append({"variant": v.name, "method": v.method, "parameters": v.params or "-", "seeds": len(d),
                     "final return": round(float(m), 0), "95% CI": f"[{lo:.0f}, {hi:.0f}]",
                     "% of expert": round(100 * float(m) / expert, 1),
                     f"within {cfg.within:.0%}": bool(m >= (1 - cfg.within) * expert),
                     "notes": _note(v, cfg)})
    return pd.DataFrame(rows)


def curves_figure(results: list[RunResult], cfg: Config, out_dir: Path, main: bool = True) -> Path:
    """Evaluation return over gradient steps, mean and 95% band over seeds, with the expert's return."""
    expert = expert_score(cfg)["test_mean"]
    vs = [v for v in variants(cfg) if (v.main if main else v.config.head.head == "diffusion")]
    fig, ax = plt.subplots(figsize=(7.5, 4.5) if main else (10, 4.5))
    for i, v in enumerate(vs):
        logs = [r.log() for r in results if r.spec.variant == v.name]
        if not logs:
            continue
        x = logs[0]["step"].to_numpy()
        y = np.stack([lg["eval_mean"].to_numpy() for lg in logs])
        m, lo, hi = mean_ci(y)
        label = v.method + (f" ({v.params})" if v.params else "")
        ax.plot(x, m, color=PALETTE[i % len(PALETTE)], lw=1.6, label=label)
        if len(logs) > 1:
            ax.fill_between(x, lo, hi, color=PALETTE[i % len(PALETTE)], alpha=0.15)
    ax.axhline(expert, color="0.2", ls="--", lw=1, label=f"expert ({expert:.0f})")
    ax.axhline((1 - cfg.within) * expert, color="0.5", ls=":", lw=1, label=f"{1 - cfg.within:.0%} of expert")
    ax.set(xlabel="gradient step", ylabel="evaluation return",
           title="Reward over training" + ("" if main else ": diffusion variants"))
    if main:
        ax.legend(fontsize="x-small", loc="lower right")
    else:  # more variants: the legend goes beside the axes, clear of the curves
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
               title="mixture of Gaussians" if param == "k" else "diffusion (cosine schedule, clipped)")
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


def ablation_text(runs: pd.DataFrame, cfg: Config) -> str:
    """What made the difference for diffusion, read from the ablations (empty if none were run)."""
    names = {v.name: v for v in variants(cfg)}
    main = f"diffusion_T{cfg.diffusion_T}"
    m0 = runs[runs.variant == main].test_mean.mean()
    lines = [f"- Main diffusion head ({names[main].params}, observations standardised): **{m0:.0f}**."]
    drops: dict[str, float] = {}
    for v in variants(cfg):
        if v.name.startswith(main + "_"):
            m = runs[runs.variant == v.name].test_mean.mean()
            drops[v.params] = m0 - m
            lines.append(f"- {v.params} ({_note(v, cfg)}): **{m:.0f}** ({m - m0:+.0f}).")
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


def headline(tab: pd.DataFrame, cfg: Config) -> str:
    main = tab[tab.variant.isin([v.name for v in variants(cfg) if v.main])]
    parts = ", ".join(f"{r['method']} {r['final return']:.0f}" for _, r in main.iterrows())
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
                       {v.name: v.method + (f" ({v.params})" if v.params else "") for v in main}, out_dir / "figures" / "profile.png",
                       xlabel="test return, % of the expert's", lo=0.0, hi=110.0,
                       title=f"performance profile over seeds ({cfg.seeds} per method), 95% bootstrap band")]
    diffusion = ablation_text(runs, cfg)
    return SectionResult(table=tab, per_run=runs, claims=claims(runs, tab, cfg), figures=figures,
                         regression=regression_values(tab, cfg), headline=headline(tab, cfg),
                         text={"diffusion": diffusion}, extra={"expert": expert_score(cfg)})
