"""One verdict engine for every claim of every section: pre-registered rules, a bootstrap interval
over seeds, three symmetric outcomes and Holm's correction across a section's claims.

A :class:`Rule` is written in the section's params file before any run: which variant the source
claims is better (``better``), best of several (``best``), or no different within a margin
(``equivalent``), on which per-seed metric, in which direction. :func:`decide` turns the per-seed
scores of each variant into a :class:`Verdict` per rule:

- the effect is ``agg(target) - agg(other)`` (``agg``: mean, median or IQM over seeds); the engine
  works with it signed so that positive is the claimed direction, and prints it unsigned, in the
  rule's own words (:meth:`Rule.text`, :meth:`Rule.bound`): one orientation on the page;
- its interval is a percentile bootstrap that resamples each variant's seeds separately
  (stratified over variants; :func:`scipy.stats.bootstrap` with ``paired=False``). The interval of a
  difference of aggregates of scores inside a range stays inside that range's width, and the interval
  of one variant's aggregate (:func:`aggregate_interval`) inside the range of its scores;
- *holds* when the interval lies on the claimed side of 0 (inside ``(-margin, margin)`` for
  ``equivalent``), *does not hold* when it lies on the other side (outside the margin), *undecided*
  otherwise, with :func:`seeds_to_decide`. Both decided outcomes need the same interval to clear the
  same bound, so neither is easier to reach than the other;
- ``best`` is an intersection-union rule: it holds when the target beats every other variant, does
  not hold when some variant beats it, and is undecided otherwise; its effect and interval are those
  of the closest rival;
- a share of seeds against a threshold gets the exact binomial (Clopper-Pearson) interval, and its
  seeds to decide are counted exactly (:func:`binomial_seeds_to_decide`);
- a tie in every seed (both variants at a score cap, say) is no lead: a ``better`` or ``best`` claim
  does not hold, whatever Holm's step-down says (nothing is estimated);
- fewer than :data:`MIN_SEEDS` seeds in a compared variant: undecided, whatever the interval;
- Holm: with m rules, sorted by their bootstrap p-value, the i-th (from 0) is decided at level
  ``alpha / (m - i)``; after the first undecided one, every later one is undecided too (step-down).
  An ``equivalent`` rule is decided with the ``1 - 2 * level`` interval (two one-sided tests), a
  directional one with the ``1 - level`` interval.

The percentile bootstrap over 5-10 seeds is somewhat narrow (it ignores the ``n / (n - 1)``
variance factor); the seed counts in every verdict let a reader weigh that.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import stats as _st

if TYPE_CHECKING:
    import pandas as pd

VERDICTS = ("holds", "does not hold", "undecided")
KINDS = ("better", "best", "equivalent", "not_better", "above")
#: kinds decided against a margin with the 1 - 2 alpha interval (one-sided tests)
MARGIN_KINDS = ("equivalent", "not_better")
AGGREGATES = ("mean", "median", "iqm")
#: Whose claim a rule tests: the source report's, as it states it, or a stricter or further claim of ours.
ORIGINS = ("source", "ours")
#: Fewest seeds per variant a verdict is decided on: below it a percentile bootstrap has too few
#: distinct resamples (3 seeds give 10) to mean anything, so the verdict is undecided.
MIN_SEEDS = 5


@dataclass(frozen=True)
class Rule:
    """A claim's pre-registered decision rule (one entry of a params file's ``claims`` list).

    ``target`` is claimed better than (``better``), best among (``best``), or equivalent within
    ``margin`` to (``equivalent``) each of ``others`` on ``metric`` (a per-seed score), where larger
    is better when ``higher_is_better``. ``aggregate`` summarises a variant's seeds."""

    id: str
    claim: str
    kind: Literal["better", "best", "equivalent", "not_better", "above"]
    target: str
    metric: str
    others: tuple[str, ...] = ()
    higher_is_better: bool = True
    margin: float | None = None
    threshold: float | None = None
    aggregate: Literal["mean", "median", "iqm"] = "mean"
    origin: Literal["source", "ours"] = "source"

    def check(self) -> list[str]:
        """What is wrong with the rule (empty when nothing): the config loader reports these with the
        params file and the claim's position; :func:`decide` refuses a rule with any."""
        problems = []
        if self.origin not in ORIGINS:
            problems.append(f"origin {self.origin!r} is not one of {', '.join(ORIGINS)}")
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.aggregate not in AGGREGATES:
            problems.append(f"aggregate {self.aggregate!r} is not one of {', '.join(AGGREGATES)}")
        if self.kind == "above":
            if self.others:
                problems.append(f"kind 'above' compares the target with its threshold, not with {list(self.others)}")
            if self.threshold is None:
                problems.append("kind 'above' needs a threshold")
        elif not self.others:
            problems.append("others is empty: a claim compares the target with at least one variant")
        elif self.threshold is not None:
            problems.append(f"threshold is only for kind 'above', not {self.kind!r}")
        if self.target in self.others:
            problems.append(f"target {self.target!r} is also among others")
        if self.kind == "better" and len(self.others) != 1:
            problems.append(f"kind 'better' compares with one variant, got {len(self.others)} (use 'best' for several)")
        if self.kind == "equivalent" and (self.margin is None or not self.margin > 0):
            problems.append(f"kind 'equivalent' needs a positive margin, got {self.margin!r}")
        if self.kind == "not_better" and self.margin is None:
            problems.append("kind 'not_better' needs a margin (negative: the target trails by more than it)")
        if self.kind in ("equivalent", "not_better") and len(self.others) != 1:
            problems.append(f"kind {self.kind!r} compares with one variant, got {len(self.others)}")
        if self.kind not in MARGIN_KINDS and self.margin is not None:
            problems.append(f"margin is only for kinds {', '.join(MARGIN_KINDS)}, not {self.kind!r}")
        return problems

    def bound(self) -> tuple[str, float]:
        """Where the printed interval must lie for the rule to hold: ("above" | "below", value) or
        ("inside", margin), in the orientation of :meth:`text` (the metric's units; for ``above``, the
        aggregate itself; otherwise target minus other)."""
        if self.kind == "above":
            return ("above" if self.higher_is_better else "below"), float(self.threshold)  # type: ignore[arg-type]
        if self.kind == "equivalent":
            return "inside", float(self.margin)  # type: ignore[arg-type]
        if self.kind == "not_better":
            m = float(self.margin)  # type: ignore[arg-type]
            return ("below", m) if self.higher_is_better else ("above", -m)
        return ("above" if self.higher_is_better else "below"), 0.0

    def text(self) -> str:
        """The rule in words, as the report prints it, in the orientation of the printed effect and
        interval: the target's aggregate (``above``), or the target minus the other variant."""
        agg = {"mean": "mean", "median": "median", "iqm": "interquartile mean"}[self.aggregate]
        what = f"{agg} of '{self.metric}' over seeds"
        side, bound = self.bound()
        other = {"above": "below", "below": "above"}.get(side, "")
        if self.kind == "above":
            return (f"{what} of {self.target}: holds if its interval lies {side} {bound:g}, does not hold if it lies "
                    f"{other} it")
        if self.kind == "equivalent":
            return (f"{what}, {self.target} minus {self.others[0]}: holds if the interval lies inside "
                    f"(-{bound:g}, {bound:g}), does not hold if it lies outside")
        claimed = "higher" if self.higher_is_better else "lower"
        if self.kind == "not_better":
            return (f"{what} ({claimed} is better), {self.target} minus {self.others[0]}: holds if the interval lies "
                    f"{side} {bound:g} (the target gains less than {abs(bound):g}), does not hold if it lies {other} it")
        if self.kind == "better":
            return (f"{what} (claimed: {claimed}), {self.target} minus {self.others[0]}: holds if the interval lies "
                    f"{side} 0, does not hold if it lies {other} 0")
        return (f"{what} (claimed: {claimed}), {self.target} minus each of {', '.join(self.others)}: holds if every "
                f"interval lies {side} 0, does not hold if any lies {other} 0 (or ties it in every seed)")


