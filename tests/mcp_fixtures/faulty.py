"""A FastMCP server (stdio, or streamable HTTP with `--http PORT`) that fails on purpose, for the ToolRuntime's fault tests.

Every call is appended to `$MOOT_FIXTURE_STATE/calls.jsonl` (tool, arguments, the idempotency key
the client sent in `_meta`, pid) before the tool acts, so a test can count what really reached a
server across restarts. "The first `times` calls" count calls with the same idempotency key (the
attempts of one ToolRuntime call), in files in that folder, so they survive a crash.

Tools:
- `crash(times)`: the process exits mid-call (no answer) on the first `times` calls, then answers.
- `hang(seconds)`: sleeps, so a short client timeout expires.
- `freeze(times, seconds)`: blocks the whole process (no answer to anything) on the first `times` calls.
- `busy(times)`: says "try again" (an error result starting with `retry:`) `times` times, then answers.
- `malformed()`: structured content that breaks its own declared output schema.
- `fail()`: a tool's own error answer (isError), which must never be retried.
- `counter()`: a per-process counter: proves the session (and so the process) is kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools.base import ToolResult

from moot.tools.types import idempotency_key

STATE = Path(os.environ["MOOT_FIXTURE_STATE"])
mcp = FastMCP("faulty")
_count = 0


def _record(ctx: Context, tool: str, arguments: dict[str, Any]) -> str:
    """Journal the call; return its idempotency key."""
    key = idempotency_key(ctx) or "-"
    line = {"tool": tool, "arguments": arguments, "key": key, "pid": os.getpid()}
    with (STATE / "calls.jsonl").open("a") as f:
        f.write(json.dumps(line) + "\n")
    return key


def _bump(tool: str, key: str) -> int:
    """How many times `tool` was called with `key`, counting this call, in a file: it survives the
    crashes that the tests cause, and tests that share a server do not disturb each other."""
    path = STATE / f"{tool}-{key.replace('/', '_')}.count"
    n = int(path.read_text()) if path.exists() else 0
    path.write_text(str(n + 1))
    return n + 1


@mcp.tool
async def crash(times: int, ctx: Context) -> dict[str, int]:
    """Exit the process mid-call on the first `times` calls; answer after that."""
    n = _bump("crash", _record(ctx, "crash", {"times": times}))
    if n <= times:
        os._exit(3)
    return {"calls": n}


@mcp.tool
async def hang(seconds: float, ctx: Context) -> str:
    """Answer after `seconds`."""
    _record(ctx, "hang", {"seconds": seconds})
    await asyncio.sleep(seconds)
    return "woke up"


@mcp.tool
async def freeze(times: int, seconds: float, ctx: Context) -> int:
    """Block the process's event loop for `seconds` on the first `times` calls: it answers nothing."""
    n = _bump("freeze", _record(ctx, "freeze", {"times": times, "seconds": seconds}))
    if n <= times:
        time.sleep(seconds)
    return os.getpid()


@mcp.tool
async def busy(times: int, ctx: Context) -> str:
    """Say 'retry: busy' on the first `times` calls: the convention for a server's 'try again'."""
    n = _bump("busy", _record(ctx, "busy", {"times": times}))
    if n <= times:
        raise ToolError(f"retry: busy ({n} of {times})")
    return f"done after {n} calls"


@mcp.tool(output_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
async def malformed(ctx: Context) -> ToolResult:
    """Return structured content that does not match the declared output schema."""
    _record(ctx, "malformed", {})
    return ToolResult(content="n is not a number", structured_content={"n": "not a number"})


@mcp.tool
async def fail(ctx: Context) -> str:
    """Answer with the tool's own error (isError)."""
    _record(ctx, "fail", {})
    raise ToolError("no seats left on that flight")


@mcp.tool
async def counter(ctx: Context) -> int:
    """Count calls in this process: proves that one session (one process) serves every call."""
    global _count
    _record(ctx, "counter", {})
    _count += 1
    return _count


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--http":  # streamable HTTP on 127.0.0.1:PORT/mcp
        mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[2]), show_banner=False)
    else:
        mcp.run(show_banner=False)
