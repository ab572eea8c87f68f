"""Import layering, read from the source with `ast` (nothing is imported):

* runners sit below builders: `edgeseg/runtime` imports nothing from engine, quantize, export, calib, bench,
  commands or the recipe (lazy, function-level imports included);
* the study sits above the toolkit: no toolkit module imports `edgeseg.study` (only the CLI wiring of its
  commands, `edgeseg.commands.campaign` / `compare` / `claims` / `demo`, does, lazily);
* the package has no import cycle among its modules (module-level imports, the ones that run at import);
* no module name is repeated across sub-packages (`__init__`/`__main__` aside), but for a `commands/X.py` that
  mirrors the library module `X` it wraps (it imports it);
* benchmarks/ holds entry points only: each script is `from edgeseg.study.M import f` + `raise SystemExit(f())`
  (the code is in `edgeseg/study`), and nothing there or in the package edits `sys.path`.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "edgeseg"
BENCHMARKS = PKG.parent / "benchmarks"
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


def test_no_module_name_repeated() -> None:
    by_name: dict[str, list[str]] = {}
    for m, p in MODULES.items():
        if p.stem not in ("__init__", "__main__"):
            by_name.setdefault(p.stem, []).append(m)
    assert len(by_name) > 80  # the package was really read
    bad = {}
    for stem, mods in sorted(by_name.items()):
        library = [m for m in mods if not m.startswith("edgeseg.commands.")]
        wrappers = [m for m in mods if m.startswith("edgeseg.commands.")]
        if len(library) > 1:
            bad[stem] = library
        elif library and wrappers and library[0] not in _imports(wrappers[0], module_level=False):
            bad[stem] = [*wrappers, f"(does not wrap {library[0]})"]
    assert not bad, bad


def _entry_point_problem(path: Path) -> str | None:
    """None if `path` is a docstring, `from edgeseg.study.M import f` and `raise SystemExit(f())`; else why not."""
    body = ast.parse(path.read_text(), str(path)).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 2:
        return f"{len(body)} statements besides the docstring (expected an import and a raise)"
    imp, run = body
    if not (isinstance(imp, ast.ImportFrom) and imp.level == 0 and len(imp.names) == 1 and imp.names[0].asname is None
            and (imp.module or "").startswith("edgeseg.study.") and imp.module in MODULES):
        return f"line {imp.lineno}: not `from edgeseg.study.MODULE import NAME`"
    call = f"SystemExit({imp.names[0].name}())"
    if not (isinstance(run, ast.Raise) and run.exc is not None and ast.unparse(run.exc) == call):
        return f"line {run.lineno}: not `raise {call}`"
    return None


def test_benchmark_scripts_are_entry_points() -> None:
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert len(scripts) >= 10
    bad = {p.name: why for p in scripts if (why := _entry_point_problem(p))}
    assert not bad, bad
    long = {p.name: n for p in scripts if (n := len(p.read_text().splitlines())) > 6}
    assert not long, long


def test_entry_point_check_rejects_code(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text('"""doc"""\nfrom edgeseg.study.cpu_matrix import main\n\nraise SystemExit(main())\n')
    assert _entry_point_problem(good) is None
    bad = tmp_path / "bad.py"
    bad.write_text("from edgeseg.study.cpu_matrix import main\nimport sys\nsys.exit(main())\n")
    assert _entry_point_problem(bad) is not None
    toolkit = tmp_path / "toolkit.py"
    toolkit.write_text("from edgeseg.bench.matrix import run_matrix\nraise SystemExit(run_matrix())\n")
    assert "not `from edgeseg.study" in (_entry_point_problem(toolkit) or "")


def test_no_sys_path_edits() -> None:
    """benchmarks/ and the package reach edgeseg as installed, never by editing the import path."""
    def edits(tree: ast.AST) -> list[int]:
        return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "path"
                and isinstance(n.value, ast.Name) and n.value.id == "sys"]

    assert edits(ast.parse("import sys\nsys.path.insert(0, 'x')\n")) == [2]
    files = [*sorted(BENCHMARKS.rglob("*.py")), *MODULES.values()]
    assert len(files) > 100
    bad = {str(p.relative_to(PKG.parent)): lines for p in files if (lines := edits(ast.parse(p.read_text())))}
    assert not bad, bad
