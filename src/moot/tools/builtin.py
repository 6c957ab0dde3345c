"""MCP servers that ship inside moot, by the name a workspace uses in `mcp_servers: {x: {builtin: NAME}}`.

Built-in servers run in-process over FastMCP's in-memory transport: a real protocol session,
no subprocess. Their files (the travel inventory, the filed reviews) live under `$MOOT_HOME` by
default; `builtin_servers(home)` puts them under another folder, so `moot eval` can give every
task a fresh inventory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def builtin_servers(home: Path | None = None) -> dict[str, Callable[[], Any]]:
    """Factories of the built-in servers; with `home`, their files live under that folder."""

    def travel() -> Any:
        from moot.tools.travel import make_travel_server

        return make_travel_server(home / "travel.db" if home is not None else None)

    def review_desk() -> Any:
        from moot.tools.review_desk import make_review_desk

        return make_review_desk(home / "reviews" if home is not None else None)

    return {"travel": travel, "review_desk": review_desk}


BUILTIN_SERVERS: dict[str, Callable[[], Any]] = builtin_servers()

__all__ = ["BUILTIN_SERVERS", "builtin_servers"]
