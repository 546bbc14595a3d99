"""SAC on HalfCheetah: CleanRL's algorithm against our fast configuration, return and speed together.

    ./workbook bench --sac-return                  # 3 configurations x 2 seeds x 300k steps: hours
    ./workbook bench --sac-return --steps 20000    # a quick look
    ./workbook bench --sac-return --configs CleanRL fast   # some configurations only (CleanRL's always)

Configurations (:mod:`lib.learners.sac`):

* ``CleanRL``: :data:`lib.learners.sac.CLEANRL`, CleanRL's ``sac_continuous_action.py``: the critics'
  step, then every second step two actor steps on the updated critics, each followed by a
  temperature step on a fresh sample; temperature autotuned from 1.0 with the loss on alpha;
  log-density with its 1e-6; float32;
* ``CleanRL, bfloat16``: the same, with the hidden layers' matmuls in bfloat16;
* ``fast``: our fused update (one backward pass and one Adam step for everything, every step),
  temperature from 0.2 with the loss on log alpha, the exact log-density, bfloat16.

Every configuration keeps the speed tricks that do not change the maths (twin critics batched,
fused Adam, acting in numpy, one lerp for the targets). Runs go through the run store
(``lib.learners.sac:train``): an interrupted call resumes from the runs' checkpoints, and a finished
run is never made twice. Two runs train at a time, one per core, one torch thread each.

Return: the mean of each seed's deterministic evaluations over the last :data:`LAST_STEPS` steps.
Rule, written before any result of the ``fast`` and ``CleanRL, bfloat16`` runs (``fast``'s seed 1
had started, nothing of it had been evaluated or looked at): a configuration
*keeps CleanRL's return* when every one of its seeds is at or above (1 - :data:`MARGIN`) x
CleanRL's mean over seeds, *costs return* when every seed is below it, and is *undecided*
otherwise (its seeds fall on both sides: more seeds would decide it).

Speed: the training runs share the machine with whatever else runs (and resume across sessions),
so their wall time is not a fair comparison. After training, every configuration's training step
is timed one after the other in this process (:func:`bench_sac.measure`, one torch thread,
:data:`SPEED_STEPS` steps after the random ones), as ``./workbook bench --sac`` does.

Writes reports/benchmarks_sac_return.json, reports/figures/sac_return.png and the return section
of reports/benchmarks_sac.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_sac import measure, speed_bars, speed_section  # noqa: E402
from lib.learners.sac import CLEANRL, SACConfig  # noqa: E402
from lib.stats import mean_ci  # noqa: E402
from lib.store.runs import RunResult, RunSpec  # noqa: E402

#: name -> the SACConfig fields that differ from its defaults (HalfCheetah-v4, 256-wide nets).
CONFIGS: dict[str, dict] = {
    "CleanRL": dict(CLEANRL),
    "CleanRL, bfloat16": {**CLEANRL, "compute_dtype": "bfloat16"},
    "fast": {"compute_dtype": "bfloat16"},
}
#: The configuration every other is compared with (the first row).
REFERENCE = "CleanRL"
#: The run seeds (fresh: the shipped expert is seed 0).
SEEDS = (1, 2)
#: What each configuration changes from CleanRL's algorithm (its speed tricks), for the verdicts.
TRICKS: dict[str, str] = {
    "CleanRL": "none (the reference)",
    "CleanRL, bfloat16": "bfloat16 matmuls",
    "fast": "bfloat16 matmuls, the fused update every step, temperature from 0.2 on log alpha, exact log-density",
}
#: Where returns are compared: the mean of the deterministic evaluations over the last this many steps.
LAST_STEPS = 50_000
#: A configuration keeps CleanRL's return when every seed is within this fraction below CleanRL's mean.
MARGIN = 0.10
#: Training-phase steps timed per configuration for the speed column.
SPEED_STEPS = 3000


def specs(steps: int, seeds: tuple[int, ...], base: SACConfig | None = None,
          configs: tuple[str, ...] | None = None) -> list[RunSpec]:
    """One run per configuration (``configs``, all of :data:`CONFIGS` unless given) and seed, to
    ``steps`` env steps (``base``: the defaults the configurations change, :class:`SACConfig`'s own
    unless given)."""
    base = base or SACConfig()
    out = []
    for name, fields in CONFIGS.items():
        if configs is not None and name not in configs:
            continue
        cfg = dataclasses.replace(base, total_steps=steps, checkpoint_every=min(base.checkpoint_every, steps), **fields)
        for seed in seeds:
            out.append(RunSpec(section="sac_compare", variant=name, exp_name="sac_" + name.replace(", ", "_").lower(),
                               seed=seed, config=cfg, trainer="lib.learners.sac:train"))
    return out


def summarise(results: list[RunResult], steps: int, last_steps: int) -> list[dict]:
    """Per configuration: every seed's final evaluation, mean of its evaluations over the last
    ``last_steps`` and test, the mean over seeds with a 95% bootstrap interval, and env steps per second."""
    rows = []
    for name in (n for n in CONFIGS if any(r.spec.variant == n for r in results)):
        rs = [r for r in results if r.spec.variant == name]
        logs = [r.log() for r in rs]
        late = [float(lg[lg.step > steps - last_steps].eval_mean.mean()) for lg in logs]
        m, lo, hi = mean_ci(np.asarray(late))
        rows.append({"configuration": name, "fields": CONFIGS[name], "seeds": [r.spec.seed for r in rs],
                     "late_eval": late, "late_eval_mean": float(m), "late_eval_ci": [float(lo), float(hi)],
                     "final_eval": [float(lg.eval_mean.iloc[-1]) for lg in logs],
                     "test_mean": [float(r.summary["test_mean"]) for r in rs],
                     "run_steps_per_s": float(np.mean([r.summary["steps_per_s"] for r in rs])),
                     "curves": [{"step": lg.step.tolist(), "eval_mean": lg.eval_mean.tolist()} for lg in logs]})
    return rows


def verdict(late: list[float], reference_mean: float, margin: float = MARGIN) -> str:
    """``keeps return`` when every seed's return in ``late`` is at or above ``(1 - margin) x
    reference_mean``, ``costs return`` when every one is below it, else ``undecided``."""
    bar = (1 - margin) * reference_mean
    if all(x >= bar for x in late):
        return "keeps return"
    if all(x < bar for x in late):
        return "costs return"
    return "undecided"


def conclusions(rows: list[dict], margin: float = MARGIN) -> list[str]:
    """Per configuration after the first (the reference): its tricks, verdict and speed-up; then the
    speed-up that remains (the fastest configuration that keeps the return)."""
    ref = rows[0]
    lines, kept, open_ = [], [(1.0, ref["configuration"])], []
    for r in rows[1:]:
        v = verdict(r["late_eval"], ref["late_eval_mean"], margin)
        if v == "undecided":
            open_.append(r["configuration"])
        up = r["steps_per_s"] / ref["steps_per_s"]
        lines.append(f"- **{r['configuration']}** ({TRICKS.get(r['configuration'], '?')}): {v} "
                     f"(seeds {', '.join(f'{x:,.0f}' for x in r['late_eval'])} against the bar "
                     f"{(1 - margin) * ref['late_eval_mean']:,.0f}); {up:.2f}x CleanRL's speed.")
        if v == "keeps return":
            kept.append((up, r["configuration"]))
    best = max(kept)
    lines.append(f"- Speed-up that remains here with the return kept: **{best[0]:.2f}x** ({best[1]})"
                 + (f"; undecided, so neither kept nor dropped: {', '.join(open_)} (more seeds would decide)." if open_ else "."))
    return lines


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lib.publish.plots import PALETTE

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    for i, r in enumerate(rows):
        for j, c in enumerate(r["curves"]):
            ax.plot(c["step"], c["eval_mean"], color=PALETTE[i], lw=1.4, alpha=0.9,
                    label=f"{r['configuration']} ({len(r['seeds'])} seeds)" if j == 0 else None)
    ax.set(xlabel="env steps", ylabel="deterministic eval return", title="HalfCheetah-v4: each seed's evaluations")
    ax.legend(fontsize="small")

    speed_bars(bx, [r["configuration"] for r in rows], [r["steps_per_s"] for r in rows], PALETTE[:len(rows)],
               "env steps per second (training step, timed alone)", "speed", pad=1.4)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def return_section(result: dict) -> list[str]:
    """The comparison of ``reports/benchmarks_sac_return.json`` in Markdown."""
    rows = result["rows"]
    base = rows[0]["steps_per_s"]
    lines = ["## CleanRL's algorithm against the fast configuration", "",
             f"Measured by `./workbook bench --sac-return` on {result['date']} ({result['machine']}): every configuration "
             f"trained on seeds {', '.join(map(str, result['seeds']))} for {result['steps']:,} env steps, two runs at a "
             f"time (one per core, one torch thread each). Return: the mean of the deterministic evaluations "
             f"({result['eval_episodes']} episodes every {result['eval_every']:,} steps) over the last "
             f"{result['last_steps']:,} steps, per seed and as the mean over seeds with a 95% bootstrap interval (with "
             f"{len(result['seeds'])} seeds, an interval this wide decides little). Speed: env steps per second of "
             f"the training step (env step, action, one update), each configuration timed alone after the runs, "
             f"{result['speed_steps']:,} steps, one torch thread (the runs' own wall time is not comparable: they "
             "shared the machine with other work).", "",
             "| configuration | return, last steps (per seed) | mean [95% CI] | test (10 episodes, per seed) | env steps/s | speed-up vs CleanRL |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["late_eval_ci"]
        lines.append(f"| {r['configuration']} | {', '.join(f'{x:,.0f}' for x in r['late_eval'])} | {r['late_eval_mean']:,.0f} "
                     f"[{lo:,.0f}, {hi:,.0f}] | {', '.join(f'{x:,.0f}' for x in r['test_mean'])} | "
                     f"{r['steps_per_s']:.0f} | {r['steps_per_s'] / base:.2f}x |")
    lines += ["", f"Which speed tricks survive (rule, set before their runs' results: a configuration keeps CleanRL's return when "
              f"every seed is at or above {1 - result['margin']:.0%} of CleanRL's mean, costs return when every seed is "
              "below, else undecided):", ""]
    lines += conclusions(rows, result["margin"])
    lines += ["", "Configurations (the fields that differ from `SACConfig`'s defaults):", ""]
    lines += [f"- **{r['configuration']}**: `{json.dumps(r['fields'])}`" for r in rows]
    return lines + ["", "![SAC return and speed](figures/sac_return.png)", ""]


def write_markdown() -> str:
    """reports/benchmarks_sac.md from what was measured: the return comparison (benchmarks_sac_return.json,
    ``./workbook bench --sac-return``) and the speed bench (benchmarks_sac.json, ``./workbook bench --sac``)."""
    lines = ["# SAC on HalfCheetah-v4", ""]
    speed, ret = ROOT / "reports" / "benchmarks_sac.json", ROOT / "reports" / "benchmarks_sac_return.json"
    if ret.exists():
        lines += return_section(json.loads(ret.read_text()))
    if speed.exists():
        lines += speed_section(json.loads(speed.read_text()))
    text = "\n".join(lines) + "\n"
    (ROOT / "reports" / "benchmarks_sac.md").write_text(text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300_000, help="env steps per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), metavar="NAME",
                    help=f"configurations to train and compare, CleanRL's (the reference) among them; of {list(CONFIGS)}")
    ap.add_argument("--page", action="store_true", help="only rewrite reports/benchmarks_sac.md from the measured files")
    args = ap.parse_args()
    if args.page:
        print(write_markdown())
        return 0
    cfg = SACConfig()
    least = cfg.learning_starts + 2 * cfg.eval_every
    if args.steps < least:
        ap.error(f"--steps must be at least {least:,} (random steps, then two evaluations), got {args.steps:,}")
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        ap.error(f"--seeds must be distinct integers >= 0, got {args.seeds}")
    unknown = sorted(set(args.configs) - set(CONFIGS))
    if unknown or REFERENCE not in args.configs:
        ap.error(f"--configs must name {REFERENCE!r} (the reference) and only configurations of {list(CONFIGS)}, "
                 f"got {args.configs}")
    result = compare(args.steps, tuple(args.seeds), args.workers, cfg, configs=tuple(args.configs))
    (ROOT / "reports" / "benchmarks_sac_return.json").write_text(json.dumps(result, indent=1) + "\n")
    figure(result["rows"], ROOT / "reports" / "figures" / "sac_return.png")
    print(write_markdown())
    return 0


def compare(steps: int, seeds: tuple[int, ...], workers: int, base: SACConfig, executor: str = "process",
            speed_steps: int = SPEED_STEPS, configs: tuple[str, ...] | None = None) -> dict:
    """Train (or find in the run store) every configuration on every seed, time each configuration's
    training step alone (``speed_steps`` steps after ``base.learning_starts`` random ones) and
    summarise them."""
    from lib.store.grid import run_grid

    last = min(LAST_STEPS, steps // 2)
    results = run_grid(specs(steps, seeds, base, configs), workers=workers, executor=executor)
    rows = summarise(results, steps, last)
    for r in rows:
        cfg = dataclasses.replace(base, **r["fields"])
        r["steps_per_s"] = measure(r["configuration"], speed_steps, base.learning_starts, cfg=cfg)["steps_per_s"]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    return {"machine": machine, "date": time.strftime("%Y-%m-%d"), "steps": steps, "seeds": list(seeds),
            "last_steps": last, "eval_every": base.eval_every, "eval_episodes": base.eval_episodes,
            "margin": MARGIN, "speed_steps": speed_steps, "rows": rows}


if __name__ == "__main__":
    sys.exit(main())
