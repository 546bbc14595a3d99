"""Policies and the networks they are made of: MLP trunks, categorical and Gaussian policies, their
numpy and stacked samplers, a state-value network, SAC's actor. Below both ``data/`` (the shipped
experts are such policies) and ``learners/``.

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
        return inverse_cdf(logits, rng)


def inverse_cdf(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Actions (B,) int64 drawn from softmax(``logits`` (B, A)) with one uniform of ``rng`` per row."""
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


class StackedSampler:
    """``S`` policies of one architecture acting as one: a frozen numpy snapshot with every layer's
    weights stacked along a leading seed axis, so one batched matmul per layer serves all seeds.

    Observations (S*K, obs_dim) are S blocks of K rows, block b for policy b. Block b's random
    numbers come from ``rngs[b]`` alone, drawn ``chunk`` steps at a time (uniforms (chunk, K) for
    categorical policies, normals (chunk, K, act_dim) for Gaussian ones). A block's actions are the
    same whatever the other blocks hold (each slice of a batched matmul is its own product, the rest
    is row-wise), so seeds trained together stay independent.
    """

    def __init__(self, policies: list["CategoricalPolicy | GaussianPolicy"], rngs: list[np.random.Generator], chunk: int = 256):
        if len(rngs) != len(policies):
            raise ValueError(f"{len(rngs)} generators for {len(policies)} policies")
        mlps = [NumpyMLP(p.net) for p in policies]
        self.layers = [(np.stack([m.layers[j][0] for m in mlps]), np.stack([m.layers[j][1] for m in mlps])[:, None, :])
                       for j in range(len(mlps[0].layers))]
        self.acts = mlps[0].acts
        self.discrete = isinstance(policies[0], CategoricalPolicy)
        self.std = None if self.discrete else np.stack([np.exp(p.logstd.detach().numpy()) for p in policies]).astype(np.float32)  # type: ignore[union-attr]
        self.rngs, self.chunk = rngs, chunk
        self._draws: np.ndarray | None = None
        self._t = chunk

    def outputs(self, obs: np.ndarray) -> np.ndarray:
        """``obs`` (S*K, obs_dim) -> logits or means (S, K, out) float32."""
        s = len(self.layers[0][0])
        h = np.asarray(obs, dtype=np.float32).reshape(s, -1, obs.shape[-1])
        for (w, b), act in zip(self.layers, self.acts):
            h = h @ w + b
            if act == "tanh":
                np.tanh(h, out=h)
            elif act == "relu":
                np.maximum(h, 0, out=h)
        return h

    def _next_draws(self, shape: tuple[int, ...]) -> np.ndarray:
        """This step's random numbers (S, *shape): uniforms or normals, from each block's own chunk."""
        if self._t == self.chunk:
            draw = (lambda r: r.random((self.chunk, *shape))) if self.discrete else (lambda r: r.standard_normal((self.chunk, *shape)))
            self._draws = np.stack([draw(r) for r in self.rngs], axis=1)  # (chunk, S, *shape)
            self._t = 0
        assert self._draws is not None
        self._t += 1
        return self._draws[self._t - 1]

    def sample(self, obs: np.ndarray) -> np.ndarray:
        """Actions (S*K,) int64 or (S*K, act_dim) float32 for ``obs`` (S*K, obs_dim)."""
        out = self.outputs(obs)
        s, k, a = out.shape
        if self.discrete:
            logits = out.reshape(s * k, a)
            z = np.exp(logits - logits.max(-1, keepdims=True))
            cdf = np.cumsum(z, -1)
            u = self._next_draws((k,)).reshape(s * k, 1) * cdf[:, -1:]
            return np.minimum((u > cdf).sum(-1), a - 1).astype(np.int64)
        assert self.std is not None
        return (out + self.std[:, None, :] * self._next_draws((k, a))).astype(np.float32).reshape(s * k, a)


