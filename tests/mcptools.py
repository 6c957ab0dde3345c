"""Helpers for tests that talk to moot's MCP servers with the official `mcp` SDK client.

The servers run as `python -m moot.cli.mcp ...` subprocesses (the same code as `moot mcp ...`):
over stdio the SDK spawns them; over HTTP they start on a free port and are killed at the end.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

MCP_ARGS = ["-m", "moot.cli.mcp"]


@asynccontextmanager
async def stdio_session(args: list[str], env: dict[str, str], log: Path) -> AsyncIterator[ClientSession]:
    """An initialised SDK session with `moot mcp ARGS` over stdio; the server's stderr goes to `log`."""
    params = StdioServerParameters(command=sys.executable, args=[*MCP_ARGS, *args], env=env)
    with log.open("w", encoding="utf-8") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@contextmanager
def http_server(args: list[str], env: dict[str, str], log: Path, timeout: float = 20) -> Iterator[str]:
    """`moot mcp ARGS --http PORT` on a free port; yields its URL once it accepts connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, *MCP_ARGS, *args, "--http", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"the server did not listen on {port} in {timeout} s:\n{log.read_text()}") from None
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@asynccontextmanager
async def http_session(url: str) -> AsyncIterator[ClientSession]:
    """An initialised SDK session over streamable HTTP."""
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            with anyio.fail_after(10):
                await session.initialize()
            yield session


def data(result: CallToolResult) -> Any:
    """A successful call's structured content (a list result arrives wrapped as `{"result": [...]}`)."""
    assert not result.is_error, result.content
    content = result.structured_content
    assert content is not None, result.content
    return content["result"] if set(content) == {"result"} else content


def error_text(result: CallToolResult) -> str:
    """A tool error's text."""
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)
