"""Shipped expert policies: experts/<name>/{policy.pt, metadata.json, log.csv, episodes.csv}.

``policy.pt`` holds only the policy's ``state_dict``; ``metadata.json`` holds what rebuilds and
vouches for it: the training config and seed, the network (``network.kind``: "categorical" or
"sac_actor"), the test score with the seed of its test episodes, the date, and the sha256 of
policy.pt, checked on every load. :func:`load` gives an :class:`Expert` whatever its kind: a
learner acts with it and asks it for labels without knowing which network it is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..policies import CategoricalPolicy, NumpySACActor, SACActor
from ..paths import EXPERTS_DIR


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


class _Greedy:
    """A sampler that always takes ``policy``'s most likely action."""

    def __init__(self, policy: Any):
        self.policy = policy

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        return self.policy.sample(obs, rng, greedy=True)


@dataclass
class Expert:
    """A shipped expert, checked against its sha256.

    ``network`` is the torch module (a :class:`CategoricalPolicy` or a :class:`SACActor`);
    ``discrete`` says which. :meth:`actor` plays (a :class:`lib.data.rollout.Sampler`),
    :meth:`label` gives the actions a learner imitates.
    """

    name: str
    network: CategoricalPolicy | SACActor
    meta: dict[str, Any]

    @property
    def discrete(self) -> bool:
        return isinstance(self.network, CategoricalPolicy)

    @property
    def sha256(self) -> str:
        return str(self.meta["policy_sha256"])

    @property
    def env_id(self) -> str:
        return str(self.meta.get("env_id", "CartPole-v1" if self.discrete else "HalfCheetah-v4"))

    def actor(self, temperature: float | None = None) -> Any:
        """The expert as a sampler. ``temperature`` None: its deterministic action (argmax; SAC's
        tanh of the mean, computed in float64 so that it is the same on every machine). A number:
        a categorical expert samples from softmax(logits / temperature); a SAC actor has none."""
        if not self.discrete:
            if temperature is not None:
                raise ValueError(f"expert '{self.name}' is a SAC actor: it acts deterministically (temperature null), "
                                 f"got temperature {temperature}")
            return NumpySACActor(self.network).exact()  # type: ignore[arg-type]
        if temperature is None:
            return _Greedy(self.network.numpy_sampler())  # type: ignore[union-attr]
        return self.network.numpy_sampler(temperature)  # type: ignore[union-attr]

    def label(self, obs: np.ndarray) -> np.ndarray:
        """The expert's action for each state ``obs`` (N, obs_dim): (N,) int64 for a categorical
        expert (its most likely action), (N, act_dim) float32 for a SAC actor."""
        acts = self.actor().sample(np.asarray(obs, dtype=np.float32), np.random.default_rng(0), greedy=True)
        return np.asarray(acts, dtype=np.int64 if self.discrete else np.float32)


def load(name: str, sha256: str | None = None) -> Expert:
    """The shipped expert ``name``. Raises if policy.pt does not match the sha256 in its metadata,
    or (when given) the ``sha256`` the caller expects, e.g. the one in a run's config."""
    meta = read_metadata(name)
    weights = expert_dir(name) / "policy.pt"
    digest = file_sha256(weights)
    if digest != meta["policy_sha256"]:
        raise ValueError(f"experts/{name}/policy.pt has sha256 {digest[:12]}..., metadata.json says {meta['policy_sha256'][:12]}...")
    if sha256 and sha256 != digest:
        raise ValueError(f"expert '{name}' changed: the config expects sha256 {sha256[:12]}..., found {digest[:12]}...")
    state = torch.load(weights, weights_only=True)
    kind = meta.get("network", {}).get("kind", "categorical")
    network: CategoricalPolicy | SACActor
    if kind == "sac_actor":
        network = SACActor.from_state_dict(state)
    elif kind == "categorical":
        net = meta["network"]
        network = CategoricalPolicy(net["obs_dim"], net["n_actions"], tuple(net["hidden"]), net["activation"])
        network.load_state_dict(state)
    else:
        raise ValueError(f"experts/{name}: unknown network.kind {kind!r} in metadata.json; known: categorical, sac_actor")
    network.eval()
    return Expert(name, network, meta)


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
