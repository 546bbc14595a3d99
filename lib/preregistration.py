"""Pre-registration: a section's claim rules are fixed before the runs that decide them.

``params/registered.json`` holds, for each section and profile (``default``, ``full``) whose
params file has ``claims``, the hash of its rules (the claims and ``alpha``) and its run seeds, with
the history of every earlier registration. The rules of a params file may change only together with
seeds that none of that section's and profile's earlier registrations used: a rule changed after
seeing results is judged on fresh seeds. :func:`problems` says what is wrong (``tests/test_preregistration.py``
fails on any); ``./workbook register SECTION [--profile P]`` records a params file's rules and
seeds, and refuses the same cases.

Adding seeds under unchanged rules is allowed (it is recorded); changing rules on seeds already
used is not. The smoke profile's claims are not registered: its verdicts decide nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from .config import to_dict
from .paths import PARAMS_DIR
from .sections.protocol import seed_range
from .params import claims_path, load_file, params_path
from .sections import SECTIONS, get_section

REGISTRY = PARAMS_DIR / "registered.json"
#: Profiles whose verdicts are reported as the section's findings.
REGISTERED_PROFILES = ("default", "full")


def rules_hash(cfg: Any) -> str:
    """sha256 of a config's rules: its ``claims`` (all but their wording, ``claim``, and whose claim it is,
    ``origin``) and ``alpha``, as canonical JSON."""
    claims = [{k: v for k, v in c.items() if k not in ("claim", "origin")} for c in to_dict(cfg.claims)]
    text = json.dumps({"claims": claims, "alpha": cfg.alpha}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def run_seeds(section: Any, cfg: Any) -> list[int]:
    """Every run seed a section's verdicts rest on: its module's ``decision_seeds(cfg)`` when it has
    one (e.g. section 08's search seeds and fresh seeds), else ``first_seed .. first_seed + seeds - 1``."""

    own = getattr(section, "decision_seeds", None)
    return sorted(set(own(cfg) if own is not None else seed_range(cfg)))


def read_registry(path: Path = REGISTRY) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _entry_problems(name: str, rules: str, seeds: list[int], entry: dict[str, Any] | None) -> list[str]:
    """What forbids registering (rules, seeds) for ``name`` given its registry entry."""
    if entry is None or entry["rules"] == rules:
        return []
    used = sorted({s for h in entry["history"] for s in h["seeds"]} & set(seeds))
    if used:
        return [f"{name}: the claim rules changed, but seed(s) {_span(used)} were used under earlier rules; "
                f"a changed rule needs seeds never used before (raise first_seed past {max(used)})"]
    return []


def _span(seeds: list[int]) -> str:
    """Sorted seeds, consecutive runs of three or more written ``a..b``: [0, 1, 2, 5, 7, 8] -> '0..2, 5, 7, 8'."""
    parts: list[str] = []
    start = 0
    for i in range(1, len(seeds) + 1):
        if i == len(seeds) or seeds[i] != seeds[i - 1] + 1:
            run = seeds[start:i]
            parts += [f"{run[0]}..{run[-1]}"] if len(run) > 2 else [str(x) for x in run]
            start = i
    return ", ".join(parts)


def _current(section_id: str, profile: str) -> tuple[str, str, list[int], bool, tuple[str, ...]]:
    """(name, rules hash, seeds, whether it has claims, the claims it skips) of a params file."""

    cfg = load_file(params_path(section_id, profile), section_id)
    has = bool(getattr(cfg, "claims", ()))
    return (f"{profile}/{section_id}", rules_hash(cfg) if has else "", run_seeds(get_section(section_id), cfg) if has else [],
            has, tuple(getattr(cfg, "skip_claims", ())))


def problems(path: Path = REGISTRY) -> list[str]:
    """Every params file of a registered profile whose claims are unregistered, changed without
    fresh seeds, or registered with other seeds than it now runs."""

    registry = read_registry(path)
    out = []
    for profile in REGISTERED_PROFILES:
        for section_id in SECTIONS:
            name, rules, seeds, has, skipped = _current(section_id, profile)
            if not has:
                continue
            entry = registry.get(name)
            if skipped:
                out.append(f"{name}: skips claims {list(skipped)}; a registered profile decides every claim")
            if entry is None:
                out.append(f"{name}: its claims are not registered; run ./workbook register {section_id} --profile {profile}")
                continue
            bad = _entry_problems(name, rules, seeds, entry)
            if bad:
                out += bad
            elif entry["rules"] != rules or entry["seeds"] != seeds:
                out.append(f"{name}: its claims or seeds differ from the registered ones; run ./workbook register "
                           f"{section_id} --profile {profile}")
    return out


def _dumps(registry: dict[str, Any]) -> str:
    """The registry as JSON, one line per list of seeds."""
    import re

    text = json.dumps(registry, indent=1)
    return re.sub(r"\[\s*([\d,\s]+?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text) + "\n"


def register(section_id: str, profile: str, path: Path = REGISTRY) -> str:
    """Record a params file's rules and seeds; raise ValueError when its rules changed on used seeds."""
    if profile not in REGISTERED_PROFILES:
        raise ValueError(f"--profile {profile!r}: only {', '.join(REGISTERED_PROFILES)} are registered")
    name, rules, seeds, has, skipped = _current(section_id, profile)
    if skipped:
        raise ValueError(f"{name}: skips claims {list(skipped)}; a registered profile decides every claim")
    if not has:
        raise ValueError(f"{name}: its params file has no claims to register")
    registry = read_registry(path)
    entry = registry.get(name)
    bad = _entry_problems(name, rules, seeds, entry)
    if bad:
        raise ValueError(bad[0])
    history = (entry or {}).get("history", [])
    if entry is None or entry["rules"] != rules or entry["seeds"] != seeds:
        history.append({"rules": rules, "seeds": seeds, "date": time.strftime("%Y-%m-%d")})
    registry[name] = {"rules": rules, "seeds": seeds, "history": history}
    path.write_text(_dumps(dict(sorted(registry.items()))))
    return f"{name}: rules {rules[:12]} on seeds {_span(seeds)} registered"


def statement(section: Any, cfg: Any, profile: str) -> str:
    """One Markdown paragraph for a report: the seeds its verdicts rest on, and whether its claim rules
    were registered with exactly those seeds before the runs (empty for a section without claims)."""
    if not getattr(cfg, "claims", ()):
        return ""

    seeds = run_seeds(section, cfg)
    where = f"`{claims_path(section.SECTION).relative_to(PARAMS_DIR.parent)}`"
    head = (f"**Seeds and rules**: the verdicts rest on {len(seeds)} run seeds ({_span(seeds)}; "
            f"{cfg.seeds} per variant) and on the {len(cfg.claims)} claim rules of {where}, decided together "
            f"with Holm's correction at alpha = {cfg.alpha:g}.")
    if profile not in REGISTERED_PROFILES:
        return head + f" The {profile} profile registers nothing: its verdicts are a check of the code, not findings."
    entry = read_registry().get(f"{profile}/{section.SECTION}")
    if entry is None or entry["rules"] != rules_hash(cfg) or entry["seeds"] != seeds or getattr(cfg, "skip_claims", ()):
        return head + (" **These rules and seeds are not the registered ones** (`params/registered.json`): overrides "
                       "or an unregistered edit changed them, so the verdicts below are exploratory.")
    date = next((h["date"] for h in reversed(entry["history"]) if h["rules"] == entry["rules"] and h["seeds"] == seeds), "?")
    seen = sorted({s for h in entry["history"] if h["rules"] != entry["rules"] for s in h["seeds"]})
    return head + (f" Rules and seeds were registered together in `params/registered.json` on {date}, before the runs "
                   "that decide them; a rule changed afterwards needs fresh seeds (`tests/test_preregistration.py`)."
                   + (f" Seeds used under earlier rules ({_span(seen)}) are not used here." if seen else ""))
