"""The modules of lib/ form layers, and every import points down or across, never up."""

from pathlib import Path

import pytest

from lib.provenance import CodeIndex

ROOT = Path(__file__).resolve().parent.parent

#: lib/'s layers, lowest first; a module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("lib", "lib.paths", "lib.config", "lib.seeds")),
    ("policies", ("lib.policies",)),
    ("data", ("lib.data", "lib.evaluation")),
    ("learners", ("lib.learners",)),
    ("runs and statistics", ("lib.provenance", "lib.store", "lib.stats", "lib.verdicts", "lib.checks")),
    ("figures, pages and the assignment's command line", ("lib.publish.plots", "lib.publish.report", "lib.publish.animate",
                                                         "lib.assignment")),
    ("sections", ("lib.sections",)),
    ("notebook calls, parameters and pages", ("lib.run", "lib.params", "lib.preregistration", "lib.publish.present",
                                              "lib.pages")),
    ("commands", ("lib.workbook",)),
]


def layer(module: str) -> int:
    """The index in :data:`LAYERS` of ``module``'s layer."""
    best, length = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = i, len(p)
    assert best is not None, f"{module} is in no layer of LAYERS"
    return best


def modules() -> list[str]:
    return sorted(str(p.relative_to(ROOT).with_suffix("")).replace("/", ".").removesuffix(".__init__")
                  for p in (ROOT / "lib").rglob("*.py"))


def imports() -> dict[str, set[str]]:
    """module -> the lib/ modules it imports (at any depth: function-level imports count)."""
    index = CodeIndex(ROOT)
    out: dict[str, set[str]] = {}
    for m in modules():
        targets = set()
        for name in index.module(m).imports:
            found = index.lookup(m, name)
            target = found if isinstance(found, str) else found[0] if found else None
            if target and target != m:
                targets.add(target)
        out[m] = targets
    return out


def test_every_import_points_down_or_across():
    """Red for: a data module importing a learner, a learner importing the store, the store importing a
    section, a section importing the notebook calls (each an arrow back up)."""
    up = [f"{m} ({LAYERS[layer(m)][0]}) -> {t} ({LAYERS[layer(t)][0]})"
          for m, ts in imports().items() for t in sorted(ts) if layer(t) > layer(m)]
    assert not up, "imports that point up:\n" + "\n".join(up)


def test_no_import_cycle():
    """Red for: two modules that import each other, directly or through others."""
    graph = imports()
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                cycles.append(" -> ".join(path[path.index(t):] + [t]) if t in path else f"{m} -> {t}")
            elif t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_lib_imports_sit_at_the_top_of_their_module():
    """lib/ modules import each other at module level, where the layering test and a reader see them; a
    function-level import is kept only for a heavy optional package (papermill, ray, nbconvert ...).
    Red for: a function-level ``from ..x import y`` hiding an arrow."""
    import ast

    hidden = []
    for m in modules():
        path = ROOT.joinpath(*m.split(".")) if not (ROOT.joinpath(*m.split(".")) / "__init__.py").exists() else None
        path = (ROOT / (m.replace(".", "/") + ".py")) if (ROOT / (m.replace(".", "/") + ".py")).exists() \
            else ROOT / m.replace(".", "/") / "__init__.py"
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        top |= {id(n) for s in tree.body if isinstance(s, ast.If) for n in s.body}  # if TYPE_CHECKING:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in top and (node.level or (node.module or "").startswith("lib")):
                hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not hidden, "function-level lib/ imports:\n" + "\n".join(hidden)
