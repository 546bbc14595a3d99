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
from ..data.envs import ActionNoise, make_vec, max_episode_steps, spaces, steps_taken
from ..data.rollout import EpisodeBatch, play
from ..evaluation import evaluate, evaluate_stacked
from .contract import Actor, Budget, Summary
from ..policies import CategoricalPolicy, GaussianPolicy, StackedSampler, ValueNet
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


def make_env(cfg: PGConfig, num_envs: int, noise_seed: int, blocks: int = 1, copy_seeded: bool = False) -> gym.vector.VectorEnv:
    """The run's vector env: time limit and action noise from ``cfg`` (see :func:`lib.data.envs.make_vec`)."""
    return make_vec(cfg.env_id, num_envs, cfg.max_episode_steps, cfg.action_noise_std, cfg.action_noise_prob, noise_seed,
                    blocks=blocks, copy_seeded=copy_seeded)


def round_seeds(run_seed: int, iteration: int, copies: int) -> tuple[list[int], np.random.Generator, np.random.SeedSequence]:
    """The seeds of one training round of run seed ``run_seed``: one reset seed per env copy, the
    action-sampling RNG and the action noise's seed, all spawned from numpy's
    ``SeedSequence([seeds.seed("pg.round", run_seed), iteration])``. Every round starts from its own seeds, so a round is a function of the
    run seed, the iteration and the policy alone, whatever else shares the vector env."""
    env_ss, act_ss, noise_ss = np.random.SeedSequence([seeds.seed("pg.round", run_seed), iteration]).spawn(3)
    return [int(x) for x in env_ss.generate_state(copies)], np.random.default_rng(act_ss), noise_ss


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
    """One run's learner: policy, optional value net, optimisers, baseline, and its running log.

    ``env`` (any vector env of the run's env id) gives the observation and action spaces; the
    learner does not step it: :func:`train_batch` plays every run's rounds on one shared env.
    """

    def __init__(self, cfg: PGConfig, seed: int, env: gym.vector.VectorEnv | None = None):
        self.cfg = cfg
        self.run_seed = seed
        self.seed = seeds.seed("pg.train", seed)
        probe = env if env is not None else make_env(cfg, 1, noise_seed=0)
        obs_dim = int(np.prod(probe.single_observation_space.shape))
        space = probe.single_action_space
        if env is None:
            probe.close()
        torch.manual_seed(self.seed)  # this run's networks, whichever runs are built before or after
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
        # the run's log
        self.selector = CheckpointSelector(cfg.window, min(cfg.window, cfg.episodes or cfg.window), cfg.checkpoint_ties)
        self.env_steps = 0
        self.ep_lengths: list[int] = []
        self.ep_iters: list[int] = []
        self.rows: list[dict[str, Any]] = []

    def learn(self, batch: EpisodeBatch, it: int) -> dict[str, Any]:
        """Log iteration ``it``'s batch, offer the policy that played it to the checkpoint selector,
        update; returns the iteration's log row (evaluations are added by :func:`train_batch`)."""
        cfg = self.cfg
        self.env_steps += batch.num_steps
        rets = batch.returns
        self.ep_lengths += batch.lengths.tolist()
        self.ep_iters += [it] * batch.num_episodes
        window_mean = self.selector.offer(rets, self.policy.state_dict())
        alpha = entropy_coef_at(cfg, it)
        stats = self.update(batch, alpha)
        row: dict[str, Any] = {
            "Iteration": it,
            "Train_EnvstepsSoFar": self.env_steps,
            "Train_EpisodesSoFar": len(self.selector.returns),
            "Train_AverageReturn": float(rets.mean()),
            "Train_StdReturn": float(rets.std()),
            "Train_MaxReturn": float(rets.max()),
            "Train_MinReturn": float(rets.min()),
            "Train_AverageEpLen": float(batch.lengths.mean()),
            "Entropy Coef": alpha,
            "Train_WindowMean": window_mean,
            **stats,
        }
        self.rows.append(row)
        return row

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
    """Train one run (:func:`train_batch` with one seed); see there."""
    return train_batch(cfg, [seed], [out_dir], on_iteration)[0]


