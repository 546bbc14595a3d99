"""Section 04: behaviour cloning against DAgger from a perfect and an imperfect expert (report 1, part 2)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..config import spec
from ..data.experts import read_metadata
from ..learners.imitation import DemoConfig, ImitationConfig
from ..publish.plots import colours
from ..publish.report import Claim
from ..verdicts import claim_problems, decided_claims, judge
from ..store.runs import RunResult, RunSpec
from ..stats import mean_ci
from .common import BIT_FOR_BIT, labelled
from .protocol import GridConfig, SectionResult, seed_range

SECTION = "04_bc_dagger"
TITLE = "Behaviour cloning against DAgger on CartPole, from a perfect and an imperfect expert"
REPRODUCES = BIT_FOR_BIT

Setting = Literal["perfect", "imperfect", "tempered"]
Method = Literal["bc", "dagger"]
METHOD_LABEL = {"bc": "behaviour cloning", "dagger": "DAgger", "dagger_greedy": "DAgger, argmax labels (ours)"}
SETTING_LABEL = {"perfect": "perfect expert", "imperfect": "imperfect expert (its own trajectories)",
                 "tempered": "tempered expert (ours)"}
PROTOCOL_LABEL = {"sampled": "actions sampled", "greedy": "argmax actions"}


@dataclass(frozen=True)
class Config(GridConfig):
    """Section 04 parameters: the grid (settings x methods x n x seeds) and the imitation learner."""

    ns: tuple[int, ...] = spec((1, 2, 5, 10, 50, 100), doc="numbers of expert trajectories")
    settings: tuple[Setting, ...] = spec(("perfect", "imperfect", "tempered"),
                                         doc="perfect: only the expert's trajectories that reach the time limit; "
                                         "imperfect (the source's): all its trajectories, failures included; tempered "
                                         "(ours): all trajectories of the expert sampling at a higher temperature")
    methods: tuple[Method, ...] = spec(("bc", "dagger"))
    perfect: float = spec(500.0, gt=0)
    perfect_tolerance: float = spec(0.99, gt=0, le=1)
    perfect_temperature: float = spec(1.0, gt=0, doc="the expert's temperature in the perfect setting (only episodes "
                                      "that reach the time limit are kept)")
    imperfect_temperature: float = spec(1.0, gt=0, doc="the expert's temperature in the imperfect setting (every "
                                        "episode is kept); 1: the expert as it acts")
    tempered_temperature: float = spec(2.0, gt=0, doc="the expert's temperature in the tempered setting (every "
                                       "episode is kept): logits divided by it, so the expert fails more often")
    dagger_rounds: int = spec(10, ge=1, doc="DAgger's rounds")
    greedy_label_settings: tuple[Setting, ...] = spec(("tempered",), doc="settings that also run DAgger labelled with the "
                                                      "expert's most likely action (method dagger_greedy, ours) beside "
                                                      "DAgger labelled by the expert the demonstrations came from")
    imitation: ImitationConfig = spec(default_factory=lambda: ImitationConfig(test_greedy=False))

    def check(self) -> list[str]:
        errs = []
        if not self.ns or any(n < 1 for n in self.ns):
            errs.append("key 'ns' must list positive numbers of trajectories")
        for key in ("ns", "settings", "methods"):
            vals = getattr(self, key)
            if not vals or len(set(vals)) != len(vals):
                errs.append(f"key '{key}' must be non-empty without repeats")
        if self.imitation.dagger_rounds != 0 or self.imitation.demos != DemoConfig() or self.imitation.test_both:
            errs.append("keys 'imitation.dagger_rounds', 'imitation.demos' and 'imitation.test_both' are set by the grid; "
                        "use 'ns', 'methods', 'settings', 'dagger_rounds', the temperatures and 'imitation.test_greedy' "
                        "(the main test protocol; the other one is always run too)")
        if self.imitation.head.head != "categorical":
            errs.append("key 'imitation.head.head' must be categorical (CartPole's actions are discrete)")
        return errs + claim_problems(self.claims, claim_variants(self), list(CLAIM_METRICS), self.skip_claims)


def variant(setting: str, method: str, n: int) -> str:
    return f"{setting}_{method}_n{n}"


def run_config(cfg: Config, setting: str, method: str, n: int) -> ImitationConfig:
    """The learner's config at one point of the grid (the expert's sha256 is part of every key). Every
    run is tested with both action protocols; ``imitation.test_greedy`` names the main one."""
    sha = read_metadata(cfg.imitation.expert)["policy_sha256"]
    demos = DemoConfig(episodes=n, temperature=temperature(cfg, setting), full_length_only=setting == "perfect")
    return dataclasses.replace(cfg.imitation, expert_sha256=sha, demos=demos, test_both=True,
                               dagger_rounds=cfg.dagger_rounds if method != "bc" else 0,
                               dagger_labels="greedy" if method == "dagger_greedy" else "demos")


def methods_of(cfg: Config, setting: str) -> list[str]:
    """The methods a setting runs: ``methods``, and dagger_greedy where ``greedy_label_settings`` names it."""
    extra = ["dagger_greedy"] if setting in cfg.greedy_label_settings and "dagger" in cfg.methods else []
    return list(cfg.methods) + extra


def temperature(cfg: Config, setting: str) -> float:
    """The expert's sampling temperature in ``setting``."""
    return {"perfect": cfg.perfect_temperature, "imperfect": cfg.imperfect_temperature,
            "tempered": cfg.tempered_temperature}[setting]


