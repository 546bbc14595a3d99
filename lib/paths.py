"""Where things are: the repository, the run store, the reports, the shipped experts, the caches.

The one place that reads ``RLWB_RUNS`` and ``RLWB_REPORTS``. Imports nothing else of lib, so any
module (a learner included) may use it without pulling in the store or the publishing code.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding lib/, notebooks/, params/).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The library's own folder.
LIB_DIR = REPO_ROOT / "lib"
#: Shipped experts: experts/<name>/policy.pt and metadata.json.
EXPERTS_DIR = REPO_ROOT / "experts"
#: Parameter profiles: params/<profile>/<section>.yaml.
PARAMS_DIR = REPO_ROOT / "params"
#: The section notebooks.
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
#: Regression references of the smoke profile.
REFERENCE_DIR = REPO_ROOT / "tests" / "reference"


def store_root() -> Path:
    """The run store: ``$RLWB_RUNS`` if set, else ``runs/`` at the repository root."""
    return Path(os.environ.get("RLWB_RUNS", REPO_ROOT / "runs"))


def reports_root() -> Path:
    """Where reports go: ``$RLWB_REPORTS`` if set, else ``reports/`` at the repository root."""
    return Path(os.environ.get("RLWB_REPORTS", REPO_ROOT / "reports"))


def cache_dir(kind: str) -> Path:
    """A cache beside the run store (``<store>/<kind>/``: expert datasets, animations); not committed."""
    return store_root() / kind


def resolve(path: str | Path) -> Path:
    """``path`` as given if absolute, else relative to the repository root."""
    p = Path(path)
    return p if p.is_absolute() else REPO_ROOT / p