def train_batch(cfg: PGConfig, run_seeds: list[int], out_dirs: list[Path],
                on_iteration: Callable[[dict[str, Any]], None] | None = None) -> list[Summary]:
    """Train one run per seed in ``run_seeds`` together; write each ``out_dirs[b]``/{log.csv,
    episodes.csv, agent.pt}; return their summaries.

    The S runs share one vector env of S x ``batch_episodes`` copies (block b is run b's, see
    :func:`lib.data.rollout.play`) and one stacked policy forward per step
    (:class:`~lib.policies.StackedSampler`); each run keeps its own networks, optimisers,
    RNGs and log, and updates on its own batch. A round's env resets, actions and noise come from
    :func:`round_seeds`, so run b's files are the same whichever runs share its batch
    (``tests/test_pg.py`` checks it): a run's key never names its batch. log.csv has one row per
    iteration (columns :data:`LOG_COLUMNS`) and is a pure function of (cfg, seed); timings go to
    the summary only (``wall_time_s`` is the batch's wall time over S). ``on_iteration`` (if given)
    is called with each iteration's log row plus ``seed`` and ``wall_s`` (seconds since the start).
    Seeds: streams ``pg.train``, ``pg.round``, ``pg.eval`` and ``pg.test`` of :mod:`lib.seeds`.
    """
    start, steps0 = time.perf_counter(), steps_taken()
    n_runs, k = len(run_seeds), cfg.batch_episodes
    if len(out_dirs) != n_runs or len(set(run_seeds)) != n_runs:
        raise ValueError(f"train_batch needs one output directory per distinct seed; got seeds {run_seeds} and {len(out_dirs)} directories")
    env = make_env(cfg, n_runs * k, noise_seed=0, blocks=n_runs, copy_seeded=True)
    noise = env if isinstance(env, ActionNoise) else None
    learners = [PGLearner(cfg, s, env) for s in run_seeds]
    n_eval, e_k = 0, eval_envs(cfg)
    eval_env = make_env(cfg, n_runs * e_k, noise_seed=0, blocks=n_runs, copy_seeded=True) if cfg.eval_every else None
    for it in range(cfg.n_iterations):
        copy_seeds: list[int] = []
        rngs, noise_seeds = [], []
        for learner in learners:
            cs, rng, ns = round_seeds(learner.run_seed, it, k)
            copy_seeds += cs
            rngs.append(rng)
            noise_seeds.append(ns)
        obs, _ = env.reset(seed=copy_seeds)
        if noise is not None:
            noise.reseed(noise_seeds)
        sampler = StackedSampler([learner.policy for learner in learners], rngs)
        batches = play(env, obs, sampler.sample, blocks=n_runs, min_steps=cfg.batch_steps)
        rows = [learner.learn(batch, it) for learner, batch in zip(learners, batches)]
        if eval_env is not None and (it % cfg.eval_every == 0 or it == cfg.n_iterations - 1):
            eval_seeds = [seeds.seed("pg.eval", s, n_eval * e_k) for s in run_seeds]
            if isinstance(eval_env, ActionNoise):  # each evaluation's noise from its own seeds, as its resets
                eval_env.reseed([np.random.SeedSequence([x, 1]) for x in eval_seeds])
            scores = evaluate_stacked([learner.policy for learner in learners], eval_env, cfg.eval_episodes,
                                      eval_seeds, min_steps=cfg.eval_steps)
            n_eval += 1
            for row, (e_ret, e_len) in zip(rows, scores):
                row.update(Eval_AverageReturn=float(e_ret.mean()), Eval_StdReturn=float(e_ret.std()),
                           Eval_MaxReturn=float(e_ret.max()), Eval_MinReturn=float(e_ret.min()),
                           Eval_AverageEpLen=float(e_len.mean()))
        for learner, row in zip(learners, rows):
            if on_iteration is not None:
                on_iteration({**row, "seed": learner.run_seed, "wall_s": time.perf_counter() - start})
    env.close()
    if eval_env is not None:
        eval_env.close()
    wall = time.perf_counter() - start
    summaries = [_finish(learner, Path(d), wall, n_runs) for learner, d in zip(learners, out_dirs)]
    for summary in summaries:  # every env step of the batch (training, evaluations, tests), shared out
        summary["env_steps_all"] = (steps_taken() - steps0) // n_runs
    return summaries


