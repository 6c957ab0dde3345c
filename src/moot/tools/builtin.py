"""MCP servers that ship inside moot, by the name a workspace uses in `mcp_servers: {x: {builtin: NAME}}`.

Built-in servers run in-process over FastMCP's in-memory transport: a real protocol session,
no subprocess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _travel() -> Any:
    from moot.tools.travel import make_travel_server

    return make_travel_server()


def _review_desk() -> Any:
    from moot.tools.review_desk import make_review_desk

    return make_review_desk()


BUILTIN_SERVERS: dict[str, Callable[[], Any]] = {"travel": _travel, "review_desk": _review_desk}

__all__ = ["BUILTIN_SERVERS"]
