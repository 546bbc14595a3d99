"""Action heads of the imitation learner, all on one trunk, interchangeable.

Every head sits on the same trunk (an MLP of ``width`` x ``depth`` with ReLU or tanh) fed with
observations, *normalised* by the data's mean and std when asked; continuous actions are learnt
in the env's action box mapped to [-1, 1]. Heads:

* ``categorical`` discrete actions: logits, cross-entropy loss (CartPole);
* ``gaussian``    diagonal Gaussian, negative log-likelihood loss; its log std is one learned
  parameter per action dimension (``std`` "param", as CS285's and CleanRL's Gaussian policies
  have it) or an output of the net for every state (``std`` "state"). With ``beta_nll`` > 0, each
  dimension's NLL weighted by its variance^beta, the weight taken as a constant (beta-NLL, Seitzer
  et al. 2022), so hard states cannot buy a low loss with a wide std;
* ``mog``         mixture of ``k`` diagonal Gaussians, negative log-likelihood loss; log stds one
  parameter per component and dimension (``std`` "param") or per state (``std`` "state");

Why the std's parameterisation matters when the labels are a deterministic expert's actions: their
spread around the best mean is zero, so a per-state std is driven down wherever the mean fits, and
the NLL weighs each state by 1 / sigma^2 -- thousands of times more where the fit is already good.
The mean is then fitted only where it is easy. One std for all states weighs every state alike,
as the MSE does, and learns the fit's overall error.
* ``mse``         a deterministic action, mean squared error;
* ``mog_mse``     the mixture's outputs trained with the mean squared error of the mixture's mean
  action (sum_k w_k mu_k) to the expert's, as the source's best method ("MoG + MSE") describes it;
  it acts with that mean (its stds get no gradient);
* ``diffusion``   DDPM over actions (Ho et al. 2020) conditioned on the state: the net predicts
  the noise added at step t; actions are drawn by ``T`` reverse steps from N(0, I) (``sampler``
  ddpm), or by deterministic DDIM steps (Song et al. 2021; ``sampler`` ddim, ``sample_steps`` of
  them, strided over the T), each clipping its estimate of the clean action to [-1, 1]
  (``clip_sample``).

Acting greedily, the likelihood heads take their mode-like point (the argmax; the mean; for a
mixture, the mean of its heaviest component), MSE its output; otherwise they sample. Diffusion
always samples (its sampler is the policy).

Shapes: ``B`` batch, ``D`` obs_dim, ``A`` act_dim (or the number of discrete actions), ``K``
mixture components, ``T`` diffusion steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..config import spec

HEADS = ("categorical", "gaussian", "mog", "mse", "mog_mse", "diffusion")
SCHEDULES = ("cosine", "linear")
LOG_STD_MAX = 2.0
LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------- diffusion schedule
def noise_schedule(T: int, kind: str = "cosine") -> dict[str, torch.Tensor]:
    """DDPM schedule over steps t = 0..T-1 (t = 0 the least noisy): betas, alphas, alpha_bar
    (cumulative product) and alpha_bar_prev (alpha_bar at t - 1, 1 at t = 0), all (T,) float64.

    ``linear``: betas evenly from 1e-4 to 0.02 (the DDPM paper's, made for T = 1000; with small T
    alpha_bar at the last step stays far from 0, so sampling starts from the wrong distribution).
    ``cosine``: alpha_bar(t) = f(t) / f(0), f(t) = cos(((t / T) + s) / (1 + s) * pi / 2)^2,
    s = 0.008 (Nichol & Dhariwal 2021), betas capped at 0.999; alpha_bar reaches ~0 at any T.
    """
    if T < 1:
        raise ValueError(f"diffusion steps T must be >= 1, got {T}")
    if kind == "linear":
        betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    elif kind == "cosine":
        s = 0.008
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        abar = f / f[0]
        betas = (1 - abar[1:] / abar[:-1]).clamp(max=0.999)
    else:
        raise ValueError(f"unknown noise schedule {kind!r}; allowed: {SCHEDULES}")
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    return {"betas": betas, "alphas": alphas, "alpha_bar": abar, "alpha_bar_prev": abar_prev}


def ddim_steps(T: int, n: int) -> list[int]:
    """The steps a DDIM sampler visits, descending: ``n`` of the T (every one when n >= T), evenly
    spread from the noisiest, t = T - 1, to t = 0: T = 25, n = 5 -> [24, 18, 12, 6, 0]."""
    n = max(1, min(n, T))
    if n == 1:
        return [T - 1]
    return sorted({int(round((T - 1) * i / (n - 1))) for i in range(n)}, reverse=True)


def ddim_step(x_t: torch.Tensor, eps_hat: torch.Tensor, t: int, t_prev: int | None, sched: dict[str, torch.Tensor],
              clip: bool = True) -> torch.Tensor:
    """One deterministic DDIM step (eta = 0) from step ``t`` to ``t_prev`` (None: to the clean action).

    x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t), clipped to [-1, 1] if ``clip``, and the
    noise re-derived from the clipped x0_hat, eps = (x_t - sqrt(abar_t) x0_hat) / sqrt(1 - abar_t);
    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev) eps (x0_hat itself when t_prev is None).
    """
    abar = float(sched["alpha_bar"][t])
    x0 = (x_t - math.sqrt(1 - abar) * eps_hat) / math.sqrt(abar)
    if clip:
        x0 = x0.clamp(-1.0, 1.0)
    if t_prev is None:
        return x0
    eps = (x_t - math.sqrt(abar) * x0) / math.sqrt(1 - abar)
    abar_prev = float(sched["alpha_bar"][t_prev])
    return math.sqrt(abar_prev) * x0 + math.sqrt(1 - abar_prev) * eps


def denoise_step(x_t: torch.Tensor, eps_hat: torch.Tensor, t: int, sched: dict[str, torch.Tensor],
                 noise: torch.Tensor | None, clip: bool = True) -> torch.Tensor:
    """One reverse DDPM step x_t -> x_{t-1} (B, A) from the predicted noise ``eps_hat`` (B, A).

    x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t), clipped to [-1, 1] if ``clip``;
    mean = beta_t sqrt(abar_{t-1}) / (1 - abar_t) x0_hat + (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t) x_t;
    x_{t-1} = mean + sqrt(beta_t (1 - abar_{t-1}) / (1 - abar_t)) noise (no noise at t = 0).
    """
    beta, alpha = float(sched["betas"][t]), float(sched["alphas"][t])
    abar, abar_prev = float(sched["alpha_bar"][t]), float(sched["alpha_bar_prev"][t])
    x0 = (x_t - math.sqrt(1 - abar) * eps_hat) / math.sqrt(abar)
    if clip:
        x0 = x0.clamp(-1.0, 1.0)
    mean = (beta * math.sqrt(abar_prev) / (1 - abar)) * x0 + ((1 - abar_prev) * math.sqrt(alpha) / (1 - abar)) * x_t
    if t == 0 or noise is None:
        return mean
    return mean + math.sqrt(beta * (1 - abar_prev) / (1 - abar)) * noise


# --------------------------------------------------------------------------- heads
def mog_log_prob(logits: torch.Tensor, means: torch.Tensor, log_stds: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x) (B,) under a mixture of diagonal Gaussians: ``logits`` (B, K), ``means`` and
    ``log_stds`` (B, K, A), ``x`` (B, A)."""
    z = (x.unsqueeze(1) - means) * torch.exp(-log_stds)
    comp = (-0.5 * z.pow(2) - log_stds - 0.5 * LOG_2PI).sum(-1)  # (B, K)
    return torch.logsumexp(torch.log_softmax(logits, -1) + comp, -1)


