"""The verdict engine: symmetric outcomes, equivalence margins, intersection-union for "best", Holm,
intervals inside the score range, seeds that would decide."""

from __future__ import annotations

import numpy as np
import pytest

from lib.stats import mean_ci
from lib.verdicts import (Rule, aggregate_interval, binomial_seeds_to_decide, decide, expected_verdict, printed_problems,
                          rules_from_params, seeds_to_decide)


def _rule(kind="better", target="a", others=("b",), **kw) -> Rule:
    return Rule(id=kw.pop("id", "c"), claim="a claim", kind=kind, target=target, metric="return", others=tuple(others), **kw)


SPREAD = np.array([-2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 2.0, 1.5, -1.5])  # mean 0, 10 seeds


def test_a_clear_win_holds_and_the_mirror_does_not_hold():
    """The same data with the roles swapped gives the opposite decided verdict and the negated
    interval. Red for: asymmetric rules (holds on a point estimate, does not hold only on p < 0.05)."""
    scores = {"a": 10 + SPREAD, "b": SPREAD}
    (win,) = decide([_rule()], scores)
    (loss,) = decide([_rule(target="b", others=("a",))], scores)
    assert (win.verdict, loss.verdict) == ("holds", "does not hold")
    assert win.effect == pytest.approx(10.0) and loss.effect == pytest.approx(-10.0)
    assert win.interval[0] > 0 and loss.interval[1] < 0
    assert win.seeds == {"a": 10, "b": 10} and win.seeds_to_decide is None


def test_a_point_estimate_ahead_within_the_noise_is_undecided():
    """A small lead over wide spreads: the point estimate favours the target, the interval covers 0.
    Red for: "holds whenever the estimate is best" (the old best_of)."""
    scores = {"a": 0.3 + 100 * SPREAD, "b": 100 * SPREAD[::-1]}
    (v,) = decide([_rule()], scores)
    assert v.effect > 0 and v.interval[0] < 0 < v.interval[1]
    assert v.verdict == "undecided"
    assert v.seeds_to_decide is not None and v.seeds_to_decide > 1000


def test_lower_is_better_flips_the_sign():
    """Red for: lower-is-better claims decided as higher-is-better."""
    scores = {"a": 5 + SPREAD, "b": 50 + SPREAD}  # e.g. episodes to converge
    (v,) = decide([_rule(higher_is_better=False)], scores)
    assert v.verdict == "holds" and v.effect == pytest.approx(-45.0)  # printed as target minus other
    assert v.holds_if == ("below", 0.0) and "a minus b" in v.rule and "lies below 0" in v.rule


def test_equivalence_inside_outside_and_between_the_margin():
    """Equal variants within a generous margin: holds; 10 apart with margin 1: does not hold; 1 apart
    with margin 1 and spread 1: undecided. Red for: "no difference" decided by a non-significant test."""
    base = {"b": SPREAD}
    assert decide([_rule("equivalent", margin=5.0)], {**base, "a": SPREAD[::-1]})[0].verdict == "holds"
    assert decide([_rule("equivalent", margin=1.0)], {**base, "a": 10 + SPREAD})[0].verdict == "does not hold"
    mid = decide([_rule("equivalent", margin=1.0)], {**base, "a": 1 + SPREAD[::-1]})[0]
    assert mid.verdict == "undecided" and mid.level == pytest.approx(0.9)  # two one-sided tests: 1 - 2 alpha


def test_best_needs_every_rival_beaten_and_fails_on_one_loss():
    """Intersection-union: a target clearly above one rival but level with the other is undecided,
    and its effect is the closest rival's; a rival clearly above the target makes it not hold.
    Red for: 'best' holding on one win or not failing on one loss, the wrong closest rival reported."""
    s = {"t": 10 + SPREAD, "low": SPREAD, "level": 10 + SPREAD[::-1], "high": 20 + SPREAD}
    assert decide([_rule("best", "t", ("low",))], s)[0].verdict == "holds"
    v = decide([_rule("best", "t", ("low", "level"))], s)[0]
    assert v.verdict == "undecided" and v.versus == "level" and v.effect == pytest.approx(0.0)
    assert v.seeds_to_decide is None  # an effect of exactly 0 is not decided by more seeds
    v = decide([_rule("best", "t", ("low", "level", "high"))], s)[0]
    assert v.verdict == "does not hold" and v.versus == "high"
    assert {p["versus"] for p in v.pairs} == {"low", "level", "high"}


