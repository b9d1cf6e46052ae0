"""The import graph of src/ and plugins/: no circle anywhere (module-level or inside functions;
imports under ``if TYPE_CHECKING:`` aside), and the core imports no bundled plugin.

``python tests/core/test_import_graph.py`` prints the core's edges into bundled plugins and the number of
circles (the numbers in the notes)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
TREES = (ROOT / "src", ROOT / "plugins")


def _modules() -> dict[str, Path]:
    out = {}
    for tree in TREES:
        for path in tree.rglob("*.py"):
            name = ".".join(path.relative_to(tree).with_suffix("").parts).removesuffix(".__init__")
            out[name] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file, except under TYPE_CHECKING."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}".strip(".") if base else parent
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One example path for each strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    import sys

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return groups


def core_to_plugins(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() if a == "micro_bench" or a.startswith("micro_bench.")
                  for b in targets if b.startswith("micro_bench_"))


def test_no_import_circle_in_src_or_plugins():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(g) for g in found)


def test_the_core_imports_no_bundled_plugin():
    edges = core_to_plugins(import_graph())
    assert not edges, "the core imports bundled plugins: " + ", ".join(f"{a} -> {b}" for a, b in edges)


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    modules = {"pkg": tmp_path / "pkg" / "__init__.py", "pkg.a": tmp_path / "pkg" / "a.py", "pkg.b": tmp_path / "pkg" / "b.py"}
    for path in modules.values():
        path.parent.mkdir(exist_ok=True)
    modules["pkg"].write_text("")
    modules["pkg.a"].write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n"
                                "def f():\n    from . import b\n")
    modules["pkg.b"].write_text("import pkg.a\n")
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert circles(graph) == [["pkg.a", "pkg.b"]]


if __name__ == "__main__":  # pragma: no cover - the numbers for the notes
    g = import_graph()
    edges = core_to_plugins(g)
    print(f"{len(edges)} core -> bundled plugin edges:")
    for a, b in edges:
        print(f"  {a} -> {b}")
    found = circles(g)
    print(f"{len(found)} import circle group(s):")
    for group in found:
        print("  " + " <-> ".join(group))
