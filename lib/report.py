"""What a section leaves next to its report: results.json, claim verdicts, the smoke regression check."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import to_dict
from .runs import REPO_ROOT, code_hash, git_commit

REPORTS_DIR = REPO_ROOT / "reports"
REFERENCE_DIR = REPO_ROOT / "tests" / "reference"


def report_dir(section: str, profile: str) -> Path:
    """reports/<section>/ for the default profile (committed); reports/_<profile>/<section>/ otherwise (ignored)."""
    if profile == "default":
        return REPORTS_DIR / section
    return REPORTS_DIR / f"_{profile}" / section


@dataclass(frozen=True)
class Claim:
    """A claim of the report and what the data says about it. ``holds`` is None when undecidable."""

    claim: str
    holds: bool | None
    evidence: str


def claims_markdown(claims: list[Claim]) -> str:
    """A Markdown list: verdict in bold, the claim, then the evidence."""
    lines = []
    for c in claims:
        verdict = {True: "holds", False: "does not hold", None: "undecided"}[c.holds]
        lines.append(f"- **{verdict}**: *{c.claim}*. {c.evidence}")
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
) -> Path:
    """Write results.json in the section's report folder and return its path.

    ``regression`` maps a name to (value, tolerance): what the smoke regression check compares
    (tolerance 0 = exact). ``headline`` is one sentence for the index page.
    """
    out = report_dir(section, profile)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "section": section,
        "title": title,
        "profile": profile,
        "headline": headline,
        "config": to_dict(config),
        "table": table.to_dict(orient="records"),
        "claims": [asdict(c) for c in claims],
        "regression": {k: {"value": v, "tol": t} for k, (v, t) in regression.items()},
        "figures": [str(Path(f).relative_to(out)) if Path(f).is_relative_to(out) else str(f) for f in figures],
        "git_commit": git_commit(),
        "training_code_hash": code_hash("lib.pg")[:16],
        **(extra or {}),
    }
    path = out / "results.json"
    path.write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
    return path


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
    if profile != "smoke":
        return f"{section}: the regression check runs in the smoke profile only (this is {profile!r})"
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
