"""Ship a HalfCheetah SAC actor saved by a training run (``train_sac``) to experts/<name>/.

    .venv/bin/python scripts/ship_sac_expert.py RUN_DIR STEP [--profile default]
    .venv/bin/python scripts/ship_sac_expert.py --rescore [--profile default]

RUN_DIR holds actor_<STEP>.pt (or actor.pt for the end of training), log.csv and episodes.csv;
the section 03 parameters of ``--profile`` give the expert's name, seed and SAC config, which
must be the run's. The actor is tested on the recorded test seeds before it is written.
``--rescore`` tests the shipped actor again with today's evaluation (same seeds, same weights) and
records that score, keeping the earlier one in metadata.json under ``earlier_tests``.
"""

from __future__ import annotations

import argparse
import json

import torch

torch.set_num_threads(1)

from lib.params import load_params  # noqa: E402
from lib.sections.cheetah_expert import rescore, ship_snapshot  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("step", type=int, nargs="?")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--rescore", action="store_true", help="test the shipped actor again and record the score")
    args = ap.parse_args()
    cfg = load_params("03_expert", args.profile, {}).halfcheetah
    if args.rescore:
        meta = rescore(cfg.name)
        print(json.dumps({k: meta[k] for k in ("test_mean", "test_std", "test_forward")} | {"earlier": meta["earlier_tests"][-1]["test_mean"]}, indent=1))
        return
    if args.run_dir is None or args.step is None:
        ap.error("RUN_DIR and STEP are needed to ship (or --rescore)")
    meta = ship_snapshot(args.run_dir, args.step, cfg, f"training run {args.run_dir} (seed {cfg.seed}), actor at step {args.step}")
    print(json.dumps({k: meta[k] for k in ("env_steps", "test_mean", "test_std", "wall_time_s", "policy_sha256")}, indent=1))


if __name__ == "__main__":
    main()