def protocols(cfg: Config) -> tuple[str, str]:
    """(main, second) action protocol of the tests: "sampled" or "greedy"."""
    return ("greedy", "sampled") if cfg.imitation.test_greedy else ("sampled", "greedy")


def grid(cfg: Config) -> list[tuple[str, str, int]]:
    """(setting, method, n) of every point, in the report's order."""
    return [(s, m, n) for s in cfg.settings for m in methods_of(cfg, s) for n in cfg.ns]


def variants(cfg: Config) -> dict[str, ImitationConfig]:
    """variant name (:func:`variant`) -> its run config (:func:`run_config`), one per setting x method x n of
    :func:`grid`, in the report's order."""
    return {variant(s, m, n): run_config(cfg, s, m, n) for s, m, n in grid(cfg)}


def specs(cfg: Config) -> list[RunSpec]:
    """One run per variant x seed (:func:`variants`)."""
    points = {variant(s, m, n): (s, m, n) for s, m, n in grid(cfg)}
    return [RunSpec(section=SECTION, variant=name, exp_name=f"{points[name][1]}_{points[name][0]}_n{points[name][2]}",
                    seed=seed, config=c, trainer="lib.learners.imitation:train")
            for name, c in variants(cfg).items() for seed in seed_range(cfg)]


def describe(cfg: Config) -> str:
    c = cfg.imitation
    meta = read_metadata(c.expert)
    main, second = protocols(cfg)
    kept = {"perfect": f"only trajectories that reach {cfg.perfect:g} steps are kept",
            "imperfect": "every trajectory is kept, failures included (the source's imperfect expert)",
            "tempered": "every trajectory is kept; the temperature, ours, makes the expert fail more often"}
    settings = "; ".join(f"*{s}*: temperature {temperature(cfg, s):g}, {kept[s]}" for s in cfg.settings)
    return (
        f"- **Expert**: `experts/{c.expert}` (section 03; test {meta['test_mean']:.1f} ± {meta['test_std']:.1f}).\n"
        f"- **Demonstrations**: the expert plays with its actions sampled from softmax(logits / temperature); a "
        f"demonstration is the states it visited with the actions it took. {settings}.\n"
        f"- **Behaviour cloning**: a fresh MLP policy ({c.head.depth} x {c.head.width}, {c.head.activation}), "
        f"cross-entropy on the demonstration pairs, {c.steps} AdamW steps (lr {c.lr:g}, minibatch {c.batch_size}).\n"
        f"- **DAgger**: the same start, then {cfg.dagger_rounds} rounds: play {c.dagger_episodes} episodes where "
        f"each step is the expert's action with probability beta_i = {c.beta0:g} x {c.beta_decay:g}^(i-1) and the "
        f"learner's ({PROTOCOL_LABEL[main]}) otherwise, label every visited state with the expert, add them to the "
        f"data and train {c.dagger_steps} more steps on the whole aggregate. The expert that acts and labels in DAgger "
        f"is the one behaviour cloning learns from: at the setting's temperature, an action drawn per state (so both "
        f"methods learn from the same expert)"
        + (f"; beside it, ours, in the {', '.join(cfg.greedy_label_settings)} setting: DAgger labelled with the "
           f"expert's most likely action (`dagger_greedy`), a better teacher than the one behaviour cloning had"
           if cfg.greedy_label_settings else "") + ".\n"
        f"- **Test**: {c.test_episodes} episodes on a seed of their own, played twice from the same starts: with the "
        f"learner's {PROTOCOL_LABEL[main]} (the main protocol, as the learners act while they train) and with its "
        f"{PROTOCOL_LABEL[second]}. n in {{{', '.join(map(str, cfg.ns))}}}; {cfg.seeds} seeds per point; bands and "
        f"intervals are 95% percentile-bootstrap intervals over seeds."
    )


