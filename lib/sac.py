"""Soft actor-critic for continuous control, built to be fast on a couple of CPU cores.

The actor is laid out as the widely shared single-file SAC checkpoint: ``fc1``, ``fc2``,
``fc_mean``, ``fc_logstd`` and the buffers ``action_scale`` / ``action_bias``, with the log
standard deviation squashed by ``tanh`` into ``[LOG_STD_MIN, LOG_STD_MAX]``; a state dict made
elsewhere with those keys loads into :class:`SACActor` as it is.

Where the time goes, and what is done about it (``scripts/benchmark.py --sac`` measures it):

* the twin critics are one module whose weights carry a leading ensemble axis of 2, so both
  Q-functions run as three ``baddbmm`` calls instead of six ``Linear`` calls;
* one backward pass and one (fused) Adam step per update serve the critics, the actor and the
  temperature together: the actor's loss reads the critics through *detached* weights, so its
  gradient reaches only the actor, and the critic's targets are computed under ``no_grad``;
* the target critics are updated with one ``_foreach_lerp_`` over all their tensors;
* acting uses numpy views of the actor's own parameter storage (no copies, no torch dispatch):
  the in-place optimiser step updates them for free;
* replay is a preallocated numpy ring; a batch is one fancy-index per field.

Shapes: ``B`` batch size, ``obs_dim``, ``act_dim``; the critic ensemble returns ``(2, B)``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .config import spec

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


class _OutputLayer(torch.autograd.Function):
    """``q = h @ w^T + b`` for the critics' d -> 1 output layer, in ``w``'s dtype whatever ``h``'s.

    ``h`` (n, B, d), ``w`` (n, 1, d), ``b`` (n, 1, 1) -> (n, B, 1). Written out because autograd's
    bmm backward turns the one-column case into an outer-product bmm that is several times slower
    on CPU than the broadcast multiply used here (and a contiguous (n, d, 1) forward operand is
    slow too, hence ``w``'s (n, 1, d) layout)."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        hf = h.to(w.dtype)
        ctx.save_for_backward(hf, w)
        ctx.h_dtype = h.dtype
        return torch.baddbmm(b, hf, w.transpose(1, 2))

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        hf, w = ctx.saved_tensors
        grad_h = (g * w).to(ctx.h_dtype) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(g.transpose(1, 2), hf) if ctx.needs_input_grad[1] else None
        grad_b = g.sum(1, keepdim=True) if ctx.needs_input_grad[2] else None
        return grad_h, grad_w, grad_b


class TwinQ(nn.Module):
    """Two Q-networks ``(s, a) -> R`` as one module with an ensemble axis: weights (2, in, out)."""

    def __init__(self, in_dim: int, hidden: int = 256, n: int = 2):
        super().__init__()
        dims = [in_dim, hidden, hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            bound = 1.0 / math.sqrt(d_in)  # nn.Linear's default initialisation
            shape = (n, d_in, d_out) if i < len(dims) - 2 else (n, d_out, d_in)  # output layer: (n, 1, d)
            self.weights.append(nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n, 1, d_out).uniform_(-bound, bound)))
        self.n = n
        self.compute_dtype = torch.float32

    def cast_params(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight, bias) per layer, hidden layers in ``compute_dtype``: cast once, used by several forwards."""
        last = len(self.weights) - 1
        return [(w, b) if i == last else (w.to(self.compute_dtype), b.to(self.compute_dtype))
                for i, (w, b) in enumerate(zip(self.weights, self.biases))]

    def forward(self, x: torch.Tensor, params: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                detach: bool = False) -> torch.Tensor:
        """``x`` (B, in_dim) -> Q-values (n, B); ``detach`` reads the weights without tracking them.

        Hidden layers run in ``compute_dtype``, the output layer in float32."""
        params = self.cast_params() if params is None else params
        h = x.unsqueeze(0).expand(self.n, *x.shape).to(params[0][0].dtype)
        last = len(params) - 1
        for i, (w, b) in enumerate(params):
            if detach:
                w, b = w.detach(), b.detach()
            if i < last:
                h = torch.relu(torch.baddbmm(b, h, w))
            else:
                h = _OutputLayer.apply(h, w, b)
        return h.squeeze(-1)


@dataclass(frozen=True)
class SACConfig:
    """Hyperparameters of :func:`train_sac` (defaults: the common single-file SAC's)."""

    env_id: str = spec("HalfCheetah-v4")
    total_steps: int = spec(1_000_000, gt=0)
    learning_starts: int = spec(5_000, ge=1, doc="uniform random actions before the first update")
    batch_size: int = spec(256, ge=1)
    gamma: float = spec(0.99, gt=0, le=1)
    tau: float = spec(0.005, gt=0, le=1)
    policy_lr: float = spec(3e-4, ge=0)
    q_lr: float = spec(1e-3, ge=0)
    hidden: int = spec(256, ge=1)
    autotune: bool = spec(True, doc="learn the temperature towards entropy -act_dim")
    alpha: float = spec(0.2, gt=0, doc="initial (or fixed) temperature")
    eval_every: int = spec(10_000, ge=1)
    eval_episodes: int = spec(5, ge=1)
    checkpoint_every: int = spec(50_000, ge=1)
    test_episodes: int = spec(10, ge=1)
    compute_dtype: Literal["float32", "bfloat16"] = spec(
        "float32", doc="bfloat16 runs the hidden layers' matmuls in bfloat16 (3x faster on CPUs with avx512_bf16)")


class SACAgent:
    """Actor, twin critics, their targets, the temperature and one optimiser over all of them."""

    def __init__(self, obs_dim: int, act_dim: int, action_low: np.ndarray, action_high: np.ndarray, cfg: SACConfig):
        self.cfg = cfg
        self.actor = SACActor(obs_dim, act_dim, cfg.hidden, action_low, action_high)
        self.q = TwinQ(obs_dim + act_dim, cfg.hidden)
        self.q_target = TwinQ(obs_dim + act_dim, cfg.hidden)
        self.q_target.load_state_dict(self.q.state_dict())
        self.q_target.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg.alpha)))
        self.target_entropy = -float(act_dim)
        groups = [
            {"params": list(self.q.parameters()), "lr": cfg.q_lr},
            {"params": list(self.actor.parameters()), "lr": cfg.policy_lr},
        ]
        if cfg.autotune:
            groups.append({"params": [self.log_alpha], "lr": cfg.q_lr})
        self.opt = torch.optim.Adam(groups, fused=True)
        self._q_params = list(self.q.parameters())
        self._qt_params = list(self.q_target.parameters())
        self.numpy_actor = NumpySACActor(self.actor)
        dt = {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.compute_dtype]
        self.actor.compute_dtype = self.q.compute_dtype = self.q_target.compute_dtype = dt

    def update(self, obs: torch.Tensor, act: torch.Tensor, rew: torch.Tensor, next_obs: torch.Tensor,
               not_done: torch.Tensor) -> dict[str, torch.Tensor]:
        """One SAC step on a batch: ``obs``/``next_obs`` (B, obs_dim), ``act`` (B, act_dim),
        ``rew`` and ``not_done`` (B,). Returns the losses and alpha as 0-d tensors (not synced)."""
        alpha = self.log_alpha.exp().detach()
        actor_hidden = self.actor.hidden_params()
        with torch.no_grad():
            next_act, next_logp = self.actor.sample(next_obs, tuple(t.detach() for t in actor_hidden))
            q_next = self.q_target(torch.cat([next_obs, next_act], 1)).min(0).values - alpha * next_logp
            target = rew + self.cfg.gamma * not_done * q_next
        q_params = self.q.cast_params()
        q = self.q(torch.cat([obs, act], 1), q_params)
        critic_loss = (q - target).pow(2).mean(1).sum()
        pi, logp = self.actor.sample(obs, actor_hidden)
        q_pi = self.q(torch.cat([obs, pi], 1), q_params, detach=True).min(0).values
        actor_loss = (alpha * logp - q_pi).mean()
        loss = critic_loss + actor_loss
        alpha_loss = torch.zeros(())
        if self.cfg.autotune:
            alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
            loss = loss + alpha_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(self._qt_params, self._q_params, self.cfg.tau)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                "alpha_loss": alpha_loss.detach(), "alpha": alpha}

    def state_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(), "q": self.q.state_dict(), "q_target": self.q_target.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """In place (the numpy actor keeps seeing the same storage)."""
        self.actor.load_state_dict(state["actor"])
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.opt.load_state_dict(state["opt"])