def _moderate() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"a": 1.0 + rng.normal(size=10), "b": rng.normal(size=10)}


def test_holm_makes_the_strongest_of_several_claims_face_alpha_over_m():
    """Alone, a claim with bootstrap p between 0.01 and 0.05 is decided at 95%. Next to four claims
    with larger p-values it comes first in Holm's order and faces 99%, and is undecided; the
    others, after it, are undecided too (step-down). Red for: no multiple-comparison control."""
    s = _moderate()
    (alone,) = decide([_rule()], s)
    assert 0.01 < alone.p < 0.05 and alone.verdict == "holds" and alone.level == pytest.approx(0.95)
    s.update({f"n{i}": SPREAD + (i % 2) * 0.01 for i in range(5)})
    weak = [_rule(id=f"w{i}", target=f"n{i}", others=(f"n{i + 1}",)) for i in range(4)]
    first, *rest = decide([_rule(), *weak], s)
    assert first.p == pytest.approx(alone.p) and first.level == pytest.approx(1 - 0.05 / 5)
    assert first.verdict == "undecided"
    assert all(v.verdict == "undecided" for v in rest)


def test_holm_lets_a_clear_claim_pass_at_alpha_over_m():
    """Red for: Holm's levels other than alpha / (m - i), a claim decided at a stricter level than its rank
    gives."""
    s = {"a": 10 + SPREAD, "b": SPREAD, "c": SPREAD[::-1], "d": SPREAD}
    v = decide([_rule(id="x"), _rule(id="y", target="c", others=("d",))], s)
    assert v[0].verdict == "holds" and v[0].level == pytest.approx(1 - 0.05 / 2)
    assert v[1].verdict == "undecided" and v[1].level == pytest.approx(0.95)


def test_verdicts_are_a_function_of_the_data():
    """Red for: an unseeded bootstrap."""
    s = _moderate()
    assert decide([_rule()], s) == decide([_rule()], {k: v.copy() for k, v in s.items()})


def test_an_interval_stays_inside_the_score_range():
    """Nine seeds at CartPole's cap of 500 and one at 480: Student's t would run past 500, the
    bootstrap interval does not. Red for: t intervals on capped scores."""
    x = np.array([500.0] * 9 + [480.0])
    assert mean_ci(x)[2] <= 500
    m, lo, hi = aggregate_interval(x)
    assert m == pytest.approx(498.0) and 480 <= lo <= m <= hi <= 500
    assert aggregate_interval([7.0, 7.0]) == (7.0, 7.0, 7.0)


def test_iqm_ignores_an_outlier_seed():
    """Red for: the IQM computed as a mean or a median."""
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 1000])
    assert aggregate_interval(x, "iqm")[0] == pytest.approx(4.5)


def test_seeds_to_decide_known_answers():
    """Half-width 2 at 10 seeds, distance 1 to clear: 10 * (2/1)^2 = 40 seeds.
    Red for: the 1/sqrt(n) rule misapplied (n times the ratio instead of its square), a count for a distance of
    0."""
    assert seeds_to_decide(10, (-1.0, 3.0), 1.0) == 40
    assert seeds_to_decide(10, (-1.5, 2.5), 0.5) == 10 * 16  # e.g. an effect 0.5 from its margin
    assert seeds_to_decide(10, (-1.0, 1.0), 0.0) is None


