"""Behaviour cloning and DAgger for discrete-action policies (report 1, section 2).

- **Demonstrations**: the expert, sampled at a temperature, plays episodes; a demonstration is
  the visited states with the actions it took. *Perfect* keeps only episodes that reach the
  time limit; *imperfect* keeps every episode, short ones included.
- **BC**: cross-entropy of the learner's policy on the (state, action) pairs, minibatch AdamW.
- **DAgger** (Ross et al., 2011): start from the same demonstrations and the BC policy; in each
  iteration play episodes with the mixture "expert with probability beta, learner otherwise"
  (decided per step), label every visited state with the expert's most likely action, add the
  pairs to the dataset and keep training the learner on the whole aggregate.

Shapes: ``obs`` (N, obs_dim) float32, ``actions`` (N,) int64.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from .config import spec, to_dict
from .envs import make_vec, max_episode_steps
from .experts import load_expert
from .nets import CategoricalPolicy, NumpyCategorical
from .rollout import EpisodeBatch, collect_round, evaluate

#: log.csv columns (one row per DAgger iteration; BC has the single row of iteration 0)
LOG_COLUMNS = (
    "Iteration", "Train_ExpertLabels", "Train_DatasetSize", "Train_Loss", "Train_Accuracy",
    "Train_AverageReturn", "Train_AverageEpLen", "Beta", "Eval_AverageReturn", "Eval_StdReturn",
)


@dataclass(frozen=True)
class ImitationConfig:
    """Everything that determines one imitation run (with the seed)."""

    env_id: str = spec("CartPole-v1")
    expert: str = spec("cartpole_expert", doc="name of the expert under experts/")
    expert_sha256: str = spec("", doc="sha256 of the expert's weights (set by the section; part of the run key)")
    method: Literal["bc", "dagger"] = spec("bc")
    setting: Literal["perfect", "imperfect"] = spec("perfect")
    n_trajectories: int = spec(1, ge=1, le=100_000, doc="expert demonstrations to start from")
    perfect_temperature: float = spec(1.0, gt=0.0, doc="demonstrator temperature in the perfect setting")
    imperfect_temperature: float = spec(2.0, gt=0.0, doc="demonstrator temperature in the imperfect setting")
    max_attempts_factor: int = spec(50, ge=1, doc="perfect setting: give up after n * this many episodes")
    hidden: tuple[int, ...] = spec((64, 64))
    activation: Literal["tanh", "relu"] = spec("tanh")
    lr: float = spec(1e-3, gt=0.0, le=1.0)
    weight_decay: float = spec(0.0, ge=0.0)
    batch_size: int = spec(256, ge=1)
    bc_steps: int = spec(2000, ge=1, doc="gradient steps of the initial fit (all of BC)")
    dagger_iterations: int = spec(10, ge=1)
    dagger_episodes: int = spec(5, ge=1, doc="episodes the mixture plays per DAgger iteration")
    dagger_steps: int = spec(500, ge=1, doc="gradient steps on the aggregate after each iteration")
    beta0: float = spec(0.5, ge=0.0, le=1.0, doc="expert share of the first DAgger iteration's actions")
    beta_decay: float = spec(0.5, ge=0.0, le=1.0, doc="beta_i = beta0 * beta_decay^(i-1)")
    eval_episodes: int = spec(10, ge=1, doc="episodes of the per-iteration evaluation in log.csv")
    test_episodes: int = spec(100, ge=1)
    test_greedy: bool = spec(True, doc="test with the learner's most likely action")


@dataclass
class Demos:
    """Demonstrations: pairs (obs (N, d), actions (N,)) and each trajectory's length (M,)."""

    obs: np.ndarray
    actions: np.ndarray
    lengths: np.ndarray
    max_len: int

    @property
    def short_share(self) -> float:
        """Share of trajectories that end before the time limit ``max_len``."""
        return float(np.mean(self.lengths < self.max_len)) if len(self.lengths) else 0.0


