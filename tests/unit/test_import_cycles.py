"""No import cycle in showcase/ or benchmarks/, and reporting imports no measurement module.

The graph is read with ``ast`` from every .py file, without importing anything. An edge runs
from a module to the most specific module an import names (``from a import b`` is ``a.b``
when ``a/b.py`` exists, else ``a``); the packages above it are left out, or every submodule
would form a cycle with its own package's ``__init__``. Imports inside functions count: a
lazy import still makes the two modules depend on each other, it only moves the failure
from import time to the first call.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("showcase", "benchmarks")
# What reporting must not import: what measures, and every entry point (benchmarks.<name>).
MEASURING = ("benchmarks.infra", "benchmarks.load", "benchmarks.reference")


def module_files() -> dict[str, Path]:
    """Every module of PACKAGES by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """The dotted names ``name`` imports anywhere in its file, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of PACKAGES it imports (the most specific that exists)."""
    files = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for imported in imported_names(name, path):
            if imported in files and imported != name:
                targets.add(imported)
        # ``from a import b`` names both ``a`` and ``a.b``: keep ``a.b`` alone when it exists.
        graph[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that starts and ends at the same module, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    assert "benchmarks.report.plots" in graph["benchmarks.infra.harness"]  # inside a function
    assert graph["showcase.web"], "relative imports of a package resolve"


def test_find_cycle_names_the_modules_of_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_showcase_or_benchmarks() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_reporting_imports_no_measurement_module() -> None:
    graph = import_graph()
    entry_points = {n for n in graph if n.count(".") == 1 and n.startswith("benchmarks.")}
    entry_points -= {"benchmarks.infra", "benchmarks.load", "benchmarks.reference"}
    entry_points.discard("benchmarks.report")
    wrong = {
        f"{name} → {target}"
        for name, targets in graph.items()
        if name.startswith("benchmarks.report") or name == "benchmarks.guide"
        for target in targets
        if target.startswith(MEASURING) or target in entry_points
    }
    assert not wrong, sorted(wrong)