def _finish(learner: PGLearner, out_dir: Path, batch_wall_s: float, batch_runs: int) -> Summary:
    """Test the kept policy, write the run's files, return its summary."""
    cfg, seed = learner.cfg, learner.run_seed
    selector = learner.selector
    final_state = copy.deepcopy(learner.policy.state_dict())
    best_state = selector.best_state if selector.best_state is not None else final_state
    learner.policy.load_state_dict(best_state)
    test_seed = seeds.seed("pg.test", seed)
    test_env = make_env(cfg, min(cfg.test_episodes, 100), noise_seed=test_seed)
    test_ret, test_len = evaluate(learner.policy.numpy_sampler(), test_env, cfg.test_episodes, seed=test_seed, greedy=cfg.test_greedy)
    test_env.close()

    with open(out_dir / "log.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOG_COLUMNS)
        for row in learner.rows:
            w.writerow([_fmt(row[c]) if c in row else "" for c in LOG_COLUMNS])
    with open(out_dir / "episodes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["episode", "iteration", "return", "length"])
        for i, (r, n, k) in enumerate(zip(selector.returns, learner.ep_lengths, learner.ep_iters)):
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
    return {
        "seed": seed,
        "episodes": len(selector.returns),
        "env_steps": learner.env_steps,
        "iterations": cfg.n_iterations,
        "best_window_mean": selector.best_mean,
        "best_iteration": selector.best_index,
        "test_returns": test_ret.tolist(),
        "test_lengths": test_len.tolist(),
        "test_mean": float(test_ret.mean()),
        "test_std": float(test_ret.std()),
        "test_seed": test_seed,
        "test_greedy": cfg.test_greedy,
        "wall_time_s": batch_wall_s / batch_runs,
        "batch_runs": batch_runs,
        "batch_wall_time_s": batch_wall_s,
    }


def budget(cfg: PGConfig) -> Budget:
    """Upper bounds of one run: every iteration's batch at most ``batch_steps`` plus one full episode per
    env copy (or ``batch_episodes`` full episodes), the evaluations and the test likewise at full
    length; one policy update per iteration (the value net's steps ride on it)."""
    ep = int(cfg.max_episode_steps or max_episode_steps(cfg.env_id) or 1000)
    per_iter = (cfg.batch_steps + cfg.batch_episodes * ep) if cfg.batch_steps else cfg.batch_episodes * ep
    evals = (cfg.n_iterations // cfg.eval_every + 1) if cfg.eval_every else 0
    per_eval = (cfg.eval_steps + min(cfg.batch_episodes, 16) * ep) if cfg.eval_steps else cfg.eval_episodes * ep
    return Budget(cfg.n_iterations * per_iter + evals * per_eval + cfg.test_episodes * ep, cfg.n_iterations)


def load_policy(run_dir: Path, cfg: PGConfig, seed: int = 0) -> Actor:
    """The kept policy of a run (agent.pt's ``policy``), acting as its test does: argmax or mean when
    ``cfg.test_greedy``, else sampled with a generator seeded from ``seed``."""
    space = spaces(cfg.env_id)
    if space.discrete:
        policy: Any = CategoricalPolicy(space.obs_dim, space.act_dim, cfg.hidden, cfg.activation)
    else:
        policy = GaussianPolicy(space.obs_dim, space.act_dim, cfg.hidden, cfg.activation, cfg.logstd_init)
    policy.load_state_dict(torch.load(Path(run_dir) / "agent.pt", weights_only=True)["policy"])
    sampler = policy.numpy_sampler()
    rng = np.random.default_rng(seed)
    return lambda obs: sampler.sample(obs, rng, cfg.test_greedy)
