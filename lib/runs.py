"""The run store, the run grid and pluggable executors.

A *run* is one variant x one seed. Its directory in the store (``runs/`` at the repository
root, or ``$RLWB_RUNS``) is named ``<env>_<exp_name>_sd<seed>_<key>`` and holds flags.json,
log.csv, episodes.csv, agent.pt and summary.json. ``key`` is the first 16 hex digits of a
sha256 over the trainer, the resolved config, the seed, the source of every training module
in lib/ and the versions of the packages that shape the numbers. Anything that could change a
result changes the key; a cosmetic change (plots, notebooks, prose) does not.

Writes are atomic: a run trains inside ``<store>/.tmp/<key>-<pid>/`` and is renamed into
place only once every file is written, so a killed report leaves no half-run that could be
read, and a rerun finds every finished run and skips it.

Executors map a picklable function over run specs and yield results as they finish;
:class:`ProcessExecutor` uses worker processes with one torch thread each. A distributed
executor (Ray, say) only needs the same ``map`` method.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from .config import to_dict

REPO_ROOT = Path(__file__).resolve().parent.parent
LIB_DIR = Path(__file__).resolve().parent

#: Packages whose versions are part of a run's key.
KEY_PACKAGES = ("torch", "numpy", "gymnasium", "mujoco")
#: Files every finished run directory holds (policy-gradient runs add episodes.csv).
RUN_FILES = ("flags.json", "log.csv", "agent.pt", "summary.json")


def store_root() -> Path:
    """The run store: ``$RLWB_RUNS`` if set, else ``runs/`` at the repository root."""
    return Path(os.environ.get("RLWB_RUNS", REPO_ROOT / "runs"))


def _lib_imports(path: Path) -> set[Path]:
    """The lib/ source files that the module at ``path`` imports directly (absolute or relative)."""
    import ast

    tree = ast.parse(path.read_text(), filename=str(path))
    pkg_parts = list(path.relative_to(LIB_DIR.parent).with_suffix("").parts[:-1])  # e.g. ["lib", "sections"]
    found: set[Path] = set()

    def add(dotted: list[str]) -> None:
        if not dotted or dotted[0] != "lib":
            return
        base = LIB_DIR.parent.joinpath(*dotted)
        for cand in (base.with_suffix(".py"), base / "__init__.py"):
            if cand.exists():
                found.add(cand)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = pkg_parts[: len(pkg_parts) - node.level + 1]
                mod = anchor + (node.module.split(".") if node.module else [])
            else:
                mod = (node.module or "").split(".")
            add(mod)
            for alias in node.names:  # "from . import x" / "from .pkg import mod"
                add(mod + [alias.name])
    return found


#: lib/ modules a trainer imports that cannot change what it computes, left out of run keys (with
#: why), so that work on validation or on the store does not retrain every run.
KEY_EXEMPT: dict[str, str] = {
    "lib/config.py": "validation and conversion of parameters; the validated values themselves are in the key",
    "lib/runs.py": "the run store: where a run is written and looked up, not what it computes",
}


def code_files(module: str) -> list[Path]:
    """``module`` ("lib.pg") and every lib/ module it imports, transitively, sorted; the modules in
    :data:`KEY_EXEMPT` (and what only they import) are left out."""
    start = LIB_DIR.parent.joinpath(*module.split(".")).with_suffix(".py")
    exempt = {LIB_DIR.parent / name for name in KEY_EXEMPT}
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen or path in exempt:
            continue
        seen.add(path)
        todo.extend(_lib_imports(path) - seen)
    return sorted(seen)


def code_hash(module: str = "lib.pg") -> str:
    """sha256 over the source of ``module`` and every lib/ module it imports (transitively).

    A run's key includes the hash of its trainer's module, so editing the learner retrains its
    runs while editing plots, sections or another learner does not.
    """
    h = hashlib.sha256()
    for path in code_files(module):
        h.update(str(path.relative_to(LIB_DIR.parent)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def git_commit() -> str:
    """HEAD of the repository, with '+dirty' when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass(frozen=True)