@dataclass(frozen=True)
class SourceClaim:
    """One statement of the source report, quoted, and what here answers it: the ``claim`` (an id of
    the section's claims) that decides it, and/or a ``number`` (a name the section's analysis reports in
    :attr:`lib.sections.protocol.SectionResult.numbers`) to set beside it. ``where``: the part of the
    source it is quoted from. ``variant`` and ``value``: the source's number for one of the section's
    variants as it states it ("~6500"), for a "source's return" column of the section's chart."""

    quote: str
    where: str
    claim: str = ""
    number: str = ""
    variant: str = ""
    value: str = ""

    def check(self) -> list[str]:
        return [] if (self.claim or self.number or self.value) else [
            f"source entry {self.quote[:40]!r}: give a 'claim' id, a 'number' or the source's 'value'"]


@dataclass(frozen=True)
class ClaimsFile:
    """``params/claims/<section>.yaml``: a section's claims, the family-wise error rate of their
    verdicts, and the source's statements they answer (validated on its own, then as part of each
    profile's config)."""

    claims: tuple[Rule, ...] = ()
    alpha: float = 0.05
    source: tuple[SourceClaim, ...] = ()

    def check(self) -> list[str]:
        out = [] if 0 < self.alpha < 0.5 else [f"key 'alpha' must be in (0, 0.5); got {self.alpha}"]
        ids = [r.id for r in self.claims]
        if len(set(ids)) != len(ids):
            out.append(f"claim ids must be unique, got {ids}")
        # a file without rules names claims its section checks exactly (section 03): those ids are the section's
        out += [f"source entry {e.quote[:40]!r}: claim {e.claim!r} is not a claim id ({', '.join(ids)})"
                for e in self.source if e.claim and ids and e.claim not in ids]
        return out


