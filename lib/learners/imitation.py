"""The one supervised learner: behaviour cloning and DAgger, from any shipped expert, with any head.

- **Demonstrations** (:mod:`lib.data.datasets`): the expert plays ``demos.episodes`` episodes, at a
  temperature or with its deterministic action, optionally keeping only the episodes that reach the
  time limit; every run seed draws its own, or all runs share one cached dataset
  (``demos.shared_seed``), or they come from a file in the report's format.
- **Behaviour cloning**: ``steps`` minibatch AdamW steps of the head's loss on the demonstration
  pairs (:mod:`lib.learners.heads`: categorical cross-entropy, Gaussian or mixture log-likelihood,
  MSE, diffusion's noise prediction), at a constant or cosine-decayed learning rate.
- **DAgger** (Ross et al., 2011), ``dagger_rounds`` > 0: after the first fit, each round plays
  ``dagger_episodes`` episodes in which every step is the expert's action with probability
  beta_r = beta0 * beta_decay^(r-1) and the learner's otherwise, labels every visited state with the
  expert's action, adds the pairs to the data and trains ``dagger_steps`` more steps on the whole
  aggregate. The expert that acts and labels in DAgger is the one the demonstrations came from
  (``dagger_labels`` "demos": at the demonstrations' temperature, an action drawn per state), or its
  most likely action (``dagger_labels`` "greedy").

The expert is checked against ``expert_sha256`` (part of the run key) before anything is drawn.
Every seed comes from :mod:`lib.seeds` (streams ``imitation.*``). Evaluation and test go through
:func:`lib.evaluation.evaluate`.

Shapes: observations (N, D) float32; actions (N,) int64 (categorical) or (N, A) float32.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from .. import seeds
from ..config import spec, to_dict
from ..data import datasets
from ..data.envs import make_vec, max_episode_steps, resolve_env_id, steps_taken
from ..data.experts import Expert, load
from ..data.rollout import EpisodeBatch, collect_round
from ..evaluation import MAX_ENVS, evaluate
from ..paths import resolve
from .contract import Actor, Budget, Summary
from .heads import BCPolicy, HeadConfig, TorchSampler

#: log.csv columns: one row per evaluation (every ``eval_every`` steps and at the end of each round)
LOG_COLUMNS = ("step", "round", "epoch", "loss", "accuracy", "lr", "expert_labels", "beta", "rollout_return",
               "eval_mean", "eval_std", "wall_s")


#: Test-time ablations (:attr:`ImitationConfig.test_also`).
TestAlso = Literal["raw_weights", "ddpm"]


@dataclass(frozen=True)
class DemoConfig:
    """Where the demonstrations come from."""

    episodes: int = spec(1, ge=1, le=100_000, doc="expert episodes the demonstrations hold")
    temperature: float | None = spec(None, gt=0, doc="the expert samples at this temperature (categorical experts); "
                                     "null: its deterministic action")
    full_length_only: bool = spec(False, doc="keep only episodes that reach the time limit")
    max_attempts_factor: int = spec(50, ge=1, doc="with full_length_only: give up after episodes x this many")
    shared_seed: int | None = spec(None, ge=0, le=999, doc="null: each run seed draws its own demonstrations; a "
                                   "seed: every run shares the demonstrations of that seed (made once, cached)")
    file: str = spec("", doc="a dataset file in the report's format to use instead (relative to the repository)")
    file_sha256: str = spec("", doc="that file's sha256 (filled in by the section: a new file, new runs)")
    extra_episodes: int = spec(0, ge=0, le=100_000, doc="more expert episodes added to the demonstrations above (file "
                               "or played), played from the run seed's own stream (behaviour cloning with as many "
                               "labels as DAgger queries)")


@dataclass(frozen=True)
class ImitationConfig:
    """Everything that determines one imitation run (with the seed)."""

    env_id: str = spec("CartPole-v1")
    expert: str = spec("cartpole_expert", doc="shipped expert under experts/")
    expert_sha256: str = spec("", doc="the expert's policy.pt sha256 (filled in by the section: a new expert, new runs)")
    demos: DemoConfig = spec(default_factory=DemoConfig)
    head: HeadConfig = spec(default_factory=lambda: HeadConfig(head="categorical", width=64, activation="tanh"))
    normalize_obs: bool = spec(False, doc="standardise observations with the demonstrations' mean and std")
    steps: int = spec(2_000, ge=1, doc="gradient steps of the first fit (all of behaviour cloning)")
    batch_size: int = spec(256, ge=1)
    lr: float = spec(1e-3, gt=0, le=1)
    lr_schedule: Literal["constant", "cosine"] = spec("constant", doc="cosine: decayed to 0 over all the run's steps")
    weight_decay: float = spec(0.0, ge=0)
    ema_decay: float = spec(0.0, ge=0, lt=1, doc="> 0: evaluate, test, play DAgger rounds with and save an exponential "
                            "moving average of the weights, updated after every gradient step with decay "
                            "min(ema_decay, (1 + n) / (10 + n)) at step n (0: the weights themselves)")
    dagger_rounds: int = spec(0, ge=0, doc="DAgger rounds (0: behaviour cloning)")
    dagger_episodes: int = spec(5, ge=1, doc="episodes played per DAgger round")
    dagger_steps: int = spec(500, ge=1, doc="gradient steps after each DAgger round")
    beta0: float = spec(0.5, ge=0, le=1, doc="expert share of the first DAgger round's actions")
    beta_decay: float = spec(0.5, ge=0, le=1, doc="beta_r = beta0 x beta_decay^(r-1)")
    dagger_labels: Literal["demos", "greedy"] = spec("demos", doc="the expert DAgger acts and labels with: the one the "
                                                     "demonstrations came from (demos: at demos.temperature, an action "
                                                     "drawn per state), or its most likely action (greedy)")
    eval_every: int = spec(0, ge=0, doc="evaluate every this many steps (0: at the end of each round only)")
    eval_episodes: int = spec(10, ge=1)
    test_episodes: int = spec(100, ge=1)
    test_greedy: bool = spec(True, doc="test (and play DAgger rounds) with the head's mode-like action; false: "
                             "sample the head's action distribution")
    test_both: bool = spec(False, doc="also test with the other action protocol, on the same test episodes' starts "
                           "(summary: test_mean_greedy and test_mean_sampled beside test_mean)")
    test_also: tuple[TestAlso, ...] = spec((), doc="also test the final policy, on the same test episodes' starts, "
                                           "as: raw_weights, the trained weights instead of their average (needs "
                                           "ema_decay > 0); ddpm, with DDPM's stochastic reverse steps instead of the "
                                           "head's sampler (a diffusion head). Summary: test_mean_<name> and "
                                           "test_returns_<name>. Ablations of what only acts, at no training cost")

    def check(self) -> list[str]:
        errs = []
        if "raw_weights" in self.test_also and not self.ema_decay:
            errs.append("'test_also': raw_weights needs 'ema_decay' > 0 (without an average the weights are tested)")
        if "ddpm" in self.test_also and (self.head.head != "diffusion" or self.head.sampler == "ddpm"):
            errs.append("'test_also': ddpm needs a diffusion head whose 'head.sampler' is ddim")
        if len(set(self.test_also)) != len(self.test_also):
            errs.append("'test_also' lists a test twice")
        return errs

    @property
    def total_steps(self) -> int:
        return self.steps + self.dagger_rounds * self.dagger_steps


def _lr(cfg: ImitationConfig, step: int) -> float:
    """The learning rate of gradient step ``step`` (0-based)."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(step, cfg.total_steps) / cfg.total_steps))