def per_run(results: list[RunResult], cfg: Config) -> pd.DataFrame:
    """One row per run: its point of the grid, both protocols' test means, labels and demonstrations."""
    points = {variant(s, m, n): (s, m, n) for s, m, n in grid(cfg)}
    main, second = protocols(cfg)
    rows = []
    for r in results:
        setting, method, n = points[r.spec.variant]
        s = r.summary
        rows.append({
            "setting": setting, "method": method, "n": n, "seed": r.spec.seed,
            "test_mean": s["test_mean"], "test_std": s["test_std"], f"test_mean_{second}": s[f"test_mean_{second}"],
            "expert_labels": s["expert_labels"], "demo_labels": s["demo_labels"],
            "demo_short_share": s["demo_short_share"], "demo_mean_length": float(np.mean(s["demo_lengths"])),
            "wall_time_s": s["wall_time_s"],
        })
    return pd.DataFrame(rows)


def _ci(x: pd.Series) -> tuple[float, str]:
    m, lo, hi = mean_ci(x.to_numpy())
    return round(float(m), 1), f"[{lo:.1f}, {hi:.1f}]"


def summary_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Every point of the figures: setting x method x n, both test protocols (the main one first), the
    mean expert labels and the share of the demonstrations that failed."""
    main, second = protocols(cfg)
    rows = []
    top = cfg.perfect * cfg.perfect_tolerance
    for (setting, method, n), d in runs.groupby(["setting", "method", "n"], sort=False):
        m, ci = _ci(d.test_mean)
        m2, ci2 = _ci(d[f"test_mean_{second}"])
        rows.append({
            "setting": setting, "method": "BC" if method == "bc" else METHOD_LABEL[method], "n": int(n), "seeds": len(d),
            f"test, {main}": m, "95% CI": ci, f"seeds at {cfg.perfect:g}": f"{int((d.test_mean >= top).sum())}/{len(d)}",
            f"test, {second}": m2, "95% CI ": ci2,
            "expert labels": int(round(d.expert_labels.mean())),
            "failed demos": f"{float(d.demo_short_share.mean()):.0%}",
        })
    return pd.DataFrame(rows)


def imperfection(runs: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per setting, how imperfect its demonstrations were, pooled over runs (weighted by trajectories)."""
    out = {}
    for setting, d in runs.groupby("setting", sort=False):
        w = d.n.to_numpy(dtype=float)
        out[str(setting)] = {"short_share": float(np.average(d.demo_short_share, weights=w)),
                             "mean_length": float(np.average(d.demo_mean_length, weights=w)),
                             "trajectories": int(w.sum())}
    return out


