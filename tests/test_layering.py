"""Import layering, read from the source with `ast` (nothing is imported):

* runners sit below builders: `edgeseg/runtime` imports nothing from engine, quantize, export, calib, bench,
  commands or the recipe (lazy, function-level imports included);
* the study sits above the toolkit: no toolkit module imports `edgeseg.study` (only the CLI wiring of its
  commands, `edgeseg.commands.campaign` / `compare` / `claims` / `demo`, does, lazily);
* the package has no import cycle among its modules (module-level imports, the ones that run at import).
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "edgeseg"
FORBIDDEN_IN_RUNTIME = ("edgeseg.engine", "edgeseg.quantize", "edgeseg.export", "edgeseg.calib", "edgeseg.bench",
                        "edgeseg.commands", "edgeseg.recipe")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _targets(node: ast.AST, here: str) -> list[str]:
    """The edgeseg modules an import statement loads (`from pkg import sub` loads pkg.sub when it is one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "edgeseg"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative import
        base = here.split(".")
        is_pkg = MODULES[here].name == "__init__.py"
        base = base[:len(base) - node.level + (1 if is_pkg else 0)]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    if mod.split(".")[0] != "edgeseg":
        return []
    subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
    return subs if subs and len(subs) == len(node.names) else [mod, *subs]


def _imports(name: str, module_level: bool) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    if not module_level:
        nodes = list(ast.walk(tree))
    else:  # statements that run at import time: top level, inside top-level try/if (not `if TYPE_CHECKING`)
        nodes, todo = [], list(tree.body)
        while todo:
            n = todo.pop()
            nodes.append(n)
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
                continue
            if isinstance(n, (ast.Try, ast.If, ast.With)):
                todo += [*n.body, *getattr(n, "orelse", []), *getattr(n, "finalbody", []),
                         *(s for h in getattr(n, "handlers", []) for s in h.body)]
    return {t for n in nodes for t in _targets(n, name)}


def test_runtime_imports_no_builder() -> None:
    runtime = [m for m in MODULES if m == "edgeseg.runtime" or m.startswith("edgeseg.runtime.")]
    assert len(runtime) >= 5
    bad = {m: sorted(t for t in _imports(m, module_level=False)
                     if any(t == f or t.startswith(f + ".") for f in FORBIDDEN_IN_RUNTIME)) for m in runtime}
    assert not {m: b for m, b in bad.items() if b}, bad


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in `graph` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_cycle_detector_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle() -> None:
    graph = {m: {t for t in _imports(m, module_level=True) if t in MODULES and t != m} for m in MODULES}
    assert sum(map(len, graph.values())) > 50  # the graph was really read
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


STUDY_CLI = ("edgeseg.commands.campaign", "edgeseg.commands.compare", "edgeseg.commands.claims",
             "edgeseg.commands.demo")


def test_toolkit_imports_no_study() -> None:
    def study(m: str) -> bool:
        return m == "edgeseg.study" or m.startswith("edgeseg.study.")

    toolkit = [m for m in MODULES if not study(m) and m not in STUDY_CLI]
    assert len(toolkit) > 50 and any(study(m) for m in MODULES)
    bad = {m: sorted(t for t in _imports(m, module_level=False) if study(t)) for m in toolkit}
    assert not {m: b for m, b in bad.items() if b}, bad
