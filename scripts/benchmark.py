"""Performance figures for the README: learner throughput against a plain loop, report wall time.

    ./workbook bench                 # learner figures (about a minute)
    ./workbook bench --report        # also the default report, cold and fully cached (minutes)

Writes reports/benchmarks.md and reports/benchmarks.json. Every figure is measured here, on
this machine, with one torch thread per process (as the workers run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.learners.nets import CategoricalPolicy  # noqa: E402
from lib.params import load_params  # noqa: E402
from lib.learners.pg import train  # noqa: E402


def plain_loop(seconds: float, seed: int = 0) -> dict[str, float]:
    """The reference: one env, one torch forward per step, one REINFORCE update per episode."""
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    policy = CategoricalPolicy(4, 2, (64, 64))
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    steps = episodes = 0
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    while time.perf_counter() - start < seconds:
        logps, rewards = [], []
        done = False
        while not done:
            logits = policy.logits(torch.as_tensor(obs, dtype=torch.float32))
            dist = torch.distributions.Categorical(logits=logits)
            a = dist.sample()
            logps.append(dist.log_prob(a))
            obs, r, term, trunc, _ = env.step(int(a))
            rewards.append(r)
            done = term or trunc
            steps += 1
        g, returns = 0.0, []
        for r in reversed(rewards):
            g = r + 0.99 * g
            returns.append(g)
        returns.reverse()
        loss = -(torch.stack(logps) * torch.tensor(returns)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        episodes += 1
        obs, _ = env.reset()
    wall = time.perf_counter() - start
    return {"env_steps": steps, "episodes": episodes, "wall_s": wall, "steps_per_s": steps / wall}


def learner_runs(seeds: int) -> list[dict[str, float]]:
    """One default-profile 2000-episode run per variant and seed, one thread."""
    from lib.sections.reinforce_baselines import BASELINE

    cfg = load_params("01_reinforce_baselines", "default")
    out = []
    for variant in cfg.variants:
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as d:
                s = train(replace(cfg.train, baseline=BASELINE[variant]), seed, Path(d))
            out.append({
                "variant": variant, "seed": seed, "episodes": s["episodes"], "env_steps": s["env_steps"],
                "wall_s": s["wall_time_s"], "steps_per_s": s["env_steps"] / s["wall_time_s"],
            })
            print(f"  {variant} seed {seed}: {s['env_steps']} steps in {s['wall_time_s']:.1f} s", flush=True)
    return out


def report_times() -> dict[str, float]:
    """Wall time of the default report (every section, no PDF) in an empty run store, then again."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as store:
        env["RLWB_RUNS"] = store
        times = {}
        for label in ("cold", "cached"):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "lib.workbook", "reports", "--no-pdf", "--quiet"], cwd=ROOT, env=env, check=True)
            times[label] = time.perf_counter() - t0
            print(f"  report {label}: {times[label]:.1f} s", flush=True)
    return times


def report_history() -> list[str]:
    """The latest full default report with training and the latest with every run cached, from
    reports/timings.jsonl (which `./workbook reports` appends to)."""
    from lib.sections import SECTIONS

    path = ROOT / "reports" / "timings.jsonl"
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    full = [e for e in entries if set(e["sections"]) == set(SECTIONS)]
    skipped = [e for e in full if all(v.get("skipped") for v in e["sections"].values())]
    trained = [e for e in full if e["runs_trained"] > 0]
    cached = [e for e in full if e["runs_trained"] == 0 and e not in skipped]
    out = ["", "## Whole default report (every section), from reports/timings.jsonl", ""]
    for label, group in (("with training", trained),
                         ("every run already in the store, notebooks re-executed and exported", cached),
                         ("nothing changed (every section up to date, only the index rebuilt)", skipped)):
        if group:
            e = group[-1]
            per = ", ".join(f"{k[:2]} {v['seconds']:.0f} s" for k, v in e["sections"].items())
            out.append(f"- {label} ({e['date']}, {e['runs_trained']} runs trained, PDF {'on' if e['pdf'] else 'off'}): "
                       f"**{e['seconds']:.0f} s** ({per})")
    return out if len(out) > 3 else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain-seconds", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, default=1, help="learner runs per variant")
    ap.add_argument("--report", action="store_true", help="also time the whole default report, cold and cached")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("plain loop ...", flush=True)
    plain = plain_loop(args.plain_seconds)
    print(f"  {plain['steps_per_s']:.0f} env steps/s", flush=True)
    print("learner (default profile, 2000 episodes) ...", flush=True)
    runs = learner_runs(args.seeds)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d"),
        "plain_loop": plain,
        "learner": runs,
    }
    if args.report:
        result["report_s"] = report_times()
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `./workbook bench{' --report' if args.report else ''}` on {result['date']} ({result['machine']}), one torch thread per process.",
        "",
        "## Learner throughput (section 01, default profile: 2000 episodes per run)",
        "",
        f"Plain loop (one env, one torch forward per step, one update per episode): **{plain['steps_per_s']:.0f} env steps/s** "
        f"({plain['env_steps']} steps in {plain['wall_s']:.1f} s).",
        "",
        "| variant | seed | env steps | wall time (s) | env steps/s | speed-up vs plain loop |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['variant']} | {r['seed']} | {r['env_steps']} | {r['wall_s']:.1f} | {r['steps_per_s']:.0f} | "
            f"{r['steps_per_s'] / plain['steps_per_s']:.0f}x |"
        )
    if args.report:
        rt = result["report_s"]
        lines += [
            "",
            "## Whole default report, measured now (every section, HTML, no PDF)",
            "",
            f"- empty run store: {rt['cold']:.0f} s",
            f"- every run already in the store: {rt['cached']:.0f} s (papermill start-up, plotting and export)",
        ]
    lines += report_history()
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "benchmarks.md").write_text("\n".join(lines) + "\n")
    (ROOT / "reports" / "benchmarks.json").write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
