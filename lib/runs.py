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
from typing import TYPE_CHECKING, Any, Protocol

from .config import to_dict

if TYPE_CHECKING:
    import pandas as pd

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
        import pandas as pd

        return pd.read_csv(self.path / "log.csv")

    def episodes(self) -> pd.DataFrame:
        """episodes.csv: one row per training episode (episode, iteration, return, length)."""
        import pandas as pd

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

    def lock(self, key: str, wait: bool = True) -> "RunLock | None":
        """The exclusive lock on ``key`` (an flock on ``<store>/.locks/<key>``), or None when ``wait`` is
        False and another process holds it. The system drops it when its holder dies, however it dies."""
        import fcntl

        (self.root / ".locks").mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".locks" / key, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        return RunLock(fd)

    def execute(self, spec: RunSpec, key: str, wait: bool = True,
                on_iteration: Callable[[dict[str, Any]], None] | None = None) -> Path | None:
        """Train ``spec`` into a temporary directory and publish it atomically under its key.

        Holds the key's lock while it trains, so two processes on one store never train the same run:
        the second waits for the first and then finds its result (or, with ``wait=False``, returns None
        at once so that its caller can do other work first). ``on_iteration`` goes to the trainer."""
        existing = self.find(key)
        if existing is not None:
            return existing
        held = self.lock(key, wait)
        if held is None:
            return None
        with held:
            existing = self.find(key)  # finished by whoever held the lock before us
            if existing is not None:
                return existing
            return self._train(spec, key, on_iteration)

    def _train(self, spec: RunSpec, key: str, on_iteration: Callable[[dict[str, Any]], None] | None) -> Path:
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
            fn(spec.config, spec.seed, work, **({"on_iteration": on_iteration} if on_iteration else {}))
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


class RunLock:
    """A held run-key lock (a file descriptor with an flock); released by ``with`` or by process exit."""

    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock


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


def _init_worker(parent: int | None = None) -> None:
    """One torch thread; and a watchdog thread that ends this worker as soon as its parent is gone
    (killed in any way, SIGKILL included), so no worker outlives the report that started it."""
    import threading

    parent = parent if parent is not None else os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)  # the parent died; the run in flight is lost (its .tmp directory is swept later)
            time.sleep(0.2)

    threading.Thread(target=watch, name="orphan-watchdog", daemon=True).start()  # before the slow imports
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
        pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(os.getpid(),))
        try:
            futures = {pool.submit(fn, item): item for item in items}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            # interrupted (Ctrl-C, an error, a closed generator): stop the workers now instead of
            # waiting for the runs in flight; their temporary directories are swept on the next call
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join(timeout=3)
                if proc.is_alive():
                    proc.kill()
            raise
        pool.shutdown(wait=True)


def make_executor(workers: int) -> Executor:
    """Serial for one worker, worker processes for more."""
    return SerialExecutor() if workers <= 1 else ProcessExecutor(workers)


# ---------------------------------------------------------------- the grid


def _execute_one(args: tuple[RunSpec, str, str, bool, Any]) -> tuple[bool, str | None]:
    """(True, run path), (True, None) when another process is training this key and ``wait`` is
    False, or (False, the error with its traceback); never raises an Exception. The last item of
    ``args`` is the trainer's ``on_iteration`` callback (None in worker processes)."""
    spec, key, root, wait, on_iteration = args
    try:
        path = RunStore(Path(root)).execute(spec, key, wait=wait, on_iteration=on_iteration)
        return True, (str(path) if path is not None else None)
    except Exception:  # noqa: BLE001 - carried back to the parent and reported there
        import traceback

        return False, f"{spec.variant}/sd{spec.seed}: {traceback.format_exc(limit=3)}"


def run_grid(
    specs: Iterable[RunSpec],
    workers: int = 2,
    store: RunStore | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
) -> list[RunResult]:
    """Make every run in ``specs`` that the store lacks, in parallel; return all, in order.

    A run that fails does not stop the others; they are all kept, and one error naming every
    failed run is raised at the end. A run another process is training (its key is locked) is
    left for last and then waited for, never trained twice. Interrupted (Ctrl-C), it says which runs
    finished (they are kept) and stops its workers at once. ``on_iteration`` (serial runs only) is
    passed to the trainer: the assignment's command line prints a line per iteration with it.
    """
    specs = list(specs)
    store = store or RunStore()
    store.clean_stale()
    hashes = {m: code_hash(m) for m in {s.trainer.split(":")[0] for s in specs}}
    keys = [s.key(hashes[s.trainer.split(":")[0]]) for s in specs]
    found = {k: store.find(k) for k in keys}
    todo = [(s, k, str(store.root), False, on_iteration) for s, k in zip(specs, keys) if found[k] is None]
    todo = list({k: item for item in todo for k in [item[1]]}.values())  # one job per key
    bar = None
    if progress and todo:
        from tqdm import tqdm

        section = specs[0].section if specs else ""
        bar = tqdm(total=len(todo), desc=f"{section}: {len(specs) - len(todo)} cached, training", unit="run", mininterval=2.0, file=sys.stdout)
    failures: list[str] = []
    if on_iteration is not None:  # a callback cannot travel to worker processes
        executor = SerialExecutor()
    executor = executor or make_executor(min(workers, max(len(todo), 1)))
    finished: list[str] = []
    try:
        pending = todo
        while pending:  # first pass skips keys another process holds; the second waits for them
            busy = []
            for (spec, key, root, _wait, callback), (ok, value) in executor.map(_execute_one, pending):
                if ok and value is None:
                    busy.append((spec, key, root, True, callback))
                    continue
                if ok:
                    found[key] = Path(value)  # type: ignore[arg-type]
                    finished.append(f"{spec.variant}/sd{spec.seed}")
                else:
                    failures.append(value)  # type: ignore[arg-type]
                if bar is not None:
                    bar.update(1)
            pending = busy
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        left = len(todo) - len(finished)
        print(f"interrupted: {len(finished)} of {len(todo)} runs to train had finished and are kept in {store.root}"
              f"{' (' + ', '.join(finished) + ')' if finished else ''}; {left} not finished (lost; the same call "
              f"trains them again)", file=sys.stderr, flush=True)
        raise
    if bar is not None:
        bar.close()
    missing = [s for s, k in zip(specs, keys) if found.get(k) is None]
    if failures or missing:
        names = ", ".join(f"{s.variant}/sd{s.seed}" for s in missing)
        raise RuntimeError(f"{len(missing)} run(s) failed ({names}); finished runs are kept. Errors: {'; '.join(failures)}")
    cached_keys = {k for k in keys if k not in {t[1] for t in todo}}
    return [store.load(s, found[k], k in cached_keys) for s, k in zip(specs, keys)]  # type: ignore[arg-type]

