"""One policy-gradient (REINFORCE) learner whose options give every variant of the reports.

Each iteration collects a batch of complete episodes on a vector env (``batch_episodes``
parallel episodes; with ``batch_steps`` set, complete episodes until the batch holds at least
that many steps, as the assignment's ``-b``), computes per-step returns (reward-to-go or the whole
trajectory's return), subtracts a baseline (none, running mean of returns, a learned value
function, or the leave-one-out mean of the other episodes), optionally normalises, and takes
one AdamW step on

    loss = - mean_{steps}( log pi(a_t|s_t) * A_t )  -  alpha * mean_{steps}( H[pi(.|s_t)] )

where ``alpha`` is constant or linear in training progress. Monte Carlo returns end where the
episode ends, whether it terminated or was cut by the time limit.

Evaluation (report 1.1): after every batch, the mean training return over the last ``window``
episodes is compared with the best so far; the policy that produced that batch is kept when it
improves (on ties, by default the later policy, see :class:`CheckpointSelector`). At the end the kept policy plays ``test_episodes`` test
episodes with its own seed.
"""

from __future__ import annotations

import copy
import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from .. import seeds
from ..config import spec, to_dict
from ..data.envs import make_vec, max_episode_steps
from ..data.rollout import EpisodeBatch, collect_round, collect_steps
from ..evaluation import evaluate
from .contract import Summary
from .nets import CategoricalPolicy, GaussianPolicy, ValueNet
from .returns import RunningMeanBaseline, gae, normalize, reward_to_go, rloo_baseline, trajectory_return

Baseline = Literal["none", "running_mean", "value", "rloo"]

#: log.csv columns, named as the assignment's code logs them (plus a few of ours at the end).
LOG_COLUMNS = (
    "Iteration",
    "Train_EnvstepsSoFar",
    "Train_EpisodesSoFar",
    "Train_AverageReturn",
    "Train_StdReturn",
    "Train_MaxReturn",
    "Train_MinReturn",
    "Train_AverageEpLen",
    "Eval_AverageReturn",
    "Eval_StdReturn",
    "Eval_MaxReturn",
    "Eval_MinReturn",
    "Eval_AverageEpLen",
    "Actor Loss",
    "Baseline Loss",
    "Entropy",
    "Entropy Coef",
    "Train_WindowMean",
)