def trunk(in_dim: int, width: int, depth: int, activation: str = "relu") -> nn.Sequential:
    """``depth`` layers of ``width`` units, each followed by ``activation`` (relu or tanh)."""
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(in_dim, width), act()]
        in_dim = width
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class HeadConfig:
    """One action head and its trunk. ``k``: mixture components (mog, mog_mse); ``T``, ``schedule``,
    ``clip_sample``, ``time_dim``, ``sampler``, ``sample_steps``: diffusion; ``min_log_std``, ``std``:
    gaussian and mog; ``beta_nll``: gaussian."""

    head: Literal["categorical", "gaussian", "mog", "mse", "mog_mse", "diffusion"] = spec("gaussian")
    width: int = spec(256, ge=1)
    depth: int = spec(2, ge=1)
    activation: Literal["relu", "tanh"] = spec("relu")
    k: int = spec(5, ge=1, doc="mixture components (mog)")
    T: int = spec(25, ge=1, doc="diffusion steps (diffusion)")
    schedule: Literal["cosine", "linear"] = spec("cosine", doc="diffusion noise schedule")
    clip_sample: bool = spec(True, doc="clip each step's clean-action estimate to [-1, 1] (diffusion)")
    time_dim: int = spec(32, ge=1)
    min_log_std: float = spec(-7.0, le=0, doc="floor of the log std (gaussian, mog); bounds how sharply NLL weights a state")
    beta_nll: float = spec(0.0, ge=0, le=1, doc="gaussian: weight each dimension's NLL by its variance^beta (a constant "
                           "in the gradient); 0: the plain NLL, 0.5: beta-NLL's usual choice, 1: the MSE's gradient for the mean")
    std: Literal["param", "state"] = spec("param", doc="gaussian, mog: the log std is one learned parameter per action "
                                          "dimension (and component), the same in every state (param), or an output of "
                                          "the net for each state (state)")
    sampler: Literal["ddpm", "ddim"] = spec("ddpm", doc="diffusion: DDPM's stochastic reverse steps, or deterministic "
                                            "DDIM steps")
    sample_steps: int = spec(0, ge=0, doc="diffusion with ddim: reverse steps to take (strided over the T; 0: all T)")


