"""Give the runs of a store keyed by file (run keys up to commit a3540ec) their definition-level keys.

Run keys used to hash the path and code of every lib/ file a learner imports; they now hash the code of
the definitions it uses (:func:`lib.provenance.code_hash`), wherever they live. The same run has a new
key. This script finds, for every run in the store, the commit that trained it (``git_commit`` in its
flags.json), verifies that the run's old key is what that commit's code gives (so the files it holds are
what that code makes), and publishes a hard-linked copy under the key that the same commit's code has
now. A run trained from uncommitted code ("+dirty") is matched against the commits that followed
its stamp: its old key says which one held the code that trained it; a run no commit explains is left as
it is (the next report retrains it). The old directory stays, so a process still using it is not disturbed;
``--drop-old`` removes the re-keyed originals. Running it twice changes nothing.

    python scripts/rekey_store.py [--store DIR] [--drop-old]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.learners.contract import LEARNERS  # noqa: E402
from lib.paths import REPO_ROOT, store_root  # noqa: E402
from lib.provenance import CodeIndex, code_hash, legacy_code_hash  # noqa: E402
from lib.store.runs import RUN_FILES, RunStore, run_key  # noqa: E402


def old_key(flags: dict, code: str, config_type: str) -> str:
    """The key a run had under file-level keys (the payload of ``RunSpec.key`` at a3540ec)."""
    return run_key(flags["trainer"], config_type, flags["config"], flags["seed"], code, flags["versions"])


def tree(commit: str, cache: dict[str, Path], tmp: Path) -> Path | None:
    """lib/ as it was at ``commit``, unpacked under ``tmp``; None when git does not know the commit."""
    if commit not in cache:
        out = tmp / commit
        out.mkdir()
        archive = subprocess.run(["git", "archive", commit, "lib"], cwd=REPO_ROOT, capture_output=True)
        if archive.returncode != 0:
            cache[commit] = None  # type: ignore[assignment]
        else:
            subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
            cache[commit] = out
    return cache[commit]


def candidates(commit: str) -> list[str]:
    """The trees that may hold the code that trained a run stamped ``commit``: that commit, then (its
    work tree may have differed from it: "+dirty") up to :data:`AFTER` commits that followed it on the
    way to HEAD. The old key decides which, if any, it was."""
    base = commit.removesuffix("+dirty")
    if base not in _CANDIDATES:
        later = subprocess.run(["git", "rev-list", "--reverse", "--ancestry-path", f"{base}..HEAD"], cwd=REPO_ROOT,
                               capture_output=True, text=True)
        _CANDIDATES[base] = [base] + (later.stdout.split()[:AFTER] if later.returncode == 0 else [])
    return _CANDIDATES[base]


#: How many later commits a "+dirty" run's code is looked for in.
AFTER = 60
_CANDIDATES: dict[str, list[str]] = {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, default=None, help="the run store (default: runs/ or $RLWB_RUNS)")
    ap.add_argument("--drop-old", action="store_true", help="remove each re-keyed run's old directory")
    args = ap.parse_args()
    store = args.store or store_root()
    runs = RunStore(store)
    counts = {"re-keyed": 0, "already": 0, "unverified (keyed by definition already, or made by code no commit holds)": 0,
              "unknown commit": 0}
    hashes: dict[tuple[str, str], tuple[str, str, list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees: dict[str, Path] = {}
        for run in sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not all((run / f).exists() for f in RUN_FILES):
                continue
            flags = json.loads((run / "flags.json").read_text())
            commit = flags.get("git_commit", "unknown")
            if commit == "unknown":
                counts["unknown commit"] += 1
                continue
            if "rekeyed_from" in flags:
                counts["already"] += 1
                continue
            trainer = LEARNERS.get(flags["trainer"], flags["trainer"])
            found = None
            for candidate in candidates(commit):
                root = tree(candidate, trees, Path(tmp))
                if root is None:
                    continue
                if (candidate, trainer) not in hashes:
                    module = trainer.split(":")[0]
                    mod = CodeIndex(root).module(module)
                    types = [n for n in (mod.defs if mod else ()) if n.endswith("Config")]
                    hashes[(candidate, trainer)] = (legacy_code_hash(module, root), code_hash(trainer, root), types)
                legacy, new, types = hashes[(candidate, trainer)]
                match = [t for t in types if old_key(flags, legacy, t) == flags["key"]]
                if match:
                    found = (new, match[0])
                    break
            if found is None:
                counts["unverified (keyed by definition already, or made by code no commit holds)"] += 1
                continue
            key = run_key(flags["trainer"], found[1], flags["config"], flags["seed"], found[0], flags["versions"])
            target = store / (run.name.rsplit("_", 1)[0] + f"_{key}")
            if key == flags["key"] or target.exists():
                counts["already"] += 1
            else:
                with runs.lock(key):  # the store's own lock: its cleaner leaves a locked work directory alone
                    work = runs.tmp / key
                    shutil.rmtree(work, ignore_errors=True)
                    work.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copytree(run, work, copy_function=os.link)
                    (work / "flags.json").unlink()  # a new file, not the hard link to the old run's flags
                    (work / "flags.json").write_text(json.dumps({**flags, "key": key, "rekeyed_from": flags["key"]}, indent=1))
                    os.rename(work, target)
                counts["re-keyed"] += 1
            if args.drop_old and key != flags["key"]:
                shutil.rmtree(run)
    print(", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
