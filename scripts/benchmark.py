"""Performance figures: learner throughput against a plain loop, and each section against its env-step floor.

    ./workbook bench                 # throughput (about a minute) + the floor table from the run store
    ./workbook bench --report        # also time the whole default report now, cold, in an empty store (an hour)

The *floor* of a section is the wall time gymnasium alone needs, on 2 processes stepping random
actions, for every environment step the section's default grid makes (training, evaluations, tests,
demonstrations: each run's ``env_steps_all``, read from the run store). Beside it stands the
section's cold wall time (every run trained) from reports/timings.jsonl, which `./workbook reports`
appends to. Writes reports/benchmarks.md and reports/benchmarks.json; every figure is measured on
this machine, one torch thread per process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
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
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.data.envs import resolve_env_id  # noqa: E402
from lib.policies import CategoricalPolicy  # noqa: E402
from lib.learners.pg import train_batch  # noqa: E402
from lib.params import load_params  # noqa: E402

#: Copies of CartPole's numpy-vectorised env in the floor measurement (one step call advances all;
#: the learners step 8 copies per seed, 10 seeds per batch).
CARTPOLE_COPIES = 80


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


def learner_batches(batch_sizes: list[int]) -> list[dict[str, float]]:
    """Section 01's default vanilla run (2000 episodes), trained as batches of ``n`` seeds in one process."""
    cfg = load_params("01_reinforce_baselines", "default")
    train_cfg = replace(cfg.train, baseline="none")
    out = []
    for n in batch_sizes:
        dirs = [tempfile.mkdtemp(prefix="rlwb-bench-") for _ in range(n)]
        t0 = time.perf_counter()
        summaries = train_batch(train_cfg, list(range(n)), [Path(d) for d in dirs])
        wall = time.perf_counter() - t0
        train_steps = sum(s["env_steps"] for s in summaries)
        all_steps = sum(s["env_steps_all"] for s in summaries)
        out.append({"seeds": n, "train_steps": train_steps, "all_steps": all_steps, "wall_s": wall,
                    "train_steps_per_s": train_steps / wall, "all_steps_per_s": all_steps / wall})
        print(f"  {n} seeds: {train_steps} training steps ({all_steps} with tests) in {wall:.1f} s", flush=True)
    return out


# ---------------------------------------------------------------- the floor


def _step_random(env_id: str, seconds: float, seed: int, queue: "mp.Queue[int]") -> None:
    """One process: random actions on ``env_id`` for ``seconds``; puts the env steps taken."""
    gid = resolve_env_id(env_id)
    rng = np.random.default_rng(seed)
    if gid.startswith("CartPole"):
        env = gym.make_vec(gid, num_envs=CARTPOLE_COPIES, vectorization_mode="vector_entry_point")
        env.reset(seed=seed)
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            env.step(rng.integers(0, 2, CARTPOLE_COPIES))
            steps += CARTPOLE_COPIES
    else:
        env = gym.make(gid)
        env.reset(seed=seed)
        space = env.action_space
        # actions drawn ahead in one call: the floor is the env's cost, not the sampler's
        if isinstance(space, gym.spaces.Discrete):
            actions = list(rng.integers(0, space.n, 4096))
        else:
            actions = list(rng.uniform(space.low, space.high, (4096, *space.shape)).astype(space.dtype))
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            _, _, term, trunc, _ = env.step(actions[steps % 4096])
            steps += 1
            if term or trunc:
                env.reset()
    queue.put(steps / (time.perf_counter() - t0))


def gym_rate(env_id: str, seconds: float = 4.0, processes: int = 2) -> float:
    """Env steps/s of gymnasium alone, ``processes`` processes stepping random actions at once."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_step_random, args=(env_id, seconds, i, queue)) for i in range(processes)]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return float(sum(rates))


def stored_runs(section: str) -> tuple[list, int]:
    """The default grid's runs of ``section`` found in the run store (never trains); and how many are missing."""
    from lib.provenance import code_hash
    from lib.sections import get_section
    from lib.store.runs import RunStore

    mod = get_section(section)
    cfg = load_params(section, "default")
    store = RunStore()
    found, missing = [], 0
    specs = mod.specs(cfg)
    while specs:
        batch = []
        for spec in specs:
            key = spec.key(code_hash(spec.trainer))
            path = store.find(key)
            if path is None:
                missing += 1
            else:
                batch.append(store.load(spec, path, True))
        found += batch
        following = getattr(mod, "next_specs", None)
        specs = following(cfg, found) if following is not None and not missing else []
    return found, missing