class BCPolicy(nn.Module):
    """A trunk and one head; holds the observation normaliser and, for continuous actions, the
    action box. ``n_actions`` (discrete) or ``act_low``/``act_high`` (continuous) give the action space."""

    def __init__(self, obs_dim: int, cfg: HeadConfig, obs_mean: torch.Tensor, obs_std: torch.Tensor,
                 n_actions: int | None = None, act_low: torch.Tensor | None = None, act_high: torch.Tensor | None = None):
        super().__init__()
        if cfg.head not in HEADS:
            raise ValueError(f"unknown action head {cfg.head!r}; allowed: {HEADS}")
        discrete = cfg.head == "categorical"
        if discrete != (n_actions is not None):
            raise ValueError(f"head {cfg.head!r} does not fit the action space "
                             f"({'discrete' if n_actions is not None else 'continuous'}); discrete actions take the "
                             f"categorical head, continuous ones any other")
        self.cfg = cfg
        self.act_dim = int(n_actions) if n_actions is not None else int(act_low.shape[0])  # type: ignore[union-attr]
        self.register_buffer("obs_mean", obs_mean.float())
        self.register_buffer("obs_std", obs_std.float())
        low = torch.full((self.act_dim,), -1.0) if act_low is None else torch.as_tensor(act_low)
        high = torch.full((self.act_dim,), 1.0) if act_high is None else torch.as_tensor(act_high)
        self.register_buffer("act_scale", ((high - low) / 2).float())
        self.register_buffer("act_bias", ((high + low) / 2).float())
        in_dim = obs_dim
        if cfg.head == "diffusion":
            in_dim = obs_dim + self.act_dim + cfg.time_dim
            self.time_embed = nn.Embedding(cfg.T, cfg.time_dim)
            sched = noise_schedule(cfg.T, cfg.schedule)
            self.sched = sched
            self.register_buffer("sqrt_abar", sched["alpha_bar"].sqrt().float())
            self.register_buffer("sqrt_1m_abar", (1 - sched["alpha_bar"]).sqrt().float())
        self.trunk = trunk(in_dim, cfg.width, cfg.depth, cfg.activation)
        a = self.act_dim
        #: the log stds as parameters, one per dimension (gaussian) or per component and dimension (mog)
        self.shared_std = cfg.head in ("gaussian", "mog") and cfg.std == "param"
        stds = (a if cfg.head == "gaussian" else cfg.k * a) if cfg.head in ("gaussian", "mog", "mog_mse") else 0
        out = {"categorical": a, "gaussian": a + stds, "mog": cfg.k * (1 + a) + stds, "mog_mse": cfg.k * (1 + a) + stds,
               "mse": a, "diffusion": a}[cfg.head]
        if self.shared_std:
            out -= stds
            self.log_std = nn.Parameter(torch.zeros(stds))
        self.out = nn.Linear(cfg.width, out)

    @property
    def discrete(self) -> bool:
        return self.cfg.head == "categorical"

    # ---- helpers
    def norm_obs(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.obs_mean) / self.obs_std

    def norm_act(self, act: torch.Tensor) -> torch.Tensor:
        return (act - self.act_bias) / self.act_scale

    def _heads(self, s: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The head's outputs for normalised obs ``s`` (B, D): gaussian (mean (B, A), log std (B, A));
        mog and mog_mse (logits (B, K), means (B, K, A), log stds (B, K, A)); otherwise (out (B, A),).
        A shared log std (``std`` "param") is the same parameter for every row."""
        o = self.out(self.trunk(s))
        a = self.act_dim
        if self.cfg.head == "gaussian":
            raw = self.log_std.expand(o.shape[0], a) if self.shared_std else o[:, a:]
            return o[:, :a], raw.clamp(self.cfg.min_log_std, LOG_STD_MAX)
        if self.cfg.head in ("mog", "mog_mse"):
            k = self.cfg.k
            logits = o[:, :k]
            means = o[:, k:k + k * a].reshape(-1, k, a)
            raw = self.log_std.expand(o.shape[0], k * a) if self.shared_std else o[:, k + k * a:]
            return logits, means, raw.reshape(-1, k, a).clamp(self.cfg.min_log_std, LOG_STD_MAX)
        return (o,)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Categorical head: action logits (B, A) for raw ``obs`` (B, D)."""
        return self._heads(self.norm_obs(obs))[0]

    def mixture_mean(self, s: torch.Tensor) -> torch.Tensor:
        """sum_k w_k mu_k (B, A) of a mixture head, for normalised obs ``s`` (B, D)."""
        logits, means, _ = self._heads(s)
        return (torch.softmax(logits, -1).unsqueeze(-1) * means).sum(1)

    def eps(self, s: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predicted noise (B, A) for normalised obs ``s`` (B, D), noisy action ``x_t`` (B, A), steps ``t`` (B,)."""
        return self.out(self.trunk(torch.cat([s, x_t, self.time_embed(t)], -1)))

    # ---- training
    def loss(self, obs: torch.Tensor, act: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Mean loss over a batch: ``obs`` (B, D) raw, ``act`` (B,) int64 labels or (B, A) in env units."""
        head = self.cfg.head
        s = self.norm_obs(obs)
        if head == "categorical":
            return nn.functional.cross_entropy(self._heads(s)[0], act)
        a = self.norm_act(act)
        if head == "gaussian":
            mean, log_std = self._heads(s)
            nll = 0.5 * ((a - mean) * torch.exp(-log_std)).pow(2) + log_std + 0.5 * LOG_2PI  # (B, A)
            if self.cfg.beta_nll:
                nll = nll * torch.exp(2 * self.cfg.beta_nll * log_std).detach()
            return nll.sum(-1).mean()
        if head == "mog":
            return -mog_log_prob(*self._heads(s), a).mean()
        if head == "mog_mse":
            return (self.mixture_mean(s) - a).pow(2).mean()
        if head == "mse":
            return (self._heads(s)[0] - a).pow(2).mean()
        t = torch.randint(0, self.cfg.T, (a.shape[0],), generator=gen)
        noise = torch.randn(a.shape, generator=gen)
        x_t = self.sqrt_abar[t, None] * a + self.sqrt_1m_abar[t, None] * noise
        return (self.eps(s, x_t, t) - noise).pow(2).mean()

    # ---- acting
    @torch.no_grad()
    def act(self, obs: torch.Tensor, gen: torch.Generator | None = None, greedy: bool = True) -> torch.Tensor:
        """Actions for raw ``obs`` (B, D): (B,) int64 for the categorical head, else (B, A) in env units.
        ``greedy``: the mode-like point (see the module doc); otherwise a sample drawn with ``gen``."""
        s = self.norm_obs(obs)
        head = self.cfg.head
        if head == "categorical":
            logits = self._heads(s)[0]
            if greedy:
                return logits.argmax(-1)
            return torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(-1)
        if head == "mse":
            a = self._heads(s)[0]
        elif head == "mog_mse":
            a = self.mixture_mean(s)
        elif head == "gaussian":
            mean, log_std = self._heads(s)
            a = mean if greedy else mean + log_std.exp() * torch.randn(mean.shape, generator=gen)
        elif head == "mog":
            logits, means, log_stds = self._heads(s)
            rows = torch.arange(means.shape[0])
            if greedy:
                a = means[rows, logits.argmax(-1)]
            else:
                comp = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(-1)
                a = means[rows, comp] + log_stds[rows, comp].exp() * torch.randn(means.shape[::2], generator=gen)
        elif self.cfg.sampler == "ddim":
            x = torch.randn((s.shape[0], self.act_dim), generator=gen)
            steps = ddim_steps(self.cfg.T, self.cfg.sample_steps or self.cfg.T)
            for i, t in enumerate(steps):
                tt = torch.full((s.shape[0],), t, dtype=torch.long)
                x = ddim_step(x, self.eps(s, x, tt), t, steps[i + 1] if i + 1 < len(steps) else None, self.sched,
                              self.cfg.clip_sample)
            a = x
        else:
            x = torch.randn((s.shape[0], self.act_dim), generator=gen)
            for t in range(self.cfg.T - 1, -1, -1):
                tt = torch.full((s.shape[0],), t, dtype=torch.long)
                noise = torch.randn(x.shape, generator=gen) if t > 0 else None
                x = denoise_step(x, self.eps(s, x, tt), t, self.sched, noise, self.cfg.clip_sample)
            a = x
        return a.clamp(-1.0, 1.0) * self.act_scale + self.act_bias


class TorchSampler:
    """Adapts a :class:`BCPolicy` to :class:`lib.data.rollout.Sampler` (numpy in, numpy out), drawing
    its samples with a torch generator seeded with ``seed``."""

    def __init__(self, policy: BCPolicy, seed: int, greedy: bool = True):
        self.policy = policy
        self.gen = torch.Generator().manual_seed(seed)
        self.greedy = greedy

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        return self.policy.act(x, self.gen, greedy=self.greedy or greedy).numpy()