def imperfection_markdown(imp: dict[str, dict[str, float]], cfg: Config) -> str:
    """How often each setting's demonstrations failed, and what that means for the source's protocol."""
    lines = [f"- *{s}* (temperature {temperature(cfg, s):g}): of the {v['trajectories']} demonstrations these runs "
             f"drew, **{v['short_share']:.1%} ended before {cfg.perfect:g} steps**; mean length {v['mean_length']:.1f}."
             for s, v in imp.items() if s != "perfect"]
    if not lines:
        return ""
    text = "\n".join(lines)
    own = imp.get("imperfect")
    if own is not None and own["short_share"] < 0.05:
        text += (f"\n\nThe expert, acting as it does (temperature {cfg.imperfect_temperature:g}), almost never fails, so "
                 "the source's imperfect setting, all of its trajectories, is here almost the perfect one. The tempered "
                 "setting gets failures the way we chose: it samples the same expert at temperature "
                 f"{cfg.tempered_temperature:g}.")
    return text


def frames(runs: pd.DataFrame, cfg: Config) -> dict[str, pd.DataFrame]:
    """The data of the notebook's figures: "points", one row per run (``setting`` and ``method`` as labels,
    ``n``, ``seed``, ``test_mean`` (the main protocol), ``test_mean_other`` (the other), ``mean expert
    labels``: the mean over seeds of the expert labels at its point); "scores", each seed's test return
    (main protocol) averaged over n, per setting and method, for the performance profile."""
    points = runs.assign(**{"mean expert labels": runs.groupby(["setting", "method", "n"]).expert_labels.transform("mean"),
                            "test_mean_other": runs[f"test_mean_{protocols(cfg)[1]}"]})
    points = points.assign(setting=points.setting.map(SETTING_LABEL), method=points.method.map(METHOD_LABEL))
    pooled = {f"{s}_{m}_all": f"{METHOD_LABEL[m]}, {s}" for s in cfg.settings for m in methods_of(cfg, s)}
    return {"points": points, "scores": labelled(claim_table(runs, cfg), pooled, "test_mean")}


def titles(cfg: Config) -> dict[str, str]:
    """Figure titles and axis labels, from the config."""
    main, second = protocols(cfg)
    eps = cfg.imitation.test_episodes
    return {"main": f"test return, {PROTOCOL_LABEL[main]}\n(mean of {eps} episodes)",
            "second": f"test return, {PROTOCOL_LABEL[second]}\n(mean of {eps} episodes)",
            "profile_x": f"a seed's test return ({PROTOCOL_LABEL[main]}), mean over n in {{{', '.join(map(str, cfg.ns))}}}",
            "profile": f"performance profile over seeds ({cfg.seeds} per point), 95% bootstrap band"}


def _point(runs: pd.DataFrame, setting: str, method: str, n: int | None = None) -> pd.DataFrame:
    d = runs[(runs.setting == setting) & (runs.method == method)]
    return d if n is None else d[d.n == n]


#: Per-seed metrics claims may name.
CLAIM_METRICS = {"test_mean": "mean return of the test episodes, main action protocol",
                 "test_mean_greedy": "mean return of the test episodes with argmax actions",
                 "test_mean_sampled": "mean return of the test episodes with sampled actions"}


def claim_variants(cfg: Config) -> list[str]:
    """The names claims use: ``<setting>_<method>_n<n>`` for a point of the grid, and
    ``<setting>_<method>_all`` for a seed's mean over every n."""
    points = [variant(s, m, n) for s, m, n in grid(cfg)]
    return points + [f"{s}_{m}_all" for s in cfg.settings for m in methods_of(cfg, s)]


