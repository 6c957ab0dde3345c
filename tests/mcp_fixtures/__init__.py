"""Real MCP servers for the tool tests: an in-memory FastMCP server, and paths to stdio ones.

`faulty.py` (stdio or HTTP) fails on purpose; `tally_server()` is a well-behaved in-memory server
that keeps per-instance state and honours idempotency keys, as the travel server must.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fastmcp import Context, FastMCP

from moot.tools.types import ServerSpec, idempotency_key

HERE = Path(__file__).resolve().parent
FAULTY = HERE / "faulty.py"
ROOT = HERE.parent.parent
EVERYTHING = ROOT / ".npm-tools/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
TIME_SERVER = Path(sys.executable).parent / "mcp-server-time"


def faulty_spec(state: Path, **limits: Any) -> ServerSpec:
    """The faulty server over stdio, journaling into `state`; `limits` are ServerSpec fields."""
    return ServerSpec(command=[sys.executable, str(FAULTY)], env={"MOOT_FIXTURE_STATE": str(state)}, **limits)


def journal(state: Path, tool: str | None = None) -> list[dict[str, Any]]:
    """The calls that reached the faulty server (every process it ran as), oldest first."""
    path = state / "calls.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if tool is None or line["tool"] == tool]


class Tally:
    """What a `tally_server()` instance saw: every call with its idempotency key, and its bookings."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.bookings: dict[str, dict[str, Any]] = {}


def tally_server(tally: Tally | None = None, name: str = "tally") -> FastMCP:
    """An in-memory server with a per-instance counter and an idempotent `book`."""
    tally = tally if tally is not None else Tally()
    mcp = FastMCP(name)
    count = 0

    @mcp.tool
    def increment(ctx: Context) -> int:
        """Add one to this server's counter and return it."""
        nonlocal count
        tally.calls.append(("increment", idempotency_key(ctx)))
        count += 1
        return count

    @mcp.tool
    def book(item: str, nights: int, ctx: Context) -> dict[str, Any]:
        """Book `item` for `nights`; the same idempotency key books once."""
        key = idempotency_key(ctx)
        tally.calls.append(("book", key))
        if key is not None and key in tally.bookings:
            return tally.bookings[key]
        booking = {"id": f"B{len(tally.bookings) + 1}", "item": item, "nights": nights}
        tally.bookings[key or booking["id"]] = booking
        return booking

    return mcp


__all__ = ["EVERYTHING", "FAULTY", "TIME_SERVER", "Tally", "faulty_spec", "journal", "tally_server"]
