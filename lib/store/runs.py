"""The run store: finished runs by key, published atomically, one trainer per key.

A *run* is one variant x one seed of one learner (:mod:`lib.learners.contract`). Its directory in
the store (``runs/`` at the repository root, or ``$RLWB_RUNS``) is named
``<env>_<exp_name>_sd<seed>_<key>`` and holds flags.json, log.csv, agent.pt, summary.json (and
episodes.csv for learners with training episodes). ``key`` is the first 16 hex digits of a sha256
over the learner, its resolved config, the seed, the versions of the packages that shape the
numbers and the source of the lib/ modules the learner imports (:func:`lib.provenance.code_hash`).
Anything that could change a result changes the key; editing the store, a section, a plot or a
report does not.

Writes are atomic: a run trains inside ``<store>/.tmp/<key>/`` while holding the key's lock, and is
renamed into place only once every file is written, so a killed report leaves no half-run that
could be read, and a rerun finds every finished run and skips it. An interrupted run that left a
checkpoint (:data:`RESUME_MARKER`) resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import to_dict
from ..learners.contract import LEARNER_FILES, batch_trainer, check_summary, resolve
from ..paths import store_root
from ..provenance import code_hash, git_commit, package_versions

if TYPE_CHECKING:
    import pandas as pd

#: Files every finished run directory holds (policy-gradient and SAC runs add episodes.csv).
RUN_FILES = ("flags.json", "summary.json", *LEARNER_FILES)
#: A learner that checkpoints writes this file; the store keeps such an interrupted directory and
#: gives it back to the learner the next time (see :meth:`RunStore.execute`).
RESUME_MARKER = "checkpoint.pt"


def run_key(trainer: str, config_type: str, config: dict[str, Any], seed: int, code: str, versions: dict[str, str]) -> str:
    """A run's key: the first 16 hex digits of the sha256 of its trainer, config type and fields, seed,
    learner code hash and package versions (as JSON, keys sorted). :meth:`RunSpec.key` and
    ``scripts/rekey_store.py`` (which re-derives keys from a run's flags.json) both use it."""
    payload = {"trainer": trainer, "config_type": config_type, "config": config, "seed": seed, "code": code,
               "versions": versions}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    """One run to make: ``trainer`` ("module:function" of a learner, called as fn(config, seed, out_dir))."""

    section: str
    variant: str
    exp_name: str
    seed: int
    config: Any
    trainer: str = "lib.learners.pg:train"

    @property
    def env_id(self) -> str:
        return str(getattr(self.config, "env_id", "env"))

    def key(self, code: str | None = None) -> str:
        """Content hash of what determines the run's results (see module doc and :func:`run_key`)."""
        return run_key(self.trainer, type(self.config).__qualname__, to_dict(self.config), self.seed,
                       code if code is not None else code_hash(self.trainer), dict(package_versions()))

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
        """Remove the work directories in ``.tmp`` that nobody is training (their key is not locked),
        except those holding a checkpoint (:data:`RESUME_MARKER`), which the next call resumes.
        Returns how many were removed."""
        removed = 0
        if not self.tmp.exists():
            return 0
        for path in self.tmp.iterdir():
            key = path.name.split("-", 1)[0]
            held = self.lock(key, wait=False)
            if held is None:
                continue  # being trained right now
            with held:
                if self.find(key) is not None or not (path / RESUME_MARKER).exists():
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
        """Train one run and publish it under its key: :meth:`execute_batch` of one run."""
        return self.execute_batch([spec], [key], wait, on_iteration)[0]

    def execute_batch(self, specs: list[RunSpec], keys: list[str], wait: bool = True,
                      on_iteration: Callable[[dict[str, Any]], None] | None = None) -> list[Path | None]:
        """Train the runs of ``specs`` that the store lacks, each in a temporary directory published
        atomically under its key; returns each run's path. One run trains with its learner; several
        train together in one call of their learner's batch trainer
        (:func:`lib.learners.contract.batch_trainer`; the specs share learner and config and differ
        in seed). ``on_iteration`` goes to the trainer.

        Each run trains under its own key's lock, taken in key order (so two processes batching
        overlapping runs cannot deadlock): two processes on one store never train the same run; the
        second waits for the first and then finds its result, or, with ``wait=False``, leaves that
        run out (its path is None) so that its caller can do other work first. A run's key never
        names its batch: batch trainers must give each seed the files it would get alone (their
        tests check it). Keys must be distinct (``run_grid`` makes one run per key).
        """
        if len(set(keys)) != len(keys):
            raise ValueError(f"execute_batch: a key is given twice in {keys}")
        paths: list[Path | None] = [self.find(k) for k in keys]
        held: dict[int, RunLock] = {}
        try:
            for i in sorted(range(len(keys)), key=lambda i: keys[i]):
                if paths[i] is not None:
                    continue
                lock = self.lock(keys[i], wait)
                if lock is None:
                    continue
                paths[i] = self.find(keys[i])  # finished by whoever held the lock before us
                if paths[i] is None:
                    held[i] = lock
                else:
                    lock.__exit__()
            todo = sorted(held)
            if len(todo) == 1:
                paths[todo[0]] = self._train(specs[todo[0]], keys[todo[0]], on_iteration)
            elif todo:
                trained = self._train_batch([specs[i] for i in todo], [keys[i] for i in todo], on_iteration)
                for i, path in zip(todo, trained):
                    paths[i] = path
        finally:
            for lock in held.values():
                lock.__exit__()
        return paths

    def _work_dir(self, key: str) -> Path:
        """``.tmp/<key>/``, emptied unless it holds a checkpoint to resume from."""
        work = self.tmp / key
        if work.exists() and not (work / RESUME_MARKER).exists():
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        return work

    def _flags(self, spec: RunSpec, key: str, **extra: Any) -> dict[str, Any]:
        return {
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
            **extra,
        }

    def _publish(self, spec: RunSpec, key: str, work: Path, summary: Any, flags: dict[str, Any]) -> Path:
        """Check the summary, write summary.json and flags.json, rename ``work`` into place."""
        summary = check_summary(summary, spec.trainer)
        (work / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        (work / "flags.json").write_text(json.dumps(flags, indent=1))
        final = self.root / spec.dirname(key)
        os.rename(work, final)
        return final

    def _train(self, spec: RunSpec, key: str, on_iteration: Callable[[dict[str, Any]], None] | None) -> Path:
        """Train under the key's lock in ``.tmp/<key>/`` (kept between calls only when it holds a
        checkpoint), write summary.json and flags.json, publish."""
        work = self._work_dir(key)
        fn = resolve(spec.trainer)
        flags = self._flags(spec, key)
        try:
            summary = fn(spec.config, spec.seed, work, **({"on_iteration": on_iteration} if on_iteration else {}))
        except BaseException:
            if not (work / RESUME_MARKER).exists():
                shutil.rmtree(work, ignore_errors=True)
            raise
        return self._publish(spec, key, work, summary, flags)

    def _train_batch(self, specs: list[RunSpec], keys: list[str],
                     on_iteration: Callable[[dict[str, Any]], None] | None = None) -> list[Path]:
        """Train ``specs`` (one learner and config, several seeds) in one batch-trainer call, each in
        its own ``.tmp/<key>/``, under the keys' locks (held by the caller); publish each."""
        fn = batch_trainer(specs[0].trainer)
        if fn is None or any(s.trainer != specs[0].trainer or to_dict(s.config) != to_dict(specs[0].config) for s in specs):
            raise ValueError(f"runs {[s.variant + '/sd' + str(s.seed) for s in specs]} cannot be trained as one batch")
        works = [self._work_dir(k) for k in keys]
        flags = [self._flags(s, k, batch_seeds=[t.seed for t in specs]) for s, k in zip(specs, keys)]
        try:
            summaries = fn(specs[0].config, [s.seed for s in specs], works,
                           **({"on_iteration": on_iteration} if on_iteration else {}))
        except BaseException:
            for work in works:
                shutil.rmtree(work, ignore_errors=True)
            raise
        return [self._publish(s, k, w, summary, f) for s, k, w, summary, f in zip(specs, keys, works, summaries, flags)]

    def adopt(self, dirname: str, files: dict[str, bytes]) -> Path:
        """Publish a run trained elsewhere (its directory name and files, e.g. from a Ray node)
        atomically under its key; a run already here with that key wins. Returns its path."""
        key = dirname.rsplit("_", 1)[1]
        missing = [f for f in RUN_FILES if f not in files]
        if missing:
            raise ValueError(f"run {dirname} came back without {missing}")
        with self.lock(key):  # type: ignore[union-attr]
            existing = self.find(key)
            if existing is not None:
                return existing
            work = self._work_dir(key)
            for name, blob in files.items():
                (work / name).write_bytes(blob)
            final = self.root / dirname
            os.rename(work, final)
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
