"""Which code made a result: the commit of the repository, and whether the code differed from it.

Kept apart from :mod:`lib.runs` so that what the reports stamp can change without re-keying runs.
"""

from __future__ import annotations

import subprocess

from .runs import REPO_ROOT

#: Paths whose changes do not make the code dirty: generated reports and the run store.
GENERATED = ("reports", "runs")


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)


def changed_code() -> list[str]:
    """Tracked files outside reports/ and runs/ that differ from HEAD (empty when the code is committed)."""
    try:
        proc = _git("status", "--porcelain", "--untracked-files=no", "--", ".", *(f":(exclude){g}" for g in GENERATED))
    except (OSError, subprocess.SubprocessError):
        return []
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []


def git_commit() -> str:
    """HEAD, with '+dirty' when tracked code (not reports/ or runs/) differs from it; 'unknown' outside git."""
    try:
        head = _git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if changed_code() else "")