class Ema:
    """An exponential moving average of a policy's weights: ``policy`` is the averaged copy (buffers
    shared in value), updated by :meth:`update` after each gradient step of ``source``."""

    def __init__(self, source: torch.nn.Module, decay: float):
        import copy

        self.source, self.decay, self.n = source, decay, 0
        self.policy = copy.deepcopy(source).requires_grad_(False)
        self._src = [p for p in source.parameters()]
        self._avg = [p for p in self.policy.parameters()]

    @torch.no_grad()
    def update(self) -> None:
        """avg <- d * avg + (1 - d) * weights, d = min(decay, (1 + n) / (10 + n))."""
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        torch._foreach_lerp_(self._avg, self._src, 1.0 - d)
        self.n += 1


class Teacher:
    """The expert as DAgger uses it, acting and labelling: its most likely action (``temperature``
    None), or an action drawn from softmax(logits / temperature) with the caller's RNG, whatever
    ``greedy`` a caller passes."""

    def __init__(self, expert: Expert, temperature: float | None):
        self.expert, self.temperature = expert, temperature
        self.actor = expert.actor(temperature)

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        return self.actor.sample(obs, rng, greedy=self.temperature is None)

    def label(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Labels for the states ``obs`` (N, D): (N,) int64 or (N, A) float32."""
        if self.temperature is None:
            return self.expert.label(obs)
        acts = self.sample(np.asarray(obs, dtype=np.float32), rng)
        return np.asarray(acts, dtype=np.int64 if self.expert.discrete else np.float32)


def teacher(cfg: "ImitationConfig", expert: Expert) -> Teacher:
    """The expert DAgger acts and labels with (:attr:`ImitationConfig.dagger_labels`)."""
    return Teacher(expert, cfg.demos.temperature if cfg.dagger_labels == "demos" else None)


class MixtureSampler:
    """Per step: the expert's action with probability ``beta`` (coin flips from the caller's RNG),
    else the learner's."""

    def __init__(self, expert: Any, learner: Any, beta: float):
        self.expert, self.learner, self.beta = expert, learner, beta

    def sample(self, obs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> np.ndarray:
        use_expert = rng.random(obs.shape[0]) < self.beta
        a_learner = self.learner.sample(obs, rng, greedy=greedy)
        a_expert = self.expert.sample(obs, rng, greedy=True)
        shape = (-1,) + (1,) * (np.ndim(a_learner) - 1)
        return np.where(use_expert.reshape(shape), a_expert, a_learner).astype(np.asarray(a_learner).dtype)


def dagger_round(expert: Teacher, learner: Any, env: gym.vector.VectorEnv, beta: float, rng: np.random.Generator,
                 seed: int) -> tuple[np.ndarray, np.ndarray, EpisodeBatch]:
    """One DAgger round: ``env.num_envs`` episodes (reset with ``seed``) of the beta-mixture of the
    expert (a :class:`Teacher`) and ``learner`` (a sampler); returns the visited states (N, D), the
    expert's labels for them ((N,) or (N, A), drawn with ``rng`` after the episodes when it samples)
    and the batch (for its returns)."""
    batch = collect_round(env, MixtureSampler(expert, learner, beta), rng, seed=seed)
    obs = batch.obs[batch.mask]
    return obs, expert.label(obs, rng), batch


def load_demos(cfg: ImitationConfig, expert: Expert, seed: int) -> dict[str, Any]:
    """The run's demonstrations in the report's dict format (plus episode lengths and returns when
    played here): a file, a shared dataset or the run's own episodes, then ``extra_episodes`` more
    expert episodes from the run seed's ``imitation.demos`` stream (after the run's own ones)."""
    d = cfg.demos
    own = seeds.seed("imitation.demos", seed)  # the run's own stream: episode j is reset with own + j
    if d.file:
        data = datasets.load_file(resolve(d.file))
    elif d.shared_seed is not None:
        data = datasets.shared_dataset(expert, cfg.env_id, d.episodes, seeds.seed("imitation.dataset", d.shared_seed),
                                       d.temperature, d.full_length_only, _attempts(d, d.episodes))
    else:
        data = datasets.demonstrations(expert, cfg.env_id, d.episodes, own, d.temperature, d.full_length_only,
                                       _attempts(d, d.episodes)).as_file()
        own += d.episodes  # the extra episodes follow the run's own ones
    if not d.extra_episodes:
        return data
    extra = datasets.demonstrations(expert, cfg.env_id, d.extra_episodes, own, d.temperature, d.full_length_only,
                                    _attempts(d, d.extra_episodes)).as_file()
    merged = {k: torch.cat([torch.as_tensor(data[k]), torch.as_tensor(extra[k])]) for k in ("observations", "actions")}
    if "episode_lengths" in data:  # played here: the episodes' records stay whole (a file's may not have them)
        merged.update({k: list(data[k]) + extra[k] for k in ("episode_lengths", "episode_returns")})
    return {**data, **merged}  # mean_reward and std_reward: the base data's record of the expert


def _attempts(d: DemoConfig, episodes: int) -> int | None:
    """The most episodes played to find ``episodes`` full-length ones (None: every episode is kept)."""
    return episodes * d.max_attempts_factor if d.full_length_only else None


def ablated(actor: BCPolicy, policy: BCPolicy, name: TestAlso) -> BCPolicy:
    """The policy a test-time ablation tests: ``policy`` (the trained weights, not their average
    ``actor``) for raw_weights; a copy of ``actor`` sampling with DDPM's reverse steps for ddpm."""
    if name == "raw_weights":
        return policy
    import copy

    view = copy.deepcopy(actor)
    view.cfg = dataclasses.replace(actor.cfg, sampler="ddpm")
    return view


def make_policy(cfg: ImitationConfig, obs: torch.Tensor) -> BCPolicy:
    """A fresh policy for ``cfg.env_id`` with the observation normaliser of ``obs`` (N, D)."""
    space = gym.make(resolve_env_id(cfg.env_id)).action_space
    if cfg.normalize_obs:
        mean, std = obs.mean(0), obs.std(0).clamp(min=1e-3)
    else:
        mean, std = torch.zeros(obs.shape[1]), torch.ones(obs.shape[1])
    if isinstance(space, gym.spaces.Discrete):
        return BCPolicy(obs.shape[1], cfg.head, mean, std, n_actions=int(space.n))
    return BCPolicy(obs.shape[1], cfg.head, mean, std, act_low=torch.as_tensor(space.low), act_high=torch.as_tensor(space.high))


def train(cfg: ImitationConfig, seed: int, out_dir: Path) -> Summary:
    """One behaviour-cloning or DAgger run: writes log.csv (:data:`LOG_COLUMNS`) and agent.pt into
    ``out_dir`` and returns the summary."""
    start, steps0 = time.perf_counter(), steps_taken()
    out_dir = Path(out_dir)
    expert = load(cfg.expert, cfg.expert_sha256 or None)
    data = load_demos(cfg, expert, seed)
    obs, act = data["observations"], data["actions"]
    demo_labels = int(obs.shape[0])
    train_seed = seeds.seed("imitation.train", seed)
    torch.manual_seed(train_seed)
    gen = torch.Generator().manual_seed(train_seed)
    rng = np.random.default_rng(train_seed)
    policy = make_policy(cfg, obs)
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    acting = Ema(policy, cfg.ema_decay) if cfg.ema_decay else None
    actor = acting.policy if acting else policy  # what is evaluated, tested, rolled out and saved
    eval_env = make_vec(cfg.env_id, min(cfg.eval_episodes, MAX_ENVS))
    eval_envs = eval_env.num_envs
    rows: list[dict[str, float]] = []
    dagger_returns: list[float] = []
    rollout_env = make_vec(cfg.env_id, cfg.dagger_episodes) if cfg.dagger_rounds else None
    loss_sum, loss_n, step, n_eval = 0.0, 0, 0, 0
    rollout_return = float(data["mean_reward"])
    phases = [cfg.steps] + [cfg.dagger_steps] * cfg.dagger_rounds
    beta = 1.0
    for rnd, phase_steps in enumerate(phases):
        if rnd > 0:
            assert rollout_env is not None
            beta = cfg.beta0 * cfg.beta_decay ** (rnd - 1)
            learner = TorchSampler(actor, seeds.seed("imitation.dagger", seed, rnd), greedy=cfg.test_greedy)
            new_obs, labels, batch = dagger_round(teacher(cfg, expert), learner, rollout_env, beta, rng,
                                                  seeds.seed("imitation.dagger", seed, rnd * cfg.dagger_episodes))
            obs = torch.cat([obs, torch.from_numpy(new_obs)])
            act = torch.cat([act, torch.from_numpy(labels)])
            rollout_return = float(batch.returns.mean())
            dagger_returns.append(rollout_return)
        for _ in range(phase_steps):
            lr = _lr(cfg, step)
            for g in opt.param_groups:
                g["lr"] = lr
            idx = torch.randint(0, obs.shape[0], (min(cfg.batch_size, obs.shape[0]),), generator=gen)
            loss = policy.loss(obs[idx], act[idx], gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if acting:
                acting.update()
            step += 1
            loss_sum += float(loss.detach())
            loss_n += 1
            end_of_phase = _ == phase_steps - 1
            if end_of_phase or (cfg.eval_every and step % cfg.eval_every == 0):
                r, _len = evaluate(TorchSampler(actor, seeds.seed("imitation.eval", seed, n_eval), cfg.test_greedy),
                                   eval_env, cfg.eval_episodes, seeds.seed("imitation.eval", seed, n_eval * eval_envs))
                n_eval += 1
                accuracy = float("nan")
                if policy.discrete:
                    with torch.no_grad():
                        accuracy = float((policy.logits(obs).argmax(-1) == act).float().mean())
                rows.append({"step": step, "round": rnd, "epoch": step * cfg.batch_size / obs.shape[0],
                             "loss": loss_sum / loss_n, "accuracy": accuracy, "lr": lr,
                             "expert_labels": int(obs.shape[0]), "beta": beta, "rollout_return": rollout_return,
                             "eval_mean": float(r.mean()), "eval_std": float(r.std()),
                             "wall_s": time.perf_counter() - start})
                loss_sum, loss_n = 0.0, 0
    eval_env.close()
    if rollout_env is not None:
        rollout_env.close()
    test_seed = seeds.seed("imitation.test", seed)
    protocols = (cfg.test_greedy, not cfg.test_greedy) if cfg.test_both else (cfg.test_greedy,)
    tests = {greedy: evaluate(TorchSampler(actor, test_seed, greedy), cfg.env_id, cfg.test_episodes, test_seed)[0]
             for greedy in protocols}
    test = tests[cfg.test_greedy]
    both = {f"test_{k}_{'greedy' if g else 'sampled'}": v for g, r in tests.items() if cfg.test_both
            for k, v in (("returns", r.tolist()), ("mean", float(r.mean())))}
    for name in cfg.test_also:
        r = evaluate(TorchSampler(ablated(actor, policy, name), test_seed, cfg.test_greedy), cfg.env_id, cfg.test_episodes,
                     test_seed)[0]
        both.update({f"test_returns_{name}": r.tolist(), f"test_mean_{name}": float(r.mean())})
    pd.DataFrame(rows, columns=LOG_COLUMNS).to_csv(out_dir / "log.csv", index=False)
    torch.save({"policy": actor.state_dict(), "config": to_dict(cfg), "seed": seed}, out_dir / "agent.pt")
    lengths = data.get("episode_lengths", [])
    return {
        "seed": seed,
        "test_returns": test.tolist(),
        "test_mean": float(test.mean()),
        "test_std": float(test.std()),
        "test_seed": test_seed,
        "test_protocol": "greedy" if cfg.test_greedy else "sampled",
        **both,
        "expert_labels": int(obs.shape[0]),
        "demo_labels": demo_labels,
        "demo_lengths": list(lengths),
        "demo_short_share": float(np.mean(np.asarray(lengths) < (gym.spec(resolve_env_id(cfg.env_id)).max_episode_steps or 0)))
        if lengths else 0.0,
        "expert_mean": float(data["mean_reward"]),
        "expert_std": float(data["std_reward"]),
        "dagger_returns": dagger_returns,
        "final_loss": rows[-1]["loss"],
        "final_accuracy": rows[-1]["accuracy"],
        "wall_time_s": time.perf_counter() - start,
        "env_steps_all": steps_taken() - steps0,  # demonstrations (unless cached), DAgger, evaluations, test
    }


def budget(cfg: ImitationConfig) -> Budget:
    """Upper bounds of one run: its gradient steps; its env steps, every episode at full length: the
    demonstrations (with the retries of ``full_length_only``), the DAgger rounds, the evaluations and
    the test."""
    ep = int(max_episode_steps(cfg.env_id) or 1000)
    d = cfg.demos
    demo_episodes = 0 if d.file else d.episodes * (d.max_attempts_factor if d.full_length_only else 1)
    evals = (cfg.total_steps // cfg.eval_every if cfg.eval_every else 0) + cfg.dagger_rounds + 1
    episodes = demo_episodes + cfg.dagger_rounds * cfg.dagger_episodes + evals * cfg.eval_episodes + cfg.test_episodes
    return Budget(episodes * ep, cfg.total_steps)


def load_policy(run_dir: Path, cfg: ImitationConfig, seed: int = 0) -> Actor:
    """The policy of a run (agent.pt), acting as its test does (a sampling head draws with generators
    seeded from ``seed``)."""
    state = torch.load(Path(run_dir) / "agent.pt", weights_only=True)["policy"]
    policy = make_policy(cfg, torch.zeros(2, int(state["obs_mean"].shape[0])))  # shapes only: the state replaces it
    policy.load_state_dict(state)
    policy.eval()
    sampler = TorchSampler(policy, seed, bool(cfg.test_greedy))
    rng = np.random.default_rng(seed)
    return lambda obs: sampler.sample(np.asarray(obs, dtype=np.float32), rng)