def claim_table(runs: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """One row per (variant, seed) of :func:`claim_variants`, with the metrics of
    :data:`CLAIM_METRICS`: the grid's runs, and each seed's mean over n per setting and method."""
    main, second = protocols(cfg)
    runs = runs.assign(**{f"test_mean_{main}": runs.test_mean})
    metrics = list(CLAIM_METRICS)
    points = runs.assign(variant=[variant(s, m, n) for s, m, n in zip(runs.setting, runs.method, runs.n)])
    pooled = runs.groupby(["setting", "method", "seed"], sort=False)[metrics].mean().reset_index()
    pooled["variant"] = [f"{s}_{m}_all" for s, m in zip(pooled.setting, pooled.method)]
    return pd.concat([points[["variant", "seed", *metrics]], pooled[["variant", "seed", *metrics]]], ignore_index=True)


def claims(runs: pd.DataFrame, cfg: Config) -> list[Claim]:
    """The source's claims, decided by the rules in params (:func:`lib.verdicts.judge`, Holm across them)."""
    main, _ = protocols(cfg)
    means = runs.groupby(["setting", "method", "n"], sort=False).test_mean.mean()
    labels = runs.groupby(["setting", "method", "n"], sort=False).expert_labels.mean()
    by_n = f"Mean test return ({PROTOCOL_LABEL[main]}) and expert labels by point: " + "; ".join(
        f"{s} {METHOD_LABEL[m]}: " + ", ".join(f"n={n} {means[(s, m, n)]:.1f} ({labels[(s, m, n)]:,.0f} labels)"
                                               for n in cfg.ns)
        for s in cfg.settings for m in methods_of(cfg, s)) + "."
    verdicts = judge(decided_claims(cfg), claim_table(runs, cfg), cfg.alpha)
    return [Claim.judged(v, by_n if i == 0 else "") for i, v in enumerate(verdicts)]


def regression_values(runs: pd.DataFrame, cfg: Config) -> dict[str, tuple[object, float]]:
    _, second = protocols(cfg)
    out: dict[str, tuple[object, float]] = {"runs": (len(runs), 0), "ns": (list(cfg.ns), 0), "seeds": (cfg.seeds, 0)}
    for (setting, method), d in runs.groupby(["setting", "method"], sort=False):
        out[f"{setting}.{method}.test_mean"] = (round(float(d.test_mean.mean()), 1), 0)
        out[f"{setting}.{method}.test_mean_{second}"] = (round(float(d[f"test_mean_{second}"].mean()), 1), 0)
        out[f"{setting}.{method}.expert_labels"] = (int(d.expert_labels.sum()), 0)
    return out


def headline(runs: pd.DataFrame, cfg: Config) -> str:
    main, _ = protocols(cfg)
    parts = []
    for setting in cfg.settings:
        for method in methods_of(cfg, setting):
            d = _point(runs, setting, method, min(cfg.ns))
            parts.append(f"{METHOD_LABEL[method]} ({setting}) {d.test_mean.mean():.0f}")
    return (f"Test return ({PROTOCOL_LABEL[main]}) from n = {min(cfg.ns)} expert trajectory ({cfg.seeds} seeds): "
            + "; ".join(parts) + ".")


def analyse(results: list[RunResult], cfg: Config) -> SectionResult:
    """Per-run scores, every point of the figures as a table row and as the figures' data, the claims,
    and how imperfect the imperfect demonstrations were."""
    runs = per_run(results, cfg)
    imp = imperfection(runs)
    return SectionResult(table=summary_table(runs, cfg), claims=claims(runs, cfg), frames=frames(runs, cfg),
                         palette=colours(list(METHOD_LABEL.values())), titles=titles(cfg),
                         marks={"return": {f"time limit ({cfg.perfect:g})": cfg.perfect}},
                         regression=regression_values(runs, cfg), headline=headline(runs, cfg),
                         text={"imperfection": imperfection_markdown(imp, cfg)}, extra={"imperfection": imp})
