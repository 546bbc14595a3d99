"""What a section leaves next to its report: results.json, claim verdicts, the smoke regression check."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ..verdicts import SourceClaim, Verdict

from ..config import to_dict
from ..provenance import git_commit
from ..paths import REFERENCE_DIR, REPO_ROOT, reports_root
from ..verdicts import VERDICTS

#: Where reports go: ``$RLWB_REPORTS`` if set (tests use a temporary one), else reports/ in the repository.
#: Where reports go, read once from lib.paths (tests point it elsewhere).
REPORTS_DIR = reports_root()


def overrides_tag(overrides: Mapping[str, Any] | None) -> str:
    """A short, stable name for a set of overrides (10 hex digits of a sha256 of their JSON)."""
    blob = json.dumps(dict(overrides or {}), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def profile_root(profile: str, overrides: Mapping[str, Any] | None = None) -> Path:
    """Where a profile's reports and index go.

    reports/ for the default profile without overrides (committed); reports/_<profile>/ for the
    smoke and full profiles; reports/_custom/<profile>-<hash of overrides>/ for any run with
    overrides. Everything but reports/ itself is git-ignored, so an exploratory run never touches
    the committed reports.
    """
    if overrides:
        return REPORTS_DIR / "_custom" / f"{profile}-{overrides_tag(overrides)}"
    if profile == "default":
        return REPORTS_DIR
    return REPORTS_DIR / f"_{profile}"


def report_dir(section: str, profile: str, overrides: Mapping[str, Any] | None = None) -> Path:
    """The section's report folder for ``profile`` and ``overrides`` (see :func:`profile_root`)."""
    return profile_root(profile, overrides) / section


def is_reference(profile: str, overrides: Mapping[str, Any] | None) -> bool:
    """Whether a run is the configuration the smoke regression reference was made with."""
    return profile == "smoke" and not overrides


def verdict_word(holds: bool | None) -> str:
    """A yes/no/unknown answer as a verdict (for facts checked exactly, not estimated from seeds)."""
    return {True: "holds", False: "does not hold", None: "undecided"}[holds]


@dataclass(frozen=True)
class Claim:
    """A claim of the source and what the data says about it.

    ``verdict``: one of :data:`lib.verdicts.VERDICTS`, under ``rule`` (fixed in the section's params
    before the runs, see :mod:`lib.preregistration`); ``effect`` with its ``interval`` at confidence
    ``level`` (after Holm), on ``seeds`` per variant; ``seeds_to_decide`` when undecided;
    ``evidence``: the numbers behind it in words. :meth:`judged` makes one from the verdict engine,
    :meth:`exact` one from a fact checked exactly (a replayed score, a file)."""

    claim: str
    verdict: str
    evidence: str
    rule: str = ""
    effect: float | None = None
    interval: tuple[float, float] | None = None
    level: float | None = None
    seeds: dict[str, int] = field(default_factory=dict)
    seeds_to_decide: int | None = None
    id: str = ""
    holds_if: tuple[str, float] | None = None
    pairs: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    origin: str = "source"
    kind: str = ""
    target: str = ""
    versus: str = ""

    def __post_init__(self) -> None:

        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.claim!r}: verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")

    @classmethod
    def judged(cls, v: "Verdict", evidence: str = "") -> "Claim":
        """The claim of a :class:`lib.verdicts.Verdict`; ``evidence`` adds what the section wants said."""
        text = f"Rule: {v.rule}. {printed(v)}" + (f" {evidence}" if evidence else "")
        return cls(v.claim, v.verdict, text, rule=v.rule, effect=v.effect, interval=v.interval, level=v.level,
                   seeds=dict(v.seeds), seeds_to_decide=v.seeds_to_decide, id=v.id, holds_if=tuple(v.holds_if),
                   pairs=list(v.pairs), note=v.note, origin=v.origin, kind=v.kind, target=v.target, versus=v.versus)

    @classmethod
    def exact(cls, claim: str, ok: bool, rule: str, evidence: str, effect: float | None = None, id: str = "") -> "Claim":
        """A fact checked exactly (no sampling): holds or does not hold, its interval the value itself."""
        return cls(claim, verdict_word(ok), f"Rule: {rule}. {evidence}", rule=rule, effect=effect,
                   interval=(effect, effect) if effect is not None else None, level=1.0, id=id)


def num(x: float, signed: bool = False) -> str:
    """A number as a report prints it: thousands with separators and no decimals (51,978), smaller ones
    to 4 significant digits (0.6748, 499.3); ``signed`` adds a plus sign."""
    if not math.isfinite(x):
        return str(x)
    text = f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    return ("+" + text) if signed and x >= 0 else text


