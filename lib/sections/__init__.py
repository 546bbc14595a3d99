"""One module per report section: its Config, the grid of runs it needs, and its analysis.

Every section module defines ``SECTION`` (its id, also the notebook's and the params files'
name), ``TITLE``, ``Config`` (a frozen dataclass validated by :mod:`lib.config`) and
``specs(cfg) -> list[RunSpec]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..config import ConfigError

#: section id -> module under lib/sections/, in report order.
SECTIONS: dict[str, str] = {
    "01_reinforce_baselines": "reinforce_baselines",
    "02_entropy": "entropy",
    "03_expert": "expert",
    "04_bc_dagger": "bc_dagger",
    "05_estimators": "estimators",
    "06_baseline_cheetah": "baseline_cheetah",
    "07_gae_lunar": "gae_lunar",
    "08_pendulum_tuning": "pendulum_tuning",
    "09_bc_heads": "bc_heads",
}


def get_section(section: str) -> ModuleType:
    """The module of ``section``; a clear error listing the known ones otherwise."""
    if section not in SECTIONS:
        raise ConfigError(f"unknown section {section!r}; known sections: {', '.join(SECTIONS)}")
    return importlib.import_module(f"{__name__}.{SECTIONS[section]}")