class RunSpec:
    """One run to make: ``trainer`` ("module:function", called as fn(config, seed, out_dir))."""

    section: str
    variant: str
    exp_name: str
    seed: int
    config: Any
    trainer: str = "lib.pg:train"

    @property
    def env_id(self) -> str:
        return str(getattr(self.config, "env_id", "env"))

    def key(self, code: str | None = None) -> str:
        """Content hash of what determines the run's results (see module doc)."""
        payload = {
            "trainer": self.trainer,
            "config_type": type(self.config).__qualname__,
            "config": to_dict(self.config),
            "seed": self.seed,
            "code": code if code is not None else code_hash(self.trainer.split(":")[0]),
            "versions": {k: v for k, v in package_versions().items()},
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def dirname(self, key: str) -> str:
        return f"{self.env_id}_{self.exp_name}_sd{self.seed}_{key}"


@dataclass
class RunResult:
    """A finished run: where it is, its summary, and whether this call trained it."""

    spec: RunSpec
    path: Path
    summary: dict[str, Any]
    cached: bool

    def log(self) -> pd.DataFrame:
        """log.csv: one row per iteration."""
        return pd.read_csv(self.path / "log.csv")

    def episodes(self) -> pd.DataFrame:
        """episodes.csv: one row per training episode (episode, iteration, return, length)."""
        return pd.read_csv(self.path / "episodes.csv")


class RunStore:
    """Finished runs by key, with atomic publication (see module doc)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else store_root()
        self.tmp = self.root / ".tmp"

    def find(self, key: str) -> Path | None:
        """The finished run with this key, or None. A directory missing any run file is not finished."""
        if not self.root.exists():
            return None
        for path in self.root.glob(f"*_{key}"):
            if path.is_dir() and all((path / f).exists() for f in RUN_FILES):
                return path
        return None

    def clean_stale(self) -> int:
        """Remove temporary directories of runs whose process is gone. Returns how many."""
        removed = 0
        if not self.tmp.exists():
            return 0
        for path in self.tmp.iterdir():
            try:
                pid = int(path.name.rsplit("-", 1)[1])
            except (IndexError, ValueError):
                pid = -1
            if pid <= 0 or not _pid_alive(pid):
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    def execute(self, spec: RunSpec, key: str) -> Path:
        """Train ``spec`` into a temporary directory and publish it atomically under its key."""
        existing = self.find(key)
        if existing is not None:
            return existing
        self.tmp.mkdir(parents=True, exist_ok=True)
        work = self.tmp / f"{key}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        module, fn_name = spec.trainer.split(":")
        fn: Callable[[Any, int, Path], dict[str, Any]] = getattr(importlib.import_module(module), fn_name)
        flags = {
            "section": spec.section,
            "variant": spec.variant,
            "exp_name": spec.exp_name,
            "env_id": spec.env_id,
            "seed": spec.seed,
            "key": key,
            "trainer": spec.trainer,
            "config": to_dict(spec.config),
            "versions": package_versions(),
            "git_commit": git_commit(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            fn(spec.config, spec.seed, work)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        (work / "flags.json").write_text(json.dumps(flags, indent=1))
        final = self.root / spec.dirname(key)
        try:
            os.rename(work, final)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)  # another worker published it first
            if self.find(key) is None:
                raise
        return final

    def load(self, spec: RunSpec, path: Path, cached: bool) -> RunResult:
        summary = json.loads((path / "summary.json").read_text())
        return RunResult(spec=spec, path=path, summary=summary, cached=cached)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------- executors


class Executor(Protocol):
    """Runs ``fn`` over ``items``, yielding ``(item, result)`` pairs as they finish."""

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]: ...


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


class SerialExecutor:
    """Runs in this process, one after another (with one torch thread while it runs)."""

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for item in items:
                yield item, fn(item)
        finally:
            torch.set_num_threads(threads)


class ProcessExecutor:
    """Worker processes (spawned, one torch/BLAS thread each)."""

    def __init__(self, workers: int):
        self.workers = workers

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]:
        import multiprocessing as mp

        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        # The spawned worker must import lib; make sure it can, wherever the kernel started.
        pp = os.environ.get("PYTHONPATH", "")
        if str(REPO_ROOT) not in pp.split(os.pathsep):
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), pp) if p)
        pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
        try:
            futures = {pool.submit(fn, item): item for item in items}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def make_executor(workers: int) -> Executor:
    """Serial for one worker, worker processes for more."""
    return SerialExecutor() if workers <= 1 else ProcessExecutor(workers)


# ---------------------------------------------------------------- the grid


def _execute_one(args: tuple[RunSpec, str, str]) -> tuple[bool, str]:
    """(True, run path) or (False, the error with its traceback); never raises."""
    spec, key, root = args
    try:
        return True, str(RunStore(Path(root)).execute(spec, key))
    except Exception:  # noqa: BLE001 - carried back to the parent and reported there
        import traceback

        return False, f"{spec.variant}/sd{spec.seed}: {traceback.format_exc(limit=3)}"


def run_grid(
    specs: Iterable[RunSpec],
    workers: int = 2,
    store: RunStore | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> list[RunResult]:
    """Make every run in ``specs`` that the store lacks, in parallel; return all, in order.

    A run that fails does not stop the others; they are all kept, and one error naming every
    failed run is raised at the end.
    """
    specs = list(specs)
    store = store or RunStore()
    store.clean_stale()
    hashes = {m: code_hash(m) for m in {s.trainer.split(":")[0] for s in specs}}
    keys = [s.key(hashes[s.trainer.split(":")[0]]) for s in specs]
    found = {k: store.find(k) for k in keys}
    todo = [(s, k, str(store.root)) for s, k in zip(specs, keys) if found[k] is None]
    todo = list({k: item for item in todo for k in [item[1]]}.values())  # one job per key
    bar = None
    if progress and todo:
        from tqdm import tqdm

        section = specs[0].section if specs else ""
        bar = tqdm(total=len(todo), desc=f"{section}: {len(specs) - len(todo)} cached, training", unit="run", mininterval=2.0, file=sys.stdout)
    failures: list[str] = []
    executor = executor or make_executor(min(workers, max(len(todo), 1)))
    if todo:
        for (_spec, key, _root), (ok, value) in executor.map(_execute_one, todo):
            if ok:
                found[key] = Path(value)
            else:
                failures.append(value)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    missing = [s for s, k in zip(specs, keys) if found.get(k) is None]
    if failures or missing:
        names = ", ".join(f"{s.variant}/sd{s.seed}" for s in missing)
        raise RuntimeError(f"{len(missing)} run(s) failed ({names}); finished runs are kept. Errors: {'; '.join(failures)}")
    cached_keys = {k for k in keys if k not in {t[1] for t in todo}}
    return [store.load(s, found[k], k in cached_keys) for s, k in zip(specs, keys)]  # type: ignore[arg-type]

