"""Parameter profiles: params/<profile>/<section>.yaml, merged with notebook overrides.

>>> cfg = load_params("01_reinforce_baselines", "smoke", {"train.lr": 1e-3})

The file is validated on its own first (errors name the file), then with the overrides on
top (errors name the overrides), then against the world (:mod:`lib.checks`: environment ids,
dataset files, the compute the runs ask for). Nothing runs until all pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .checks import check_section
from .config import ConfigError, build, deep_merge, read_yaml, rel_path
from .paths import PARAMS_DIR
from .sections import get_section
from .verdicts import ClaimsFile

PROFILES = ("smoke", "default", "full")


def params_path(section: str, profile: str) -> Path:
    return PARAMS_DIR / profile / f"{section}.yaml"


def claims_path(section: str) -> Path:
    """``params/claims/<section>.yaml``: the section's claim rules and ``alpha``, one file for every
    profile (the rules are the source's; profiles differ in budgets and seeds). Registered before
    the runs that decide them (:mod:`lib.preregistration`)."""
    return PARAMS_DIR / "claims" / f"{section}.yaml"


CLAIM_KEYS = ("claims", "alpha", "source")


def read_params(section: str, path: Path) -> tuple[dict[str, Any], str]:
    """A profile's parameter file with the section's claims file beneath it, and the name of the
    source for error messages. A profile file may not set the claims' keys: rules live in one place."""
    data = read_yaml(path)
    source = rel_path(path)
    rules = claims_path(section)
    if rules.exists():
        clash = [k for k in CLAIM_KEYS if k in data]
        if clash:
            raise ConfigError(f"{source}: key(s) {clash} belong in {rel_path(rules)}, which holds the section's claim rules "
                              "for every profile")

        extra = read_yaml(rules)
        unknown = sorted(set(extra) - set(CLAIM_KEYS))
        if unknown:
            raise ConfigError(f"{rel_path(rules)}: unknown key(s) {unknown}; a claims file sets only {', '.join(CLAIM_KEYS)}")
        build(ClaimsFile, extra, rel_path(rules))  # the rules on their own first: errors name the claims file
        data = {**extra, **data}
    return data, source


def load_file(path: Path, section: str | None = None) -> Any:
    """Validate one parameter file into its section's config (section taken from the file name)."""

    name = section or Path(path).stem
    sec = get_section(name)
    data, source = read_params(name, Path(path))
    cfg = build(sec.Config, data, source)
    check_section(sec, cfg, source)
    return cfg


def as_overrides(value: Any) -> dict[str, Any]:
    """A notebook's ``overrides`` parameter as a dict.

    papermill's ``-p overrides '{...}'`` passes a string: it is read as YAML (which includes JSON).
    Anything that is not a mapping then is one ConfigError with the way to pass it.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) if value.strip() else {}
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"overrides: could not read {value!r} as YAML or JSON ({exc.__class__.__name__}); with papermill pass "
                "them as YAML: -y '{\"overrides\": {\"seeds\": 3}}'"
            ) from None
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"overrides must be a mapping of keys to values, e.g. {{\"seeds\": 3}}; got {type(value).__name__} {value!r}. "
            "With papermill: -y '{\"overrides\": {\"seeds\": 3}}'"
        )
    return dict(value)


def load_params(section: str, profile: str = "smoke", overrides: Mapping[str, Any] | None = None) -> Any:
    """The frozen, validated config of ``section`` in ``profile`` with ``overrides`` applied."""

    sec = get_section(section)
    if profile not in PROFILES:
        raise ConfigError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    path = params_path(section, profile)
    if not path.exists():
        raise ConfigError(f"{rel_path(path)}: no such parameter file (profiles: {', '.join(PROFILES)})")
    data, source = read_params(section, path)
    cfg = build(sec.Config, data, source)
    overrides = as_overrides(overrides)
    if overrides:
        source = f"overrides on {source}"
        cfg = build(sec.Config, deep_merge(data, overrides), source)
    check_section(sec, cfg, source)
    return cfg


