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

from .. import seeds
from ..config import spec, to_dict
from ..data.envs import max_episode_steps
from ..evaluation import evaluate
from .contract import Actor, Budget, Summary
from ..policies import NumpySACActor, SACActor

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
    update: Literal["fused", "sequential"] = spec(
        "fused", doc="fused: one backward pass and one Adam step serve the critics, the actor and the temperature (the "
        "actor reads the critics before their step, the temperature reuses the actor's sample); sequential (CleanRL's "
        "order): the critics' step, then every policy_frequency-th step policy_frequency actor steps on the updated "
        "critics, each followed by a temperature step on a fresh sample")
    policy_frequency: int = spec(1, ge=1, doc="sequential: the actor and the temperature are updated every this many "
                                 "env steps, this many times in a row (CleanRL: 2); fused: 1")
    alpha_loss: Literal["log_alpha", "alpha"] = spec(
        "log_alpha", doc="the temperature loss -mean(x * (log pi + target entropy)) with x = log alpha, or x = alpha "
        "(CleanRL)")
    log_prob_eps: float = spec(0.0, ge=0, lt=1, doc="0: the tanh correction of the log-density in its exact, stable "
                               "form; > 0: log(scale * (1 - tanh(u)^2) + eps), as CleanRL (1e-6), which caps the "
                               "penalty on saturated actions")

    def check(self) -> list[str]:
        if self.update == "fused" and self.policy_frequency != 1:
            return [f"key 'policy_frequency' must be 1 with update 'fused' (one step serves all), got {self.policy_frequency}"]
        return []

    @property
    def first_update(self) -> int:
        """The env step count (1-based) at which updates start: ``learning_starts`` (fused), or as CleanRL
        counts, after the update condition ``global_step > learning_starts`` on its 0-based step."""
        return self.learning_starts + (2 if self.update == "sequential" else 0)


#: CleanRL's ``sac_continuous_action.py`` as a configuration: its update order, policy frequency,
#: initial temperature (autotuned from 1.0), temperature loss, log-density and float32 arithmetic.
CLEANRL = {"update": "sequential", "policy_frequency": 2, "alpha": 1.0, "alpha_loss": "alpha",
           "log_prob_eps": 1e-6, "compute_dtype": "float32"}