def printed(v: "Verdict") -> str:
    """A verdict's numbers in words, in its rule's orientation: the value or difference, its interval
    (Holm), every rival's for a ``best`` claim, the seeds, and why it is undecided where it is."""
    iv = lambda e, i: f"{num(e)} [{num(i[0])}, {num(i[1])}]"  # noqa: E731
    if v.kind == "above":
        what = f"{v.target}: {iv(v.effect, v.interval)}"
    else:
        what = "; ".join(f"{v.target} minus {p['versus']}: {iv(p['effect'], p['interval'])}" for p in v.pairs)
    seeds = ", ".join(f"{k} {n}" for k, n in v.seeds.items())
    more = f" {v.note[0].upper()}{v.note[1:]}." if v.note else ""
    if v.verdict == "undecided":
        more += f" {to_decide(v.seeds_to_decide).capitalize()}."
    return f"{what} ({v.level:.1%} interval, Holm); seeds: {seeds}.{more}"


#: Past this many seeds per variant, "seeds to decide" is said in words: the estimate is nearly on its bound.
MANY_SEEDS = 1000


def to_decide(n: int | None) -> str:
    """An undecided claim's seeds to decide in words."""
    if not n:
        return "the estimate sits on its bound, so more seeds would not likely decide it"
    if n > MANY_SEEDS:
        return f"more than {MANY_SEEDS:,} seeds per variant would be needed: the estimate sits nearly on its bound"
    return f"about {n} seeds per variant would likely decide it"


def here_text(c: Claim) -> str:
    """A decided claim's number in a few words: the target's value or its difference to the decisive
    rival, the interval and the seeds (the "here" column of the source-vs-here table)."""
    if c.effect is None or c.interval is None or not c.kind:  # a fact checked exactly: its evidence, not a rule
        prefix = f"Rule: {c.rule}. "
        return c.evidence[len(prefix):] if c.evidence.startswith(prefix) else c.evidence
    n = min(c.seeds.values()) if c.seeds else 0
    iv = f"[{num(c.interval[0])}, {num(c.interval[1])}]"
    what = f"{c.target} {num(c.effect)} {iv}" if c.kind == "above" else f"{c.target} minus {c.versus} {num(c.effect, True)} {iv}"
    return f"{what}, {n} seeds" + (" each" if c.kind != "above" else "")


def said(v: "Verdict | Claim") -> str:
    """One claim's verdict in a sentence, for a section's answers: the claim, the verdict, and its number
    in the rule's orientation (:func:`here_text`)."""
    c = v if isinstance(v, Claim) else Claim.judged(v)
    return f"*{c.claim}*: **{c.verdict}** ({here_text(c)})"