@pytest.mark.parametrize("bad, words", [
    ({"kind": "greater"}, "kind 'greater'"),
    ({"kind": "equivalent"}, "positive margin"),
    ({"margin": 1.0}, "only for kinds equivalent, not_better"),
    ({"others": ("b", "c")}, "use 'best'"),
    ({"others": ("a",)}, "also among others"),
    ({"aggregate": "mode"}, "aggregate 'mode'"),
])
def test_a_malformed_rule_is_refused_with_what_is_allowed(bad, words):
    """Red for: a malformed claim accepted, or refused without saying what is allowed."""
    entry = {"id": "c", "claim": "x", "kind": "better", "target": "a", "others": ["b"], "metric": "return", **bad}
    with pytest.raises(ValueError, match=words):
        rules_from_params([entry])


def test_missing_or_single_seed_variants_are_named():
    """Red for: a verdict decided without a variant's scores, or on one seed."""
    with pytest.raises(KeyError, match="'b'"):
        decide([_rule()], {"a": SPREAD})
    with pytest.raises(ValueError, match="fewer than 2 seeds"):
        decide([_rule()], {"a": SPREAD, "b": [1.0]})


def test_a_verdict_does_not_depend_on_the_other_claims_order():
    """Red for: bootstrap streams handed out in the claims' order."""
    s = {**_moderate(), "c": 10 + SPREAD, "d": SPREAD}
    rules = [_rule(id="x"), _rule(id="y", target="c", others=("d",))]
    forward, backward = decide(rules, s), decide(rules[::-1], s)
    assert forward == backward[::-1]


def test_above_a_threshold_both_ways_and_on_capped_data():
    """Ten seeds testing at the cap of 500 are above 495 (the bootstrap interval is the point 5);
    two of ten seeds at 500 is not a share above 0.8; lower-is-better thresholds flip. Red for: a
    one-sided threshold rule."""
    at_cap = np.full(10, 500.0)
    (v,) = decide([Rule("c", "x", "above", "a", "test mean", threshold=495)], {"a": at_cap})
    assert v.verdict == "holds" and v.effect == pytest.approx(500.0) and v.interval == (pytest.approx(500.0), pytest.approx(500.0))
    few = np.array([1.0, 1] + [0] * 8)
    (v,) = decide([Rule("c", "x", "above", "a", "share at 500", threshold=0.8)], {"a": few})
    assert v.verdict == "does not hold" and v.versus == "0.8"
    (v,) = decide([Rule("c", "x", "above", "a", "episodes", higher_is_better=False, threshold=100.0)], {"a": 50 + SPREAD})
    assert v.verdict == "holds" and v.effect == pytest.approx(50.0)


def test_equal_capped_variants_are_equivalent_not_an_error():
    """Red for: a zero-width interval raising, or counted as outside its margin."""
    cap = np.full(10, 500.0)
    (v,) = decide([_rule("equivalent", margin=5.0)], {"a": cap, "b": cap.copy()})
    assert v.verdict == "holds" and v.interval == (0.0, 0.0)


def test_unknown_or_missing_fields_name_the_claim_and_the_allowed_fields():
    """Red for: a misspelt field ignored silently, a message without the claim's id or the allowed fields."""
    with pytest.raises(ValueError, match=r"claim 'c': unknown field\(s\) \['treshold'\].*fields: id, claim"):
        rules_from_params([{"id": "c", "claim": "x", "kind": "above", "target": "a", "metric": "m", "treshold": 1}])
    with pytest.raises(ValueError, match=r"missing \['metric'\]"):
        rules_from_params([{"id": "c", "claim": "x", "kind": "better", "target": "a", "others": ["b"]}])
    with pytest.raises(ValueError, match="unique"):
        rules_from_params([{"id": "c", "claim": "x", "kind": "better", "target": "a", "others": ["b"], "metric": "m"}] * 2)