def actor_sample(actor: SACActor, obs: torch.Tensor, hidden: tuple[torch.Tensor, ...] | None = None,
                 log_prob_eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A reparameterised action (B, act_dim) and its log-density (B,) for ``obs`` (B, obs_dim).

    ``log_prob_eps`` 0: :meth:`SACActor.sample` (the tanh correction in its exact, stable form);
    > 0: CleanRL's form, ``log N(u) - sum log(scale * (1 - tanh(u)^2) + eps)``, which caps the
    correction of a saturated action. Both draw one normal sample the same way. (Beside SAC's loss, not
    in the actor: only SAC's training draws actions this way.)"""
    if not log_prob_eps:
        return actor.sample(obs, hidden)
    mean, log_std = actor(obs, hidden)
    std = log_std.exp()
    eps = torch.randn_like(mean)
    u = mean + std * eps
    y = torch.tanh(u)
    logp = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    logp = logp - torch.log(actor.action_scale * (1 - y.pow(2)) + log_prob_eps).sum(-1)
    return y * actor.action_scale + actor.action_bias, logp


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
        if cfg.update == "fused":
            self.opt = torch.optim.Adam(groups, fused=True)
            self.opts = [self.opt]
        else:  # one Adam per part, stepped in turn
            self.opts = [torch.optim.Adam(g["params"], lr=g["lr"], fused=True) for g in groups]
        self._q_params = list(self.q.parameters())
        self._qt_params = list(self.q_target.parameters())
        self.numpy_actor = NumpySACActor(self.actor)
        dt = {"float32": torch.float32, "bfloat16": torch.bfloat16}[cfg.compute_dtype]
        self.actor.compute_dtype = self.q.compute_dtype = self.q_target.compute_dtype = dt

    def sample(self, obs: torch.Tensor, hidden: tuple[torch.Tensor, ...] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`actor_sample` with this configuration's ``log_prob_eps``."""
        return actor_sample(self.actor, obs, hidden, self.cfg.log_prob_eps)

    def _alpha_loss(self, logp: torch.Tensor) -> torch.Tensor:
        """The temperature's loss for log-densities ``logp`` (B,) (no gradient to the actor)."""
        x = self.log_alpha if self.cfg.alpha_loss == "log_alpha" else self.log_alpha.exp()
        return -(x * (logp.detach() + self.target_entropy)).mean()

    def update(self, obs: torch.Tensor, act: torch.Tensor, rew: torch.Tensor, next_obs: torch.Tensor,
               not_done: torch.Tensor, global_step: int = 0) -> dict[str, torch.Tensor]:
        """One SAC step on a batch: ``obs``/``next_obs`` (B, obs_dim), ``act`` (B, act_dim),
        ``rew`` and ``not_done`` (B,); ``global_step``: the 0-based env step (the sequential update's
        policy frequency counts it). Returns the losses and alpha as 0-d tensors (not synced)."""
        if self.cfg.update == "sequential":
            return self._update_sequential(obs, act, rew, next_obs, not_done, global_step)
        alpha = self.log_alpha.exp().detach()
        actor_hidden = self.actor.hidden_params()
        with torch.no_grad():
            next_act, next_logp = self.sample(next_obs, tuple(t.detach() for t in actor_hidden))
            q_next = self.q_target(torch.cat([next_obs, next_act], 1)).min(0).values - alpha * next_logp
            target = rew + self.cfg.gamma * not_done * q_next
        q_params = self.q.cast_params()
        q = self.q(torch.cat([obs, act], 1), q_params)
        critic_loss = (q - target).pow(2).mean(1).sum()
        pi, logp = self.sample(obs, actor_hidden)
        q_pi = self.q(torch.cat([obs, pi], 1), q_params, detach=True).min(0).values
        actor_loss = (alpha * logp - q_pi).mean()
        loss = critic_loss + actor_loss
        alpha_loss = torch.zeros(())
        if self.cfg.autotune:
            alpha_loss = self._alpha_loss(logp)
            loss = loss + alpha_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(self._qt_params, self._q_params, self.cfg.tau)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                "alpha_loss": alpha_loss.detach(), "alpha": alpha}

    def _update_sequential(self, obs: torch.Tensor, act: torch.Tensor, rew: torch.Tensor, next_obs: torch.Tensor,
                           not_done: torch.Tensor, global_step: int) -> dict[str, torch.Tensor]:
        """CleanRL's order: the critics' step; on every ``policy_frequency``-th step, that many rounds of
        an actor step (on the just-updated critics) and a temperature step (on a fresh sample of the
        updated actor); then the targets. Each part has its own Adam."""
        q_opt, pi_opt = self.opts[0], self.opts[1]
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_act, next_logp = self.sample(next_obs)
            q_next = self.q_target(torch.cat([next_obs, next_act], 1)).min(0).values - alpha * next_logp
            target = rew + self.cfg.gamma * not_done * q_next
        critic_loss = (self.q(torch.cat([obs, act], 1)) - target).pow(2).mean(1).sum()
        q_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        q_opt.step()
        out = {"critic_loss": critic_loss.detach()}
        if global_step % self.cfg.policy_frequency == 0:
            for _ in range(self.cfg.policy_frequency):
                pi, logp = self.sample(obs)
                actor_loss = (alpha * logp - self.q(torch.cat([obs, pi], 1), detach=True).min(0).values).mean()
                pi_opt.zero_grad(set_to_none=True)
                actor_loss.backward()
                pi_opt.step()
                out["actor_loss"] = actor_loss.detach()
                if self.cfg.autotune:
                    with torch.no_grad():
                        _, logp = self.sample(obs)
                    alpha_loss = self._alpha_loss(logp)
                    self.opts[2].zero_grad(set_to_none=True)
                    alpha_loss.backward()
                    self.opts[2].step()
                    alpha = self.log_alpha.exp().detach()
                    out["alpha_loss"] = alpha_loss.detach()
        with torch.no_grad():
            torch._foreach_lerp_(self._qt_params, self._q_params, self.cfg.tau)
        return {**out, "alpha": alpha}

    def state_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(), "q": self.q.state_dict(), "q_target": self.q_target.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(), "opts": [o.state_dict() for o in self.opts]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """In place (the numpy actor keeps seeing the same storage)."""
        self.actor.load_state_dict(state["actor"])
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        for o, st in zip(self.opts, state["opts"] if "opts" in state else [state["opt"]]):
            o.load_state_dict(st)


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
    train_seed = seeds.seed("sac.train", seed)
    torch.manual_seed(train_seed)
    agent = SACAgent(obs_dim, act_dim, low, high, cfg)
    buffer = ReplayBuffer(obs_dim, act_dim, cfg.total_steps)
    rng = np.random.default_rng(train_seed)
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
    obs, _ = env.reset(seed=seeds.seed("sac.episode", seed, episode))
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
        if step >= cfg.first_update:
            losses = {**losses, **agent.update(*buffer.sample(rng, cfg.batch_size), global_step=step - 1)}
        if step % cfg.eval_every == 0:
            returns, _ = evaluate(agent.numpy_actor.exact(), cfg.env_id, cfg.eval_episodes,
                                  seeds.seed("sac.eval", seed, (step // cfg.eval_every) * cfg.eval_episodes))
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
            obs, _ = env.reset(seed=seeds.seed("sac.episode", seed, episode))
            ep_ret, ep_len = 0.0, 0
            if step // cfg.checkpoint_every > last_ckpt // cfg.checkpoint_every and step < cfg.total_steps:
                last_ckpt = step
                _checkpoint(out, agent, buffer, rng, step, episode, time.perf_counter() - start, log_rows, ep_rows)
    wall = time.perf_counter() - start
    env.close()
    test_seed = seeds.seed("sac.test", seed)
    test, _ = evaluate(agent.numpy_actor.exact(), cfg.env_id, cfg.test_episodes, test_seed)
    torch.save(agent.actor.state_dict(), out / "actor.pt")
    _write_csv(out / "log.csv", log_rows)
    _write_csv(out / "episodes.csv", ep_rows)
    summary = {"seed": seed, "steps": step, "wall_s": wall, "wall_time_s": wall, "steps_per_s": step / wall,
               "test_mean": float(test.mean()), "test_std": float(test.std()), "test_returns": test.tolist(),
               "test_seed": test_seed, "config": to_dict(cfg)}
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


def train(cfg: SACConfig, seed: int, out_dir: Path) -> Summary:
    """The run contract: :func:`train_sac` in ``out_dir`` (a run interrupted and started again on the
    same directory resumes from its last checkpoint; the run store keeps a run's directory for that),
    then agent.pt (``{"policy": actor state dict, "config", "seed"}``) in place of the checkpoints."""
    out_dir = Path(out_dir)
    summary = train_sac(cfg, seed, out_dir, verbose=False)
    torch.save({"policy": torch.load(out_dir / "actor.pt", weights_only=True), "config": to_dict(cfg), "seed": seed},
               out_dir / "agent.pt")
    for path in [out_dir / "actor.pt", out_dir / "checkpoint.pt", out_dir / "replay.npz", *out_dir.glob("actor_*.pt")]:
        path.unlink(missing_ok=True)
    return summary


def budget(cfg: SACConfig) -> Budget:
    """Upper bounds of one run: ``total_steps`` env steps with one update each, plus the evaluations and
    the test at full episode length."""
    ep = int(max_episode_steps(cfg.env_id) or 1000)
    env_steps = cfg.total_steps + (cfg.total_steps // cfg.eval_every) * cfg.eval_episodes * ep + cfg.test_episodes * ep
    return Budget(env_steps, cfg.total_steps)


def load_policy(run_dir: Path, cfg: SACConfig, seed: int = 0) -> Actor:
    """The final actor of a run (agent.pt's ``policy``), acting as its test does: tanh of the mean,
    computed in float64 and rounded once to float32 (the same on every machine). ``seed`` is unused: the
    actor is deterministic."""
    actor = SACActor.from_state_dict(torch.load(Path(run_dir) / "agent.pt", weights_only=True)["policy"])
    exact = NumpySACActor(actor).exact()
    return lambda obs: exact(np.asarray(obs, dtype=np.float32))
