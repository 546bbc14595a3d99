"""The run grid: every run a section needs, made in parallel by a pluggable executor.

Executors map a picklable function over run specs and yield results as they finish:
:class:`SerialExecutor` in this process, :class:`ProcessExecutor` in spawned worker processes with
one torch thread each. A distributed executor (Ray, say) only needs the same ``map`` method.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

from ..paths import REPO_ROOT
from ..provenance import code_hash
from .runs import RunResult, RunSpec, RunStore


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
