"""Planted bugs in lib/, and whether the unit tests notice each one (mutation testing by hand).

    .venv/bin/python scripts/mutants.py                 # every mutant, two at a time (about 15 minutes)
    .venv/bin/python scripts/mutants.py --only pg_loss_sign gae_lambda_is_gamma
    .venv/bin/python scripts/mutants.py --list

Each mutant is one realistic wrong implementation: a few lines of one lib/ file replaced (each
original text must occur exactly once, so a mutant that no longer applies is an error, not a pass).
First the unchanged tree must pass (else a red test proves nothing). For every mutant the working
tree is copied to a temporary directory, the mutation applied there, and
``pytest -x`` run over tests/ only (no notebooks: a smoke regression can be re-blessed), the
learner-level test files first, without :data:`PROVENANCE_ONLY` (it notices any edit of a learner,
not a wrong result). A mutant is *killed* when a test turns red, *survives* when the
whole suite passes. Every mutant should be killed; a survivor is a hole in the tests.

Writes a table to stdout, and with ``--out`` a Markdown file.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Tests that turn red for *any* edit of a learner's code, whatever it computes (the committed reports name the
#: code hash of the learners they were made with): left out, or every learner mutant would count as caught.
PROVENANCE_ONLY = ("tests/test_publish.py::test_committed_results_name_the_code_of_the_learners_they_used",
                   "tests/test_publish.py::test_committed_reports_are_made_from_todays_inputs")

#: Test files run first (the fast, learner-level ones); the rest of tests/ follows in name order.
FIRST = ("test_pg_update.py", "test_returns.py", "test_gae.py", "test_verdicts.py", "test_evaluation.py",
         "test_learning.py", "test_imitation.py", "test_heads.py", "test_seeds.py", "test_sac_maths.py", "test_pg.py",
         "test_stats.py", "test_runs.py")


@dataclass(frozen=True)
class Mutant:
    """``edits``: (file, original text, replacement) triples, applied in order."""

    id: str
    edits: tuple[tuple[str, str, str], ...]
    what: str


def m(id: str, what: str, *edits: tuple[str, str, str]) -> Mutant:
    return Mutant(id, tuple(edits), what)


PG, RET, EV, VER, IMI, HEADS = ("lib/learners/pg.py", "lib/learners/returns.py", "lib/evaluation.py", "lib/verdicts.py",
                                "lib/learners/imitation.py", "lib/learners/heads.py")

MUTANTS: tuple[Mutant, ...] = (
    # ---- the policy-gradient learner
    m("pg_loss_sign", "policy-gradient loss with its sign flipped",
      (PG, "pg_loss = -(logp * adv_t).mean()", "pg_loss = (logp * adv_t).mean()")),
    m("entropy_bonus_sign", "entropy bonus with its sign flipped",
      (PG, "loss = pg_loss - alpha * ent", "loss = pg_loss + alpha * ent")),
    m("rloo_adv_is_baseline", "RLOO's advantage replaced by the baseline itself",
      (PG, "adv = (q - rloo_baseline(q))[mask]", "adv = rloo_baseline(q)[mask]")),
    m("value_adv_q_plus_v", "value-baseline advantage q + V instead of q - V",
      (PG, "adv = (q - v)[mask]", "adv = (q + v)[mask]")),
    m("gae_lambda_is_gamma", "GAE's lambda replaced by gamma",
      (PG, "cfg.gamma, cfg.gae_lambda)[mask]", "cfg.gamma, cfg.gamma)[mask]")),
    m("value_target_undiscounted", "the value net trained towards undiscounted returns",
      (PG, "baseline_loss = self._fit_value(obs, torch.from_numpy(q[mask].astype(np.float32)))",
       "baseline_loss = self._fit_value(obs, torch.from_numpy(reward_to_go(batch.rewards, 1.0, tail, batch.lengths)[mask].astype(np.float32)))")),
    m("running_mean_sees_its_batch", "the running-mean baseline updated with the batch before it is subtracted",
      (PG, "adv = q_flat - self.running_mean.value()\n                self.running_mean.update(float(q_flat.mean()))",
       "self.running_mean.update(float(q_flat.mean()))\n                adv = q_flat - self.running_mean.value()")),
    m("bootstrap_after_termination", "V(s_T) bootstrapped after a termination too",
      (PG, "keep = ~batch.terminated if", "keep = np.ones_like(batch.terminated) if")),
    m("value_fitted_before_advantage", "the value net fitted before the advantages are computed",
      (PG, "            v, tail = self.values(batch)\n            q = self.returns(batch, tail)\n",
       "            v, tail = self.values(batch)\n            q = self.returns(batch, tail)\n"
       "            self._fit_value(obs, torch.from_numpy(q[mask].astype(np.float32)))\n            v, tail = self.values(batch)\n")),
    m("value_one_step", "one value step instead of value_steps (-bgs)",
      (PG, "for _ in range(self.cfg.value_steps):", "for _ in range(1):")),
    m("entropy_schedule_off_by_one", "the linear entropy schedule over n iterations instead of n - 1",
      (PG, "frac = iteration / max(n - 1, 1)", "frac = iteration / max(n, 1)")),
    m("window_from_the_start", "the checkpoint window taken from the first episodes instead of the last",
      (PG, "mean = float(np.mean(self.returns[-self.window :]))", "mean = float(np.mean(self.returns[: self.window]))")),
    m("rounds_share_seeds", "every training round reset with the same seeds",
      (PG, "[seeds.seed(\"pg.round\", run_seed), iteration]).spawn(3)", "[seeds.seed(\"pg.round\", run_seed), 0]).spawn(3)")),
    m("test_on_eval_stream", "test episodes drawn from the evaluation's stream",
      (PG, "test_seed = seeds.seed(\"pg.test\", seed)", "test_seed = seeds.seed(\"pg.eval\", seed)")),
    m("pg_evaluations_repeat", "every evaluation during training replaying the first one's episodes",
      (PG, "eval_seeds = [seeds.seed(\"pg.eval\", s, n_eval * e_k) for s in run_seeds]",
       "eval_seeds = [seeds.seed(\"pg.eval\", s, 0) for s in run_seeds]")),
    m("tests_final_policy", "the final policy tested instead of the kept checkpoint",
      (PG, "    learner.policy.load_state_dict(best_state)\n", "")),
    m("truncation_as_termination", "an episode cut by the time limit recorded as terminated",
      ("lib/data/rollout.py", "ends[(b, int(ep_id[i]))] = (bool(term[i]),", "ends[(b, int(ep_id[i]))] = (bool(term[i] or trunc[i]),")),
    # ---- returns and estimators
    m("normalise_ddof1", "advantages normalised with the sample std (n - 1)",
      (RET, "return (adv - adv.mean()) / (adv.std() + eps)", "return (adv - adv.mean()) / (adv.std(ddof=1) + eps)")),
    m("trajectory_undiscounted", "the trajectory return undiscounted",
      (RET, "discounts = gamma ** np.arange(rewards.shape[0], dtype=np.float64)",
       "discounts = np.ones(rewards.shape[0], dtype=np.float64)")),
    m("gae_recursion_gamma_squared", "GAE's recursion with gamma^2 for gamma lambda",
      (RET, "running = delta[t] + gamma * lam * running", "running = delta[t] + gamma * gamma * running")),
    m("rloo_includes_self", "the leave-one-out baseline averaging every episode, its own included",
      (RET, "return (q.sum(1, keepdims=True) - q) / (k - 1)", "return q.sum(1, keepdims=True) / k")),
    # ---- the evaluation
    m("eval_replays_round_one", "the evaluation replaying its first round of episodes in every round",
      (EV, "        obs, _ = env.reset()\n    return", "        obs, _ = env.reset(seed=seed)\n    return")),
    m("eval_count_at_least", "the evaluation returning every episode of its last round (at least n)",
      (EV, "return [(np.concatenate(r)[:n_episodes], np.concatenate(n)[:n_episodes])",
       "return [(np.concatenate(r), np.concatenate(n))")),
    m("eval_stacked_copy_order", "evaluate_stacked's reset seeds in the wrong copy order",
      (EV, "reset = [s + i for s in seeds for i in range(k)]", "reset = [s + i for i in range(k) for s in seeds]")),
    m("eval_ignores_greedy", "the evaluation sampling when asked for the greedy action",
      (EV, "policy.sample(o, rng, greedy=greedy)", "policy.sample(o, rng, greedy=False)")),
    m("returns_averaged", "an episode's return averaged over its steps instead of summed",
      ("lib/data/rollout.py", "return self.rewards.sum(0)", "return self.rewards.sum(0) / np.maximum(self.lengths, 1)")),
    # ---- the verdict engine
    m("holm_no_stop", "Holm's step-down that does not stop at the first non-rejection",
      (VER, "        if verdict == \"undecided\" and not stopped_at:\n            stopped_at = r.id",
       "        if False:\n            stopped_at = r.id")),
    m("holm_no_division", "every claim decided at alpha (no Holm correction)",
      (VER, "level_alpha = alpha / (m - rank)", "level_alpha = alpha")),
    m("equivalence_upper_only", "an equivalence claim checked on its upper margin only",
      (VER, "verdict = \"holds\" if (-r.margin < lo and hi < r.margin) else (",
       "verdict = \"holds\" if (hi < r.margin) else (")),
    m("equivalence_outside_one_side", "'does not hold' for equivalence only above the upper margin",
      (VER, "\"does not hold\" if (lo > r.margin or hi < -r.margin) else \"undecided\")",
       "\"does not hold\" if (lo > r.margin) else \"undecided\")")),
    m("lower_is_better_ignored", "lower-is-better claims decided as higher-is-better",
      (VER, "sign = 1.0 if (r.higher_is_better or r.kind == \"equivalent\") else -1.0  # not_better",
       "sign = 1.0  # not_better")),
    m("not_better_ignores_lower", "'not better' deciding a lower-is-better claim as higher-is-better (fixed here)",
      (VER, "r.higher_is_better or r.kind == \"equivalent\") else -1.0  # not_better",
       "r.higher_is_better or r.kind in MARGIN_KINDS) else -1.0  # not_better")),
    m("best_needs_one_win", "'best' holding when it beats any one rival",
      (VER, "\"holds\" if len(wins) == len(per) else \"undecided\"", "\"holds\" if wins else \"undecided\"")),
    m("not_better_flipped", "'not better' holding when the advantage is above the margin",
      (VER, "verdict = \"holds\" if hi < r.margin else (\"does not hold\" if lo > r.margin else \"undecided\")",
       "verdict = \"holds\" if lo > r.margin else (\"does not hold\" if hi < r.margin else \"undecided\")")),
    # ---- the imitation learner and its heads
    m("dagger_learner_labels", "DAgger labelling visited states with the learner's own actions",
      (IMI, "return obs, expert.label(obs, rng), batch", "return obs, learner.sample(obs, rng, greedy=True), batch")),
    m("dagger_beta_inverted", "the DAgger mixture taking the expert's action with probability 1 - beta",
      (IMI, "use_expert = rng.random(obs.shape[0]) < self.beta", "use_expert = rng.random(obs.shape[0]) >= self.beta")),
    m("dagger_no_aggregation", "DAgger training on the last round's data only, not the aggregate",
      (IMI, "obs = torch.cat([obs, torch.from_numpy(new_obs)])", "obs = torch.from_numpy(new_obs)"),
      (IMI, "act = torch.cat([act, torch.from_numpy(labels)])", "act = torch.from_numpy(labels)")),
    m("dagger_beta_schedule", "beta_r = beta0 x decay^r instead of decay^(r - 1)",
      (IMI, "beta = cfg.beta0 * cfg.beta_decay ** (rnd - 1)", "beta = cfg.beta0 * cfg.beta_decay ** rnd")),
    m("dagger_rounds_repeat", "every DAgger round resetting its episodes with the first round's seeds",
      (IMI, "seeds.seed(\"imitation.dagger\", seed, rnd * cfg.dagger_episodes))",
       "seeds.seed(\"imitation.dagger\", seed, cfg.dagger_episodes))")),
    m("imitation_evaluations_repeat", "every evaluation of the imitation learner on the same episodes",
      (IMI, "seeds.seed(\"imitation.eval\", seed, n_eval * eval_envs))", "seeds.seed(\"imitation.eval\", seed, 0))")),
    m("cosine_lr_rises", "the cosine learning rate rising instead of decaying",
      (IMI, "0.5 * cfg.lr * (1 + math.cos(", "0.5 * cfg.lr * (1 - math.cos(")),
    m("ema_lerp_wrong_way", "the weight average moving by d instead of 1 - d",
      (IMI, "torch._foreach_lerp_(self._avg, self._src, 1.0 - d)", "torch._foreach_lerp_(self._avg, self._src, d)")),
    m("gaussian_nll_no_logstd", "the Gaussian NLL without its log-std term",
      (HEADS, "nll = 0.5 * ((a - mean) * torch.exp(-log_std)).pow(2) + log_std + 0.5 * LOG_2PI",
       "nll = 0.5 * ((a - mean) * torch.exp(-log_std)).pow(2) + 0.5 * LOG_2PI")),
    m("mog_weights_ignored", "the mixture's log-likelihood without its mixing weights",
      (HEADS, "return torch.logsumexp(torch.log_softmax(logits, -1) + comp, -1)", "return torch.logsumexp(comp, -1)")),
    m("diffusion_predicts_action", "the diffusion head trained to predict the action instead of the noise",
      (HEADS, "return (self.eps(s, x_t, t) - noise).pow(2).mean()", "return (self.eps(s, x_t, t) - a).pow(2).mean()")),
    m("actions_not_rescaled", "continuous actions acted in [-1, 1] instead of the env's box",
      (HEADS, "return a.clamp(-1.0, 1.0) * self.act_scale + self.act_bias", "return a.clamp(-1.0, 1.0)")),
    m("demos_ignore_temperature", "demonstrations played greedily whatever the temperature",
      ("lib/data/datasets.py", "actor = expert.actor(temperature)", "actor = expert.actor(None)")),
    m("shared_cache_ignores_seed", "a shared dataset's cache file that does not name its seed",
      ("lib/data/datasets.py", "_{episodes}ep_{how}_seed{seed}.pt\"", "_{episodes}ep_{how}.pt\"")),
    m("obs_normaliser_inverted", "observations normalised by multiplying by the std",
      (HEADS, "return (obs - self.obs_mean) / self.obs_std", "return (obs - self.obs_mean) * self.obs_std")),
    m("mog_greedy_first_component", "the mixture acting greedily with its first component, not its heaviest",
      (HEADS, "a = means[rows, logits.argmax(-1)]", "a = means[rows, 0]")),
    m("gaussian_sample_std_is_logstd", "the Gaussian head sampling with log std as its std",
      (HEADS, "a = mean if greedy else mean + log_std.exp() * torch.randn(", "a = mean if greedy else mean + log_std * torch.randn(")),
    # ---- SAC (the fused update; CleanRL's sequential one has the same lines again)
    m("sac_target_max", "the soft Bellman target taking the max of the twin target critics",
      ("lib/learners/sac.py", "            q_next = self.q_target(torch.cat([next_obs, next_act], 1)).min(0).values - alpha * next_logp\n"
       "            target = rew + self.cfg.gamma * not_done * q_next\n        q_params",
       "            q_next = self.q_target(torch.cat([next_obs, next_act], 1)).max(0).values - alpha * next_logp\n"
       "            target = rew + self.cfg.gamma * not_done * q_next\n        q_params")),
    m("sac_bootstrap_terminal", "the soft Bellman target bootstrapping past a terminal state",
      ("lib/learners/sac.py", "            target = rew + self.cfg.gamma * not_done * q_next\n        q_params",
       "            target = rew + self.cfg.gamma * q_next\n        q_params")),
    m("sac_actor_entropy_sign", "the actor loss with the entropy term's sign flipped",
      ("lib/learners/sac.py", "        actor_loss = (alpha * logp - q_pi).mean()", "        actor_loss = (-alpha * logp - q_pi).mean()")),
    m("sac_truncation_terminal", "a time-limit cut stored in the replay as terminal",
      ("lib/learners/sac.py", "self.not_done[i] = 0.0 if terminated else 1.0", "self.not_done[i] = 0.0")),
    # ---- seeds and the run store
    m("seed_streams_overlap", "run seeds of a stream not strided apart",
      ("lib/seeds.py", "return BLOCK * STREAMS[stream].block + STRIDE * run_seed + index",
       "return BLOCK * STREAMS[stream].block + run_seed + index")),
    m("key_ignores_seed", "a run's key that does not cover its seed",
      ("lib/store/runs.py", "\"config\": config, \"seed\": seed, \"code\": code,", "\"config\": config, \"code\": code,")),
    m("half_written_run_found", "a run directory missing files taken as finished",
      ("lib/store/runs.py", "if path.is_dir() and all((path / f).exists() for f in RUN_FILES):",
       "if path.is_dir():")),
    # ---- the imitation changes of issue 27
    m("teacher_always_greedy", "DAgger labelled with the expert's argmax in a tempered setting (not the demonstrations' expert)",
      (IMI, "return Teacher(expert, cfg.demos.temperature if cfg.dagger_labels == \"demos\" else None)",
       "return Teacher(expert, None)")),
    m("shared_std_per_state", "a Gaussian or mixture head with std 'param' predicting a log std per state",
      (HEADS, "self.shared_std = cfg.head in (\"gaussian\", \"mog\") and cfg.std == \"param\"", "self.shared_std = False")),
    # ---- what the page prints (issue 27)
    m("printed_flipped", "an effect and interval printed flipped against their rule (positive = as claimed)",
      (VER, "    sign = 1.0 if (r.higher_is_better or r.kind == \"equivalent\") else -1.0\n    shift",
       "    sign = 1.0\n    shift")),
    m("binomial_sqrt_guess", "a share of seeds' seeds-to-decide guessed by 1/sqrt(n), not counted exactly",
      (VER, "to_decide = binomial_seeds_to_decide(c.successes, c.trials, c.threshold, conf)",
       "to_decide = seeds_to_decide(n, (lo, hi), distance)")),
    m("tie_undecided", "a tie at the cap in every seed left undecided",
      (VER, "losses = [o for o in per if intervals[o][1] < 0 or o in ties]", "losses = [o for o in per if intervals[o][1] < 0]")),
)


def test_files() -> list[str]:
    """tests/'s test files, :data:`FIRST` first."""
    names = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    return [f"tests/{n}" for n in (*[f for f in FIRST if f in names], *[n for n in names if n not in FIRST])]