class ValueNet(nn.Module):
    """V(s): ``obs`` (B, obs_dim) -> (B,)."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...], activation: str = "tanh"):
        super().__init__()
        self.net = mlp(obs_dim, hidden, 1, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


# --------------------------------------------------------------------------- SAC's actor
LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


class SACActor(nn.Module):
    """Tanh-squashed Gaussian policy ``a = tanh(mu + sigma * eps) * action_scale + action_bias``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 256,
                 action_low: np.ndarray | None = None, action_high: np.ndarray | None = None):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc_mean = nn.Linear(hidden, act_dim)
        self.fc_logstd = nn.Linear(hidden, act_dim)
        low = torch.as_tensor(-np.ones(act_dim) if action_low is None else action_low, dtype=torch.float32)
        high = torch.as_tensor(np.ones(act_dim) if action_high is None else action_high, dtype=torch.float32)
        self.register_buffer("action_scale", (high - low) / 2.0)
        self.register_buffer("action_bias", (high + low) / 2.0)

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> "SACActor":
        """An actor shaped by ``state`` (hidden width and sizes read from ``fc1``/``fc_mean``), loaded."""
        hidden, obs_dim = state["fc1.weight"].shape
        act_dim = state["fc_mean.weight"].shape[0]
        actor = cls(int(obs_dim), int(act_dim), int(hidden))
        actor.load_state_dict(state)
        return actor

    #: dtype of the two hidden layers' matmuls (the heads and everything after stay float32);
    #: the trainer sets bfloat16 when asked, loading and acting never depend on it.
    compute_dtype: torch.dtype = torch.float32

    def hidden_params(self) -> tuple[torch.Tensor, ...]:
        """fc1/fc2 weights and biases in ``compute_dtype``, cast once per update and reused."""
        dt = self.compute_dtype
        return tuple(t.to(dt) for t in (self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias))

    def forward(self, obs: torch.Tensor, hidden: tuple[torch.Tensor, ...] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs`` (B, obs_dim) -> pre-squash mean (B, act_dim) and log std (B, act_dim)."""
        w1, b1, w2, b2 = self.hidden_params() if hidden is None else hidden
        h = torch.relu(nn.functional.linear(obs.to(w1.dtype), w1, b1))
        h = torch.relu(nn.functional.linear(h, w2, b2)).float()
        mean = self.fc_mean(h)
        log_std = torch.tanh(self.fc_logstd(h))
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1.0)
        return mean, log_std

    def sample(self, obs: torch.Tensor, hidden: tuple[torch.Tensor, ...] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action (B, act_dim) in env units and its log-density (B,)."""
        mean, log_std = self(obs, hidden)
        std = log_std.exp()
        eps = torch.randn_like(mean)
        u = mean + std * eps
        y = torch.tanh(u)
        # log N(u; mean, std) - sum log(scale * (1 - tanh(u)^2)), the tanh term in its stable form
        logp = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - (2.0 * (math.log(2.0) - u - nn.functional.softplus(-2.0 * u))).sum(-1)
        logp = logp - torch.log(self.action_scale).sum()
        return y * self.action_scale + self.action_bias, logp

    def act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """``tanh(mean) * scale + bias`` (B, act_dim): the test-time action."""
        mean, _ = self(obs)
        return torch.tanh(mean) * self.action_scale + self.action_bias


class NumpySACActor:
    """Acting with numpy views of a :class:`SACActor`'s parameters (shared storage, no copies).

    In-place optimiser steps on the torch parameters are seen here at once. Call it with one
    observation (obs_dim,) or a batch (B, obs_dim).
    """

    def __init__(self, actor: SACActor):
        def view(t: torch.Tensor) -> np.ndarray:
            return t.detach().numpy()

        self.w1, self.b1 = view(actor.fc1.weight), view(actor.fc1.bias)
        self.w2, self.b2 = view(actor.fc2.weight), view(actor.fc2.bias)
        self.wm, self.bm = view(actor.fc_mean.weight), view(actor.fc_mean.bias)
        self.ws, self.bs = view(actor.fc_logstd.weight), view(actor.fc_logstd.bias)
        self.scale, self.bias = view(actor.action_scale), view(actor.action_bias)

    def _trunk(self, obs: np.ndarray) -> np.ndarray:
        h = np.maximum(self.w1 @ obs.T + self.b1[:, None] if obs.ndim == 2 else self.w1 @ obs + self.b1, 0.0)
        if obs.ndim == 2:
            return np.maximum(self.w2 @ h + self.b2[:, None], 0.0).T
        return np.maximum(self.w2 @ h + self.b2, 0.0)

    def __call__(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Deterministic action if ``rng`` is None, else a sample from the squashed Gaussian."""
        obs = np.asarray(obs, dtype=np.float32)
        h = self._trunk(obs)
        mean = h @ self.wm.T + self.bm
        if rng is not None:
            log_std = np.tanh(h @ self.ws.T + self.bs)
            log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1.0)
            mean = mean + np.exp(log_std) * rng.standard_normal(mean.shape).astype(np.float32)
        return (np.tanh(mean) * self.scale + self.bias).astype(np.float32)

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        """:class:`lib.data.rollout.Sampler`: the deterministic action when ``greedy``, else a sample."""
        return self(obs, None if greedy else rng)

    def exact(self) -> "ExactSACActor":
        """A float64 snapshot of the current weights for machine-independent deterministic acting."""
        return ExactSACActor(self)


class ExactSACActor:
    """The deterministic action ``tanh(mean) * scale + bias``, computed in float64 and rounded to
    float32 once at the end, from a float64 copy of an actor's weights taken at construction.

    Why: a float32 matmul's rounding depends on the BLAS kernel the CPU selects (OpenBLAS picks one
    per CPU model), and HalfCheetah is chaotic enough that one last-bit difference in an action
    changes an episode's return by hundreds. In float64 the kernels differ by ~1e-16, which the final
    rounding to float32 removes (except on an exact rounding tie), so the same weights give the same
    actions, hence the same returns, on any x86-64 machine (measured: identical returns under every
    ``OPENBLAS_CORETYPE``, where the float32 path moves a 1000-step return by up to 230).
    Call with one observation (obs_dim,) or a batch (B, obs_dim); returns float32 actions.
    """

    def __init__(self, actor: NumpySACActor):
        names = ("w1", "b1", "w2", "b2", "wm", "bm", "scale", "bias")
        self.p = {n: np.array(getattr(actor, n), dtype=np.float64) for n in names}

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        p = self.p
        x = np.asarray(obs, dtype=np.float32).astype(np.float64)
        h = np.maximum(x @ p["w1"].T + p["b1"], 0.0)
        h = np.maximum(h @ p["w2"].T + p["b2"], 0.0)
        mean = h @ p["wm"].T + p["bm"]
        return (np.tanh(mean) * p["scale"] + p["bias"]).astype(np.float32)

    def sample(self, obs: np.ndarray, rng: np.random.Generator | None = None, greedy: bool = True) -> np.ndarray:
        """:class:`lib.data.rollout.Sampler`: always the deterministic action (B, act_dim)."""
        return self(obs)