def _flatten(batch: EpisodeBatch, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(obs, actions) of the episodes ``keep`` (K,) bool, flattened over their real steps."""
    mask = batch.mask & keep[None, :]
    return batch.obs[mask], batch.actions[mask].astype(np.int64)


def demonstrations(
    expert: NumpyCategorical,
    env_id: str,
    n: int,
    seed: int,
    perfect_only: bool,
    max_attempts: int,
) -> Demos:
    """``n`` demonstrations from ``expert`` (sampling with its temperature), seeded by ``seed``.

    ``perfect_only`` keeps only trajectories that reach the env's time limit; it raises if
    ``max_attempts`` episodes do not give ``n`` of them.
    """
    k = min(max(n, 1), 64)
    env = make_vec(env_id, k)
    limit = max_episode_steps(env_id) or 0
    rng = np.random.default_rng(seed)
    obs_l, act_l, len_l = [], [], []
    attempts = 0
    first = True
    while len(len_l) < n:
        if attempts >= max_attempts:
            raise RuntimeError(f"the expert gave {len(len_l)} trajectories of length {limit} in {attempts} episodes; {n} were asked for")
        batch = collect_round(env, expert, rng, seed=seed if first else None)
        first = False
        attempts += batch.num_episodes
        keep = np.ones(batch.num_episodes, dtype=bool) if not perfect_only else batch.lengths >= limit
        for i in np.flatnonzero(keep):
            if len(len_l) == n:
                break
            o, a = _flatten(batch, np.arange(batch.num_episodes) == i)
            obs_l.append(o)
            act_l.append(a)
            len_l.append(int(batch.lengths[i]))
    return Demos(np.concatenate(obs_l), np.concatenate(act_l), np.asarray(len_l), max_len=int(limit))


def fit(
    policy: CategoricalPolicy,
    opt: torch.optim.Optimizer,
    obs: np.ndarray,
    actions: np.ndarray,
    steps: int,
    batch_size: int,
    gen: torch.Generator,
) -> tuple[float, float]:
    """``steps`` minibatch cross-entropy steps on (obs, actions); returns (final full-data loss, accuracy)."""
    x = torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(actions, dtype=np.int64))
    n = x.shape[0]
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch_size, n),), generator=gen)
        loss = F.cross_entropy(policy.logits(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        logits = policy.logits(x)
        return float(F.cross_entropy(logits, y)), float((logits.argmax(-1) == y).float().mean())


class MixtureSampler:
    """Per step: the expert's most likely action with probability ``beta``, else the learner's."""

    def __init__(self, expert: NumpyCategorical, learner: NumpyCategorical, beta: float, learner_greedy: bool = True):
        self.expert, self.learner, self.beta, self.learner_greedy = expert, learner, beta, learner_greedy

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        use_expert = rng.random(obs.shape[0]) < self.beta
        a_learner = self.learner.sample(obs, rng, greedy=self.learner_greedy or greedy)
        a_expert = self.expert.sample(obs, rng, greedy=True)
        return np.where(use_expert, a_expert, a_learner)


def dagger_iteration(
    expert: NumpyCategorical,
    learner: NumpyCategorical,
    env: Any,
    beta: float,
    rng: np.random.Generator,
    seed: int | None,
) -> tuple[np.ndarray, np.ndarray, EpisodeBatch]:
    """Play one round of ``env.num_envs`` episodes with the beta-mixture; return the visited states
    (N, d), the expert's labels for them (N,) and the batch (for its returns)."""
    batch = collect_round(env, MixtureSampler(expert, learner, beta), rng, seed=seed)
    obs = batch.obs[batch.mask]
    labels = expert.sample(obs, rng, greedy=True)
    return obs, labels, batch


def train(cfg: ImitationConfig, seed: int, out_dir: Path) -> dict[str, Any]:
    """One BC or DAgger run: write log.csv, agent.pt and summary.json into ``out_dir``."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    expert_policy, meta = load_expert(cfg.expert)
    if cfg.expert_sha256 and cfg.expert_sha256 != meta["policy_sha256"]:
        raise ValueError(f"expert '{cfg.expert}' changed: the config expects sha256 {cfg.expert_sha256[:12]}..., found {meta['policy_sha256'][:12]}...")
    perfect = cfg.setting == "perfect"
    temperature = cfg.perfect_temperature if perfect else cfg.imperfect_temperature
    demos = demonstrations(expert_policy.numpy_sampler(temperature), cfg.env_id, cfg.n_trajectories, seed,
                           perfect_only=perfect, max_attempts=cfg.n_trajectories * cfg.max_attempts_factor)
    expert = expert_policy.numpy_sampler()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed + 1)
    obs_dim = demos.obs.shape[1]
    n_actions = int(expert_policy.net[-1].out_features)
    learner = CategoricalPolicy(obs_dim, n_actions, cfg.hidden, cfg.activation)
    opt = torch.optim.AdamW(learner.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    data_obs, data_act = demos.obs, demos.actions
    loss, acc = fit(learner, opt, data_obs, data_act, cfg.bc_steps, cfg.batch_size, gen)
    eval_env = make_vec(cfg.env_id, min(cfg.eval_episodes, 64))

    def evaluation(it: int) -> tuple[float, float]:
        r, _ = evaluate(learner.numpy_sampler(), eval_env, cfg.eval_episodes, seed=30_000_000 + seed * 1000 + it, greedy=cfg.test_greedy)
        return float(r.mean()), float(r.std())

    ev = evaluation(0)
    rows = [dict(Iteration=0, Train_ExpertLabels=len(data_act), Train_DatasetSize=len(data_act), Train_Loss=loss,
                 Train_Accuracy=acc, Train_AverageReturn=float(demos.lengths.mean()), Train_AverageEpLen=float(demos.lengths.mean()),
                 Beta=1.0, Eval_AverageReturn=ev[0], Eval_StdReturn=ev[1])]
    if cfg.method == "dagger":
        env = make_vec(cfg.env_id, cfg.dagger_episodes)
        for it in range(1, cfg.dagger_iterations + 1):
            beta = cfg.beta0 * cfg.beta_decay ** (it - 1)
            obs, labels, batch = dagger_iteration(expert, learner.numpy_sampler(), env, beta, rng, seed=seed + 2 if it == 1 else None)
            data_obs = np.concatenate([data_obs, obs])
            data_act = np.concatenate([data_act, labels])
            loss, acc = fit(learner, opt, data_obs, data_act, cfg.dagger_steps, cfg.batch_size, gen)
            ev = evaluation(it)
            rows.append(dict(Iteration=it, Train_ExpertLabels=len(data_act), Train_DatasetSize=len(data_act), Train_Loss=loss,
                             Train_Accuracy=acc, Train_AverageReturn=float(batch.returns.mean()),
                             Train_AverageEpLen=float(batch.lengths.mean()), Beta=beta, Eval_AverageReturn=ev[0], Eval_StdReturn=ev[1]))
    test_env = make_vec(cfg.env_id, min(cfg.test_episodes, 100))
    test_ret, _ = evaluate(learner.numpy_sampler(), test_env, cfg.test_episodes, seed=20_000_000 + seed, greedy=cfg.test_greedy)
    with open(out_dir / "log.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOG_COLUMNS)
        for row in rows:
            w.writerow([row[c] if isinstance(row[c], int) else repr(float(row[c])) for c in LOG_COLUMNS])
    torch.save({"policy": learner.state_dict(), "config": to_dict(cfg), "seed": seed}, out_dir / "agent.pt")
    summary = {
        "seed": seed,
        "test_returns": test_ret.tolist(),
        "test_mean": float(test_ret.mean()),
        "test_std": float(test_ret.std()),
        "expert_labels": int(len(data_act)),
        "demo_labels": int(len(demos.actions)),
        "demo_lengths": demos.lengths.tolist(),
        "demo_short_share": demos.short_share,
        "final_loss": loss,
        "final_accuracy": acc,
        "wall_time_s": time.perf_counter() - start,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary

