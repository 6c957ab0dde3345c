#!/usr/bin/env python3
"""List the file-level import cycles inside some of moot's packages.

Why file level, and why every import: a lazy import inside a function hides a cycle from the
interpreter (the module is complete by the time the function runs) but not from a reader, who
still has to hold both files in mind to follow either. So every `import` and `from ... import`
counts, at module level or inside a function, under `if TYPE_CHECKING:` too. An edge goes to the
module that is named (`from a.b import c` goes to `a.b.c` when that is a module, else to `a.b`);
the parent packages that Python runs first are not counted, so a package `__init__` that
re-exports its own modules is not a cycle (the LangGraph `channels/` layout), while a module
that imports its own package's face back is.

    python scripts/import_cycles.py                      # memory/ and service/
    python scripts/import_cycles.py src/moot/graph ...   # any package folders under src/

Prints one line per cycle (the files of a strongly connected component, and one closed path
through them) and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DEFAULT_PACKAGES = ("src/moot/memory", "src/moot/service")


def module_name(path: Path, src: Path = SRC) -> str:
    """`src/moot/memory/episodic/base.py` → `moot.memory.episodic.base` (`__init__` → the package)."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an `ImportFrom` names, resolving `from . import x` and friends."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, module: str, known: Iterable[str]) -> set[str]:
    """Every module of `known` that `path` imports, wherever the import statement sits."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in known else base)
    return {t for t in targets if t in known and t != module}


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module → the modules of the same source tree it imports."""
    files = {module_name(p, src): p for p in sorted(src.rglob("*.py"))}
    return {name: imports_of(path, name, files) for name, path in files.items()}


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (a module never imports itself here)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # iterative, so a deep chain of imports cannot hit the recursion limit
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def closed_path(graph: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    """The shortest cycle through the component's first module, for the message."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {start: start}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt in members and nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    return component


def cycles(packages: Iterable[str], src: Path = SRC) -> list[tuple[list[str], list[str]]]:
    """The cycles among the modules of `packages` (dotted names): (component, one closed path)."""
    roots = tuple(packages)

    def within(name: str) -> bool:
        return any(name == root or name.startswith(f"{root}.") for root in roots)

    graph = import_graph(src)
    inside = {name: {t for t in targets if within(t)} for name, targets in graph.items() if within(name)}
    return [(component, closed_path(inside, component)) for component in strongly_connected(inside)]


def main(argv: list[str]) -> int:
    folders = argv or list(DEFAULT_PACKAGES)
    packages = [module_name((ROOT / folder).resolve() / "__init__.py") for folder in folders]
    found = cycles(packages)
    for component, path in found:
        print(f"cycle of {len(component)}: {' -> '.join(path)}   [{', '.join(component)}]")
    print(f"{len(found)} file-level import cycle(s) in {', '.join(packages)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
