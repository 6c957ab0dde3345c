"""One MCP session per configured server: the transport a `ServerSpec` names, opened once.

A `ServerConnection` is opened at start-up and kept for the ToolRuntime's life, because servers
may keep state per session (a cart, a login, a counter); it is reopened only when the session is
lost (the process exited, the HTTP stream broke), never per call. A stdio server's stderr goes to
a log file, and the end of that file is quoted when the server cannot start.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import mcp_types
from fastmcp import Client, FastMCP
from fastmcp.client.transports import ClientTransport, FastMCPTransport, StdioTransport, StreamableHttpTransport
from mcp.client.stdio import get_default_environment

from moot.errors import ConfigError
from moot.settings import otel_variables
from moot.tools.errors import ServerStartError
from moot.tools.types import IDEMPOTENCY_META_KEY, ServerSpec

Builtins = Mapping[str, Callable[[], FastMCP]]
_STDERR_TAIL = 2000


def describe(spec: ServerSpec) -> str:
    """What a spec starts or reaches, as a message names it."""
    if spec.builtin:
        return f"builtin server {spec.builtin!r}"
    if spec.command:
        return f"command `{shlex.join(spec.command)}`"
    return f"URL {spec.url}"


def stdio_env(spec: ServerSpec) -> dict[str, str]:
    """A stdio server's environment: the MCP SDK's minimal safe set, the `OTEL_*` tracing settings
    (a server that traces joins the run's trace), then the spec's `env` on top."""
    return get_default_environment() | otel_variables() | dict(spec.env)


def _executable(spec: ServerSpec) -> str | None:
    """The stdio command's program resolved as the spawn will resolve it, or None if it is missing."""
    assert spec.command
    program = spec.command[0]
    if os.sep in program:
        path = Path(spec.cwd or ".", program) if not os.path.isabs(program) else Path(program)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program, path=stdio_env(spec).get("PATH"))


