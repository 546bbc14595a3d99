"""What made a result: the source a learner runs, the package versions, the commit.

A run's key (:mod:`lib.store.runs`) and a report's stamp both come from here. :func:`code_files`
follows a learner's imports through lib/, so a run's key covers exactly the modules its learner
uses; the learners import nothing of the store, the sections or the publishing code, so editing
those never re-keys a run (``tests/test_runs.py`` checks it).
"""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import subprocess
from pathlib import Path

from .paths import LIB_DIR, REPO_ROOT

#: Packages whose versions are part of a run's key.
KEY_PACKAGES = ("torch", "numpy", "gymnasium", "mujoco")

#: lib/ modules a learner imports that cannot change what it computes, left out of its code hash
#: (with why).
KEY_EXEMPT: dict[str, str] = {
    "lib/__init__.py": "the package's docstring",
    "lib/config.py": "validation and conversion of parameters; the validated values themselves are in the key",
    "lib/paths.py": "where files are, not what is computed from them (a dataset file's sha256 is in the key)",
}

#: Paths whose changes do not make the code dirty: generated reports and the run store.
GENERATED = ("reports", "runs")


def _lib_imports(path: Path) -> set[Path]:
    """The lib/ source files that the module at ``path`` imports (absolute or relative, at any depth
    of the file, function-level imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg_parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts[:-1])  # e.g. ["lib", "learners"]
    found: set[Path] = set()

    def add(dotted: list[str]) -> None:
        if not dotted or dotted[0] != "lib":
            return
        base = REPO_ROOT.joinpath(*dotted)
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


def module_file(module: str) -> Path:
    """The source file of a lib module ("lib.learners.pg" -> lib/learners/pg.py)."""
    base = REPO_ROOT.joinpath(*module.split("."))
    return base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"


def code_files(module: str) -> list[Path]:
    """``module`` ("lib.learners.pg") and every lib/ module it imports, transitively, sorted; the
    modules in :data:`KEY_EXEMPT` are left out. Package ``__init__`` files are followed only when
    imported themselves."""
    exempt = {REPO_ROOT / name for name in KEY_EXEMPT}
    seen: set[Path] = set()
    todo = [module_file(module)]
    while todo:
        path = todo.pop()
        if path in seen or path in exempt:
            continue
        seen.add(path)
        todo.extend(_lib_imports(path) - seen)
    return sorted(seen)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` without the docstrings of its module, classes and functions."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_text(path: Path) -> str:
    """What of a module's source can change a result: its code, without comments, docstrings or
    layout (the parsed tree written back, which is the same for any two sources that differ only in
    those; Python's version, part of every key, fixes how it is written)."""
    return ast.unparse(_strip_docstrings(ast.parse(path.read_text(), filename=str(path))))


def code_hash(module: str) -> str:
    """sha256 over the path and :func:`code_text` of every file in :func:`code_files` of ``module``:
    editing a learner's code re-keys its runs, editing its prose does not."""
    h = hashlib.sha256()
    for path in code_files(module):
        h.update(str(path.relative_to(REPO_ROOT)).encode())
        h.update(code_text(path).encode())
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Python's version and those of :data:`KEY_PACKAGES` ("absent" when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    """``git *args`` in the repository, read-only: without git's optional index lock, which a run
    killed during ``git status`` would otherwise leave behind (.git/index.lock blocks every later git
    command)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, env=env)


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
