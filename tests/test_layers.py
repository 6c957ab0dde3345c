"""The import graph of `moot` keeps its layers: no cycle between packages, no import upwards.

Layers, lowest first (design §1 and issue 12): the core (state, policy, expressions, events, telemetry...)
← the parts a run is made of (models, tools = the MCP client, persistence, memory, intake,
stages, the built-in demo MCP servers) ← agents ← graph ← orchestrator ← workspace ← the faces
(CLI, service, moot's own MCP server, eval). Every import counts: at module level, inside a function
(lazy) and under `TYPE_CHECKING`, since each one is a dependency a reader must follow.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import moot

PACKAGE = Path(moot.__file__).parent

LAYERS: list[set[str]] = [
    {"moot", "errors", "settings", "state", "policy", "expressions", "templates", "constraints", "history", "outcome", "events", "accounting", "run", "telemetry"},
    {"models", "tools", "persistence", "memory", "intake", "stages", "logs", "builtin"},
    {"agents"},
    {"graph", "state_io"},
    {"orchestrator"},
    {"workspace"},
    {"cli", "service", "mcp", "eval"},
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def unit_of(module: str) -> str | None:
    """The top-level unit of a `moot.x.y` module name: `x` (a package or a top-level module)."""
    parts = module.removesuffix(".__init__").split(".")
    if parts[0] != "moot":
        return None
    return parts[1] if len(parts) > 1 else "moot"


def imports() -> dict[str, set[tuple[str, str]]]:
    """unit → {(imported unit, "file:line")} for every import of another unit."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        unit = unit_of(module)
        assert unit is not None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level > 0:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if path.name == "__init__.py" else 0)]
                names = [".".join([*base, node.module] if node.module else base)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = unit_of(name)
                if target is not None and target != unit:
                    found[unit].add((target, f"{rel}:{node.lineno}"))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) for p in PACKAGE.rglob("*.py")}
    assert units - set(LAYER_OF) == set(), "place each new package or top-level module in a layer of LAYERS"


def test_no_unit_imports_a_layer_above_it() -> None:
    upward = sorted(
        f"{where}: {unit} (layer {LAYER_OF[unit]}) imports {target} (layer {LAYER_OF[target]})"
        for unit, targets in imports().items()
        for target, where in targets
        if LAYER_OF.get(target, -1) > LAYER_OF.get(unit, -1)
    )
    assert upward == []


def test_no_cycle_between_units() -> None:
    graph = {unit: {target for target, _ in targets} for unit, targets in imports().items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(unit: str, path: list[str]) -> None:
        state[unit] = 1
        for target in sorted(graph.get(unit, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target] if target in path else [unit, target])
            elif target not in state:
                visit(target, [*path, target])
        state[unit] = 2

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    assert cycles == []