def test_judge_reads_columns_and_refuses_missing_values():
    """Red for: a per-run table read from the wrong column or variant, missing values averaged over."""
    import pandas as pd

    from lib.verdicts import judge

    runs = pd.DataFrame({"variant": ["a"] * 10 + ["b"] * 10, "ret": list(10 + SPREAD) + list(SPREAD)})
    (v,) = judge([Rule("c", "x", "better", "a", "ret", others=("b",))], runs)
    (w,) = decide([Rule("c", "x", "better", "a", "ret", others=("b",))], {"a": 10 + SPREAD, "b": SPREAD})
    assert v.verdict == "holds" and v.seeds == {"a": 10, "b": 10} and v.versus == "b"
    assert v.interval == pytest.approx(w.interval, abs=0.2)
    runs.loc[3, "ret"] = float("nan")
    with pytest.raises(ValueError, match="1 missing value"):
        judge([Rule("c", "x", "better", "a", "ret", others=("b",))], runs)
    with pytest.raises(ValueError, match="no per-run column 'steps'"):
        judge([Rule("c", "x", "better", "a", "steps", others=("b",))], runs)


def test_not_better_within_a_margin_both_ways():
    """"The schedule does not beat the constant": holds when the schedule's advantage is surely below
    the margin (here it is worse), does not hold when it is surely above, undecided between; the
    seeds to decide count the distance from the effect to the margin, not to 0.
    Red for: not_better decided against 0 instead of its margin, or with the directional interval."""
    r = Rule("c", "x", "not_better", "s", "share", others=("k",), margin=0.5)
    assert decide([r], {"s": SPREAD, "k": 3 + SPREAD})[0].verdict == "holds"
    assert decide([r], {"s": 3 + SPREAD, "k": SPREAD})[0].verdict == "does not hold"
    v = decide([r], {"s": 0.5 + SPREAD, "k": SPREAD[::-1]})[0]
    assert v.verdict == "undecided" and v.level == pytest.approx(0.9)
    assert v.seeds_to_decide is None  # the effect sits on the margin: no number of seeds decides it
    w = decide([r], {"s": 1.0 + SPREAD, "k": SPREAD[::-1]})[0]
    half = (w.interval[1] - w.interval[0]) / 2
    assert w.verdict == "undecided" and w.seeds_to_decide == max(11, -(-10 * (half / 0.5) ** 2 // 1))


def test_a_share_of_seeds_gets_the_exact_binomial_interval():
    """Ten of ten seeds succeed: the bootstrap says the share is exactly 1; Clopper-Pearson's 95%
    interval is [0.69, 1], so "at least 80% of seeds" is undecided, while 20 of 20 ([0.83, 1]) holds.
    Red for: bootstrap intervals on shares at the boundary."""
    r = Rule("c", "x", "above", "a", "reached", threshold=0.8)
    v = decide([r], {"a": np.ones(10)})[0]
    assert v.verdict == "undecided" and v.interval[0] == pytest.approx(0.6915, abs=1e-3)
    assert v.seeds_to_decide == 17  # 16 of 16: lower end 0.794; 17 of 17: 0.805 (exact, not a 1/sqrt(n) guess)
    assert decide([r], {"a": np.ones(20)})[0].verdict == "holds"
    assert decide([r], {"a": np.array([1.0] * 2 + [0.0] * 18)})[0].verdict == "does not hold"
    low = Rule("c", "x", "above", "a", "failed", threshold=0.2, higher_is_better=False)
    assert decide([low], {"a": np.zeros(20)})[0].verdict == "holds"  # "fewer than 20% fail": 0 of 20 ([0, 0.17])


def test_fewer_than_five_seeds_decide_nothing():
    """Three seeds of a clear win: the bootstrap has 10 distinct resamples, so no verdict; at least 5
    seeds would decide it. Red for: verdicts on 3 seeds (section 09's old default)."""
    from lib.verdicts import MIN_SEEDS

    v = decide([_rule()], {"a": np.array([10.0, 11, 12]), "b": np.array([0.0, 1, 2])})[0]
    assert v.verdict == "undecided" and v.seeds_to_decide == MIN_SEEDS == 5
    assert decide([_rule()], {"a": 10 + SPREAD[:5], "b": SPREAD[:5]})[0].verdict == "holds"


# --------------------------------------------------------------------------- Holm, margins, directions by hand
def _share(id: str, threshold: float) -> Rule:
    return Rule(id, "a share of seeds", "above", id, "reached", threshold=threshold)


def _cp_interval(k: int, n: int, conf: float) -> tuple[float, float]:
    """Clopper-Pearson by its beta quantiles (the exact binomial interval), written out."""
    from scipy.stats import beta

    a = 1 - conf
    return (0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1)), 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k)))


