"""The run grid: every run a section needs, made in parallel by a pluggable executor.

Executors map a picklable function over run specs and yield results as they finish:
:class:`SerialExecutor` in this process, :class:`ProcessExecutor` in spawned worker processes with
one torch thread each, and :class:`RayExecutor` as Ray tasks on an embedded Ray or a cluster.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..config import to_dict
from ..learners.contract import batch_trainer
from ..paths import REPO_ROOT
from ..provenance import code_hash
from .runs import RunResult, RunSpec, RunStore
from . import reaper


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


class RayExecutor:
    """Ray tasks, one CPU each: an embedded local Ray (``workers`` CPUs) by default, or the cluster at
    ``address`` (or ``$RAY_ADDRESS``). Each node must have this checkout at the same path with the
    same environment (a shared home or the same image); runs come back as files (see
    :func:`_execute_group`), so the nodes need not share the run store. On an interrupt the tasks in
    flight are cancelled, and an embedded Ray is shut down with every worker it started.
    """

    def __init__(self, workers: int, address: str | None = None):
        self.workers = workers
        self.address = address or os.environ.get("RAY_ADDRESS") or None

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[tuple[Any, Any]]:
        import ray

        env_vars = {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}

        started, watcher = False, None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": self.address} if self.address else {"num_cpus": self.workers, "include_dashboard": False}
            watcher = None if self.address else reaper.watch()  # a killed driver's embedded Ray dies with it
            ray.init(runtime_env={"env_vars": env_vars}, log_to_driver=False, logging_level="ERROR", **kwargs)
            started = True
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        refs = {task.remote(fn, item): item for item in items}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield refs[ref], ray.get(ref)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started:
                ray.shutdown()
            reaper.stop(watcher)


def _ray_task(fn: Callable[[Any], Any], item: Any) -> Any:
    """A Ray task: one torch thread, then ``fn(item)``."""
    import torch

    torch.set_num_threads(1)
    return fn(item)


EXECUTORS = ("process", "ray", "serial")


def make_executor(workers: int, kind: str = "process", address: str | None = None) -> Executor:
    """``kind``: "process" (serial for one worker, worker processes for more), "serial" or "ray"."""
    if kind not in EXECUTORS:
        raise ValueError(f"executor {kind!r} is not one of {', '.join(EXECUTORS)}")
    if kind == "ray":
        return RayExecutor(workers, address)
    return SerialExecutor() if workers <= 1 or kind == "serial" else ProcessExecutor(workers)


# ---------------------------------------------------------------- the grid

#: Most seeds one batch trains together (a learner with a batch form, see lib.learners.contract).
MAX_BATCH = 16


def plan_jobs(items: list[tuple[RunSpec, str]], workers: int, cap: int = MAX_BATCH) -> list[list[tuple[RunSpec, str]]]:
    """Group runs into jobs: runs of a learner with a batch form that share its config go together,
    at most ``cap`` per job; the largest job is halved until the job count is a multiple of
    ``workers`` (so the workers finish together) or jobs are single runs. Largest jobs first."""
    groups: dict[tuple[str, str], list[tuple[RunSpec, str]]] = {}
    for spec, key in items:
        batchable = batch_trainer(spec.trainer) is not None
        group = (spec.trainer, json.dumps(to_dict(spec.config), sort_keys=True)) if batchable else ("", key)
        groups.setdefault(group, []).append((spec, key))
    jobs = [g[i:i + cap] for g in groups.values() for i in range(0, len(g), cap)]
    while jobs and len(jobs) % max(workers, 1) and max(len(j) for j in jobs) > 1:
        big = max(jobs, key=len)
        jobs.remove(big)
        half = (len(big) + 1) // 2
        jobs += [big[:half], big[half:]]
    return sorted(jobs, key=len, reverse=True)


@dataclass
class JobResult:
    """What one job of the grid sends back: ``paths`` (one per run: its path in the caller's store,
    or None when another process holds its key), or, for a job trained elsewhere (a Ray task),
    ``shipped``: each finished run's directory name and files for the caller's store to adopt;
    ``error``: the traceback when the job failed."""

    paths: list[str | None] = field(default_factory=list)
    shipped: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)
    error: str | None = None


def _execute_group(args: tuple[list[RunSpec], list[str], str | None, bool, Any]) -> JobResult:
    """Train one job: ``(specs, keys, root, wait, on_iteration)``.

    With a store ``root``, trains into it and returns the runs' paths. With ``root`` None (Ray: the
    task may run on another machine) trains in a temporary store of its own and ships the runs'
    files back. Never raises an Exception: the error comes back with its traceback.
    ``on_iteration`` is None in worker processes.
    """
    specs, keys, root, wait, on_iteration = args
    import tempfile

    tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="rlwb-job-")
    try:
        store = RunStore(Path(root if root is not None else tmp.name))  # type: ignore[union-attr]
        paths = store.execute_batch(specs, keys, wait=wait, on_iteration=on_iteration)
        if tmp is None:
            return JobResult(paths=[str(p) if p is not None else None for p in paths])
        return JobResult(shipped=[(p.name, {f.name: f.read_bytes() for f in p.iterdir()}) for p in paths if p is not None])
    except Exception:  # noqa: BLE001 - carried back to the parent and reported there
        import traceback

        names = ", ".join(f"{s.variant}/sd{s.seed}" for s in specs)
        return JobResult(error=f"{names}: {traceback.format_exc(limit=3)}")
    finally:
        if tmp is not None:
            tmp.cleanup()


def run_grid(
    specs: Iterable[RunSpec],
    workers: int = 2,
    store: RunStore | None = None,
    executor: Executor | str | None = None,
    progress: bool = True,
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
    address: str | None = None,
) -> list[RunResult]:
    """Make every run in ``specs`` that the store lacks, in parallel; return all, in order.

    Runs that can be batched (one learner with a batch form, one config, several seeds) are trained
    together in jobs of up to :data:`MAX_BATCH` (:func:`plan_jobs`). ``executor``: an executor, or
    "process" (default), "serial" or "ray" (``address``: a Ray cluster; default an embedded one).
    A run that fails does not stop the others; they are all kept, and one error naming every
    failed run is raised at the end. A run another process is training (its key is locked) is
    left for last and then waited for, never trained twice. Interrupted (Ctrl-C), it says which runs
    finished (they are kept) and stops its workers at once. ``on_iteration`` (serial runs only) is
    passed to the trainer: the assignment's command line prints a line per iteration with it.
    """
    specs = list(specs)
    store = store or RunStore()
    store.clean_stale()
    hashes = {t: code_hash(t) for t in {s.trainer for s in specs}}
    keys = [s.key(hashes[s.trainer]) for s in specs]
    found = {k: store.find(k) for k in keys}
    todo = list({k: (s, k) for s, k in zip(specs, keys) if found[k] is None}.values())  # one run per key
    if on_iteration is not None:  # a callback cannot travel to worker processes
        executor = SerialExecutor()
    if executor is None or isinstance(executor, str):
        executor = make_executor(min(workers, max(len(todo), 1)), executor or "process", address)
    ships = isinstance(executor, RayExecutor)  # runs come back as files
    root = None if ships else str(store.root)
    jobs = [([s for s, _ in job], [k for _, k in job], root, False, on_iteration)
            for job in (plan_jobs(todo, workers) if on_iteration is None else [[t] for t in todo])]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        section = specs[0].section if specs else ""
        # on stderr: the notebook streams it while it trains, and the exported report drops it
        bar = tqdm(total=len(todo), desc=f"{section}: {len(specs) - len(todo)} cached, training", unit="run", mininterval=2.0,
                   file=sys.stderr)
    failures: list[str] = []
    finished: list[str] = []
    try:
        pending = jobs
        while pending:  # first pass skips keys another process holds; the second waits for them
            busy = []
            for (job_specs, job_keys, job_root, _wait, callback), result in executor.map(_execute_group, pending):
                if result.error is not None:
                    failures.append(result.error)
                    if bar is not None:
                        bar.update(len(job_specs))
                    continue
                for name, files in result.shipped:
                    path = store.adopt(name, files)
                    found[path.name.rsplit("_", 1)[1]] = path
                values = result.paths if not ships else [found.get(k) for k in job_keys]
                left = [(s, k) for s, k, v in zip(job_specs, job_keys, values) if v is None]
                for s, k, v in zip(job_specs, job_keys, values):
                    if v is not None:
                        found[k] = Path(v)
                        finished.append(f"{s.variant}/sd{s.seed}")
                if left:
                    busy.append(([s for s, _ in left], [k for _, k in left], job_root, True, callback))
                if bar is not None:
                    bar.update(len(job_specs) - len(left))
            pending = busy
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        left_n = len(todo) - len(finished)
        print(f"interrupted: {len(finished)} of {len(todo)} runs to train had finished and are kept in {store.root}"
              f"{' (' + ', '.join(finished) + ')' if finished else ''}; {left_n} not finished (lost; the same call "
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
