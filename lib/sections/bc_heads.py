"""Section 09: behaviour cloning on HalfCheetah from the SAC expert with several action heads (report 3).

Every variant is the one imitation learner (:func:`lib.learners.imitation.train`) on the same cached expert dataset
with the same number of gradient steps (diffusion: a longer budget, one of its ingredients); only
the head, its net and, for DAgger, extra expert labels change. Rows: the Gaussian
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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..learners.imitation import DemoConfig, ImitationConfig, TestAlso
from ..learners.heads import HeadConfig, noise_schedule
from ..paths import resolve
from ..config import ConfigError, spec
from ..data.envs import max_episode_steps
from ..data.experts import read_metadata
from ..publish.plots import colours
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from ..stats import mean_ci
from .common import animate_run, labelled, log_frame
from .protocol import GridConfig, Reproducibility, SectionResult, seed_range
from ..data.datasets import load_file
from ..data.experts import file_sha256

if TYPE_CHECKING:
    from ..publish.animate import AnimationConfig, Rendered

SECTION = "09_bc_heads"
TITLE = "Behaviour cloning on HalfCheetah: action heads compared, and DAgger"
REPRODUCES = Reproducibility(
    "statistically",
    "the expert's data, its DAgger labels and its test score are exact on any machine (its actions are computed "
    "in float64, lib.policies.ExactSACActor). The cloned policies train in float32, whose last-bit differences between "
    "CPUs grow into different HalfCheetah episodes, so each head's returns, and any verdict close to its margin, can "
    "differ on another machine within the spread over seeds that the table shows.")

#: Test-time alternatives every diffusion run is also tested with (no training of their own;
#: :attr:`lib.learners.imitation.ImitationConfig.test_also`): its raw weights instead of their average,
#: and DDPM's stochastic reverse steps instead of DDIM's deterministic ones.
DIFFUSION_TESTS: tuple[TestAlso, ...] = ("raw_weights", "ddpm")
#: How a diffusion run can act: its main protocol (DDIM steps with the weights' average) or a test-time alternative.
PROTOCOLS: dict[str, str] = {"main": "DDIM, weight average", "raw_weights": "DDIM, raw weights", "ddpm": "DDPM, weight average"}


@dataclass(frozen=True)
class Config(GridConfig):
    """Section 09 parameters: the base learner (``bc``: the Gaussian head on the source's net) and the variants."""

    seeds: int = spec(5, ge=1, le=1000, doc="seeds per variant")
    mog_k: int = spec(5, ge=1, doc="the mixture's number of components (also the mixture + MSE head's)")
    beta_nll: float = spec(0.0, ge=0, le=1, doc="beta of a Gaussian beta-NLL ablation with a per-state std (0: none)")
    narrow_width: int = spec(256, ge=1, doc="the narrower net of the net ablation (the MSE head on it): width")
    narrow_depth: int = spec(2, ge=1, doc="... and depth")
    std_ablations: bool = spec(True, doc="also run the Gaussian and mixture heads with a per-state std (std: state)")
    diffusion_Ts: tuple[int, ...] = spec((5, 25), doc="the diffusion search: numbers of steps T")
    diffusion_budgets: tuple[int, ...] = spec((20_000, 40_000), doc="the diffusion search: gradient steps")
    diffusion_ema: float = spec(0.999, ge=0, lt=1, doc="the diffusion heads' weight average (its raw weights are tested too)")
    diffusion_sample_steps: int = spec(0, ge=0, doc="the diffusion heads' deterministic DDIM steps at test (0: all T)")
    diffusion_eval_every: int = spec(10_000, ge=0, doc="the diffusion heads' evaluation interval (each evaluation "
                                     "samples T steps per action)")
    search_seeds: tuple[int, ...] = spec((290, 291), doc="seeds of the diffusion search (never the main runs' seeds)")
    dagger_head: Literal["gaussian", "mog_mse"] = spec("mog_mse", doc="the head DAgger runs on (fixed here: the source's "
                                                       "best method, not chosen on the data)")
    dagger_rounds: int = spec(10, ge=1)
    dagger_episodes: int = spec(2, ge=1)
    source_batch_size: int = spec(500, ge=1, doc="the source's hyperparameters for its best method: minibatch")
    source_lr: float = spec(1e-3, gt=0, doc="... learning rate (constant)")
    source_weight_decay: float = spec(1e-6, ge=0, doc="... weight decay")
    source_epochs: float = spec(3.0, gt=0, doc="... passes over the data")
    within: float = spec(0.10, gt=0, lt=1, doc="'close to the expert' = test mean >= (1 - within) x expert's")
    bc: ImitationConfig = spec(default_factory=lambda: ImitationConfig(
        env_id="HalfCheetah-v4", expert="halfcheetah_sac", demos=DemoConfig(episodes=1000, shared_seed=0),
        head=HeadConfig(head="gaussian", width=512, depth=3), normalize_obs=True, steps=10_000, lr_schedule="cosine",
        eval_every=2_000, eval_episodes=5, test_episodes=10))

    def check(self) -> list[str]:
        errs = []
        for key in ("diffusion_Ts", "diffusion_budgets"):
            vals = getattr(self, key)
            if not vals or len(set(vals)) != len(vals) or any(v < 1 for v in vals):
                errs.append(f"key '{key}' must list distinct positive integers")
        if set(self.search_seeds) & set(seed_range(self)) or not self.search_seeds:
            errs.append("key 'search_seeds' must list seeds, none of them a main run's seed (first_seed .. first_seed + "
                        "seeds - 1)")
        if self.bc.demos.temperature is not None:
            errs.append("key 'bc.demos.temperature' must be null: the SAC expert acts deterministically")
        if self.bc.head.head != "gaussian" or self.bc.head.std != "param" or self.bc.dagger_rounds != 0 or self.bc.ema_decay:
            errs.append("key 'bc' is the baseline: 'bc.head.head' must be gaussian with 'bc.head.std' param, "
                        "'bc.dagger_rounds' and 'bc.ema_decay' 0 (the other heads, DAgger and diffusion are made from it)")
        if self.bc.demos.extra_episodes:
            errs.append("key 'bc.demos.extra_episodes' must be 0: the section adds DAgger's number of episodes to "
                        "the data of behaviour cloning with as many labels")
        return errs + claim_problems(self.claims, [v.name for v in chart_rows(self)], list(CLAIM_METRICS), self.skip_claims)


@dataclass(frozen=True)
class Row:
    """One row of the chart: a variant's name, the method it belongs to, its parameters in words, and its
    config (from :func:`variants`; a test-time alternative shows the main diffusion head's)."""

    name: str
    method: str
    params: str
    config: ImitationConfig
    main: bool
    #: a test-time alternative: the row is the main diffusion head's runs tested this way (no runs of its own)
    derived: TestAlso | None = None
    #: the runs' seeds: the main ones, or the diffusion search's
    search: bool = False


@dataclass(frozen=True)
class Choice:
    """The diffusion search's pick: the grid point (its T and budget) and how it acts (:data:`PROTOCOLS`),
    the best mean test return over the search seeds."""

    point: str
    protocol: str
    score: float


def head_config(cfg: Config, name: str) -> ImitationConfig:
    """The learner of a named head on the baseline's data, net and budget: ``gaussian``, ``mog_mse``."""
    base = cfg.bc
    if name == "gaussian":
        return base
    return dataclasses.replace(base, head=dataclasses.replace(base.head, head="mog_mse", k=cfg.mog_k))


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

    try:
        return int(load_file(Path(path))["observations"].shape[0])
    except Exception:
        return 0


def epochs(cfg: Config, c: ImitationConfig) -> float:
    """Passes over the data a learner's gradient steps make (its extra episodes included)."""
    return c.total_steps * c.batch_size / (data_pairs(cfg) + c.demos.extra_episodes * episode_length(cfg))


def diffusion_grid(cfg: Config) -> dict[str, ImitationConfig]:
    """The diffusion search: a point per T x budget, on the baseline's net and data, with the weights'
    average and DDIM sampling, each run also tested with its raw weights and with DDPM sampling."""
    base = cfg.bc
    out = {}
    for T in cfg.diffusion_Ts:
        for steps in cfg.diffusion_budgets:
            head = dataclasses.replace(base.head, head="diffusion", T=T, sampler="ddim", sample_steps=cfg.diffusion_sample_steps)
            out[f"diffusion_T{T}_{_steps(steps)}"] = dataclasses.replace(
                base, head=head, steps=steps, ema_decay=cfg.diffusion_ema, eval_every=cfg.diffusion_eval_every,
                test_also=DIFFUSION_TESTS)
    return out


def _steps(n: int) -> str:
    """A step count in a name: 20000 -> '20k', 300 -> '300'."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def chosen_config(cfg: Config, choice: Choice | None) -> ImitationConfig:
    """The main diffusion head: the search's pick, acting as it acted best (its test-time alternatives
    still tested beside it); before the search, its first point (a stand-in: no run uses it)."""
    grid = diffusion_grid(cfg)
    if choice is None:
        return next(iter(grid.values()))
    c = grid[choice.point]
    if choice.protocol == "ddpm":
        return dataclasses.replace(c, head=dataclasses.replace(c.head, sampler="ddpm"), test_also=("raw_weights",))
    if choice.protocol == "raw_weights":
        return dataclasses.replace(c, ema_decay=0.0, test_also=("ddpm",))
    return c


def diffusion_params(c: ImitationConfig) -> str:
    """A diffusion config in a few words: T, schedule, budget, weights, sampler."""
    h = c.head
    sampler = f"DDIM {min(h.sample_steps or h.T, h.T)} steps" if h.sampler == "ddim" else f"DDPM {h.T} steps"
    weights = f"weight average {c.ema_decay:g}" if c.ema_decay else "raw weights"
    return f"T={h.T}, {h.schedule} schedule, {_steps(c.steps)} steps, {weights}, {sampler}"


def variants(cfg: Config, choice: Choice | None = None) -> dict[str, ImitationConfig]:
    """name -> learner config of every variant that trains, each made from the baseline ``cfg.bc`` with
    ``dataclasses.replace``: the main methods in the report's order, the ablations, then the diffusion
    search's points. ``choice`` (:func:`diffusion_choice`) makes the main diffusion head; without it, it
    stands in (no run uses it before the search has chosen)."""
    base = cfg.bc

    def with_head(**kw) -> ImitationConfig:
        return dataclasses.replace(base, head=dataclasses.replace(base.head, **kw))

    src = head_config(cfg, "mog_mse")
    out = {"gaussian": base,
           f"mog_k{cfg.mog_k}": with_head(head="mog", k=cfg.mog_k),
           "mse": with_head(head="mse"),
           "mog_mse": src,
           "diffusion": chosen_config(cfg, choice),
           "dagger": dagger_config(cfg),
           "bc_equal_labels": dataclasses.replace(head_config(cfg, cfg.dagger_head), demos=dataclasses.replace(
               base.demos, extra_episodes=cfg.dagger_rounds * cfg.dagger_episodes)),
           "source_hparams": dataclasses.replace(
               src, batch_size=cfg.source_batch_size, lr=cfg.source_lr, lr_schedule="constant",
               weight_decay=cfg.source_weight_decay,
               steps=max(1, round(cfg.source_epochs * data_pairs(cfg) / cfg.source_batch_size)))}
    if cfg.std_ablations:
        out["gaussian_state_std"] = with_head(std="state")
        out[f"mog_k{cfg.mog_k}_state_std"] = with_head(head="mog", k=cfg.mog_k, std="state")
    if cfg.beta_nll:
        out["gaussian_beta_nll"] = with_head(std="state", beta_nll=cfg.beta_nll)
    out["mse_narrow"] = with_head(head="mse", width=cfg.narrow_width, depth=cfg.narrow_depth)
    return out | diffusion_grid(cfg)


def chart_rows(cfg: Config, choice: Choice | None = None) -> list[Row]:
    """The chart: every variant of :func:`variants` in its order, named as the report names it (the
    report's methods are ``main``, the rest ablations), then the main diffusion head's test-time
    alternatives (rows without runs of their own), then the search's points."""
    configs = variants(cfg, choice)
    net = f"{cfg.bc.head.depth} x {cfg.bc.head.width} net"
    dagger_head = "mixture + MSE" if cfg.dagger_head == "mog_mse" else "Gaussian"
    diff = configs["diffusion"]
    words = {
        "gaussian": ("Gaussian, log-likelihood", "one learned log std per dimension"),
        f"mog_k{cfg.mog_k}": ("Mixture of Gaussians", f"k={cfg.mog_k}, one learned log std per component and dimension"),
        "mse": ("Deterministic, MSE", ""),
        "mog_mse": ("Mixture + MSE (the source's best)", f"k={cfg.mog_k}"),
        "diffusion": ("Diffusion", (diffusion_params(diff) + ", chosen by the search") if choice else "chosen by the search"),
        "dagger": (f"DAgger ({dagger_head} head)", f"{cfg.dagger_rounds} rounds x {cfg.dagger_episodes} episodes"),
        "bc_equal_labels": (f"BC with DAgger's labels ({dagger_head} head)",
                            f"the data + {cfg.dagger_rounds * cfg.dagger_episodes} expert episodes"),
        "source_hparams": ("Mixture + MSE, the source's hyperparameters",
                           f"k={cfg.mog_k}, batch {cfg.source_batch_size}, lr {cfg.source_lr:g} constant, weight decay "
                           f"{cfg.source_weight_decay:g}, {cfg.source_epochs:g} epochs"),
        "gaussian_state_std": ("Gaussian, log-likelihood", "a log std output for every state (the old head)"),
        f"mog_k{cfg.mog_k}_state_std": ("Mixture of Gaussians", f"k={cfg.mog_k}, log stds output for every state"),
        "gaussian_beta_nll": ("Gaussian, beta-NLL", f"beta={cfg.beta_nll:g}, a log std for every state"),
        "mse_narrow": ("Deterministic, MSE", f"{cfg.narrow_depth} x {cfg.narrow_width} net (not the source's {net})"),
    }
    grid = diffusion_grid(cfg)
    main = {"gaussian", f"mog_k{cfg.mog_k}", "mse", "mog_mse", "diffusion", "dagger", "bc_equal_labels", "source_hparams"}
    out = [Row(name, *words[name], c, name in main) for name, c in configs.items() if name not in grid]
    out += [Row(f"diffusion_{alt}", "Diffusion", f"the main head's runs, tested with {PROTOCOLS[alt]}", diff, False,
                derived=alt) for alt in diff.test_also]
    return out + [Row(name, "Diffusion (search)", diffusion_params(c), c, False, search=True) for name, c in grid.items()]


def _spec(cfg: Config, name: str, config: ImitationConfig, seed: int) -> RunSpec:
    """The run of variant ``name`` at ``seed``; the expert's (and a dataset file's) sha256 are part of every key."""
    sha = read_metadata(cfg.bc.expert)["policy_sha256"]
    data_sha = ""
    if cfg.bc.demos.file:

        path = resolve(cfg.bc.demos.file)
        if not path.exists():
            raise ConfigError(f"key 'bc.dataset_file': {path} does not exist")
        data_sha = file_sha256(path)
    run_cfg = dataclasses.replace(config, expert_sha256=sha, demos=dataclasses.replace(config.demos, file_sha256=data_sha))
    return RunSpec(section=SECTION, variant=name, exp_name=f"bc_{name}", seed=seed, config=run_cfg,
                   trainer="lib.learners.imitation:train")


def specs(cfg: Config) -> list[RunSpec]:
    """The first pass: every variant but the main diffusion head on the main seeds, and the diffusion
    search on the search seeds (:func:`next_specs` then runs the search's pick)."""
    grid = diffusion_grid(cfg)
    return [_spec(cfg, name, c, seed) for name, c in variants(cfg).items() if name != "diffusion"
            for seed in (cfg.search_seeds if name in grid else seed_range(cfg))]


def diffusion_choice(cfg: Config, results: list[RunResult]) -> Choice | None:
    """The search's pick: the grid point and protocol with the best mean test return over the search
    seeds (None until every search run has finished). Ties go to the cheaper point (fewer steps, smaller T)."""
    grid = diffusion_grid(cfg)
    by = {n: [r for r in results if r.spec.variant == n] for n in grid}
    if any(len(rs) < len(cfg.search_seeds) for rs in by.values()):
        return None
    best: Choice | None = None
    for name, rs in by.items():  # in the grid's order: T, then budget, ascending as listed
        for protocol in PROTOCOLS:
            key = "test_mean" if protocol == "main" else f"test_mean_{protocol}"
            score = float(np.mean([r.summary[key] for r in rs]))
            if best is None or score > best.score:
                best = Choice(name, protocol, score)
    return best


def next_specs(cfg: Config, results: list[RunResult]) -> list[RunSpec]:
    """After the search: the main diffusion head on the main seeds (nothing once they ran)."""
    choice = diffusion_choice(cfg, results)
    if choice is None or any(r.spec.variant == "diffusion" for r in results):
        return []
    return [_spec(cfg, "diffusion", variants(cfg, choice)["diffusion"], seed) for seed in seed_range(cfg)]


def decision_seeds(cfg: Config) -> list[int]:
    """Every seed the verdicts rest on: the search's (which chose the diffusion head) and the main ones."""
    return sorted(set(cfg.search_seeds) | set(seed_range(cfg)))


def search_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """How the diffusion search went: per grid point and protocol, the mean test return over the search
    seeds (and in % of the expert); the pick marked."""
    expert = expert_score(cfg)["test_mean"]
    rows = []
    for name, c in diffusion_grid(cfg).items():
        d = runs[runs.variant == name]
        for protocol, label in PROTOCOLS.items():
            col = "test_mean" if protocol == "main" else f"test_mean_{protocol}"
            if col not in d or d[col].isna().all():
                continue
            m = float(d[col].mean())
            rows.append({"point": name, "T": c.head.T, "steps": c.steps, "acting": label, "search seeds": len(d),
                         "test return": round(m, 0), "% of expert": round(100 * m / expert, 1)})
    t = pd.DataFrame(rows)
    if not t.empty:
        t["picked"] = t["test return"] == t["test return"].max()
    return t


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
    grid = diffusion_grid(cfg)
    pairs = data_pairs(cfg)
    return (
        f"- **Expert**: `experts/{b.expert}` (section 03, SAC after {e['steps']:,} steps; test "
        f"{e['test_mean']:.0f} ± {e['test_std']:.0f} over {e['test_episodes']} episodes, deterministic actions).\n"
        + (f"- **Data**: `{b.demos.file}` ({pairs:,} state-action pairs in the report's format, made elsewhere).\n"
           if b.demos.file else
           f"- **Data**: {b.demos.episodes:,} expert episodes ({pairs:,} state-action pairs, deterministic expert "
           f"actions), in the report's format with the expert's mean and std return; made once, cached under "
           f"`runs/datasets/`.\n")
        + f"- **Learner**: every head on **the source's net**, an MLP trunk {h.depth} x {h.width} (ReLU), on observations "
        f"normalised by the data's mean and std, actions in [-1, 1]; {b.steps:,} AdamW steps of {b.batch_size} pairs "
        f"({epochs(cfg, b):.1f} epochs), lr {b.lr:g} cosine-decayed to 0, weight decay {b.weight_decay:g}: the **same "
        f"budget for every head** but diffusion, whose budget the search chose.\n"
        f"- **Heads**: Gaussian (log-likelihood, acts with its mean) and mixture of {cfg.mog_k} Gaussians (log-likelihood, "
        f"acts with the mean of its heaviest component), each with **one learned log std per action dimension** (per "
        f"component for the mixture), the same in every state, as CS285's and CleanRL's Gaussian policies have it; "
        f"deterministic (MSE); mixture + MSE (the mixture's mean action trained on MSE, acting with it: the source's "
        f"best method as it describes it); diffusion (DDPM training, predicts the noise; step embedding of size "
        f"{h.time_dim}; an exponential average of the weights, decay {cfg.diffusion_ema:g}).\n"
        f"- **Why the std matters** (the ablation rows): the labels are a deterministic expert's actions, so their "
        f"spread around the best mean is zero. A log std output for every state (our earlier head) is driven down "
        f"wherever the mean already fits, and the log-likelihood weighs each state by 1 / sigma^2: the mean ends up "
        f"fitted only where it was easy. One std for all states weighs every state alike, as the MSE does.\n"
        f"- **Diffusion, chosen on search seeds**: {len(grid)} points (T in {{{', '.join(map(str, cfg.diffusion_Ts))}}} x "
        f"{{{', '.join(f'{s:,}' for s in cfg.diffusion_budgets)}}} gradient steps), each run on the search seeds "
        f"{list(cfg.search_seeds)} and tested three ways on the same test episodes' starts: DDIM steps with the "
        f"weights' average, DDIM with the raw weights, DDPM with the average. The best mean test return over the "
        f"search seeds picks the point and the way it acts; that head then runs on the main seeds, which no search "
        f"run used, and is judged there (its two other ways of acting are shown beside it).\n"
        f"- **DAgger**: the {cfg.dagger_head} head with its behaviour-cloning budget split into {cfg.dagger_rounds + 1} "
        f"phases; before each later phase the learner plays {cfg.dagger_episodes} episodes whose states the expert "
        f"labels ({dagger_labels(cfg):,} labels in all). Beside it, behaviour cloning of the same head on the data "
        f"and {cfg.dagger_rounds * cfg.dagger_episodes:,} more expert episodes (each run seed its own): as many expert "
        f"labels and as many gradient steps.\n"
        f"- **The source's own settings** (its \"~7,250\" Gaussian: lr 1e-4, batch 2,000, about 1,200 steps) do not train a "
        f"head from scratch here, the MSE head included; its notes say its later models started from the expert's "
        f"weights (\"a pretraining loop ... considering the checkpoint's weights\"), which this section does not do. Its "
        f"best method's stated hyperparameters run as the `source_hparams` row.\n"
        f"- **Evaluation**: every {b.eval_every:,} steps {b.eval_episodes} episodes (diffusion: every "
        f"{cfg.diffusion_eval_every:,}); the final return is the mean of {b.test_episodes} test episodes on seeds of "
        f"their own. {cfg.seeds} seeds per variant; intervals are 95% percentile-bootstrap intervals over seeds."
    )


def per_run(results: list[RunResult], cfg: Config, choice: Choice | None = None) -> pd.DataFrame:
    """One row per variant x seed; a test-time alternative's rows are the main diffusion head's runs
    tested its way (wall time 0: no training of its own). Diffusion runs keep their three test means
    (``test_mean_raw_weights``, ``test_mean_ddpm`` where tested)."""
    vs = chart_rows(cfg, choice)
    names = {v.name: v for v in vs}
    rows = []
    for r in results:
        s = r.summary
        if r.spec.variant not in names:
            continue
        row = {"seed": r.spec.seed, "dataset_size": s["expert_labels"]}
        v = names[r.spec.variant]
        extra = {f"test_mean_{t}": s[f"test_mean_{t}"] for t in DIFFUSION_TESTS if f"test_mean_{t}" in s}
        rows.append({"variant": v.name, "method": v.method, "params": v.params, "main": v.main, "search": v.search, **row,
                     "test_mean": s["test_mean"], "test_std": s["test_std"], "wall_time_s": s["wall_time_s"], **extra})
        for d in (d for d in vs if d.derived and r.spec.variant == "diffusion"):
            rets = np.asarray(s[f"test_returns_{d.derived}"])
            rows.append({"variant": d.name, "method": d.method, "params": d.params, "main": d.main, "search": False, **row,
                         "test_mean": float(rets.mean()), "test_std": float(rets.std()), "wall_time_s": 0.0})
    order = {v.name: i for i, v in enumerate(vs)}
    return pd.DataFrame(rows).sort_values(["variant", "seed"], key=lambda c: c.map(order) if c.name == "variant" else c,
                                          kind="stable", ignore_index=True)


def _note(v: Row, cfg: Config) -> str:
    if v.name == "gaussian":
        return "baseline"
    if v.name == "dagger":
        return f"+{dagger_labels(cfg):,} expert labels on the learner's own states"
    if v.name == "bc_equal_labels":
        return "as many expert labels and gradient steps as DAgger"
    if v.name == "source_hparams":
        return f"{v.config.steps:,} steps ({epochs(cfg, v.config):.1f} epochs)"
    if v.name.endswith("_state_std") or v.name == "gaussian_beta_nll":
        return "ablation: the std per state (the cause)"
    if v.name == "mse_narrow":
        return "ablation: the net"
    if v.derived:
        return "the main head's runs, tested this way"
    if v.search:
        return f"search seeds {', '.join(map(str, cfg.search_seeds))}"
    if v.config.head.head == "diffusion":
        s = noise_schedule(v.config.head.T, v.config.head.schedule)
        return f"{v.config.steps:,} steps; alpha_bar at the last step {float(s['alpha_bar'][-1]):.3g}"
    return ""


def source_returns(cfg: Config) -> dict[str, str]:
    """variant -> the source's reported return for it, as the source states it (params ``source``, entries
    with a ``variant`` and a ``value``)."""
    return {e.variant: e.value for e in cfg.source if e.variant and e.value}


def table(runs: pd.DataFrame, cfg: Config, choice: Choice | None = None) -> pd.DataFrame:
    """The report's chart: method, parameters, the source's reported return, ours (mean, 95% CI over
    seeds), share of the expert, mean wall time of a run (one core; "-" for a test-time alternative:
    no training of its own), notes."""
    expert = expert_score(cfg)["test_mean"]
    said = source_returns(cfg)
    rows = []
    for v in chart_rows(cfg, choice):
        d = runs[runs.variant == v.name]
        if d.empty:
            continue
        m, lo, hi = mean_ci(d.test_mean.to_numpy())
        rows.append({"variant": v.name, "method": v.method, "parameters": v.params or "-", "source's return": said.get(v.name, "-"),
                     "seeds": len(d), "final return": round(float(m), 0), "95% CI": f"[{lo:.0f}, {hi:.0f}]",
                     "% of expert": round(100 * float(m) / expert, 1),
                     f"within {cfg.within:.0%}": bool(m >= (1 - cfg.within) * expert),
                     "s per run": "-" if v.derived else round(float(d.wall_time_s.mean()), 0), "notes": _note(v, cfg)})
    return pd.DataFrame(rows)


def short_label(v: Row) -> str:
    """A variant's name in a legend: its method, with what sets it apart for ablations and the search."""
    if v.name == "mse_narrow":
        return f"MSE, {v.params.split(' (')[0]}"
    if v.name.endswith("_state_std"):
        return v.method.split(",")[0] + ", std per state"
    if v.search:
        return f"T={v.config.head.T}, {_steps(v.config.steps)} steps"
    return v.method


def frames(results: list[RunResult], runs: pd.DataFrame, cfg: Config, choice: Choice | None) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "curves", every evaluation of every run (``variant``: its
    legend label, :func:`short_label`; ``seed``; ``gradient step``; ``% of expert``: the evaluation return
    in % of the expert's test return); its rows of the main methods ("main"), of the ablations beside the
    heads they change ("ablations") and of the diffusion search ("search"); "scores", each main run's
    test return in % of the expert, for the performance profile."""
    expert = expert_score(cfg)["test_mean"]
    vs = chart_rows(cfg, choice)
    logs = log_frame(results, {v.name: short_label(v) for v in vs if not v.derived}).reindex(
        columns=["variant", "seed", "step", "eval_mean"])
    curves = pd.DataFrame({"variant": logs.variant, "seed": logs.seed, "gradient step": logs.step,
                           "% of expert": 100 * logs.eval_mean / expert})
    main, ablate, paired, search = _figure_variants(vs, cfg)
    pick = lambda group: curves[curves.variant.isin([short_label(v) for v in group])]  # noqa: E731
    return {"curves": curves, "main": pick(main), "ablations": pick(paired + ablate), "search": pick(search),
            "scores": labelled(claim_table(runs, cfg), {v.name: v.method for v in vs if v.main}, "% of expert")}


def _pairs(cfg: Config) -> dict[str, str]:
    """An ablation -> the variant whose head it changes (drawn in its colour)."""
    return {"gaussian_state_std": "gaussian", f"mog_k{cfg.mog_k}_state_std": f"mog_k{cfg.mog_k}", "mse_narrow": "mse",
            "gaussian_beta_nll": "gaussian"}


def _figure_variants(vs: list[Row], cfg: Config) -> tuple[list[Row], list[Row], list[Row], list[Row]]:
    """(main methods drawn, ablations, the heads they change, the diffusion search's points)."""
    main = [v for v in vs if v.main and v.name not in ("bc_equal_labels", "source_hparams")]
    ablate = [v for v in vs if not v.main and not v.derived and not v.search]
    pairs = _pairs(cfg)
    paired = [v for v in vs if v.name in {pairs[a.name] for a in ablate if a.name in pairs}]
    return main, ablate, paired, [v for v in vs if v.search]


def palette_and_styles(cfg: Config, choice: Choice | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One colour per main method, by legend label; an ablation in the colour of the head it changes,
    the first ablation of a head dashed, a second dotted."""
    vs = chart_rows(cfg, choice)
    main, ablate, _, _ = _figure_variants(vs, cfg)
    by_name = {v.name: v for v in vs}
    palette = colours([short_label(v) for v in main])
    pairs, styles, count = _pairs(cfg), {}, {}
    for a in ablate:
        head = pairs.get(a.name)
        if head in by_name and short_label(by_name[head]) in palette:
            palette[short_label(a)] = palette[short_label(by_name[head])]
        styles[short_label(a)] = ("--", ":", "-.")[count.get(head, 0)]
        count[head] = count.get(head, 0) + 1
    return palette, styles


def titles(cfg: Config) -> dict[str, str]:
    """Figure titles and axis labels, from the config."""
    return {"main": f"Reward over training: the main methods ({cfg.seeds} seeds each)",
            "ablations": "Ablations (dashed, dotted) beside the heads they change",
            "search": f"The diffusion search (search seeds {', '.join(map(str, cfg.search_seeds))}; DDIM, weight average)",
            "profile": f"performance profile over seeds ({cfg.seeds} per method), 95% bootstrap band"}


def marks(cfg: Config) -> dict[str, dict[str, float]]:
    """The expert's level (100%) and the 'within' line, in % of the expert."""
    return {"expert": {f"expert ({expert_score(cfg)['test_mean']:,.0f})": 100.0,
                       f"{1 - cfg.within:.0%} of the expert": 100 * (1 - cfg.within)}}


#: Per-seed metrics claims may name (columns of :func:`claim_table`).
CLAIM_METRICS = {"% of expert": "the mean test return as a percentage of the expert's recorded test return"}


def claim_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The main seeds' runs (not the search's) with "% of expert"."""
    main = runs[~runs.get("search", pd.Series(False, index=runs.index)).astype(bool)]
    return main.assign(**{"% of expert": 100 * main.test_mean / expert_score(cfg)["test_mean"]})


def claims(runs: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims (and the issue's aim), decided on the main seeds by the rules in params (Holm across them)."""
    expert = expert_score(cfg)["test_mean"]
    said = f"The expert's recorded test return: {expert:.0f}."
    verdicts = judge(decided_claims(cfg), claim_table(runs, cfg), cfg.alpha)
    return [Claim.judged(v, said if i == 0 else "") for i, v in enumerate(verdicts)]


#: One-factor contrasts of the chart (from, to, what changes): each pair of variants differs in one thing.
CONTRASTS: tuple[tuple[str, str, str], ...] = (
    ("gaussian_state_std", "gaussian", "one log std for all states instead of one per state (Gaussian head)"),
    ("mog_k5_state_std", "mog_k5", "one log std per component for all states instead of per state (mixture head)"),
    ("gaussian_state_std", "gaussian_beta_nll", "beta-NLL instead of the NLL (Gaussian head, std per state)"),
    ("gaussian", "mse", "a deterministic MSE head instead of the Gaussian's NLL"),
    ("mse_narrow", "mse", "the source's net instead of the narrower one (MSE head)"),
    ("mse", "mog_mse", "the mixture trained on MSE instead of the plain MSE head"),
    ("bc_equal_labels", "dagger", "DAgger's labels on the learner's own states instead of as many expert labels"),
    ("mog_mse", "source_hparams", "the source's own hyperparameters instead of ours (mixture + MSE)"),
)


def difference_text(runs: pd.DataFrame, cfg: Config) -> str:
    """What made the difference, from the chart's one-factor contrasts (:data:`CONTRASTS`, those whose
    two variants ran): per contrast the two means in % of the expert and the mean of the per-seed
    differences with its 95% bootstrap interval. Rows share run seeds and the expert dataset, so seed s
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


def diffusion_text(runs: pd.DataFrame, cfg: Config, choice: Choice | None) -> str:
    """How the diffusion search went and what its pick did on the main seeds (empty before the search)."""
    if choice is None:
        return ""
    expert = expert_score(cfg)["test_mean"]
    t = search_table(runs, cfg)
    worst = t.loc[t["test return"].idxmin()]
    picked = next(v for v in chart_rows(cfg, choice) if v.name == "diffusion")
    main = runs[runs.variant == "diffusion"].test_mean
    lines = [f"**The search** ({len(diffusion_grid(cfg))} points x {len(PROTOCOLS)} ways of acting, search seeds "
             f"{', '.join(map(str, cfg.search_seeds))}): the best was `{choice.point}` acting with "
             f"{PROTOCOLS[choice.protocol]}, {choice.score:,.0f} ({100 * choice.score / expert:.0f}% of the expert); the "
             f"worst, `{worst.point}` with {worst.acting}, {worst['test return']:,.0f}."]
    if len(main):
        lines.append(f"**On the main seeds** ({len(main)}, none used by the search): {diffusion_params(picked.config)} "
                     f"scored {main.mean():,.0f} ({100 * main.mean() / expert:.0f}% of the expert).")
        for alt in picked.config.test_also:
            d = runs[runs.variant == f"diffusion_{alt}"].test_mean
            if len(d):
                lines.append(f"- The same runs with {PROTOCOLS[alt]}: {d.mean():,.0f} ({d.mean() - main.mean():+,.0f}).")
    return "\n\n".join(lines[:2]) + ("\n" + "\n".join(lines[2:]) if len(lines) > 2 else "")


def numbers(runs: pd.DataFrame, cfg: Config) -> dict[str, str]:
    """Our return per main variant beside the source's (``return_<variant>``): mean, 95% interval, share of
    the expert, seeds."""
    expert = expert_score(cfg)["test_mean"]
    out = {}
    for v, d in claim_table(runs, cfg).groupby("variant", sort=False):
        m, lo, hi = mean_ci(d.test_mean.to_numpy())
        out[f"return_{v}"] = f"{v} {m:,.0f} [{lo:,.0f}, {hi:,.0f}], {100 * m / expert:.0f}% of the expert's {expert:,.0f}, {len(d)} seeds"
    return out


def regression_values(tab: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    """The table's shape, variants and seeds, exactly; no returns: in the smoke profile the heads have
    not learned, and their HalfCheetah returns are noise that differs between machines."""
    return {"variants": (len(tab), 0), "variant_names": (list(tab.variant), 0), "columns": (list(tab.columns), 0),
            "seeds": ([int(s) for s in tab.seeds], 0)}


def short_labels(cfg: Config, choice: Choice | None = None) -> dict[str, str]:
    """Main variant -> its method: the headline's and the profile legend's names."""
    return {v.name: v.method for v in chart_rows(cfg, choice) if v.main}


def headline(tab: pd.DataFrame, cfg: Config, choice: Choice | None = None) -> str:
    labels = short_labels(cfg, choice)
    main = tab[tab.variant.isin(list(labels))]
    parts = ", ".join(f"{labels[r.variant]} {r['final return']:.0f}" for _, r in main.iterrows())
    return f"Final test return ({cfg.seeds} seeds, expert {expert_score(cfg)['test_mean']:.0f}): {parts}."


def animations(results: list[RunResult], result: SectionResult, cfg: Config, acfg: "AnimationConfig") -> list["Rendered"]:
    """The best and the worst of the main methods at work (by mean test return over seeds; their first seed)."""
    if not acfg.enabled:
        return []
    main = result.per_run[result.per_run.main.astype(bool)]
    means = main.groupby("variant")["test_mean"].mean()
    names = {v.name: v for v in chart_rows(cfg, diffusion_choice(cfg, results))}
    out = []
    for which, name in (("best", means.idxmax()), ("worst", means.idxmin())):
        r = next(r for r in results if r.spec.variant == name)
        v = names[name]
        label = v.method + (f" ({v.params})" if v.params else "")
        out.append(animate_run(r, acfg, f"the {which} method, {label}, training seed {r.spec.seed}"))
    return out


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """The chart of methods (with the source's returns), the learning curves, how the diffusion search
    went, what made the difference, and the claims."""
    choice = diffusion_choice(cfg, results)
    runs = per_run(results, cfg, choice)
    tab = table(runs, cfg, choice)
    palette, styles = palette_and_styles(cfg, choice)
    return SectionResult(table=tab, per_run=runs, claims=claims(runs, cfg), numbers=numbers(runs, cfg),
                         frames=frames(results, runs, cfg, choice), palette=palette, styles=styles, titles=titles(cfg),
                         marks=marks(cfg),
                         regression=regression_values(tab, cfg), headline=headline(tab, cfg, choice),
                         text={"diffusion": diffusion_text(runs, cfg, choice), "difference": difference_text(runs, cfg)},
                         extra_tables={"diffusion_search": search_table(runs, cfg)},
                         extra={"expert": expert_score(cfg), "diffusion_choice": dataclasses.asdict(choice) if choice else None})
