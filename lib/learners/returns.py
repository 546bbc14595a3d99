"""Return estimators and baselines on padded, time-major episode batches.

Arrays are ``(T, K)``: ``T`` time steps (padded to the longest episode), ``K`` episodes;
``mask`` (T, K) is True on real steps and rewards are 0 on padded steps.
"""

from __future__ import annotations

import numpy as np


def _with_tail(x: np.ndarray, lengths: np.ndarray | None, tail: np.ndarray | None) -> np.ndarray:
    """(T, K) -> (T + 1, K): ``x`` zeroed past each episode's end, with ``tail[k]`` at row ``lengths[k]``."""
    t_max, k = x.shape
    out = np.zeros((t_max + 1, k), dtype=np.float64)
    out[:t_max] = x
    if lengths is not None:
        out[np.arange(t_max + 1)[:, None] >= lengths[None, :]] = 0.0
        if tail is not None:
            out[lengths, np.arange(k)] = tail
    return out


def reward_to_go(
    rewards: np.ndarray,
    gamma: float,
    tail: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """G_t = sum_{t'>=t} gamma^(t'-t) r_t' for every step: (T, K) -> (T, K) float64.

    Padded steps carry reward 0, so they get G = 0 and add nothing to the steps before them.
    ``tail`` (K,) with ``lengths`` (K,) adds gamma^(T_k - t) * tail[k]: the bootstrap value
    V(s_{T_k}) of an episode cut by the time limit (0 for one that terminated).
    """
    r = _with_tail(rewards, lengths, tail)
    out = np.zeros(r.shape, dtype=np.float64)
    running = np.zeros(r.shape[1:], dtype=np.float64)
    for t in range(r.shape[0] - 1, -1, -1):
        running = r[t] + gamma * running
        out[t] = running
    out = out[:-1]
    if lengths is not None:
        out[np.arange(out.shape[0])[:, None] >= lengths[None, :]] = 0.0
    return out


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    tail: np.ndarray,
    lengths: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Generalised advantage estimates (T, K) by the recursion A_t = delta_t + gamma lam A_{t+1}.

    ``values`` (T, K) holds V(s_t) on real steps; ``tail`` (K,) is V(s_{T_k}) after each
    episode's last step: 0 if it terminated, the bootstrap value if the time limit cut it.
    delta_t = r_t + gamma V(s_{t+1}) - V(s_t); A = 0 on padded steps. lam = 0 gives delta_t;
    lam = 1 gives the (bootstrapped) reward-to-go minus V(s_t).
    """
    v = _with_tail(values, lengths, tail)
    r = _with_tail(rewards, lengths, None)[:-1]
    valid = np.arange(rewards.shape[0])[:, None] < lengths[None, :]
    delta = np.where(valid, r + gamma * v[1:] - v[:-1], 0.0)
    adv = np.zeros_like(delta)
    running = np.zeros(delta.shape[1], dtype=np.float64)
    for t in range(delta.shape[0] - 1, -1, -1):
        running = delta[t] + gamma * lam * running
        adv[t] = running
    return np.where(valid, adv, 0.0)


def trajectory_return(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """The discounted return of the whole episode, sum_t gamma^t r_t, at every step: (T, K) -> (T, K).

    This is the assignment's "Case 1" (eq. 25): every action of episode i is weighted by R(tau_i).
    """
    discounts = gamma ** np.arange(rewards.shape[0], dtype=np.float64)
    total = (discounts[:, None] * rewards).sum(0)
    return np.broadcast_to(total, rewards.shape).copy()


def rloo_baseline(q: np.ndarray) -> np.ndarray:
    """Leave-one-out baseline: b[t, i] = mean over j != i of q[t, j]. (T, K) -> (T, K), K >= 2.

    With reward-to-go (zero past an episode's end) this is the mean return-to-go the *other*
    episodes of the batch collected from step t on; it does not depend on episode i, so the
    gradient stays unbiased.
    """
    k = q.shape[1]
    if k < 2:
        raise ValueError("the leave-one-out baseline needs at least 2 episodes per batch")
    return (q.sum(1, keepdims=True) - q) / (k - 1)


class RunningMeanBaseline:
    """Exponential moving average of the mean return-to-go of past batches (bias-corrected).

    :meth:`value` is read *before* :meth:`update` with the current batch, so the baseline a
    batch sees is built from earlier batches only; it is 0 for the first batch.
    """

    def __init__(self, decay: float):
        self.decay = decay
        self._avg = 0.0
        self._n = 0

    def value(self) -> float:
        if self._n == 0:
            return 0.0
        return self._avg / (1.0 - self.decay**self._n)

    def update(self, batch_mean: float) -> None:
        self._avg = self.decay * self._avg + (1.0 - self.decay) * batch_mean
        self._n += 1


def normalize(adv: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(A - mean) / (std + eps) over the given (already masked, flat) advantages."""
    return (adv - adv.mean()) / (adv.std() + eps)