class ReplayBuffer:
    """Preallocated numpy replay of ``capacity`` transitions; ``not_done`` is 0 only on termination."""

    FIELDS = ("obs", "act", "rew", "next_obs", "not_done")

    def __init__(self, obs_dim: int, act_dim: int, capacity: int):
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.act = np.zeros((capacity, act_dim), np.float32)
        self.rew = np.zeros(capacity, np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.not_done = np.zeros(capacity, np.float32)
        self.size = 0
        self.pos = 0

    def add(self, obs: np.ndarray, act: np.ndarray, rew: float, next_obs: np.ndarray, terminated: bool) -> None:
        i = self.pos
        self.obs[i] = obs
        self.act[i] = act
        self.rew[i] = rew
        self.next_obs[i] = next_obs
        self.not_done[i] = 0.0 if terminated else 1.0
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, self.size, batch_size)
        return tuple(torch.from_numpy(getattr(self, f)[idx]) for f in self.FIELDS)

    def save(self, path: Path) -> None:
        n = self.size
        np.savez(path, size=n, pos=self.pos, **{f: getattr(self, f)[:n] for f in self.FIELDS})

    def load(self, path: Path, size: int) -> None:
        """The first ``size`` transitions saved at ``path`` (a replay saved after the checkpoint it
        belongs to may hold more; they are dropped, so the two always agree)."""
        with np.load(path) as data:
            if int(data["size"]) < size:
                raise ValueError(f"{path} holds {int(data['size'])} transitions, the checkpoint needs {size}")
            for f in self.FIELDS:
                getattr(self, f)[:size] = data[f][:size]
        self.size, self.pos = size, size % self.capacity