@dataclass(frozen=True)
class Verdict:
    """The outcome of one :class:`Rule`, printed in the rule's own orientation (:meth:`Rule.text`):
    ``effect`` and ``interval`` are in the metric's units, the target's aggregate for ``above`` and the
    target minus ``versus`` otherwise, never flipped; ``holds_if`` is :meth:`Rule.bound` (side, value), so
    the verdict can be checked from the page (:func:`printed_problems`): holds when the interval (every
    pair's, for ``best``) lies on that side of the value, does not hold when one lies on the other side
    (or ties in every seed), undecided otherwise or when ``note`` says why (Holm's step-down stopped, too
    few seeds). ``level`` is the confidence of the interval after Holm; ``seeds`` the number of seeds
    per variant compared; ``seeds_to_decide`` (undecided only) the seeds per variant that would likely
    decide it (for a share of seeds, the exact binomial count), None when no number would."""

    id: str
    claim: str
    kind: str
    verdict: str
    rule: str
    effect: float
    interval: tuple[float, float]
    level: float
    seeds: dict[str, int]
    p: float
    versus: str
    seeds_to_decide: int | None = None
    pairs: list[dict[str, Any]] = field(default_factory=list)
    target: str = ""
    holds_if: tuple[str, float] = ("above", 0.0)
    note: str = ""
    origin: str = "source"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["interval"] = list(self.interval)
        d["holds_if"] = list(self.holds_if)
        return d


def _agg(name: str):
    """The vectorised aggregate over axis -1: mean, median or IQM (the mean of the middle half)."""
    if name == "mean":
        return lambda x, axis=-1: np.mean(x, axis=axis)
    if name == "median":
        return lambda x, axis=-1: np.median(x, axis=axis)
    return lambda x, axis=-1: _st.trim_mean(x, 0.25, axis=axis)