def transport_for(
    name: str, spec: ServerSpec, builtins: Builtins | None = None, *, stderr: Path | None = None
) -> ClientTransport:
    """The fastmcp transport of a spec: in-memory (builtin), stdio (command) or streamable HTTP (url)."""
    if spec.builtin:
        factory = (builtins or {}).get(spec.builtin)
        if factory is None:
            known = ", ".join(sorted(builtins or {})) or "none"
            raise ConfigError(
                f"MCP server {name!r}: unknown builtin server {spec.builtin!r} (built-in servers: {known}); "
                f"fix mcp_servers.{name}.builtin in moot.yaml"
            )
        return FastMCPTransport(factory())
    if spec.command:
        return StdioTransport(
            spec.command[0], list(spec.command[1:]), env=stdio_env(spec), cwd=spec.cwd, keep_alive=False, log_file=stderr
        )
    assert spec.url
    return StreamableHttpTransport(spec.url)


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class ServerConnection:
    """The one client session of one server. `generation` counts the sessions opened so far, so
    that concurrent calls which all saw the same session die reopen it only once."""

    def __init__(self, name: str, spec: ServerSpec, *, builtins: Builtins | None = None, log_dir: Path) -> None:
        self.name = name
        self.spec = spec
        self.generation = 0
        self.stderr_path = log_dir / f"{name}.log" if spec.command else None
        self._builtins = builtins
        self._builtin: FastMCP | None = None
        self._client: Client[Any] | None = None
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._lost = -1

    @property
    def client(self) -> Client[Any]:
        if self._client is None:
            raise ConnectionError(f"MCP server {self.name!r} is not connected")
        return self._client

    def _transport(self) -> ClientTransport:
        if self.spec.builtin:
            # One server instance for the runtime's life: a reconnect must not lose its state.
            if self._builtin is None:
                transport = transport_for(self.name, self.spec, self._builtins)
                assert isinstance(transport, FastMCPTransport)
                self._builtin = transport.server  # type: ignore[assignment]
                return transport
            return FastMCPTransport(self._builtin)
        return transport_for(self.name, self.spec, stderr=self.stderr_path)

    async def _connect(self) -> Client[Any]:
        client: Client[Any] = Client(self._transport(), init_timeout=self.spec.start_timeout_s)
        try:
            await client.__aenter__()
        except BaseException:
            await self._discard(client)
            raise
        return client

    async def open(self) -> list[mcp_types.Tool]:
        """Start or reach the server and list its tools; a `ServerStartError` says why it could not."""
        if self.spec.command and _executable(self.spec) is None:
            raise ServerStartError(
                self.name,
                describe(self.spec),
                f"{self.spec.command[0]!r} is not installed (not found on the server's PATH)",
                fix=f"Install it, or fix mcp_servers.{self.name}.command in moot.yaml.",
            )
        if self.stderr_path is not None:
            self.stderr_path.write_bytes(b"")  # this runtime's log: restarts append to it
        try:
            self._client = await self._connect()
            self.generation += 1
            async with asyncio.timeout(self.spec.start_timeout_s):
                return await self._client.list_tools()
        except ConfigError:
            raise
        except Exception as exc:
            await self.close()
            raise self._start_error(exc) from exc

    def _start_error(self, exc: BaseException) -> ServerStartError:
        if _caused_by(exc, TimeoutError):
            reason = f"it did not answer the MCP handshake and tools/list within {self.spec.start_timeout_s:g} s"
        elif self.spec.command:
            reason = f"it exited or failed during start-up ({type(exc).__name__}: {exc})"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        if self.spec.url:
            fix = f"Start the server, or fix mcp_servers.{self.name}.url in moot.yaml."
        elif self.spec.command:
            fix = f"Check that the command runs on its own, or fix mcp_servers.{self.name}.command in moot.yaml."
        else:
            fix = "This is a bug in the built-in server."
        return ServerStartError(self.name, describe(self.spec), reason, fix=fix, stderr=self.stderr_tail())

    def stderr_tail(self) -> str:
        """The end of what a stdio server wrote to its stderr (its log file), for error messages."""
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        with self.stderr_path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _STDERR_TAIL))
            return f.read().decode(errors="replace").strip()

    async def call(self, tool: str, arguments: dict[str, Any], *, key: str) -> mcp_types.CallToolResult:
        """One tools/call on the current session, with the idempotency key in `_meta`."""
        return await self.client.call_tool_mcp(
            tool, arguments, timeout=self.spec.timeout_s, meta={IDEMPOTENCY_META_KEY: key}
        )

    async def alive(self) -> bool:
        """Whether the session still answers (asked after a timeout: a hung server is restarted).
        tools/list, not ping: the modern protocol era has no ping."""
        try:
            async with asyncio.timeout(min(self.spec.timeout_s, 5.0)):
                await self.client.list_tools_mcp(cache_mode="bypass")
            return True
        except Exception:
            return False

    def mark_lost(self, seen: int) -> None:
        """Session `seen` is gone (or hung): the next call reopens it before sending anything."""
        self._lost = seen

    @property
    def lost(self) -> bool:
        return self._lost == self.generation or self._client is None

    async def reconnect(self, seen: int) -> None:
        """Open a new session (a new process for stdio) unless another call already replaced
        session `seen`. Errors propagate: the caller counts them as a failed attempt."""
        async with self._lock:
            if self.generation != seen and self._client is not None:
                return
            old, self._client = self._client, None
            if old is not None:  # stopping a hung process takes seconds: do it beside the restart
                task = asyncio.create_task(self._discard(old))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            async with asyncio.timeout(self.spec.start_timeout_s):
                self._client = await self._connect()
            self.generation += 1

    async def _discard(self, client: Client[Any]) -> None:
        """Close a client and its transport (for stdio: stop the process), bounded in time."""
        try:
            async with asyncio.timeout(5.0):
                await client.close()
                await client.transport.close()
        except Exception:
            pass

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await self._discard(client)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


__all__ = ["Builtins", "ServerConnection", "describe", "stdio_env", "transport_for"]