def test_holm_on_a_family_computed_by_hand_stops_at_the_first_undecided_claim():
    """Three "share of seeds above 0.5" claims, alpha 0.05, exact binomial p-values by hand:
    A 20/20 (p = 2^-19), B 10/12 (p = 2 x 79/4096 = 0.0386), C 15/20 (p = 2 x 21700/2^20 = 0.0414).
    Holm's order is A, B, C at levels 1 - 0.05/3, 1 - 0.05/2, 1 - 0.05. A's interval clears 0.5: holds.
    B's 97.5% interval [0.475, 0.986] covers 0.5: undecided, and the procedure stops there, so C is
    undecided although its 95% interval [0.509, 0.913] alone would clear 0.5. Red for: a step-down that
    does not stop at the first non-rejection (C holds), no correction (B holds at 95%), the family
    sorted by anything but p."""
    counts = {"A": (20, 20), "B": (10, 12), "C": (15, 20)}
    scores = {k: np.array([1.0] * s + [0.0] * (n - s)) for k, (s, n) in counts.items()}
    rules = [_share("C", 0.5), _share("A", 0.5), _share("B", 0.5)]  # not in Holm's order
    got = {v.id: v for v in decide(rules, scores)}
    assert got["A"].p == pytest.approx(2.0**-19)
    assert got["B"].p == pytest.approx(2 * 79 / 4096)
    assert got["C"].p == pytest.approx(2 * 21700 / 2**20)
    levels = {"A": 1 - 0.05 / 3, "B": 1 - 0.05 / 2, "C": 1 - 0.05}
    for k, (s, n) in counts.items():
        lo, hi = _cp_interval(s, n, levels[k])
        assert got[k].level == pytest.approx(levels[k])
        assert got[k].interval == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))
    assert _cp_interval(15, 20, 0.95)[0] > 0.5 > _cp_interval(10, 12, 0.975)[0]  # the premise: C alone would hold
    assert [got[k].verdict for k in "ABC"] == ["holds", "undecided", "undecided"]
    (alone,) = decide([_share("C", 0.5)], scores)
    assert alone.verdict == "holds"


def test_holm_goes_on_after_a_decided_claim_of_either_outcome():
    """A claim that clearly does not hold is a rejection too: the claims after it are still decided.
    Red for: a step-down that stops at "does not hold"."""
    s = {"a": 10 + SPREAD, "b": SPREAD, "c": 20 + SPREAD, "d": SPREAD}
    lost, won = decide([_rule(id="x", target="b", others=("a",)), _rule(id="y", target="c", others=("d",))], s)
    assert (lost.verdict, won.verdict) == ("does not hold", "holds")


NARROW = 0.3 * SPREAD  # a bootstrap interval of the mean difference about +-0.27 wide at 90%


@pytest.mark.parametrize("shift, verdict, crosses", [
    (0.0, "holds", None), (0.8, "undecided", "upper"), (-0.8, "undecided", "lower"),
    (5.0, "does not hold", None), (-5.0, "does not hold", None),
])
def test_equivalence_needs_both_margins(shift, verdict, crosses):
    """Margin 1: an interval inside (-1, 1) holds; one that crosses only the upper margin, or only the
    lower, is undecided; one wholly above 1 or wholly below -1 does not hold. Red for: an equivalence
    checked on one side of its margin only, in either outcome."""
    (v,) = decide([_rule("equivalent", margin=1.0)], {"a": shift + NARROW[::-1], "b": NARROW})
    lo, hi = v.interval
    if crosses == "upper":
        assert -1 < lo < 1 < hi
    if crosses == "lower":
        assert lo < -1 < hi < 1
    assert v.verdict == verdict and v.effect == pytest.approx(shift)


