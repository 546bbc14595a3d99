"""Behaviour cloning for continuous actions with interchangeable action heads, and DAgger.

Every head sits on the same trunk (an MLP of ``width`` x ``depth`` with ReLU) fed with
*normalised* observations (dataset mean and std); actions are learnt in the env's action box
mapped to [-1, 1]. Heads:

* ``gaussian``  diagonal Gaussian, state-dependent std, negative log-likelihood loss;
* ``mog``       mixture of ``k`` diagonal Gaussians, negative log-likelihood loss;
* ``mse``       a deterministic action, mean squared error;
* ``diffusion`` DDPM over actions (Ho et al. 2020) conditioned on the state: the net predicts
  the noise added at step t; actions are drawn by ``T`` reverse steps from N(0, I), each
  clipping its estimate of the clean action to [-1, 1] (``clip_sample``).

At test time the likelihood heads act with their mode-like point (the mean; for a mixture,
the mean of its heaviest component), MSE with its output, diffusion with a sample.

Shapes: ``B`` batch, ``D`` obs_dim, ``A`` act_dim, ``K`` mixture components, ``T`` diffusion steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .config import spec

HEADS = ("gaussian", "mog", "mse", "diffusion")
SCHEDULES = ("cosine", "linear")
LOG_STD_MAX = 2.0
LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------- dataset
DATASET_KEYS = ("observations", "actions", "mean_reward", "std_reward")


def validate_dataset(data: dict[str, Any], source: str = "dataset") -> dict[str, Any]:
    """The report's expert-data format: ``observations`` (N, D), ``actions`` (N, A) (tensors or
    arrays), ``mean_reward`` and ``std_reward`` (floats). Returns float32 tensors; raises naming
    ``source`` and what is wrong otherwise."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a dict with keys {DATASET_KEYS}, got {type(data).__name__}")
    missing = [k for k in DATASET_KEYS if k not in data]
    if missing:
        raise ValueError(f"{source}: missing keys {missing}; an expert dataset holds {list(DATASET_KEYS)}")
    obs = torch.as_tensor(np.asarray(data["observations"]), dtype=torch.float32)
    act = torch.as_tensor(np.asarray(data["actions"]), dtype=torch.float32)
    if obs.ndim != 2 or act.ndim != 2 or obs.shape[0] != act.shape[0] or obs.shape[0] == 0:
        raise ValueError(f"{source}: observations {tuple(obs.shape)} and actions {tuple(act.shape)} must be "
                         f"(N, obs_dim) and (N, act_dim) with the same N > 0")
    if not (torch.isfinite(obs).all() and torch.isfinite(act).all()):
        raise ValueError(f"{source}: observations or actions hold NaN or inf")
    return {"observations": obs, "actions": act, "mean_reward": float(data["mean_reward"]),
            "std_reward": float(data["std_reward"])}


def resolve_path(path: str) -> Path:
    """``path`` as given if absolute, else relative to the repository root."""
    p = Path(path)
    return p if p.is_absolute() else Path(__file__).resolve().parent.parent / p