def run_steps(summary: dict) -> int:
    """Every env step of a run: ``env_steps_all`` where the learner counts it, else training steps plus test steps."""
    if "env_steps_all" in summary:
        return int(summary["env_steps_all"])
    return int(summary.get("env_steps", summary.get("steps", 0))) + int(sum(summary.get("test_lengths", [])))


def cold_times() -> tuple[dict[str, dict], dict | None]:
    """Per section, the latest default-profile entry of reports/timings.jsonl that trained every run of
    the section (its cold time); and the latest entry of the whole report in which every section was cold."""
    path = ROOT / "reports" / "timings.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    entries = [e for e in entries if e.get("profile") == "default" and not e.get("overrides")]
    per: dict[str, dict] = {}
    whole = None
    for e in entries:
        cold = {k: v for k, v in e["sections"].items() if v.get("cold")}
        for k, v in cold.items():
            per[k] = {**v, "date": e["date"]}
        if e.get("empty_store") and not e.get("interrupted") and len(e["sections"]) >= 9 \
                and not any(v.get("skipped") for v in e["sections"].values()):
            whole = e
    return per, whole


def floor_table(seconds: float) -> list[dict]:
    from lib.sections import SECTIONS

    cold, _ = cold_times()
    rates: dict[str, float] = {}
    rows = []
    for section in SECTIONS:
        runs, missing = stored_runs(section)
        if not runs:
            rows.append({"section": section, "runs": 0, "missing": missing})
            continue
        by_env: dict[str, int] = {}
        for r in runs:
            by_env[r.spec.env_id] = by_env.get(r.spec.env_id, 0) + run_steps(r.summary)
        floor = 0.0
        for env_id, steps in by_env.items():
            if env_id not in rates:
                rates[env_id] = gym_rate(env_id, seconds)
                print(f"  {env_id}: {rates[env_id]:,.0f} env steps/s on 2 processes", flush=True)
            floor += steps / rates[env_id]
        entry = cold.get(section, {})
        # a section's time is its cold time only if that call trained every one of its runs
        wall = entry.get("seconds") if entry.get("runs_trained", 0) >= len({r.path for r in runs}) else None
        rows.append({"section": section, "runs": len(runs), "missing": missing, "env_steps": by_env, "floor_s": floor,
                     "rates": {e: rates[e] for e in by_env}, "cold_s": wall, "cold_date": entry.get("date"),
                     "trained_in_that_call": entry.get("runs_trained"), "ratio": wall / floor if wall else None})
    return rows


def keep_measured(floors: list[dict]) -> list[dict]:
    """``floors``, with each section whose runs this store lacks (it would show no figures) given the row
    that reports/benchmarks.json measured earlier, with that row's date: a run on a fresh clone or on
    another store writes only what it measured and never blanks what was measured before."""
    path = ROOT / "reports" / "benchmarks.json"
    before = json.loads(path.read_text()) if path.exists() else {}
    earlier = {f["section"]: {**f, "measured": f.get("measured", before.get("date"))} for f in before.get("floors", [])}
    today = time.strftime("%Y-%m-%d")
    out = []
    for f in floors:
        kept = earlier.get(f["section"])
        if not f["runs"] and f["missing"] and kept and kept.get("runs"):
            out.append(kept)
        else:
            out.append({**f, "measured": today})
    return out