def evaluate_actor(actor: SACActor | NumpySACActor, env_id: str, episodes: int, seed: int) -> np.ndarray:
    """Undiscounted returns (episodes,) of the deterministic policy, episode ``i`` reset with ``seed + i``.

    Actions come from :class:`ExactSACActor` (float64), so the returns are the same on any machine."""
    import gymnasium as gym

    act = (actor if isinstance(actor, NumpySACActor) else NumpySACActor(actor)).exact()
    env = gym.make(env_id)
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, r, term, trunc, _ = env.step(act(obs))
            returns[i] += r
            done = term or trunc
    env.close()
    return returns


#: Test episodes are reset from seeds far from training and evaluation seeds.
TEST_SEED_OFFSET = 30_000_000
EVAL_SEED_OFFSET = 20_000_000


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_sac(cfg: SACConfig, seed: int, out: Path, log_every: int = 1000, verbose: bool = True) -> dict[str, Any]:
    """Train SAC, writing to ``out``: log.csv (one row per ``eval_every`` steps), episodes.csv
    (every training episode), checkpoint.pt + replay.npz (every ``checkpoint_every`` steps, at an
    episode boundary), actor.pt and summary.json at the end. A run started again on the same
    ``out`` resumes from its last checkpoint; with one torch thread the resumed run reproduces
    the uninterrupted one exactly, since episodes are reset from per-episode seeds and every
    random state is checkpointed.
    """
    import gymnasium as gym

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = gym.make(cfg.env_id)
    obs_dim = env.observation_space.shape[0]
    act_dim = env.action_space.shape[0]
    low, high = env.action_space.low, env.action_space.high
    torch.manual_seed(seed)
    agent = SACAgent(obs_dim, act_dim, low, high, cfg)
    buffer = ReplayBuffer(obs_dim, act_dim, cfg.total_steps)
    rng = np.random.default_rng(seed)
    step, episode, wall_before = 0, 0, 0.0
    log_rows: list[dict[str, float]] = []
    ep_rows: list[dict[str, float]] = []
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        agent.load_state_dict(state["agent"])
        buffer.load(out / "replay.npz", size=state["step"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        step, episode, wall_before = state["step"], state["episode"], state["wall"]
        log_rows, ep_rows = state["log_rows"], state["ep_rows"]
        if verbose:
            print(f"resumed from step {step}", flush=True)
    start = time.perf_counter() - wall_before
    last_ckpt = step
    losses: dict[str, torch.Tensor] = {}
    obs, _ = env.reset(seed=seed * 100_003 + episode)
    ep_ret, ep_len = 0.0, 0
    while step < cfg.total_steps:
        if step < cfg.learning_starts:
            action = rng.uniform(low, high).astype(np.float32)
        else:
            action = agent.numpy_actor(obs, rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        obs = next_obs
        ep_ret += reward
        ep_len += 1
        step += 1
        if step >= cfg.learning_starts:
            losses = agent.update(*buffer.sample(rng, cfg.batch_size))
        if step % cfg.eval_every == 0:
            returns = evaluate_actor(agent.numpy_actor, cfg.env_id, cfg.eval_episodes, EVAL_SEED_OFFSET + step)
            row = {"step": step, "wall_s": time.perf_counter() - start, "eval_mean": float(returns.mean()),
                   "eval_std": float(returns.std())}
            row.update({k: float(v) for k, v in losses.items()})
            log_rows.append(row)
            _write_csv(out / "log.csv", log_rows)
            if verbose:
                print(" ".join(f"{k}={v:.4g}" for k, v in row.items()), flush=True)
        if terminated or truncated:
            ep_rows.append({"episode": episode, "step": step, "return": ep_ret, "length": ep_len})
            episode += 1
            obs, _ = env.reset(seed=seed * 100_003 + episode)
            ep_ret, ep_len = 0.0, 0
            if step // cfg.checkpoint_every > last_ckpt // cfg.checkpoint_every and step < cfg.total_steps:
                last_ckpt = step
                _checkpoint(out, agent, buffer, rng, step, episode, time.perf_counter() - start, log_rows, ep_rows)
    wall = time.perf_counter() - start
    env.close()
    test = evaluate_actor(agent.numpy_actor, cfg.env_id, cfg.test_episodes, TEST_SEED_OFFSET)
    torch.save(agent.actor.state_dict(), out / "actor.pt")
    _write_csv(out / "log.csv", log_rows)
    _write_csv(out / "episodes.csv", ep_rows)
    summary = {"seed": seed, "steps": step, "wall_s": wall, "steps_per_s": step / wall,
               "test_mean": float(test.mean()), "test_std": float(test.std()), "test_returns": test.tolist(),
               "test_seed": TEST_SEED_OFFSET, "config": cfg.__dict__}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _checkpoint(out: Path, agent: SACAgent, buffer: ReplayBuffer, rng: np.random.Generator, step: int,
                episode: int, wall: float, log_rows: list, ep_rows: list) -> None:
    torch.save(agent.actor.state_dict(), out / f"actor_{step}.pt")
    _write_csv(out / "episodes.csv", ep_rows)
    buffer.save(out / "replay.tmp.npz")
    os.replace(out / "replay.tmp.npz", out / "replay.npz")
    _atomic_torch_save({"agent": agent.state_dict(), "numpy_rng": rng.bit_generator.state,
                        "torch_rng": torch.get_rng_state(), "step": step, "episode": episode, "wall": wall,
                        "log_rows": log_rows, "ep_rows": ep_rows}, out / "checkpoint.pt")


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)


def train_run(cfg: SACConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """Run-store entry point: train in a stable work directory under ``<store>/.resume/`` (so a
    killed report resumes from the last checkpoint when run again), then write log.csv,
    episodes.csv, agent.pt (``{"policy": actor state dict}``) and summary.json into ``out_dir``."""
    import hashlib
    import shutil

    from .config import to_dict
    from .runs import code_hash, store_root

    blob = json.dumps({"config": to_dict(cfg), "seed": seed, "code": code_hash("lib.sac")}, sort_keys=True)
    work = store_root() / ".resume" / f"sac_{hashlib.sha256(blob.encode()).hexdigest()[:16]}"
    summary = train_sac(cfg, seed, work, verbose=False)
    out_dir = Path(out_dir)
    for name in ("log.csv", "episodes.csv"):
        shutil.copyfile(work / name, out_dir / name)
    torch.save({"policy": torch.load(work / "actor.pt", weights_only=True), "config": to_dict(cfg), "seed": seed},
               out_dir / "agent.pt")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return summary


def load_sac_expert(name: str) -> tuple[SACActor, dict[str, Any]]:
    """The shipped SAC actor ``experts/<name>/policy.pt`` and its metadata; raises if the file's
    sha256 is not the one metadata.json records, or if the expert is not a SAC actor."""
    from .experts import expert_dir, file_sha256, read_metadata

    meta = read_metadata(name)
    if meta.get("network", {}).get("kind") != "sac_actor":
        raise ValueError(f"experts/{name} is not a SAC actor (metadata network.kind = {meta.get('network', {}).get('kind')!r})")
    weights = expert_dir(name) / "policy.pt"
    digest = file_sha256(weights)
    if digest != meta["policy_sha256"]:
        raise ValueError(f"experts/{name}/policy.pt has sha256 {digest[:12]}..., metadata.json says {meta['policy_sha256'][:12]}...")
    actor = SACActor.from_state_dict(torch.load(weights, weights_only=True))
    actor.eval()
    return actor, meta
