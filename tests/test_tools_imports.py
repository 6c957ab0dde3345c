"""The MCP client stays a client: `moot.tools` imports nothing from the layers that use it.

Read from the source (every `import` and `from ... import`, lazy ones inside functions too), not
from `sys.modules`, so an import that only runs on some path is caught as well. The demo servers
(`moot.builtin.servers`) sit on top of the client and may use its types; nothing below them may
import them back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import moot

SRC = Path(moot.__file__).parent


def moot_imports(package: str) -> dict[str, set[str]]:
    """`{module: {"file:line", ...}}` for every `moot.*` module imported anywhere in `package`."""
    folder = SRC.joinpath(*package.split(".")[1:])
    paths = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    assert paths and paths[0].is_file(), f"no source for {package} at {folder}"
    found: dict[str, set[str]] = {}
    for path in paths:
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        here = parts if path.name == "__init__.py" else parts[:-1]  # the package a relative import starts in
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if name == "moot" or name.startswith("moot."):
                    found.setdefault(name, set()).add(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    return found


def offending(package: str, allowed: tuple[str, ...]) -> dict[str, set[str]]:
    return {
        name: where
        for name, where in moot_imports(package).items()
        if not any(name == ok or name.startswith(f"{ok}.") for ok in allowed)
    }


def test_the_tool_package_imports_only_the_core_and_settings() -> None:
    # in particular none of moot.orchestrator, moot.runtime, moot.persistence, moot.workspace,
    # moot.graph, moot.agents, moot.builtin (the demo servers) or moot.mcp (moot's own server)
    # (moot.telemetry is of the core: the spans of a tool call, a no-op unless tracing is on)
    upward = offending("moot.tools", ("moot.tools", "moot.errors", "moot.settings", "moot.telemetry"))
    assert not upward, f"moot.tools must not import the layers above it: {upward}"


def test_the_demo_servers_use_the_client_types_not_the_stack() -> None:
    upward = offending("moot.builtin", ("moot.builtin", "moot.tools.types", "moot.errors", "moot.settings"))
    assert not upward, f"the built-in MCP servers must depend on moot.tools.types and moot.settings only: {upward}"


def test_settings_import_nothing_of_moot_but_its_errors() -> None:
    upward = offending("moot.settings", ("moot.settings", "moot.errors"))
    assert not upward, f"moot.settings is read by every layer and must import none of them: {upward}"


def test_the_reader_sees_lazy_and_relative_imports() -> None:
    """The check itself: an import inside a function counts (`Runtime.open_tools` style)."""
    found = moot_imports("moot.builtin")
    assert "moot.builtin.servers.travel" in found  # lazy, in the registry's factories
    assert "moot.builtin.servers.registry" in found  # the package face's import