def _boot_diff(a: np.ndarray, b: np.ndarray, aggregate: str, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap distribution (n_boot,) of ``agg(a) - agg(b)``, each sample resampled on its own."""
    f = _agg(aggregate)
    res = _st.bootstrap((a, b), lambda x, y, axis=-1: f(x, axis=axis) - f(y, axis=axis), vectorized=True, paired=False,
                        n_resamples=n_boot, method="percentile", rng=np.random.default_rng(seed))
    return np.asarray(res.bootstrap_distribution, dtype=np.float64)


def _boot_one(x: np.ndarray, aggregate: str, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap distribution (n_boot,) of ``agg(x)`` over the seeds of one variant."""
    if np.ptp(x) == 0:
        return np.full(n_boot, float(x[0]))
    f = _agg(aggregate)
    res = _st.bootstrap((x,), lambda y, axis=-1: f(y, axis=axis), vectorized=True, n_resamples=n_boot,
                        method="percentile", rng=np.random.default_rng(seed))
    return np.asarray(res.bootstrap_distribution, dtype=np.float64)


def aggregate_interval(x: Sequence[float] | np.ndarray, aggregate: str = "mean", level: float = 0.95,
                       n_boot: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """A variant's aggregate over its seeds (S,) with a percentile bootstrap ``level`` interval, which
    stays inside the range of the scores. One seed, or equal scores: the interval is the value."""
    x = np.asarray(x, dtype=np.float64)
    value = float(_agg(aggregate)(x))
    if len(x) < 2:
        return value, value, value
    lo, hi = _quantiles(_boot_one(x, aggregate, n_boot, seed), level)
    return value, lo, hi


def _stream(seed: int, *names: str) -> int:
    """The bootstrap seed of one comparison: a function of ``seed`` and the names only, so a claim's
    interval does not depend on the order or number of the other claims."""
    return int(np.random.SeedSequence([seed, zlib.crc32("/".join(names).encode())]).generate_state(1)[0])


@dataclass(frozen=True)
class _Comparison:
    """One comparison of a rule, signed so that positive is the claimed side: the ``effect``, and
    either a bootstrap distribution (``boot``) of it or, for a share of seeds against a threshold,
    the counts of an exact binomial (Clopper-Pearson) interval."""

    effect: float
    boot: np.ndarray | None = None
    successes: int = 0
    trials: int = 0
    threshold: float = 0.0
    sign: float = 1.0

    def interval(self, conf: float) -> tuple[float, float]:
        if self.boot is not None:
            return _quantiles(self.boot, conf)
        ci = _st.binomtest(self.successes, self.trials).proportion_ci(conf, method="exact")
        ends = sorted((self.sign * (ci.low - self.threshold), self.sign * (ci.high - self.threshold)))
        return float(ends[0]), float(ends[1])

    def p(self) -> float:
        """Two-sided p-value of the effect against 0."""
        if self.boot is not None:
            return _p_direction(self.boot)
        return float(_st.binomtest(self.successes, self.trials, self.threshold).pvalue)

    def centre(self) -> float:
        return float(np.median(self.boot)) if self.boot is not None else self.effect


def _binary(x: np.ndarray) -> bool:
    return bool(np.isin(x, (0.0, 1.0)).all())


def _comparisons(r: Rule, data: Mapping[str, np.ndarray], n_boot: int, seed: int) -> dict[str, _Comparison]:
    """Each comparison of rule ``r``: rival (a variant, or the threshold as a string) -> its
    :class:`_Comparison`. A mean of a 0/1 metric against a threshold (a share of seeds) gets the exact
    binomial interval: the bootstrap of a share of 10 out of 10 is the point 1, which overstates what
    ten seeds show."""
    f = _agg(r.aggregate)
    sign = 1.0 if (r.higher_is_better or r.kind == "equivalent") else -1.0  # not_better: the target's advantage
    x = data[r.target]
    if r.kind == "above":
        t = float(r.threshold)  # type: ignore[arg-type]
        if r.aggregate == "mean" and _binary(x) and 0 < t < 1:
            return {f"{t:g}": _Comparison(sign * (float(x.mean()) - t), successes=int(x.sum()), trials=len(x), threshold=t, sign=sign)}
        boot = _boot_one(x, r.aggregate, n_boot, _stream(seed, r.id))
        return {f"{t:g}": _Comparison(sign * (float(f(x)) - t), sign * (boot - t))}
    return {o: _Comparison(sign * float(f(x) - f(data[o])), sign * _boot_diff(x, data[o], r.aggregate, n_boot, _stream(seed, r.id, o)))
            for o in r.others}


def _quantiles(boot: np.ndarray, level: float) -> tuple[float, float]:
    return float(np.quantile(boot, (1 - level) / 2)), float(np.quantile(boot, (1 + level) / 2))


def _p_direction(boot: np.ndarray) -> float:
    """Two-sided bootstrap p-value of a difference against 0 (tied resamples count half)."""
    below, above = np.mean(boot < 0) + 0.5 * np.mean(boot == 0), np.mean(boot > 0) + 0.5 * np.mean(boot == 0)
    return float(min(1.0, 2 * min(below, above)))


def _p_equivalence(boot: np.ndarray, margin: float) -> float:
    """Bootstrap p-value of the decisive one-sided test: inside the margin (the larger of the two
    TOST p-values) when the estimate is inside it, outside it otherwise."""
    centre = float(np.median(boot))
    if abs(centre) < margin:
        return float(max(np.mean(boot >= margin), np.mean(boot <= -margin)))
    return float(np.mean(boot <= margin) if centre >= margin else np.mean(boot >= -margin))


def seeds_to_decide(n: int, interval: tuple[float, float], distance: float) -> int | None:
    """Seeds per variant that would likely decide a rule: the interval's half-width shrinks as
    1/sqrt(seeds), and must fall below ``distance``, from the effect to the bound it has to clear
    (0, or a margin). None when that distance is 0."""
    half = (interval[1] - interval[0]) / 2
    if not distance > 0 or not math.isfinite(half):
        return None
    return max(n + 1, math.ceil(n * (half / distance) ** 2))


def decide(rules: Sequence[Rule], scores: Mapping[str, Sequence[float] | np.ndarray], alpha: float = 0.05,
           n_boot: int = 4000, seed: int = 0) -> list[Verdict]:
    """One :class:`Verdict` per rule, in the rules' order, Holm-corrected across them.

    ``scores``: variant -> per-seed metric values (S_v,). Every variant a rule names must be there
    with at least 2 seeds. ``seed`` fixes the bootstrap (one stream per rule id and compared variant), so a
    verdict is a function of the data and the rule."""
    bad = [f"claim {r.id!r}: " + "; ".join(r.check()) for r in rules if r.check()]
    if bad:
        raise ValueError("\n".join(bad))
    missing = sorted({v for r in rules for v in (r.target, *r.others) if v not in scores})
    if missing:
        raise KeyError(f"no scores for variant(s) {missing}; have {sorted(scores)}")
    data = {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    short = sorted(k for r in rules for k in (r.target, *r.others) if len(data[k]) < 2)
    if short:
        raise ValueError(f"variant(s) {sorted(set(short))} have fewer than 2 seeds: no interval can be made")

    comps = [_comparisons(r, data, n_boot, seed) for r in rules]
    pvals: list[float] = []
    for r, per in zip(rules, comps):
        if r.kind == "equivalent":
            pvals.append(_p_equivalence(per[r.others[0]].boot, r.margin))  # type: ignore[arg-type]
        elif r.kind == "not_better":
            b = per[r.others[0]].boot
            pvals.append(float(np.mean(b >= r.margin) if np.median(b) < r.margin else np.mean(b <= r.margin)))
        else:
            ps = {o: c.p() for o, c in per.items()}
            against = [o for o, c in per.items() if c.centre() < 0]
            # intersection-union: "best" needs every comparison; "not best" needs one
            pvals.append(min(ps[o] for o in against) if against else max(ps.values()))

    order = sorted(range(len(rules)), key=lambda i: pvals[i])
    out: dict[int, Verdict] = {}
    stopped_at = ""
    m = len(rules)
    for rank, i in enumerate(order):
        r, per = rules[i], comps[i]
        level_alpha = alpha / (m - rank)
        effects = {o: c.effect for o, c in per.items()}
        conf = 1 - 2 * level_alpha if r.kind in MARGIN_KINDS else 1 - level_alpha
        intervals = {o: c.interval(conf) for o, c in per.items()}
        n = min(len(data[k]) for k in (r.target, *r.others))
        ties = [o for o in r.others if _tie(data[r.target], data[o])] if r.kind in ("better", "best") else []
        if r.kind == "equivalent":
            o = r.others[0]
            lo, hi = intervals[o]
            verdict = "holds" if (-r.margin < lo and hi < r.margin) else (  # type: ignore[operator]
                "does not hold" if (lo > r.margin or hi < -r.margin) else "undecided")  # type: ignore[operator]
            versus, distance = o, abs(abs(effects[o]) - float(r.margin))  # type: ignore[arg-type]
        elif r.kind == "not_better":
            versus = r.others[0]
            lo, hi = intervals[versus]
            verdict = "holds" if hi < r.margin else ("does not hold" if lo > r.margin else "undecided")  # type: ignore[operator]
            distance = abs(effects[versus] - float(r.margin))  # type: ignore[arg-type]
        else:
            wins = [o for o in per if intervals[o][0] > 0]
            # a tie in every seed of both (both at a score cap, say) is no lead: decided, not undecided
            losses = [o for o in per if intervals[o][1] < 0 or o in ties]
            verdict = "does not hold" if losses else ("holds" if len(wins) == len(per) else "undecided")
            # the decisive comparison: the worst loss, else the closest rival not beaten, else the closest
            pool = losses or [o for o in per if o not in wins] or list(per)
            versus = min(pool, key=lambda o: effects[o])
            distance = abs(effects[versus])
        note = "a tie: " + "; ".join(f"{r.target} and {o} score {data[o][0]:g} in every seed" for o in ties) if ties else ""
        if n < MIN_SEEDS:
            verdict, note = "undecided", f"undecided: fewer than {MIN_SEEDS} seeds in a compared variant"
        elif stopped_at and not ties:
            if verdict != "undecided":
                note = f"undecided: Holm's step-down stopped at the undecided claim {stopped_at!r}"
            verdict = "undecided"
        if verdict == "undecided" and not stopped_at:
            stopped_at = r.id
        lo, hi = intervals[versus]
        to_decide = None
        if verdict == "undecided":
            c = per[versus]
            if n < MIN_SEEDS:
                to_decide = max(MIN_SEEDS, seeds_to_decide(n, (lo, hi), distance) or MIN_SEEDS)
            elif c.boot is None:
                to_decide = binomial_seeds_to_decide(c.successes, c.trials, c.threshold, conf)
            else:
                to_decide = seeds_to_decide(n, (lo, hi), distance)
        shown = {o: _printed(r, effects[o], intervals[o]) for o in per}
        out[i] = Verdict(
            id=r.id, claim=r.claim, kind=r.kind, verdict=verdict, rule=r.text(), effect=shown[versus][0],
            interval=shown[versus][1], level=conf, seeds={k: int(len(data[k])) for k in (r.target, *r.others)}, p=pvals[i],
            versus=versus, seeds_to_decide=to_decide,
            pairs=[{"versus": o, "effect": e, "interval": list(iv)} for o, (e, iv) in shown.items()],
            target=r.target, holds_if=r.bound(), note=note, origin=r.origin,
        )
    return [out[i] for i in range(len(rules))]


def _tie(a: np.ndarray, b: np.ndarray) -> bool:
    """Every seed of both variants has one and the same score (both at a cap, say)."""
    return bool(np.ptp(a) == 0 and np.ptp(b) == 0 and a[0] == b[0])


def _printed(r: Rule, signed: float, interval: tuple[float, float]) -> tuple[float, tuple[float, float]]:
    """A comparison's effect and interval as printed, from the engine's signed form (positive = the
    claimed side): unflipped into the rule's orientation (target minus other), and for ``above`` the
    threshold added back, so the printed numbers are the target's aggregate and its interval."""
    sign = 1.0 if (r.higher_is_better or r.kind == "equivalent") else -1.0
    shift = float(r.threshold) if r.kind == "above" else 0.0  # type: ignore[arg-type]
    ends = sorted((sign * interval[0] + shift, sign * interval[1] + shift))
    return sign * signed + shift, (float(ends[0]), float(ends[1]))


def binomial_seeds_to_decide(successes: int, trials: int, threshold: float, conf: float, most: int = 10_000) -> int | None:
    """Seeds that would decide a share of seeds against ``threshold``: the fewest n > ``trials`` at which
    the same observed share p gets an exact binomial (Clopper-Pearson) ``conf`` interval wholly on its
    side of the threshold, with p x n successes (the beta quantiles taken at that real count, so the
    answer grows steadily with the distance, not with the rounding of p x n). 10 of 10 against 0.8 at
    95%: 17 (the lower end of n of n is 0.025^(1/n): 0.794 at 16, 0.805 at 17). None when the share
    equals the threshold (no number decides it) or past ``most``."""
    share, a = successes / trials, 1 - conf
    if share == threshold:
        return None
    for n in range(trials + 1, most + 1):
        k = share * n
        low = 0.0 if k == 0 else float(_st.beta.ppf(a / 2, k, n - k + 1))
        high = 1.0 if k == n else float(_st.beta.ppf(1 - a / 2, k + 1, n - k))
        if (share > threshold and low > threshold) or (share < threshold and high < threshold):
            return n
    return None


def expected_verdict(holds_if: Sequence[Any], intervals: Sequence[Sequence[float]], tie: bool = False) -> str:
    """The verdict a page's numbers imply: ``holds_if`` (side, bound) of the rule, the printed interval of
    each comparison (every rival's for ``best``), and whether a comparison is a tie in every seed.
    Holds when every interval lies on the rule's side of the bound; does not hold when one lies wholly
    on the other side (outside the margin, for "inside"), or ties; undecided otherwise."""
    side, b = holds_if[0], float(holds_if[1])
    on = {"above": lambda i: i[0] > b, "below": lambda i: i[1] < b, "inside": lambda i: -b < i[0] and i[1] < b}[side]
    off = {"above": lambda i: i[1] < b, "below": lambda i: i[0] > b, "inside": lambda i: i[0] > b or i[1] < -b}[side]
    if all(on(i) for i in intervals) and not tie:
        return "holds"
    return "does not hold" if tie or any(off(i) for i in intervals) else "undecided"


def printed_problems(claim: Mapping[str, Any]) -> list[str]:
    """What is wrong between a published claim's verdict and its printed numbers (a claim of a
    ``results.json``: ``verdict``, ``holds_if``, ``pairs``, ``note``): empty when the verdict follows
    from them by :func:`expected_verdict`, or is undecided for the reason its note gives (Holm's
    step-down, too few seeds). Claims checked exactly (no ``holds_if``) have nothing to check."""
    if not claim.get("holds_if"):
        return []
    note = str(claim.get("note") or "")
    want = expected_verdict(claim["holds_if"], [p["interval"] for p in claim["pairs"]], note.startswith("a tie"))
    if claim["verdict"] == want or (claim["verdict"] == "undecided" and note.startswith("undecided:")):
        return []
    return [f"claim {claim.get('id') or claim.get('claim')!r}: printed {claim['verdict']!r}, but its intervals "
            f"{[p['interval'] for p in claim['pairs']]} against {list(claim['holds_if'])} say {want!r}"]


def judge(rules: Sequence[Rule], per_run: "pd.DataFrame", alpha: float = 0.05, variant: str = "variant",
          seed: int = 0) -> list[Verdict]:
    """:func:`decide` on a per-run table: a rule's ``metric`` is a column, a variant's rows (column
    ``variant``) are its seeds. Missing values are refused: a section fills them first (a run that
    never reached a level counts as the whole budget, say) and says how in the metric's name."""
    scores: dict[str, np.ndarray] = {}
    problems = []
    for r in rules:
        if r.metric not in per_run.columns:
            problems.append(f"claim {r.id!r}: no per-run column {r.metric!r} (have {', '.join(map(str, per_run.columns))})")
            continue
        for v in (r.target, *r.others):
            x = per_run.loc[per_run[variant] == v, r.metric].to_numpy(dtype=np.float64)
            if np.isnan(x).any():
                problems.append(f"claim {r.id!r}: {int(np.isnan(x).sum())} missing value(s) of {r.metric!r} for {v!r}")
            scores[f"{v}\x00{r.metric}"] = x
    if problems:
        raise ValueError("\n".join(problems))
    keyed = [replace(r, target=f"{r.target}\x00{r.metric}", others=tuple(f"{o}\x00{r.metric}" for o in r.others)) for r in rules]
    out = decide(keyed, scores, alpha=alpha, seed=seed)
    strip = lambda k: k.split("\x00")[0]  # noqa: E731
    return [replace(v, rule=r.text(), seeds={strip(k): n for k, n in v.seeds.items()}, versus=strip(v.versus),
                    target=r.target, note=v.note.replace("\x00" + r.metric, ""),
                    pairs=[{**p, "versus": strip(p["versus"])} for p in v.pairs]) for r, v in zip(rules, out)]


def claim_problems(claims: Sequence[Rule], variants: Sequence[str], metrics: Sequence[str],
                   skip: Sequence[str] = ()) -> list[str]:
    """For a section's ``check``: claims that name a variant the section does not run (unless the
    profile skips them), or a metric it does not compute; skipped ids that are no claim."""
    out = [f"key 'skip_claims': {i!r} is not a claim id ({', '.join(r.id for r in claims)})"
           for i in skip if i not in {r.id for r in claims}]
    for r in claims:
        if r.id in skip:
            continue
        unknown = [v for v in (r.target, *r.others) if v not in variants]
        if unknown:
            out.append(f"claim {r.id!r} names variant(s) {unknown}; the variants are {', '.join(variants)}")
        if r.metric not in metrics:
            out.append(f"claim {r.id!r}: metric {r.metric!r} is not one of {', '.join(metrics)}")
    ids = [r.id for r in claims]
    if len(set(ids)) != len(ids):
        out.append(f"claim ids must be unique, got {ids}")
    return out


def decided_claims(cfg: Any) -> tuple[Rule, ...]:
    """The claims a config decides: all of ``cfg.claims`` but the ids in ``cfg.skip_claims``."""
    return tuple(r for r in cfg.claims if r.id not in cfg.skip_claims)


def rules_from_params(entries: Sequence[Mapping[str, Any]]) -> list[Rule]:
    """Rules from a params file's ``claims`` list (each a mapping of :class:`Rule`'s fields)."""
    from dataclasses import fields

    allowed = [f.name for f in fields(Rule)]
    required = ["id", "claim", "kind", "target", "metric"]
    rules = []
    for n, e in enumerate(entries):
        e = dict(e)
        unknown = sorted(set(e) - set(allowed))
        lacking = [k for k in required if k not in e]
        if unknown or lacking:
            raise ValueError(f"claim {e.get('id', n)!r}: " + "; ".join(
                ([f"unknown field(s) {unknown}"] if unknown else []) + ([f"missing {lacking}"] if lacking else []))
                + f" (fields: {', '.join(allowed)})")
        e["others"] = tuple(e.get("others", ()))
        rule = Rule(**e)
        if rule.check():
            raise ValueError(f"claim {rule.id!r}: " + "; ".join(rule.check()))
        rules.append(rule)
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids must be unique, got {ids}")
    return rules
