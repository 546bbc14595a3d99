"""Reaper: kills what a process started once that process is gone, however it died.

An embedded Ray (``lib.store.grid.RayExecutor``) starts a GCS server, a raylet, agents and workers.
``ray.shutdown()`` stops them when the driver ends normally, but a driver killed with SIGKILL
leaves some behind (Ray's dashboard and runtime-env agents, re-parented to init). :func:`watch`
starts a small process that snapshots the driver's descendants twice a second and, when the driver
dies, kills every process of the last snapshot. ``stop`` ends the watch without killing anything. Linux only (it reads /proc); elsewhere it does nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _children_map() -> dict[int, list[tuple[int, str]]]:
    """parent pid -> [(pid, start time)] of every process now."""
    out: dict[int, list[tuple[int, str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.setdefault(int(fields[1]), []).append((int(stat.parent.name), fields[19]))
    return out


def descendants(pid: int) -> dict[int, str]:
    """Every descendant of ``pid`` now: pid -> its start time (to tell a reused pid apart)."""
    tree = _children_map()
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child, start in tree.get(todo.pop(), []):
            if child not in found:
                found[child] = start
                todo.append(child)
    return found


def _start_time(pid: int) -> str | None:
    """The start time of a live process ``pid``; None when it is gone (or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def watch() -> subprocess.Popen | None:
    """Start the reaper for this process; returns it (``stop(proc)`` ends it), or None off Linux."""
    if not Path("/proc/self/stat").exists():
        return None
    return subprocess.Popen([sys.executable, "-m", "lib.store.reaper", str(os.getpid())], stdin=subprocess.PIPE,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})


def stop(proc: subprocess.Popen | None) -> None:
    """End a reaper without killing anything (the driver cleaned up itself)."""
    if proc is not None and proc.stdin is not None:
        proc.stdin.write(b"q")  # a pipe closed without this byte means the driver died
        proc.stdin.close()
        proc.wait(timeout=5)


def _main(pid: int) -> None:
    import select

    snapshot: dict[int, str] = {}
    while True:
        if _start_time(pid) is not None:
            snapshot = {p: t for p, t in descendants(pid).items() if p != os.getpid()} or snapshot
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and sys.stdin.buffer.read1(1) == b"q":
            return  # a normal stop
        if ready or _start_time(pid) is None:  # the pipe closed without a word, or the driver is gone
            time.sleep(0.5)  # let the processes notice on their own first
            for child, start in snapshot.items():
                if _start_time(child) == start:
                    try:
                        os.kill(child, signal.SIGKILL)
                    except OSError:
                        pass
            return


if __name__ == "__main__":
    _main(int(sys.argv[1]))
