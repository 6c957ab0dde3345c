"""MCP servers that ship inside moot, by the name a workspace uses in `mcp_servers: {x: {builtin: NAME}}`.

Built-in servers run in-process over FastMCP's in-memory transport: a real protocol session,
no subprocess. Their files (the travel inventory, the filed reviews) live under `$MOOT_HOME` by
default; `builtin_servers(home)` puts them under another folder, so `moot eval` can give every
task a fresh inventory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the servers (and fastmcp) load when a workspace starts one, not with the table
    from fastmcp import FastMCP


def builtin_servers(home: Path | None = None) -> dict[str, Callable[[], FastMCP]]:
    """Factories of the built-in servers; with `home`, their files live under that folder."""

    def travel() -> FastMCP:
        from moot.builtin.servers.travel import make_travel_server

        return make_travel_server(home / "travel.db" if home is not None else None)

    def review_desk() -> FastMCP:
        from moot.builtin.servers.review_desk import make_review_desk

        return make_review_desk(home / "reviews" if home is not None else None)

    return {"travel": travel, "review_desk": review_desk}


BUILTIN_SERVERS: dict[str, Callable[[], FastMCP]] = builtin_servers()

__all__ = ["BUILTIN_SERVERS", "builtin_servers"]
