"""Test a shipped HalfCheetah SAC actor without the project's code: gymnasium, torch and numpy only.

    .venv/bin/python scripts/check_expert_outside.py experts/halfcheetah_sac/policy.pt --seeds 900001 ... 

The actor is rebuilt here from its state dict (``fc1``, ``fc2``, ``fc_mean``, ``action_scale``,
``action_bias``: the common single-file SAC layout) and acts deterministically, ``tanh(mean) *
action_scale + action_bias``, in float32, one episode per seed, each on a fresh ``gym.make`` reset
with that seed. Nothing is imported from ``lib``, so a bug in the project's evaluation, its actor
or its seeding cannot lift this score. Prints every episode's return and the mean and standard
deviation as JSON.
"""

from __future__ import annotations

import argparse
import json

import gymnasium as gym
import numpy as np
import torch


def act(state: dict[str, torch.Tensor], obs: np.ndarray) -> np.ndarray:
    """One observation (obs_dim,) -> the deterministic action (act_dim,)."""
    x = torch.as_tensor(obs, dtype=torch.float32)
    h = torch.relu(state["fc1.weight"] @ x + state["fc1.bias"])
    h = torch.relu(state["fc2.weight"] @ h + state["fc2.bias"])
    mean = state["fc_mean.weight"] @ h + state["fc_mean.bias"]
    return (torch.tanh(mean) * state["action_scale"] + state["action_bias"]).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("policy", help="a state dict file (policy.pt)")
    ap.add_argument("--env", default="HalfCheetah-v4")
    ap.add_argument("--seeds", type=int, nargs="+", required=True, help="one episode per seed")
    args = ap.parse_args()
    state = torch.load(args.policy, weights_only=True)
    state = state.get("policy", state)
    env = gym.make(args.env)
    returns = []
    with torch.no_grad():
        for seed in args.seeds:
            obs, _ = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(act(state, obs))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    env.close()
    r = np.asarray(returns)
    print(json.dumps({"policy": args.policy, "env": args.env, "seeds": args.seeds, "returns": [round(x, 1) for x in returns],
                      "mean": round(float(r.mean()), 1), "std": round(float(r.std()), 1)}, indent=1))


if __name__ == "__main__":
    main()
