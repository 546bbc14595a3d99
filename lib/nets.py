"""Networks: MLP trunks, categorical and Gaussian policies, a state-value network.

Shapes: ``B`` is any batch size, ``obs_dim`` the observation size, ``A`` the number of discrete
actions, ``act_dim`` the size of a continuous action.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int, activation: str = "tanh") -> nn.Sequential:
    """Fully connected net ``in_dim -> hidden... -> out_dim`` with ``activation`` between layers."""
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), act()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


class CategoricalPolicy(nn.Module):
    """pi(a|s) = softmax(logits(s)) over ``A`` discrete actions."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...], activation: str = "tanh"):
        super().__init__()
        self.net = mlp(obs_dim, hidden, n_actions, activation)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs`` (B, obs_dim) float32 -> logits (B, A)."""
        return self.net(obs)

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) (B,) and entropy H[pi(.|s)] (B,) for ``obs`` (B, obs_dim), ``actions`` (B,) int64."""
        logp_all = torch.log_softmax(self.logits(obs), dim=-1)
        logp = logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return logp, entropy

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        """Actions (B,) int64 for ``obs`` (B, obs_dim), drawn with ``rng`` (see :class:`NumpyCategorical`)."""
        return self.numpy_sampler().sample(obs, rng, greedy)

    def numpy_sampler(self, temperature: float = 1.0) -> "NumpyCategorical":
        """A frozen numpy copy of this policy for fast rollouts (rebuild it after each update)."""
        return NumpyCategorical(self.net, temperature)


class NumpyMLP:
    """A frozen numpy copy of an ``mlp`` for fast acting (no autograd, no torch dispatch).

    A torch forward pass on a handful of observations costs ~40 us of dispatch overhead; the
    same small matmuls in numpy cost a few us, which is most of a rollout step.
    """

    def __init__(self, net: nn.Sequential):
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        self.acts: list[str | None] = []
        with torch.no_grad():
            for module in net:
                if isinstance(module, nn.Linear):
                    self.layers.append((module.weight.detach().numpy().T.copy(), module.bias.detach().numpy().copy()))
                    self.acts.append(None)
                elif isinstance(module, (nn.Tanh, nn.ReLU)):
                    self.acts[-1] = "tanh" if isinstance(module, nn.Tanh) else "relu"

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """``obs`` (B, in_dim) -> (B, out_dim) float32."""
        h = np.asarray(obs, dtype=np.float32)
        for (w, b), act in zip(self.layers, self.acts):
            h = h @ w + b
            if act == "tanh":
                np.tanh(h, out=h)
            elif act == "relu":
                np.maximum(h, 0, out=h)
        return h


class NumpyCategorical:
    """The same policy as a :class:`CategoricalPolicy`, evaluated in numpy for action sampling.

    The weights are a snapshot: gradients are never needed while acting. ``temperature``
    divides the logits before sampling (1: the policy itself; > 1: more random; greedy ignores it).
    """

    def __init__(self, net: nn.Sequential, temperature: float = 1.0):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {temperature}")
        self.temperature = temperature
        self.mlp = NumpyMLP(net)

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """``obs`` (B, obs_dim) -> logits (B, A) float32."""
        return self.mlp(obs)

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        """Actions (B,) int64: argmax if ``greedy``, else inverse-CDF sampling with one uniform per row."""
        logits = self.logits(obs)
        if greedy:
            return logits.argmax(-1).astype(np.int64)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        z = np.exp(logits - logits.max(-1, keepdims=True))
        cdf = np.cumsum(z, -1)
        u = rng.random((cdf.shape[0], 1)) * cdf[:, -1:]
        return np.minimum((u > cdf).sum(-1), cdf.shape[1] - 1).astype(np.int64)


class GaussianPolicy(nn.Module):
    """pi(a|s) = N(mean(s), diag(exp(logstd))^2) with a state-independent, learned ``logstd`` (act_dim,)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], activation: str = "tanh", logstd_init: float = 0.0):
        super().__init__()
        self.net = mlp(obs_dim, hidden, act_dim, activation)
        self.logstd = nn.Parameter(torch.full((act_dim,), float(logstd_init)))

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) (B,) summed over action dimensions, and entropy (B,) for ``obs`` (B, obs_dim), ``actions`` (B, act_dim)."""
        mean = self.net(obs)
        logstd = self.logstd.expand_as(mean)
        z = (actions - mean) / logstd.exp()
        logp = (-0.5 * z.pow(2) - logstd - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + logstd).sum(-1)
        return logp, entropy

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        return self.numpy_sampler().sample(obs, rng, greedy)

    def numpy_sampler(self) -> "NumpyGaussian":
        return NumpyGaussian(self.net, self.logstd.detach().numpy().copy())


class NumpyGaussian:
    """A frozen numpy copy of a :class:`GaussianPolicy`: mean + std * N(0, 1) from the caller's RNG."""

    def __init__(self, net: nn.Sequential, logstd: np.ndarray):
        self.mlp = NumpyMLP(net)
        self.std = np.exp(logstd).astype(np.float32)

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        """Actions (B, act_dim) float32: the mean if ``greedy``."""
        mean = self.mlp(obs)
        if greedy:
            return mean
        return (mean + self.std * rng.standard_normal(mean.shape)).astype(np.float32)


class ValueNet(nn.Module):
    """V(s): ``obs`` (B, obs_dim) -> (B,)."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...], activation: str = "tanh"):
        super().__init__()
        self.net = mlp(obs_dim, hidden, 1, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