def load_dataset(path: Path) -> dict[str, Any]:
    """A dataset saved with ``torch.save`` (here or elsewhere), validated."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"expert dataset {path} does not exist")
    return validate_dataset(torch.load(path, weights_only=False, map_location="cpu"), str(path))


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


def trunk(in_dim: int, width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class HeadConfig:
    """One action head and its trunk. ``k``: mixture components (mog); ``T``, ``schedule``,
    ``clip_sample``: diffusion; ``time_dim``: size of the diffusion step embedding."""

    head: Literal["gaussian", "mog", "mse", "diffusion"] = spec("gaussian")
    width: int = spec(256, ge=1)
    depth: int = spec(2, ge=1)
    k: int = spec(5, ge=1, doc="mixture components (mog)")
    T: int = spec(25, ge=1, doc="diffusion steps (diffusion)")
    schedule: Literal["cosine", "linear"] = spec("cosine", doc="diffusion noise schedule")
    clip_sample: bool = spec(True, doc="clip each step's clean-action estimate to [-1, 1] (diffusion)")
    time_dim: int = spec(32, ge=1)
    min_log_std: float = spec(-7.0, le=0, doc="floor of the log std (gaussian, mog); bounds how sharply NLL weights a state")


class BCPolicy(nn.Module):
    """A trunk and one head; holds the observation normaliser and the action box."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: HeadConfig, obs_mean: torch.Tensor, obs_std: torch.Tensor,
                 act_low: torch.Tensor, act_high: torch.Tensor):
        super().__init__()
        if cfg.head not in HEADS:
            raise ValueError(f"unknown action head {cfg.head!r}; allowed: {HEADS}")
        self.cfg = cfg
        self.act_dim = act_dim
        self.register_buffer("obs_mean", obs_mean.float())
        self.register_buffer("obs_std", obs_std.float())
        self.register_buffer("act_scale", ((act_high - act_low) / 2).float())
        self.register_buffer("act_bias", ((act_high + act_low) / 2).float())
        in_dim = obs_dim
        if cfg.head == "diffusion":
            in_dim = obs_dim + act_dim + cfg.time_dim
            self.time_embed = nn.Embedding(cfg.T, cfg.time_dim)
            sched = noise_schedule(cfg.T, cfg.schedule)
            self.sched = sched
            self.register_buffer("sqrt_abar", sched["alpha_bar"].sqrt().float())
            self.register_buffer("sqrt_1m_abar", (1 - sched["alpha_bar"]).sqrt().float())
        self.trunk = trunk(in_dim, cfg.width, cfg.depth)
        out = {"gaussian": 2 * act_dim, "mog": cfg.k * (1 + 2 * act_dim), "mse": act_dim, "diffusion": act_dim}[cfg.head]
        self.out = nn.Linear(cfg.width if cfg.depth > 0 else in_dim, out)

    # ---- helpers
    def norm_obs(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.obs_mean) / self.obs_std

    def norm_act(self, act: torch.Tensor) -> torch.Tensor:
        return (act - self.act_bias) / self.act_scale

    def _heads(self, s: torch.Tensor) -> tuple[torch.Tensor, ...]:
        o = self.out(self.trunk(s))
        a = self.act_dim
        if self.cfg.head == "gaussian":
            return o[:, :a], o[:, a:].clamp(self.cfg.min_log_std, LOG_STD_MAX)
        if self.cfg.head == "mog":
            k = self.cfg.k
            logits = o[:, :k]
            means = o[:, k:k + k * a].reshape(-1, k, a)
            log_stds = o[:, k + k * a:].reshape(-1, k, a).clamp(self.cfg.min_log_std, LOG_STD_MAX)
            return logits, means, log_stds
        return (o,)

    def eps(self, s: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predicted noise (B, A) for normalised obs ``s`` (B, D), noisy action ``x_t`` (B, A), steps ``t`` (B,)."""
        return self.out(self.trunk(torch.cat([s, x_t, self.time_embed(t)], -1)))

    # ---- training
    def loss(self, obs: torch.Tensor, act: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Mean loss over a batch: ``obs`` (B, D) raw, ``act`` (B, A) in env units."""
        s, a = self.norm_obs(obs), self.norm_act(act)
        head = self.cfg.head
        if head == "gaussian":
            mean, log_std = self._heads(s)
            return (0.5 * ((a - mean) * torch.exp(-log_std)).pow(2) + log_std + 0.5 * LOG_2PI).sum(-1).mean()
        if head == "mog":
            return -mog_log_prob(*self._heads(s), a).mean()
        if head == "mse":
            return (self._heads(s)[0] - a).pow(2).mean()
        t = torch.randint(0, self.cfg.T, (a.shape[0],), generator=gen)
        noise = torch.randn(a.shape, generator=gen)
        x_t = self.sqrt_abar[t, None] * a + self.sqrt_1m_abar[t, None] * noise
        return (self.eps(s, x_t, t) - noise).pow(2).mean()

    # ---- acting
    @torch.no_grad()
    def act(self, obs: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Test-time actions (B, A) in env units for raw ``obs`` (B, D)."""
        s = self.norm_obs(obs)
        head = self.cfg.head
        if head == "gaussian" or head == "mse":
            a = self._heads(s)[0]
        elif head == "mog":
            logits, means, _ = self._heads(s)
            a = means[torch.arange(means.shape[0]), logits.argmax(-1)]
        else:
            x = torch.randn((s.shape[0], self.act_dim), generator=gen)
            for t in range(self.cfg.T - 1, -1, -1):
                tt = torch.full((s.shape[0],), t, dtype=torch.long)
                noise = torch.randn(x.shape, generator=gen) if t > 0 else None
                x = denoise_step(x, self.eps(s, x, tt), t, self.sched, noise, self.cfg.clip_sample)
        return a_clip(a if head != "diffusion" else x) * self.act_scale + self.act_bias


def a_clip(a: torch.Tensor) -> torch.Tensor:
    return a.clamp(-1.0, 1.0)


class TorchSampler:
    """Adapts a :class:`BCPolicy` (or any ``obs -> action`` torch callable) to :class:`lib.rollout.Sampler`."""

    def __init__(self, policy: BCPolicy, seed: int):
        self.policy = policy
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        return self.policy.act(torch.as_tensor(np.asarray(obs), dtype=torch.float32), self.gen).numpy()


# --------------------------------------------------------------------------- training
@dataclass(frozen=True)
class BCConfig:
    """One behaviour-cloning run: head, optimisation budget, evaluation, DAgger."""

    env_id: str = spec("HalfCheetah-v4")
    expert: str = spec("halfcheetah_sac", doc="shipped expert under experts/")
    expert_sha256: str = spec("", doc="the expert's policy.pt sha256 (filled in by the section; a new expert new runs)")
    dataset_episodes: int = spec(200, ge=1, doc="expert episodes in the dataset (1000 pairs each on HalfCheetah)")
    dataset_file: str = spec("", doc="a dataset file in the report's format to use instead (relative to the repository)")
    dataset_sha256: str = spec("", doc="that file's sha256 (filled in by the section, so a new file means new runs)")
    head: HeadConfig = spec(default_factory=HeadConfig)
    steps: int = spec(20_000, ge=1, doc="gradient steps (the same budget for every head)")
    batch_size: int = spec(256, ge=1)
    lr: float = spec(1e-3, gt=0, doc="Adam learning rate, cosine-decayed to 0 over the steps")
    weight_decay: float = spec(0.0, ge=0)
    eval_every: int = spec(2_000, ge=1)
    eval_episodes: int = spec(5, ge=1)
    test_episodes: int = spec(10, ge=1)
    dagger_rounds: int = spec(0, ge=0, doc="DAgger rounds (0: plain behaviour cloning)")
    dagger_episodes: int = spec(2, ge=1, doc="learner episodes labelled by the expert per round")
    normalize_obs: bool = spec(True, doc="standardise observations with the data's mean and std")


def normaliser(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std (D,) of ``obs`` (N, D), std floored at 1e-3."""
    return obs.mean(0), obs.std(0).clamp(min=1e-3)


def cosine_lr(step: int, total: int, base: float) -> float:
    """``base`` decayed to 0 along half a cosine over ``total`` steps."""
    return 0.5 * base * (1 + math.cos(math.pi * min(step, total) / total))


def dagger_labels(policy: BCPolicy, expert_act, env_id: str, episodes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Roll ``policy`` out for ``episodes`` episodes, label every visited state with the expert.

    ``expert_act``: numpy (B, D) -> (B, A). Returns observations (M, D), expert actions (M, A)
    and the learner's mean return on those episodes."""
    from .envs import make_vec
    from .rollout import collect_round

    env = make_vec(env_id, episodes)
    batch = collect_round(env, TorchSampler(policy, seed), np.random.default_rng(seed), seed=seed)
    env.close()
    obs = batch.obs[batch.mask]
    return torch.from_numpy(obs), torch.from_numpy(np.asarray(expert_act(obs), dtype=np.float32)), float(batch.returns.mean())


def evaluate_bc(policy: BCPolicy, env_id: str, episodes: int, seed: int) -> np.ndarray:
    """Test returns (episodes,) of ``policy``'s test-time actions, all episodes run side by side."""
    from .envs import make_vec
    from .rollout import evaluate

    env = make_vec(env_id, episodes)
    returns, _ = evaluate(TorchSampler(policy, seed), env, episodes, seed=seed)
    env.close()
    return returns


def generate_dataset(expert_act, env_id: str, episodes: int, seed: int) -> dict[str, Any]:
    """The report's expert-data dict from ``episodes`` episodes of the deterministic expert
    (``expert_act``: numpy (B, D) -> (B, A)), episode ``i`` reset from ``seed + i``; run side by side."""
    from .envs import make_vec
    from .rollout import collect_round

    class _Expert:
        def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
            return np.asarray(expert_act(obs), dtype=np.float32)

    obs_parts, act_parts, returns = [], [], []
    done, chunk = 0, 25
    while done < episodes:
        n = min(chunk, episodes - done)
        env = make_vec(env_id, n)
        batch = collect_round(env, _Expert(), np.random.default_rng(seed + done), seed=seed + done)
        env.close()
        mask = batch.mask.T  # (K, T): episodes in order
        obs_parts.append(batch.obs.transpose(1, 0, 2)[mask])
        act_parts.append(batch.actions.transpose(1, 0, 2)[mask])
        returns.append(batch.returns)
        done += n
    rets = np.concatenate(returns)
    return {"observations": torch.from_numpy(np.concatenate(obs_parts)), "actions": torch.from_numpy(np.concatenate(act_parts)),
            "mean_reward": float(rets.mean()), "std_reward": float(rets.std()), "episode_returns": rets.tolist(),
            "seed": seed}


#: Where generated datasets are cached (beside the run store, not committed).
def dataset_path(expert: str, sha256: str, episodes: int, seed: int) -> Path:
    from .runs import store_root

    # "_f64": actions from the float64 actor (sac.ExactSACActor), the same on every machine
    return store_root() / "datasets" / f"{expert}_{sha256[:12]}_{episodes}ep_sd{seed}_f64.pt"


DATASET_SEED = 40_000_000


def expert_dataset(expert: str, episodes: int, seed: int = DATASET_SEED) -> dict[str, Any]:
    """The cached dataset of the shipped ``expert`` (made once, deterministically, then loaded)."""
    import os

    from .sac import NumpySACActor, load_sac_expert

    actor, meta = load_sac_expert(expert)
    path = dataset_path(expert, meta["policy_sha256"], episodes, seed)
    if path.exists():
        return load_dataset(path)
    data = generate_dataset(NumpySACActor(actor).exact(), meta.get("env_id", "HalfCheetah-v4"), episodes, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return validate_dataset(data, str(path))


LOG_COLUMNS = ("step", "epoch", "loss", "lr", "dataset_size", "eval_mean", "eval_std", "wall_s")
EVAL_SEED = 50_000_000
TEST_SEED = 60_000_000


def train_bc(cfg: BCConfig, seed: int, out_dir: Path, data: dict[str, Any] | None = None,
             expert_act=None) -> dict[str, Any]:
    """One behaviour-cloning run (DAgger when ``cfg.dagger_rounds`` > 0): write log.csv (one row
    per ``eval_every`` gradient steps), agent.pt and summary.json into ``out_dir``.

    ``data`` and ``expert_act`` default to the shipped expert ``cfg.expert`` and its cached
    dataset. DAgger splits the same ``steps`` into ``dagger_rounds + 1`` equal phases; before each
    phase after the first it rolls the learner out for ``dagger_episodes`` episodes and adds the
    states it visited, labelled by the expert, to the data.
    """
    import json
    import time

    import pandas as pd

    from .config import to_dict

    start = time.perf_counter()
    out_dir = Path(out_dir)
    if data is None or (expert_act is None and cfg.dagger_rounds > 0):
        from .sac import NumpySACActor, load_sac_expert

        actor, _ = load_sac_expert(cfg.expert)
        expert_act = NumpySACActor(actor).exact()
        if data is None:
            data = load_dataset(resolve_path(cfg.dataset_file)) if cfg.dataset_file else expert_dataset(cfg.expert, cfg.dataset_episodes)
    obs, act = data["observations"], data["actions"]
    import gymnasium as gym

    space = gym.make(cfg.env_id).action_space
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    obs_mean, obs_std = normaliser(obs) if cfg.normalize_obs else (torch.zeros(obs.shape[1]), torch.ones(obs.shape[1]))
    policy = BCPolicy(obs.shape[1], act.shape[1], cfg.head, obs_mean, obs_std,
                      torch.as_tensor(space.low), torch.as_tensor(space.high))
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    phase = cfg.steps // (cfg.dagger_rounds + 1)
    rows: list[dict[str, float]] = []
    dagger_returns: list[float] = []
    loss_sum, loss_n = 0.0, 0
    for step in range(1, cfg.steps + 1):
        if cfg.dagger_rounds and step > 1 and (step - 1) % phase == 0 and (step - 1) // phase <= cfg.dagger_rounds:
            new_obs, new_act, ret = dagger_labels(policy, expert_act, cfg.env_id, cfg.dagger_episodes,
                                                  seed * 1000 + (step - 1) // phase)
            obs, act = torch.cat([obs, new_obs]), torch.cat([act, new_act])
            dagger_returns.append(ret)
        lr = cosine_lr(step - 1, cfg.steps, cfg.lr)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, obs.shape[0], (cfg.batch_size,), generator=gen)
        loss = policy.loss(obs[idx], act[idx], gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += float(loss.detach())
        loss_n += 1
        if step % cfg.eval_every == 0 or step == cfg.steps:
            r = evaluate_bc(policy, cfg.env_id, cfg.eval_episodes, EVAL_SEED + seed * 1000 + step // cfg.eval_every)
            rows.append({"step": step, "epoch": step * cfg.batch_size / obs.shape[0], "loss": loss_sum / loss_n,
                         "lr": lr, "dataset_size": int(obs.shape[0]), "eval_mean": float(r.mean()),
                         "eval_std": float(r.std()), "wall_s": time.perf_counter() - start})
            loss_sum, loss_n = 0.0, 0
    test = evaluate_bc(policy, cfg.env_id, cfg.test_episodes, TEST_SEED + seed)
    pd.DataFrame(rows, columns=LOG_COLUMNS).to_csv(out_dir / "log.csv", index=False)
    torch.save({"policy": policy.state_dict(), "config": to_dict(cfg), "seed": seed}, out_dir / "agent.pt")
    summary = {"seed": seed, "test_returns": test.tolist(), "test_mean": float(test.mean()), "test_std": float(test.std()),
               "expert_mean": float(data["mean_reward"]), "expert_std": float(data["std_reward"]),
               "dataset_size": int(obs.shape[0]), "dagger_returns": dagger_returns,
               "wall_time_s": time.perf_counter() - start}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