@dataclass(frozen=True)
class PGConfig:
    """Everything that determines a policy-gradient run (with the seed)."""

    env_id: str = spec("CartPole-v1", doc="gymnasium id (renamed ids are mapped, see lib.envs)")
    max_episode_steps: int | None = spec(None, ge=1, doc="time limit; null keeps the registered one")
    episodes: int | None = spec(2000, ge=1, doc="budget in training episodes (or use iterations)")
    iterations: int | None = spec(None, ge=1, doc="budget in updates (or use episodes)")
    batch_episodes: int = spec(8, ge=1, le=4096, doc="parallel envs: the episodes of a batch, or the copies that fill batch_steps")
    batch_steps: int | None = spec(None, ge=1, doc="if set, a batch is complete episodes holding at least this many steps")
    gamma: float = spec(0.99, ge=0.0, le=1.0, doc="discount")
    return_type: Literal["reward_to_go", "trajectory"] = spec("reward_to_go")
    baseline: Baseline = spec("none")
    running_mean_decay: float = spec(0.9, ge=0.0, lt=1.0, doc="EMA decay of the running-mean baseline")
    normalize_advantages: bool = spec(False)
    gae_lambda: float | None = spec(None, ge=0.0, le=1.0, doc="GAE lambda (needs baseline 'value'); null: q - V")
    bootstrap_truncated: bool = spec(True, doc="with a value net, bootstrap V(s_T) where the time limit cut an episode")
    action_noise_std: float = spec(0.0, ge=0.0, doc="continuous envs: Gaussian noise added to executed actions")
    action_noise_prob: float = spec(0.0, ge=0.0, le=1.0, doc="discrete envs: chance an executed action is uniformly random")
    hidden: tuple[int, ...] = spec((64, 64), doc="policy hidden layer widths")
    activation: Literal["tanh", "relu"] = spec("tanh")
    lr: float = spec(3e-3, gt=0.0, le=1.0, doc="AdamW learning rate of the policy")
    weight_decay: float = spec(0.01, ge=0.0, doc="AdamW weight decay")
    value_lr: float = spec(3e-3, gt=0.0, le=1.0, doc="AdamW learning rate of the value baseline")
    value_steps: int = spec(5, ge=1, doc="value-function gradient steps per update")
    value_hidden: tuple[int, ...] = spec((64, 64))
    logstd_init: float = spec(0.0, doc="continuous policies: initial log standard deviation")
    entropy_coef: float = spec(0.0, ge=0.0, doc="entropy bonus alpha (start value when scheduled)")
    entropy_coef_final: float | None = spec(None, ge=0.0, doc="if set, alpha moves linearly to this")
    window: int = spec(50, ge=1, doc="sliding window (episodes) for best-checkpoint selection")
    checkpoint_ties: Literal["first", "last"] = spec("last", doc="which policy to keep when windows tie (e.g. at 500)")
    eval_every: int = spec(0, ge=0, doc="evaluate every N iterations (0: never during training)")
    eval_episodes: int = spec(10, ge=1, doc="episodes per evaluation (or use eval_steps)")
    eval_steps: int | None = spec(None, ge=1, doc="if set, an evaluation plays rounds until this many steps")
    test_episodes: int = spec(100, ge=1, doc="test episodes of the kept checkpoint")
    test_greedy: bool = spec(False, doc="test with argmax actions instead of sampling")

    def check(self) -> list[str]:
        errs = []
        if (self.episodes is None) == (self.iterations is None):
            errs.append("set exactly one of 'episodes' and 'iterations'")
        if self.baseline == "rloo" and self.batch_episodes < 2:
            errs.append("baseline 'rloo' needs batch_episodes >= 2 (it averages the other episodes)")
        if any(h < 1 for h in self.hidden + self.value_hidden):
            errs.append("hidden layer widths must be >= 1")
        if self.gae_lambda is not None and self.baseline != "value":
            errs.append("key 'gae_lambda' needs baseline 'value' (GAE is built on the value function)")
        if self.gae_lambda is not None and self.return_type != "reward_to_go":
            errs.append("key 'gae_lambda' needs return_type 'reward_to_go'")
        return errs

    @property
    def n_iterations(self) -> int:
        """Number of updates the budget allows (episode budgets round up to whole rounds)."""
        if self.iterations is not None:
            return self.iterations
        assert self.episodes is not None
        return math.ceil(self.episodes / self.batch_episodes)


def entropy_coef_at(cfg: PGConfig, iteration: int) -> float:
    """alpha at ``iteration`` (0-based): constant, or linear from start to final over the run."""
    if cfg.entropy_coef_final is None:
        return cfg.entropy_coef
    n = cfg.n_iterations
    frac = iteration / max(n - 1, 1)
    return cfg.entropy_coef + (cfg.entropy_coef_final - cfg.entropy_coef) * frac


def make_env(cfg: PGConfig, num_envs: int, noise_seed: int) -> gym.vector.VectorEnv:
    """The run's vector env: time limit and action noise from ``cfg``."""
    return make_vec(cfg.env_id, num_envs, cfg.max_episode_steps, cfg.action_noise_std, cfg.action_noise_prob, noise_seed)


def eval_envs(cfg: PGConfig) -> int:
    """Parallel envs of an evaluation: its episodes, or enough episodes of full length for eval_steps."""
    if cfg.eval_steps is None:
        return min(cfg.eval_episodes, 64)
    limit = cfg.max_episode_steps or max_episode_steps(cfg.env_id) or cfg.eval_steps
    return max(1, min(16, math.ceil(cfg.eval_steps / limit)))