def report_now() -> float:
    """Wall time of the whole default report (every section, PDF on) in an empty run store."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as store:
        env["RLWB_RUNS"] = store
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lib.workbook", "reports", "--quiet", "--force"], cwd=ROOT, env=env, check=True)
        return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain-seconds", type=float, default=20.0)
    ap.add_argument("--batches", default="1,10", help="seeds per batch to time, comma-separated")
    ap.add_argument("--floor-seconds", type=float, default=4.0, help="seconds each env is stepped for its rate")
    ap.add_argument("--report", action="store_true", help="also time the whole default report now, cold")
    args = ap.parse_args()
    torch.set_num_threads(1)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    print("plain loop ...", flush=True)
    plain = plain_loop(args.plain_seconds)
    print(f"  {plain['steps_per_s']:.0f} env steps/s", flush=True)
    print("learner, seeds batched in one process ...", flush=True)
    batches = learner_batches([int(x) for x in args.batches.split(",")])
    print("env-step floor per section ...", flush=True)
    floors = keep_measured(floor_table(args.floor_seconds))
    result = {"machine": machine, "date": time.strftime("%Y-%m-%d"), "plain_loop": plain, "batches": batches, "floors": floors}
    if args.report:
        result["report_now_s"] = report_now()
    _, whole = cold_times()
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `./workbook bench{' --report' if args.report else ''}` on {result['date']} ({machine}), one torch thread per process.",
        "",
        "## Learner throughput: section 01's vanilla run (default profile, 2000 episodes), seeds batched in one process",
        "",
        f"Plain loop (one env, one torch forward per step, one update per episode): **{plain['steps_per_s']:,.0f} env steps/s** "
        f"({plain['env_steps']:,} steps in {plain['wall_s']:.1f} s).",
        "",
        "| seeds in the batch | training env steps | wall time (s) | training env steps/s | with test episodes, env steps/s | speed-up vs plain loop |",
        "|---|---|---|---|---|---|",
    ]
    for b in batches:
        lines.append(f"| {b['seeds']} | {b['train_steps']:,} | {b['wall_s']:.1f} | {b['train_steps_per_s']:,.0f} | "
                     f"{b['all_steps_per_s']:,.0f} | {b['train_steps_per_s'] / plain['steps_per_s']:.0f}x |")
    lines += [
        "",
        "The wall time is the whole `train_batch` call in one process: networks, every update, the 100 test",
        "episodes of each seed. Each seed's files are the same as when it trains alone (`tests/test_pg.py`).",
        "",
        "## Each section against its env-step floor (default profile, cold)",
        "",
        "floor: the seconds gymnasium alone needs, on 2 processes stepping random actions, for every env step the",
        f"section's runs took (training, evaluations, tests, demonstrations); CartPole steps {CARTPOLE_COPIES} copies per call of its",
        "numpy-vectorised env, the other envs one `gym.make` env per process. cold: the section's wall time with",
        "every run trained, from reports/timings.jsonl (notebook, figures and PDF export included).",
        "",
        "| section | runs | env steps | floor (s) | cold wall time (s) | cold / floor |",
        "|---|---|---|---|---|---|",
    ]
    for f in floors:
        if not f["runs"]:
            what = (f"(none of its {f['missing']} runs in this store, none measured before)" if f["missing"]
                    else "(no runs: reads what is shipped)")
            lines.append(f"| {f['section']} | 0 | {what} | | | |")
            continue
        steps = ", ".join(f"{e} {n:,}" for e, n in f["env_steps"].items())
        miss = f" ({f['missing']} missing)" if f["missing"] else ""
        if f.get("measured") != result["date"]:
            miss += f" (measured {f['measured']}: not in this store now)"
        cold_s = (f"{f['cold_s']:.0f}" if f["cold_s"] else
                  f"not measured cold ({f['trained_in_that_call']} of {f['runs']} runs trained in that call)"
                  if f.get("trained_in_that_call") is not None else "not measured")
        ratio = f"{f['ratio']:.1f}x" if f["ratio"] else ""
        lines.append(f"| {f['section']} | {f['runs']}{miss} | {steps} | {f['floor_s']:.0f} | {cold_s} | {ratio} |")
    lines += ["", "Gymnasium's rates on 2 processes: " + "; ".join(
        f"{e} {r:,.0f} steps/s" for e, r in {e: r for f in floors for e, r in f.get("rates", {}).items()}.items()) + "."]
    lines += ["", "## The whole default report, cold", ""]
    if whole is not None:
        per = ", ".join(f"{k[:2]} {v['seconds']:.0f} s ({v['runs_trained']} runs trained)" for k, v in whole["sections"].items())
        partly = [f["section"][:2] for f in floors if f["runs"] and f["section"] in whole["sections"] and not f["cold_s"]]
        lines.append(f"- {whole['date']}, started from an empty run store, {whole['runs_trained']} runs trained, PDF "
                     f"{'on' if whole['pdf'] else 'off'}, {whole.get('cpus', '?')} cores: **{whole['seconds']:.0f} s = "
                     f"{whole['seconds'] / 60:.0f} min** ({per})")
        if partly:
            lines.append(f"- the total is cold (every run trained in that call); the time of section(s) {', '.join(partly)} "
                         "above is short of its own cold time: some of its runs were trained by an earlier section of that "
                         "call (or by another process)")
    else:
        lines.append("- not measured yet: `./workbook reports --force` with an empty `RLWB_RUNS` records it")
    if args.report:
        lines.append(f"- measured now by `--report`: {result['report_now_s']:.0f} s")
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "benchmarks.md").write_text("\n".join(lines) + "\n")
    (ROOT / "reports" / "benchmarks.json").write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