def copy_tree(dest: Path) -> None:
    """The working tree (tracked and untracked, not ignored) into ``dest``."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    if (ROOT / ".venv").exists():  # the driver (./workbook) runs from it
        (dest / ".venv").symlink_to(ROOT / ".venv")


def mutated(mutant: Mutant, tree: Path) -> dict[str, str]:
    """The files ``mutant`` changes in ``tree``, as it leaves them (relative path -> text); each
    original text must occur exactly once, and the result must compile."""
    out: dict[str, str] = {}
    for rel, old, new in mutant.edits:
        text = out.get(rel, (tree / rel).read_text())
        if text.count(old) != 1:
            raise ValueError(f"mutant {mutant.id}: the text to replace occurs {text.count(old)} times in {rel}")
        out[rel] = text.replace(old, new)
        compile(out[rel], rel, "exec")
    return out


def run_one(mutant: Mutant, timeout: int) -> dict[str, str]:
    """Apply ``mutant`` in a fresh copy of the tree, run the tests, say who turned red."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.id}-", ignore_cleanup_errors=True) as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        for rel, text in mutated(mutant, tree).items():
            (tree / rel).write_text(text)
        env = {**os.environ, "PYTHONPATH": str(tree), "RLWB_RUNS": str(tree / "runs"), "MPLBACKEND": "Agg",
               "PYTHONHASHSEED": "0", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rf",
               *[f"--deselect={t}" for t in PROVENANCE_ONLY], *test_files()]
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            out, rc = proc.communicate(timeout=timeout)[0], proc.returncode
        except subprocess.TimeoutExpired:
            out, rc = "", -1
        finally:  # whatever the tests started (workers, Ray) goes with them
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    failed = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", out, re.M)
    status = {0: "survived", 1: "killed", -1: "timeout"}.get(rc, f"error (pytest exit {rc})")
    return {"id": mutant.id, "what": mutant.what, "status": status, "by": failed[0] if failed else "",
            "seconds": f"{time.perf_counter() - start:.0f}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="ID", help="these mutants only")
    ap.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per mutant (default 1200)")
    ap.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--no-baseline", action="store_true", help="skip checking that the unchanged tree passes first")
    args = ap.parse_args(argv)
    ids = [x.id for x in MUTANTS]
    if len(set(ids)) != len(ids):
        raise SystemExit("mutant ids must be unique")
    if args.list:
        for x in MUTANTS:
            print(f"{x.id:32s} {x.what}")
        return 0
    unknown = sorted(set(args.only or ()) - set(ids))
    if unknown:
        print(f"mutants.py: --only: unknown mutant(s) {unknown}; see --list", file=sys.stderr)
        return 2
    chosen = [x for x in MUTANTS if not args.only or x.id in args.only]
    for x in chosen:  # every mutant applies before any test runs
        mutated(x, ROOT)
    if not args.no_baseline:
        base = run_one(Mutant("none", (), "no change"), args.timeout)
        print(f"baseline (no change): {base['status']} {base['by']} ({base['seconds']} s)", flush=True)
        if base["status"] != "survived":
            print("mutants.py: the unchanged tree does not pass its tests here; fix that first", file=sys.stderr)
            return 2
    rows = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(lambda x: run_one(x, args.timeout), chosen):
            rows.append(row)
            print(f"{row['status']:10s} {row['id']:32s} {row['by']}  ({row['seconds']} s)", flush=True)
    killed = sum(r["status"] == "killed" for r in rows)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = " (with uncommitted changes)" if subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                                                            text=True).stdout.strip() else ""
    lines = ["# Planted bugs against the unit tests", "",
             f"Written by `scripts/mutants.py` on {time.strftime('%Y-%m-%d')} at commit {commit}{dirty}: each mutant is one "
             "wrong implementation planted in lib/, tested with `pytest -x tests/` (no notebooks; the provenance test "
             f"{', '.join(f'`{t}`' for t in PROVENANCE_ONLY)} left out). "
             + ("The unchanged tree was not checked first." if args.no_baseline else "The unchanged tree passed first."), "",
             "| mutant | planted bug | outcome | first red test |", "|---|---|---|---|"]
    lines += [f"| `{r['id']}` | {r['what']} | {r['status']} | `{r['by']}` |" for r in rows]
    lines.append(f"\n{killed} of {len(rows)} mutants killed by tests/ alone.")
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