class CheckpointSelector:
    """Keeps the policy with the best sliding-window mean of training returns (report 1.1).

    Call :meth:`offer` after each batch is collected and *before* the update, with the batch's
    episode returns and the current policy's state: the window then ends with episodes that
    this very policy played. On ties (several windows at the maximum, say) ``ties="last"`` keeps
    the latest such policy, the one trained longest; ``"first"`` the earliest. A policy is
    eligible once ``min_episodes`` episodes have been seen.
    """

    def __init__(self, window: int, min_episodes: int, ties: str = "last"):
        self.window = window
        self.ties = ties
        self.min_episodes = min_episodes
        self.returns: list[float] = []
        self.best_mean = -math.inf
        self.best_index = -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self._offers = 0

    def offer(self, batch_returns: np.ndarray, state: dict[str, torch.Tensor]) -> float:
        """Add a batch's returns (K,); keep a copy of ``state`` if the window mean improved. Returns that mean."""
        self.returns += [float(r) for r in batch_returns]
        mean = float(np.mean(self.returns[-self.window :]))
        better = mean > self.best_mean or (self.ties == "last" and mean == self.best_mean)
        if len(self.returns) >= self.min_episodes and better:
            self.best_mean, self.best_index = mean, self._offers
            self.best_state = copy.deepcopy(state)
        self._offers += 1
        return mean