HIGH, LOW = 10 + SPREAD, SPREAD


@pytest.mark.parametrize("rule, scores, verdict", [
    (_rule("better"), {"a": HIGH, "b": LOW}, "holds"),
    (_rule("better"), {"a": LOW, "b": HIGH}, "does not hold"),
    (_rule("better", higher_is_better=False), {"a": LOW, "b": HIGH}, "holds"),
    (_rule("better", higher_is_better=False), {"a": HIGH, "b": LOW}, "does not hold"),
    (_rule("best", others=("b", "c")), {"a": HIGH + 10, "b": HIGH, "c": LOW}, "holds"),
    (_rule("best", others=("b", "c")), {"a": HIGH, "b": HIGH + 10, "c": LOW}, "does not hold"),
    (_rule("best", others=("b", "c"), higher_is_better=False), {"a": LOW, "b": HIGH, "c": HIGH + 10}, "holds"),
    (_rule("best", others=("b", "c"), higher_is_better=False), {"a": HIGH, "b": LOW, "c": HIGH + 10}, "does not hold"),
    (_rule("equivalent", margin=1.0), {"a": LOW, "b": LOW[::-1]}, "holds"),
    (_rule("equivalent", margin=1.0), {"a": HIGH, "b": LOW}, "does not hold"),
    (_rule("not_better", margin=1.0), {"a": LOW, "b": HIGH}, "holds"),
    (_rule("not_better", margin=1.0), {"a": HIGH, "b": LOW}, "does not hold"),
    (_rule("not_better", margin=1.0, higher_is_better=False), {"a": HIGH, "b": LOW}, "holds"),
    (_rule("not_better", margin=1.0, higher_is_better=False), {"a": LOW, "b": HIGH}, "does not hold"),
    (Rule("c", "x", "above", "a", "m", threshold=5.0), {"a": HIGH}, "holds"),
    (Rule("c", "x", "above", "a", "m", threshold=5.0), {"a": LOW}, "does not hold"),
    (Rule("c", "x", "above", "a", "m", threshold=5.0, higher_is_better=False), {"a": LOW}, "holds"),
    (Rule("c", "x", "above", "a", "m", threshold=5.0, higher_is_better=False), {"a": HIGH}, "does not hold"),
    (Rule("c", "x", "above", "a", "m", threshold=0.5), {"a": np.ones(20)}, "holds"),
    (Rule("c", "x", "above", "a", "m", threshold=0.5), {"a": np.zeros(20)}, "does not hold"),
    (Rule("c", "x", "above", "a", "m", threshold=0.5, higher_is_better=False), {"a": np.zeros(20)}, "holds"),
    (Rule("c", "x", "above", "a", "m", threshold=0.5, higher_is_better=False), {"a": np.ones(20)}, "does not hold"),
], ids=lambda x: x.kind + ("-lower" if not x.higher_is_better else "") if isinstance(x, Rule) else None)
def test_every_kind_points_the_obvious_way(rule, scores, verdict):
    """Each kind of claim, higher or lower being better, on data 10 apart with a spread of about 1 (or
    all seeds succeeding or failing): the verdict is the obvious one, and a decided claim's effect is
    on the side of the rule's bound its verdict says, printed unflipped (target minus other, or the
    target's aggregate against a threshold). Red for: a kind decided in the wrong direction,
    higher_is_better ignored for a kind, a printed effect flipped against its rule's words."""
    (v,) = decide([rule], scores)
    assert v.verdict == verdict
    assert expected_verdict(v.holds_if, [p["interval"] for p in v.pairs]) == verdict  # checkable from the page
    side, bound = v.holds_if
    if side != "inside":  # the printed effect is on the side its verdict says, in the rule's own orientation
        assert ((v.effect > bound) if side == "above" else (v.effect < bound)) == (verdict == "holds")


