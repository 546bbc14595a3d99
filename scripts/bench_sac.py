"""SAC training speed on HalfCheetah: this repository's SAC against a plain single-file layout.

    ./workbook bench --sac            # about 3 minutes

Every variant runs the same training-phase loop (env step, act, store, one update on a batch of
256) for ``--steps`` steps after a warm-up, one torch thread, and reports env steps per second:

* ``plain``: the widespread single-file layout: two critic ``nn.Sequential``s and their targets,
  three Adam optimisers and three backward passes per update, the target update as a Python
  loop over parameters, acting with a torch forward of the actor per step;
* ``ours, float32``: :class:`lib.learners.sac.SACAgent` (twin critics as one batched module, one
  backward and one fused Adam step, ``_foreach_lerp_`` target update, numpy acting);
* ``ours, bfloat16``: the same with the hidden layers' matmuls in bfloat16 (what the expert used);
* ``ours, bfloat16, 2 threads``: the same with two torch threads (both cores of this machine).

Writes reports/benchmarks_sac.json and reports/figures/sac_speed.png; ``./workbook bench --sac`` then rewrites
reports/benchmarks_sac.md from both benchmarks' files (``scripts/sac_compare.py --page``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from lib.learners.sac import ReplayBuffer, SACAgent, SACConfig  # noqa: E402
from lib.policies import SACActor  # noqa: E402


#: Training-phase steps timed, and random steps before them (defaults; a result records its own).
STEPS, WARMUP = 3000, 5000


class PlainSAC:
    """The single-file layout, written out for comparison (same maths as :class:`SACAgent`)."""

    def __init__(self, obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray, cfg: SACConfig):
        def q() -> nn.Sequential:
            return nn.Sequential(nn.Linear(obs_dim + act_dim, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))

        self.cfg = cfg
        self.actor = SACActor(obs_dim, act_dim, 256, low, high)
        self.q1, self.q2, self.q1_t, self.q2_t = q(), q(), q(), q()
        self.q1_t.load_state_dict(self.q1.state_dict())
        self.q2_t.load_state_dict(self.q2.state_dict())
        self.q_opt = torch.optim.Adam(list(self.q1.parameters()) + list(self.q2.parameters()), lr=cfg.q_lr)
        self.pi_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.policy_lr)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.a_opt = torch.optim.Adam([self.log_alpha], lr=cfg.q_lr)
        self.target_entropy = -float(act_dim)

    def act(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            a, _ = self.actor.sample(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
        return a[0].numpy()

    def update(self, obs, act, rew, next_obs, not_done) -> None:
        alpha = self.log_alpha.exp().item()
        with torch.no_grad():
            na, nlogp = self.actor.sample(next_obs)
            x = torch.cat([next_obs, na], 1)
            qn = torch.min(self.q1_t(x), self.q2_t(x)).squeeze(-1) - alpha * nlogp
            y = rew + self.cfg.gamma * not_done * qn
        x = torch.cat([obs, act], 1)
        q_loss = nn.functional.mse_loss(self.q1(x).squeeze(-1), y) + nn.functional.mse_loss(self.q2(x).squeeze(-1), y)
        self.q_opt.zero_grad()
        q_loss.backward()
        self.q_opt.step()
        pi, logp = self.actor.sample(obs)
        x = torch.cat([obs, pi], 1)
        pi_loss = (alpha * logp - torch.min(self.q1(x), self.q2(x)).squeeze(-1)).mean()
        self.pi_opt.zero_grad()
        pi_loss.backward()
        self.pi_opt.step()
        with torch.no_grad():
            _, logp = self.actor.sample(obs)
        a_loss = (-self.log_alpha.exp() * (logp + self.target_entropy)).mean()
        self.a_opt.zero_grad()
        a_loss.backward()
        self.a_opt.step()
        with torch.no_grad():
            for net, tgt in ((self.q1, self.q1_t), (self.q2, self.q2_t)):
                for p, tp in zip(net.parameters(), tgt.parameters()):
                    tp.data.copy_(self.cfg.tau * p.data + (1 - self.cfg.tau) * tp.data)


def measure(kind: str, steps: int, warmup: int, seed: int = 0, cfg: SACConfig | None = None) -> dict[str, float]:
    """Env steps per second of ``steps`` training-phase steps (env step, act, store, one update) after
    ``warmup`` random ones, for the variant ``kind`` (see the module doc); ``cfg``: the SAC
    configuration of an ``ours`` variant, else the defaults with the dtype its name gives."""
    torch.set_num_threads(2 if kind.endswith("2 threads") else 1)
    torch.manual_seed(seed)
    cfg = cfg or SACConfig(compute_dtype="bfloat16" if "bfloat16" in kind else "float32")
    env = gym.make(cfg.env_id)
    low, high = env.action_space.low, env.action_space.high
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = (PlainSAC if kind == "plain" else SACAgent)(obs_dim, act_dim, low, high, cfg)
    act = agent.act if kind == "plain" else (lambda o: agent.numpy_actor(o, rng))
    buf = ReplayBuffer(obs_dim, act_dim, warmup + steps + 10)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(warmup):  # random actions fill the buffer, as before learning starts
        a = rng.uniform(low, high).astype(np.float32)
        nxt, r, term, trunc, _ = env.step(a)
        buf.add(obs, a, r, nxt, term)
        obs = nxt if not (term or trunc) else env.reset()[0]
    t0 = time.perf_counter()
    for i in range(steps):
        a = act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        buf.add(obs, a, r, nxt, term)
        obs = nxt if not (term or trunc) else env.reset()[0]
        if kind == "plain":
            agent.update(*buf.sample(rng, cfg.batch_size))
        else:
            agent.update(*buf.sample(rng, cfg.batch_size), global_step=warmup + i)
    wall = time.perf_counter() - t0
    return {"variant": kind, "steps": steps, "wall_s": wall, "steps_per_s": steps / wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--warmup", type=int, default=WARMUP)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for kind in ("plain", "ours, float32", "ours, bfloat16", "ours, bfloat16, 2 threads"):
        rows.append(measure(kind, args.steps, args.warmup))
        print(f"  {kind}: {rows[-1]['steps_per_s']:.0f} env steps/s", flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    result = {"machine": machine, "date": time.strftime("%Y-%m-%d"), "rows": rows, "steps": args.steps,
              "warmup": args.warmup,
              "note": "training phase only: env step + act + one SAC update (batch 256, 2x256 MLPs) per step"}
    (ROOT / "reports" / "benchmarks_sac.json").write_text(json.dumps(result, indent=1) + "\n")
    speed_figure(rows)  # ./workbook bench --sac then rewrites the page: scripts/sac_compare.py --page
    return 0


def speed_figure(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib.publish.plots import PALETTE

    fig, ax = plt.subplots(figsize=(5.5, 2.6))
    speed_bars(ax, [r["variant"] for r in rows], [r["steps_per_s"] for r in rows], PALETTE[:len(rows)],
               "env steps per second (training phase)", "SAC on HalfCheetah-v4", pad=1.3)
    fig.tight_layout()
    (ROOT / "reports" / "figures").mkdir(parents=True, exist_ok=True)
    fig.savefig(ROOT / "reports" / "figures" / "sac_speed.png", dpi=120)
    plt.close(fig)


def speed_bars(ax, labels: list[str], rates: list[float], colors: list, xlabel: str, title: str, pad: float) -> None:
    """Horizontal bars of env steps per second, the first at the top, each labelled with its rate and
    its speed-up over the first; the x axis reaches ``pad`` times the fastest (room for the labels)."""
    ax.barh(labels[::-1], rates[::-1], color=colors[::-1])
    for k, rate in enumerate(rates[::-1]):
        ax.text(rate, k, f" {rate:.0f} ({rate / rates[0]:.1f}x)", va="center", fontsize=8)
    ax.set(xlabel=xlabel, title=title)
    ax.set_xlim(0, max(rates) * pad)


def speed_section(result: dict) -> list[str]:
    """The speed table of ``reports/benchmarks_sac.json`` in Markdown."""
    rows = result["rows"]
    base = rows[0]["steps_per_s"]
    lines = ["## Speed of one training step", "",
             f"Measured by `./workbook bench --sac` on {result['date']} ({result['machine']}), one torch thread unless "
             f"stated, {result.get('steps', STEPS)} training-phase steps after {result.get('warmup', WARMUP)} random ones; each "
             "step is one env step, one action and one update on a batch of 256.", "",
             "| implementation | env steps/s | 1M steps would take | speed-up vs plain |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['steps_per_s']:.0f} | {1e6 / r['steps_per_s'] / 3600:.1f} h | "
                     f"{r['steps_per_s'] / base:.2f}x |")
    return lines + ["", "![SAC speed](figures/sac_speed.png)", ""]


if __name__ == "__main__":
    sys.exit(main())