def source_vs_here(entries: Sequence["SourceClaim"], claims: Sequence[Claim], numbers: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per statement of the source (params ``source``): ``source`` (the quote), ``where``,
    ``here`` (our number and interval with its seeds, as text: the section's ``numbers`` entry, else
    the deciding claim's), ``verdict`` and ``claim_id`` (where a claim decides it; empty when none
    does, or this profile skips it)."""
    by_id = {c.id: c for c in claims}
    rows = []
    for e in entries:
        c = by_id.get(e.claim) if e.claim else None
        here = numbers.get(e.number) or (here_text(c) if c is not None else "not measured in this profile")
        rows.append({"source": e.quote, "where": e.where, "here": here,
                     "verdict": c.verdict if c is not None else "", "claim_id": e.claim if c is not None else ""})
    return rows


_IN_WORDS = {"holds": "it holds", "does not hold": "it does not hold", "undecided": "it is undecided",
             "": "we measured (a number beside the source's; no claim decides it here)"}


def conclusions(rows: Sequence[Mapping[str, Any]], claims: Sequence[Claim]) -> str:
    """The section's conclusions in plain words, generated from the verdicts: what the source said and
    what was found here, statement by statement, then our own (stricter or further) claims."""
    if not rows and not claims:
        return ""
    judged = [r for r in rows if r["verdict"]]
    count = {v: sum(r["verdict"] == v for r in judged) for v in ("holds", "does not hold", "undecided")}
    by_id = {c.id: c for c in claims}
    lines = [f"**What the source says, and what we found.** Of the source's {len(rows)} statements listed here, "
             f"{len(judged)} have a verdict: {count['holds']} hold, {count['does not hold']} do not hold, "
             f"{count['undecided']} are undecided."]
    for r in rows:
        c = by_id.get(r["claim_id"])
        verdict = _IN_WORDS.get(r["verdict"], "we report")
        more = ""
        if c is not None and c.verdict == "undecided":
            more = f" ({to_decide(c.seeds_to_decide)})"
            if c.note.startswith("undecided:"):
                more = f" ({c.note[len('undecided: '):]})"
        lines.append(f"- The source ({r['where']}): “{r['source']}” Here {verdict}{more}: {r['here'].rstrip('.')}.")
    ours = [c for c in claims if c.origin == "ours"]
    if ours:
        lines.append("\nOur own claims, beside the source's (stricter tests, or our protocol):")
        lines += [f"- *{c.claim}*: {_IN_WORDS[c.verdict]}: {here_text(c)}." for c in ours]
    return "\n".join(lines)


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item"):
        return _jsonable(x.item())
    return x


def write_results(
    section: str,
    title: str,
    profile: str,
    config: Any,
    table: pd.DataFrame,
    claims: list[Claim],
    regression: dict[str, tuple[Any, float]],
    headline: str,
    figures: list[Path],
    extra: dict[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    animations: list[Any] | None = None,
) -> Path:
    """Write results.json in the section's report folder (:func:`report_dir`) and return its path.

    ``regression`` maps a name to (value, tolerance): what the smoke regression check compares
    (tolerance 0 = exact). ``headline`` is one sentence for the index page. ``figures`` are the
    PNGs the section wrote, main figure first (the index shows it as a thumbnail).
    """
    out = report_dir(section, profile, overrides)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "section": section,
        "title": title,
        "profile": profile,
        "overrides": dict(overrides or {}),
        "headline": headline,
        "config": to_dict(config),
        "table": table.to_dict(orient="records"),
        "claims": [asdict(c) for c in claims],
        "regression": {k: {"value": v, "tol": t} for k, (v, t) in regression.items()},
        "figures": [_rel_to(f, out) for f in figures],
        "animations": [getattr(a, "caption", str(a)) for a in animations or []],
        "git_commit": git_commit(),
        **(extra or {}),
    }
    path = out / "results.json"
    path.write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
    return path


def _rel_to(path: Path, base: Path) -> str:
    return str(Path(path).relative_to(base)) if Path(path).is_relative_to(base) else str(path)


def reference_path(section: str) -> Path:
    return REFERENCE_DIR / f"{section}.smoke.json"


def regression_check(results_path: Path, profile: str) -> str:
    """Compare a smoke run's regression values with tests/reference/<section>.smoke.json.

    Returns the text nbval compares: one line when all checks hold, one line per failure
    otherwise. Values are compared within their tolerance, never printed raw, so the text is
    the same on any machine whose results are within tolerance.
    """
    results = json.loads(Path(results_path).read_text())
    section = results["section"]
    if not is_reference(profile, results.get("overrides")):
        how = f"profile {profile!r}" + (f" with overrides {results['overrides']}" if results.get("overrides") else "")
        return (f"{section}: regression check skipped: this run ({how}) is not the reference configuration "
                "(the smoke profile without overrides)")
    ref_path = reference_path(section)
    if not ref_path.exists():
        return f"{section}: no reference at {ref_path.relative_to(REPO_ROOT)}; make it with ./workbook reference"
    reference = json.loads(ref_path.read_text())
    current = results["regression"]
    failures = []
    for name, ref in reference.items():
        if name not in current:
            failures.append(f"{name}: missing from results")
            continue
        got, want, tol = current[name]["value"], ref["value"], ref["tol"]
        if isinstance(want, (int, float)) and isinstance(got, (int, float)) and not isinstance(want, bool):
            ok = abs(got - want) <= tol
        else:
            ok = got == want
        if not ok:
            failures.append(f"{name}: got {got!r}, reference {want!r} (tolerance {tol})")
    extra = sorted(set(current) - set(reference))
    failures += [f"{name}: not in the reference" for name in extra]
    if failures:
        return f"{section}: smoke regression FAILED ({len(failures)} of {len(reference)}):\n" + "\n".join(failures)
    return f"{section}: smoke results match the reference ({len(reference)} checks)"


def write_reference(results_path: Path) -> Path:
    """Store a smoke run's regression values as the section's reference."""
    results = json.loads(Path(results_path).read_text())
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    path = reference_path(results["section"])
    path.write_text(json.dumps(results["regression"], indent=1, sort_keys=True) + "\n")
    return path