def test_a_tie_at_the_cap_is_decided_as_a_tie():
    """Both variants at 200 in every seed (CartPole-v0's cap): "a is better" does not hold, as a tie,
    even after an undecided claim stopped Holm's step-down; "equivalent" holds. Red for: a tie at the cap
    reported undecided with interval [0, 0] (section 05's old batch-size claims)."""
    cap = np.full(10, 200.0)
    wide = {"u": np.array([0.0, 10, 0, 10, 0, 10, 0, 10, 0, 10]), "w": np.array([10.0, 0, 10, 0, 10, 0, 10, 0, 10, 0])}
    unsure = _rule(id="u", target="u", others=("w",))
    v, u = decide([_rule(), unsure], {"a": cap, "b": cap.copy(), **wide})
    assert u.verdict == "undecided"
    assert v.verdict == "does not hold" and v.note.startswith("a tie") and "200" in v.note
    assert v.interval == (0.0, 0.0) and printed_problems({**v.as_dict()}) == []
    (e,) = decide([_rule("equivalent", margin=1.0)], {"a": cap, "b": cap.copy()})
    assert e.verdict == "holds"


def test_binomial_seeds_to_decide_known_answers():
    """Clopper-Pearson by hand: n of n has the lower end (alpha/2)^(1/n); against 0.8 at 95% that passes
    0.8 first at n = 17 (0.025^(1/16) = 0.794, 0.025^(1/17) = 0.805), where a 1/sqrt(n) guess says 11.
    8 of 10 against 0.5: the first n whose beta quantile at 0.8 n successes clears 0.5, and the one before
    it does not. A share equal to its threshold: None. Red for: the 1/sqrt(n) guess."""
    from scipy.stats import beta

    assert binomial_seeds_to_decide(10, 10, 0.8, 0.95) == 17
    assert 0.025 ** (1 / 16) < 0.8 < 0.025 ** (1 / 17)
    n = binomial_seeds_to_decide(8, 10, 0.5, 0.95)
    low = lambda m: beta.ppf(0.025, 0.8 * m, 0.2 * m + 1)  # noqa: E731
    assert n is not None and low(n) > 0.5 >= low(n - 1)
    assert binomial_seeds_to_decide(5, 10, 0.5, 0.95) is None


def test_a_verdict_contradicting_its_printed_numbers_is_caught():
    """The check the committed reports go through: a "holds" whose interval crosses its bound, a "does not
    hold" whose interval is on the claimed side, an undecided claim with a clearing interval and no reason.
    Red for: a checker that trusts the verdict word."""
    base = {"id": "x", "holds_if": ["below", 0.0], "note": ""}
    assert printed_problems({**base, "verdict": "holds", "pairs": [{"interval": [-26.6, -2.64]}]}) == []
    assert printed_problems({**base, "verdict": "does not hold", "pairs": [{"interval": [-26.6, -2.64]}]})
    assert printed_problems({**base, "verdict": "holds", "pairs": [{"interval": [-3.0, 1.0]}]})
    assert printed_problems({**base, "verdict": "undecided", "pairs": [{"interval": [-3.0, -1.0]}]})
    assert printed_problems({**base, "verdict": "undecided", "note": "undecided: Holm's step-down stopped at 'y'",
                             "pairs": [{"interval": [-3.0, -1.0]}]}) == []
    best = {**base, "holds_if": ["above", 0.0], "pairs": [{"interval": [1.0, 2.0]}, {"interval": [-2.0, -1.0]}]}
    assert printed_problems({**best, "verdict": "does not hold"}) == [] and printed_problems({**best, "verdict": "holds"})