class PGLearner:
    """The learner's state: policy, optional value net, optimisers, RNGs and env."""

    def __init__(self, cfg: PGConfig, seed: int):
        self.cfg = cfg
        self.seed = seeds.seed("pg.train", seed)
        torch.manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        self.env = make_env(cfg, cfg.batch_episodes, noise_seed=self.seed)
        obs_dim = int(np.prod(self.env.single_observation_space.shape))
        space = self.env.single_action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        self.policy: CategoricalPolicy | GaussianPolicy
        if self.discrete:
            self.policy = CategoricalPolicy(obs_dim, int(space.n), cfg.hidden, cfg.activation)
        else:
            act_dim = int(np.prod(space.shape))
            self.policy = GaussianPolicy(obs_dim, act_dim, cfg.hidden, cfg.activation, cfg.logstd_init)
        self.opt = torch.optim.AdamW(self.policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.value: ValueNet | None = None
        if cfg.baseline == "value":
            self.value = ValueNet(obs_dim, cfg.value_hidden, cfg.activation)
            self.value_opt = torch.optim.AdamW(
                self.value.parameters(), lr=cfg.value_lr, weight_decay=cfg.weight_decay
            )
        self.running_mean = RunningMeanBaseline(cfg.running_mean_decay)
        self.sampler = self.policy.numpy_sampler()
        self._first_round = True

    def collect(self) -> EpisodeBatch:
        """One training batch: a round of ``batch_episodes`` parallel episodes, or with
        ``batch_steps`` complete episodes until they hold that many steps (see lib.data.rollout)."""
        seed = self.seed if self._first_round else None
        self._first_round = False
        if self.cfg.batch_steps is None:
            return collect_round(self.env, self.sampler, self.rng, seed=seed)
        return collect_steps(self.env, self.sampler, self.rng, self.cfg.batch_steps, seed=seed)

    def returns(self, batch: EpisodeBatch, tail: np.ndarray | None = None) -> np.ndarray:
        """Per-step return estimates q (T, K); ``tail`` (K,) bootstraps truncated episodes."""
        if self.cfg.return_type == "reward_to_go":
            return reward_to_go(batch.rewards, self.cfg.gamma, tail, batch.lengths)
        return trajectory_return(batch.rewards, self.cfg.gamma)

    def values(self, batch: EpisodeBatch) -> tuple[np.ndarray, np.ndarray]:
        """V(s_t) on the padded grid (T, K) and the bootstrap value after each episode (K,).

        The bootstrap value is V(s_T) for an episode the time limit cut (if ``bootstrap_truncated``)
        and 0 for one that terminated: past a terminal state there is no future reward.
        """
        assert self.value is not None
        with torch.no_grad():
            v = np.zeros(batch.mask.shape, dtype=np.float64)
            v[batch.mask] = self.value(torch.from_numpy(batch.obs[batch.mask])).double().numpy()
            last = self.value(torch.from_numpy(np.asarray(batch.final_obs, dtype=np.float32))).double().numpy()
        keep = ~batch.terminated if self.cfg.bootstrap_truncated else np.zeros_like(batch.terminated)
        return v, np.where(keep, last, 0.0)

    def update(self, batch: EpisodeBatch, alpha: float) -> dict[str, float]:
        """One policy step (and the baseline's steps) on ``batch``; returns loss statistics."""
        cfg = self.cfg
        mask = batch.mask
        obs = torch.from_numpy(batch.obs[mask])
        act_np = batch.actions[mask]
        actions = torch.from_numpy(act_np.astype(np.int64) if self.discrete else act_np.astype(np.float32))
        baseline_loss = float("nan")
        if cfg.baseline == "value":
            v, tail = self.values(batch)
            q = self.returns(batch, tail)
            if cfg.gae_lambda is None:
                adv = (q - v)[mask]
            else:
                adv = gae(batch.rewards, v, tail, batch.lengths, cfg.gamma, cfg.gae_lambda)[mask]
            baseline_loss = self._fit_value(obs, torch.from_numpy(q[mask].astype(np.float32)))
        else:
            q = self.returns(batch)
            q_flat = q[mask]
            if cfg.baseline == "none":
                adv = q_flat
            elif cfg.baseline == "running_mean":
                adv = q_flat - self.running_mean.value()
                self.running_mean.update(float(q_flat.mean()))
            else:
                adv = (q - rloo_baseline(q))[mask]
        if cfg.normalize_advantages:
            adv = normalize(adv)
        adv_t = torch.from_numpy(np.ascontiguousarray(adv, dtype=np.float32))
        logp, entropy = self.policy.log_prob_entropy(obs, actions)
        pg_loss = -(logp * adv_t).mean()
        ent = entropy.mean()
        loss = pg_loss - alpha * ent
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sampler = self.policy.numpy_sampler()
        return {"Actor Loss": float(pg_loss.detach()), "Baseline Loss": baseline_loss, "Entropy": float(ent.detach())}

    def _fit_value(self, obs: torch.Tensor, target: torch.Tensor) -> float:
        """``value_steps`` full-batch MSE steps of V(obs (N, d)) towards ``target`` (N,)."""
        assert self.value is not None
        loss = torch.tensor(0.0)
        for _ in range(self.cfg.value_steps):
            loss = torch.mean((self.value(obs) - target) ** 2)
            self.value_opt.zero_grad()
            loss.backward()
            self.value_opt.step()
        return float(loss.detach())


def _fmt(x: float | int) -> str:
    """CSV text of a log value: integers as integers, floats in full precision, NaN as empty."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return "" if math.isnan(x) else repr(float(x))


def train(cfg: PGConfig, seed: int, out_dir: Path,
          on_iteration: Callable[[dict[str, Any]], None] | None = None) -> Summary:
    """Train one run, write ``out_dir``/{log.csv, episodes.csv, agent.pt}, return the summary.

    log.csv has one row per iteration (columns :data:`LOG_COLUMNS`) and is a pure function of
    (cfg, seed); timings go to summary.json only. ``on_iteration`` (if given) is called with each
    iteration's log row plus ``wall_s`` (seconds since the start) as soon as the row is complete.
    Seeds: streams ``pg.train``, ``pg.eval`` (draw = evaluation x env copies) and ``pg.test`` of
    :mod:`lib.seeds`.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    learner = PGLearner(cfg, seed)
    eval_env = make_env(cfg, eval_envs(cfg), noise_seed=seeds.seed("pg.eval", seed)) if cfg.eval_every else None
    n_eval = 0
    ep_lengths: list[int] = []
    ep_iters: list[int] = []
    rows: list[dict[str, Any]] = []
    selector = CheckpointSelector(cfg.window, min(cfg.window, cfg.episodes or cfg.window), cfg.checkpoint_ties)
    env_steps = 0
    for it in range(cfg.n_iterations):
        batch = learner.collect()
        env_steps += batch.num_steps
        rets = batch.returns
        ep_lengths += batch.lengths.tolist()
        ep_iters += [it] * batch.num_episodes
        window_mean = selector.offer(rets, learner.policy.state_dict())
        alpha = entropy_coef_at(cfg, it)
        stats = learner.update(batch, alpha)
        row: dict[str, Any] = {
            "Iteration": it,
            "Train_EnvstepsSoFar": env_steps,
            "Train_EpisodesSoFar": len(selector.returns),
            "Train_AverageReturn": float(rets.mean()),
            "Train_StdReturn": float(rets.std()),
            "Train_MaxReturn": float(rets.max()),
            "Train_MinReturn": float(rets.min()),
            "Train_AverageEpLen": float(batch.lengths.mean()),
            "Entropy Coef": alpha,
            "Train_WindowMean": window_mean,
            **stats,
        }
        if eval_env is not None and (it % cfg.eval_every == 0 or it == cfg.n_iterations - 1):
            e_ret, e_len = evaluate(learner.sampler, eval_env, cfg.eval_episodes,
                                    seed=seeds.seed("pg.eval", seed, n_eval * eval_env.num_envs), min_steps=cfg.eval_steps)
            n_eval += 1
            row.update(
                Eval_AverageReturn=float(e_ret.mean()),
                Eval_StdReturn=float(e_ret.std()),
                Eval_MaxReturn=float(e_ret.max()),
                Eval_MinReturn=float(e_ret.min()),
                Eval_AverageEpLen=float(e_len.mean()),
            )
        rows.append(row)
        if on_iteration is not None:
            on_iteration({**row, "wall_s": time.perf_counter() - start})

    final_state = copy.deepcopy(learner.policy.state_dict())
    best_state = selector.best_state if selector.best_state is not None else final_state
    learner.policy.load_state_dict(best_state)
    test_seed = seeds.seed("pg.test", seed)
    test_env = make_env(cfg, min(cfg.test_episodes, 100), noise_seed=test_seed)
    test_ret, test_len = evaluate(learner.policy.numpy_sampler(), test_env, cfg.test_episodes, seed=test_seed, greedy=cfg.test_greedy)
    test_env.close()
    if eval_env is not None:
        eval_env.close()

    with open(out_dir / "log.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOG_COLUMNS)
        for row in rows:
            w.writerow([_fmt(row[c]) if c in row else "" for c in LOG_COLUMNS])
    with open(out_dir / "episodes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["episode", "iteration", "return", "length"])
        for i, (r, n, k) in enumerate(zip(selector.returns, ep_lengths, ep_iters)):
            w.writerow([i, k, repr(float(r)), n])
    torch.save(
        {
            "policy": best_state,
            "final_policy": final_state,
            "value": learner.value.state_dict() if learner.value is not None else None,
            "config": to_dict(cfg),
            "seed": seed,
        },
        out_dir / "agent.pt",
    )
    summary = {
        "seed": seed,
        "episodes": len(selector.returns),
        "env_steps": env_steps,
        "iterations": cfg.n_iterations,
        "best_window_mean": selector.best_mean,
        "best_iteration": selector.best_index,
        "test_returns": test_ret.tolist(),
        "test_lengths": test_len.tolist(),
        "test_mean": float(test_ret.mean()),
        "test_std": float(test_ret.std()),
        "test_seed": test_seed,
        "test_greedy": cfg.test_greedy,
        "wall_time_s": time.perf_counter() - start,
    }
    return summary
