"""kgbuild's modules import each other without a cycle.

The import graph is read from the source (no module is imported): an edge A -> B for
each ``import B`` / ``from B import x`` in A. ``from pkg import name`` is an edge to
``pkg.name`` when that is a module of kgbuild, else to ``pkg``. Imports under
``if TYPE_CHECKING:`` never count (annotations only). Importing a package's submodule
runs the package's ``__init__`` first; that is not an edge (the package is already
being imported then).

Two graphs:

* import time: the imports that run when a module is imported (module level, class
  bodies, ``if``/``try`` blocks there). A cycle here makes the import order matter.
* with deferred imports: also the imports inside functions. Moving an import into a
  function hides a cycle from the interpreter, not from the reader: the two modules
  still depend on each other (the pipeline's api <-> builder <-> ray_engine was one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "kgbuild"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(body: list[ast.stmt], deferred: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of ``body``; inside functions too when ``deferred``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            yield from imports(node.orelse, deferred)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not deferred:
            continue
        else:
            for block in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, block, None) or []:
                    if isinstance(child, ast.stmt):
                        yield from imports([child], deferred)
                    elif hasattr(child, "body"):  # except handler, match case
                        yield from imports(child.body, deferred)


def import_graph(*, deferred: bool) -> nx.DiGraph:
    files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in imports(tree.body, deferred):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from . import x, from ..a import b
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            for target in targets:
                if target in files and target != name:
                    graph.add_edge(name, target)
    return graph


def cycles_of(graph: nx.DiGraph) -> list[list[str]]:
    """Every simple cycle, each starting at its first module by name, shortest first."""
    cycles = []
    for cycle in nx.simple_cycles(graph):
        first = cycle.index(min(cycle))
        cycles.append(cycle[first:] + cycle[:first])
    return sorted(cycles, key=lambda c: (len(c), c))


def shown(cycles: list[list[str]]) -> str:
    lines = [" -> ".join([*c, c[0]]) for c in cycles[:20]]
    more = [f"... and {len(cycles) - 20} more"] if len(cycles) > 20 else []
    return f"{len(cycles)} import cycle(s) in kgbuild/:\n" + "\n".join(lines + more)


def test_the_graph_reads_imports_as_python_runs_them():
    at_import = import_graph(deferred=False)
    every = import_graph(deferred=True)
    assert at_import.has_edge("kgbuild.pipeline", "kgbuild.pipeline.builder")
    assert at_import.has_edge("kgbuild.pipeline.builder", "kgbuild.store.base")
    # kgbuild/__init__ imports its public names on first use (inside __getattr__) and
    # under TYPE_CHECKING: at import time only the version.
    assert list(at_import.successors("kgbuild")) == ["kgbuild._version"]
    # open_store imports the Neo4j backend when a URI asks for it (inside the function).
    assert not at_import.has_edge("kgbuild.store", "kgbuild.store.neo4j_store")
    assert every.has_edge("kgbuild.store", "kgbuild.store.neo4j_store")


def test_no_import_cycles_at_import_time():
    cycles = cycles_of(import_graph(deferred=False))
    assert not cycles, shown(cycles)


def test_no_import_cycles_counting_deferred_imports():
    cycles = cycles_of(import_graph(deferred=True))
    assert not cycles, shown(cycles)


def test_nothing_inside_kgbuild_imports_from_the_package_root():
    """``kgbuild/__init__`` loads the pipeline lazily; a module importing a name from it
    (``from kgbuild import __version__``) closes a circle: use ``kgbuild._version``."""
    graph = import_graph(deferred=True)
    assert sorted(graph.predecessors("kgbuild")) == []
