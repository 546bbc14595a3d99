"""Shipped expert policies: experts/<name>/{policy.pt, metadata.json, log.csv, episodes.csv}.

``policy.pt`` holds only the policy's ``state_dict``; ``metadata.json`` holds what rebuilds and
vouches for it: the training config and seed, the network shape, the test score with the seed
of its test episodes, the date, and the sha256 of policy.pt (checked on every load).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from .nets import CategoricalPolicy

EXPERTS_DIR = Path(__file__).resolve().parent.parent / "experts"


def expert_dir(name: str) -> Path:
    return EXPERTS_DIR / name


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_metadata(name: str) -> dict[str, Any]:
    path = expert_dir(name) / "metadata.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no shipped expert '{name}' ({path} is missing); train and ship it with "
            f"./workbook reports --section 03_expert --set retrain=true --set ship=true"
        )
    return json.loads(path.read_text())


def load_expert(name: str) -> tuple[CategoricalPolicy, dict[str, Any]]:
    """The shipped categorical expert and its metadata; raises if policy.pt does not match its sha256."""
    meta = read_metadata(name)
    weights = expert_dir(name) / "policy.pt"
    digest = file_sha256(weights)
    if digest != meta["policy_sha256"]:
        raise ValueError(f"experts/{name}/policy.pt has sha256 {digest[:12]}..., metadata.json says {meta['policy_sha256'][:12]}...")
    net = meta["network"]
    policy = CategoricalPolicy(net["obs_dim"], net["n_actions"], tuple(net["hidden"]), net["activation"])
    policy.load_state_dict(torch.load(weights, weights_only=True))
    policy.eval()
    return policy, meta


def save_expert(name: str, policy_state: dict[str, torch.Tensor], metadata: dict[str, Any], extra_files: dict[str, Path] | None = None) -> Path:
    """Write experts/<name>/ (policy.pt, metadata.json with the weights' sha256, copies of ``extra_files``)."""
    import shutil

    out = expert_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "policy.pt"
    torch.save(policy_state, weights)
    meta = dict(metadata, policy_sha256=file_sha256(weights))
    (out / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
    for target, src in (extra_files or {}).items():
        shutil.copyfile(src, out / target)
    return out
