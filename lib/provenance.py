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
import re
import subprocess
from pathlib import Path

from .learners.contract import LEARNERS
from .paths import REPO_ROOT

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


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` without the docstrings of its module, classes and functions."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


#: A definition in lib/: (dotted module, top-level name); name "" is the module's preamble (its top-level
#: statements that are neither imports nor definitions, which run whenever the module is imported).
Unit = tuple[str, str]

#: "lib.x.y" or "lib.x.y:name" in a string constant: code found by name at run time (a trainer, a registry).
_DOTTED = re.compile(r"^lib(\.\w+)+(:\w+)?$")


class _Module:
    """One parsed lib/ module: its top-level definitions (name -> statement, docstrings and nested imports
    stripped), its preamble, and what each imported name stands for (imports at any depth, function-level
    ones too: moving an import to the top of its module changes no definition's code)."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.is_package = path.name == "__init__.py"
        tree = _strip_docstrings(ast.parse(path.read_text(), filename=str(path)))
        self.defs: dict[str, ast.stmt] = {}
        self.preamble: list[ast.stmt] = []
        self.imports: dict[str, tuple[str, str | None]] = {}  # local name -> (module, attribute or None)
        package = name if self.is_package else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = (alias.name, None)
                    else:
                        self.imports[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1])
                    source = base + ("." + node.module if node.module else "")
                else:
                    source = node.module or ""
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (source, alias.name)
        for node in ast.walk(tree):  # an import is a name binding, resolved above: where it sits is not code
            body = getattr(node, "body", None)
            if node is not tree and isinstance(body, list) and any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body):
                node.body = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))] or [ast.Pass()]
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[stmt.name] = stmt
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            self.defs[n.id] = stmt
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)) or _is_type_checking(stmt):
                continue
            else:
                self.preamble.append(stmt)


def _is_type_checking(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING"


class CodeIndex:
    """The lib/ modules of one source tree (``root``), parsed on demand, and the closure of a set of
    definitions over the names they use (:meth:`closure`)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else REPO_ROOT
        self._modules: dict[str, _Module | None] = {}

    def module(self, name: str) -> _Module | None:
        """The module ``name`` ("lib.learners.pg") of this tree, or None (a package from elsewhere, or no such file)."""
        if name not in self._modules:
            found = None
            base = self.root.joinpath(*name.split("."))
            for path in (base.with_suffix(".py"), base / "__init__.py"):
                if name and path.exists():
                    found = _Module(name, path)
                    break
            self._modules[name] = found
        return self._modules[name]

    def lookup(self, module: str, name: str, depth: int = 0) -> Unit | str | None:
        """What ``name`` is in ``module``: a definition (a :data:`Unit`), a lib/ module (its dotted
        name), or None (outside lib/, a builtin, or unknown)."""
        mod = self.module(module)
        if mod is None or depth > 20:
            return None
        if name in mod.defs:
            return (module, name)
        if name in mod.imports:
            source, attr = mod.imports[name]
            if attr is None:
                return source if self.module(source) is not None else None
            found = self.lookup(source, attr, depth + 1)
            if found is not None:
                return found
            return f"{source}.{attr}" if self.module(f"{source}.{attr}") is not None else None
        if mod.is_package and self.module(f"{module}.{name}") is not None:
            return f"{module}.{name}"
        return None

    def _refs(self, module: str, node: ast.AST) -> set[Unit]:
        """The definitions that ``node`` (in ``module``) names: plain names, attribute chains through
        modules (``nets.MLP``), and "lib.x:y" strings. A module used other than through an attribute
        stands for all its definitions."""
        out: set[Unit] = set()

        def chain(target: Unit | str | None, attrs: list[str]) -> None:
            for attr in attrs:
                if not isinstance(target, str):
                    break
                target = self.lookup(target, attr)
            if isinstance(target, tuple):
                out.add(target)
            elif isinstance(target, str):
                mod = self.module(target)
                out.update((target, n) for n in (mod.defs if mod else ()))

        def visit(n: ast.AST) -> None:
            if isinstance(n, ast.Attribute):
                attrs, cur = [], n
                while isinstance(cur, ast.Attribute):
                    attrs.append(cur.attr)
                    cur = cur.value
                if isinstance(cur, ast.Name):
                    chain(self.lookup(module, cur.id), attrs[::-1])
                    return
                visit(cur)
                return
            if isinstance(n, ast.Name):
                chain(self.lookup(module, n.id), [])
            elif isinstance(n, ast.Constant) and isinstance(n.value, str) and _DOTTED.match(n.value):
                dotted, _, fn = n.value.partition(":")
                chain(self.lookup(dotted, fn) if fn else dotted, [])
            for child in ast.iter_child_nodes(n):
                visit(child)

        visit(node)
        return out

    def closure(self, roots: list[Unit]) -> dict[Unit, str]:
        """Every definition that ``roots`` use, transitively, and the preambles of their modules and of every
        lib/ module those import (code that runs at import, used or not), each
        with its code (:func:`ast.unparse`, so comments, docstrings and layout do not count); the
        modules of :data:`KEY_EXEMPT` are left out."""
        exempt = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in KEY_EXEMPT}
        seen: dict[Unit, str] = {}
        todo = list(roots)
        while todo:
            unit = todo.pop()
            if unit in seen or unit[0] in exempt:
                continue
            mod = self.module(unit[0])
            if mod is None:
                continue
            nodes = mod.preamble if unit[1] == "" else [mod.defs[unit[1]]] if unit[1] in mod.defs else []
            if not nodes and unit[1]:
                continue
            seen[unit] = "\n".join(ast.unparse(n) for n in nodes)
            todo.append((unit[0], ""))
            if unit[1] == "":  # what runs when the module is imported: its own preamble and those of its imports
                for name in mod.imports:
                    found = self.lookup(unit[0], name)
                    target = found if isinstance(found, str) else found[0] if found else None
                    if target is not None:
                        todo.append((target, ""))
            for n in nodes:
                todo.extend(self._refs(unit[0], n) - seen.keys())
        return {u: text for u, text in seen.items() if text}


def learner_roots(trainer: str, index: CodeIndex) -> list[Unit]:
    """The definitions a run of ``trainer`` ("module:function", or a learner's module) starts from: the
    function and its batch form (``<function>_batch``, :func:`lib.learners.contract.batch_trainer`);
    for a bare module, all its definitions."""
    module, _, fn = LEARNERS.get(trainer, trainer).partition(":")
    mod = index.module(module)
    if mod is None:
        raise ValueError(f"no lib/ module {module!r} (trainer {trainer!r})")
    if not fn:
        return [(module, n) for n in mod.defs]
    return [(module, n) for n in (fn, f"{fn}_batch") if n in mod.defs]


def code_units(trainer: str, root: Path | None = None) -> dict[Unit, str]:
    """The code a run of ``trainer`` can execute: :meth:`CodeIndex.closure` of :func:`learner_roots`."""
    index = CodeIndex(root)
    return index.closure(learner_roots(trainer, index))


def code_hash(trainer: str, root: Path | None = None) -> str:
    """sha256 over the code of :func:`code_units` of ``trainer``, sorted by text and blind to where each
    definition lives: moving a function between files keeps every key, editing its body changes the
    keys of the learners that use it, editing prose changes nothing."""
    h = hashlib.sha256()
    for text in sorted(code_units(trainer, root).values()):
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()


def code_files(trainer: str, root: Path | None = None) -> list[Path]:
    """The lib/ files that hold :func:`code_units` of ``trainer``, sorted."""
    base = Path(root) if root is not None else REPO_ROOT
    out = set()
    for module, _ in code_units(trainer, root):
        path = base.joinpath(*module.split("."))
        out.add(path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py")
    return sorted(out)


def legacy_code_hash(module: str, root: Path) -> str:
    """The code hash of run keys before definition-level keys (up to commit a3540ec): sha256 over the
    path and code of every lib/ file that ``module`` imports, transitively. Kept only so that
    ``scripts/rekey_store.py`` can verify an old run's key before re-keying it."""
    exempt = {root / name for name in KEY_EXEMPT}

    def imports(path: Path) -> set[Path]:
        tree = ast.parse(path.read_text(), filename=str(path))
        pkg_parts = list(path.relative_to(root).with_suffix("").parts[:-1])
        found: set[Path] = set()

        def add(dotted: list[str]) -> None:
            if dotted and dotted[0] == "lib":
                base = root.joinpath(*dotted)
                found.update(c for c in (base.with_suffix(".py"), base / "__init__.py") if c.exists())

        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name.split("."))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    mod = pkg_parts[: len(pkg_parts) - node.level + 1] + (node.module.split(".") if node.module else [])
                else:
                    mod = (node.module or "").split(".")
                add(mod)
                for alias in node.names:
                    add(mod + [alias.name])
        return found

    base = root.joinpath(*module.split("."))
    seen: set[Path] = set()
    todo = [base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"]
    while todo:
        path = todo.pop()
        if path in seen or path in exempt:
            continue
        seen.add(path)
        todo.extend(imports(path) - seen)
    h = hashlib.sha256()
    for path in sorted(seen):
        h.update(str(path.relative_to(root)).encode())
        h.update(ast.unparse(_strip_docstrings(ast.parse(path.read_text(), filename=str(path)))).encode())
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
