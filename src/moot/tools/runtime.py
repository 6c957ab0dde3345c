"""The ToolRuntime: every tool call of a run, exactly once, through one session per MCP server.

`call(tool, arguments, key=...)` goes through these steps, in order:

1. the ledger: an outcome recorded under `key` is returned with `replayed=True`, and the server
   is not called (a resumed or replayed run never acts twice);
2. the tool must be listed and `arguments` must match its input schema, else a
   `ToolArgumentsError` is raised and nothing is sent (the model repairs its call);
3. the call, with the key in the request's `_meta` (`idempotency_key`) so that a server can act
   once per key even if our ledger write was lost; bounded by the server's `timeout_s`;
4. transient failures are retried up to `max_attempts` with exponential backoff and jitter:
   the connection was lost (the session is reopened, a new process for stdio), the call timed out
   (the session is reopened if it no longer answers tools/list), or the server said "try again" (an
   error result whose text starts with `retry:`). Nothing else is retried: a tool's own error
   answer, a malformed result or a refused request is the call's outcome, with `ok=False`;
5. the outcome is written to the ledger before `call` returns.

Events go to `on_event` as `{"type", "data"}`: `tool_call` per attempt, `tool_error` per failed
attempt (`transient`, `final`), and `tool_result` for a successful or replayed outcome.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import anyio
import mcp_types
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.protocols import Validator
from jsonschema.validators import Draft202012Validator, validator_for
from mcp import MCPError

from moot.errors import UsageError
from moot.tools.errors import DuplicateToolError, ToolArgumentsError, UnknownToolError
from moot.tools.servers import Builtins, ServerConnection
from moot.tools.types import RETRY_PREFIX, Ledger, ServerSpec, ToolOutcome, ToolSpec
from moot.telemetry import spans as telemetry

_MAX_BACKOFF_S = 30.0
_TIMEOUT_GRACE_S = 1.0
"""The SDK times a request out `timeout_s` after sending it; our own guard, a little later, also
covers a send that never completes (a server that stopped reading its stdin)."""
_LOST_MESSAGES = ("Client failed to connect", "Server session was closed", "Client is not connected")


class EventSink(Protocol):
    """Receives `{"type": ..., "data": {...}}`; may be sync (LangGraph's stream writer) or async."""

    def __call__(self, event: dict[str, Any], /) -> Any: ...


@dataclass(frozen=True)
class _Tool:
    spec: ToolSpec
    conn: ServerConnection
    validator: Validator | None


@dataclass(frozen=True)
class _Failure:
    kind: str
    """"lost", "timeout", "retry" (transient); "tool", "malformed", "protocol" (final)."""
    message: str

    @property
    def transient(self) -> bool:
        return self.kind in ("lost", "timeout", "retry")


class ToolRuntime:
    """MCP sessions for a workspace's servers, their tools, and exactly-once calls to them.

    `async with ToolRuntime(servers, ledger=...) as tr:` starts every server and lists its tools;
    a server that cannot start raises a `ServerStartError` naming it and its command. `builtins`
    maps a builtin server's name to a factory of its FastMCP instance (in-memory transport).
    A stdio server's stderr is written to `log_dir/<server>.log` (a temporary folder if None).
    """

    def __init__(
        self,
        servers: Mapping[str, ServerSpec],
        *,
        ledger: Ledger,
        builtins: Builtins | None = None,
        log_dir: str | Path | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.specs = dict(servers)
        self.ledger = ledger
        self._builtins = builtins
        self._log_dir = Path(log_dir) if log_dir is not None else None
        self._own_log_dir: Path | None = None
        self._rng = rng or random.Random()
        self._servers: dict[str, ServerConnection] = {}
        self._tools: dict[str, _Tool] = {}
        self._inflight: dict[str, asyncio.Future[ToolOutcome]] = {}

    # -- life -------------------------------------------------------------------------------

    async def __aenter__(self) -> ToolRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open one session per server (concurrently) and list every server's tools."""
        if self._log_dir is None:
            self._own_log_dir = Path(tempfile.mkdtemp(prefix="moot-mcp-"))
        log_dir = self._log_dir or self._own_log_dir
        assert log_dir is not None
        log_dir.mkdir(parents=True, exist_ok=True)
        self._servers = {
            name: ServerConnection(name, spec, builtins=self._builtins, log_dir=log_dir)
            for name, spec in self.specs.items()
        }
        listed = await asyncio.gather(*(conn.open() for conn in self._servers.values()), return_exceptions=True)
        try:
            for conn, tools in zip(self._servers.values(), listed, strict=True):
                if isinstance(tools, BaseException):
                    raise tools
                for tool in tools:
                    self._register(conn, tool)
        except BaseException:
            await self.close()
            raise

    def _register(self, conn: ServerConnection, tool: mcp_types.Tool) -> None:
        if tool.name in self._tools:
            raise DuplicateToolError(tool.name, self._tools[tool.name].spec.server, conn.name)
        schema = dict(tool.input_schema or {})
        spec = ToolSpec(
            name=tool.name,
            server=conn.name,
            description=tool.description or "",
            input_schema=schema,
            output_schema=dict(tool.output_schema) if tool.output_schema else None,
        )
        self._tools[tool.name] = _Tool(spec, conn, _validator(schema))

    async def close(self) -> None:
        """End every session (stop stdio servers); safe to call twice."""
        servers, self._servers = self._servers, {}
        await asyncio.gather(*(conn.close() for conn in servers.values()), return_exceptions=True)
        if self._own_log_dir is not None:
            shutil.rmtree(self._own_log_dir, ignore_errors=True)
            self._own_log_dir = None

    # -- tools ------------------------------------------------------------------------------

    def tools(self) -> list[ToolSpec]:
        """Every server's tools, in the order of the servers in the config, then as listed."""
        return [t.spec for t in self._tools.values()]

    def tool(self, name: str) -> ToolSpec:
        return self._lookup(name).spec

    def _lookup(self, name: str) -> _Tool:
        found = self._tools.get(name)
        if found is None:
            raise UnknownToolError(name, list(self._tools))
        return found

    def validate(self, tool: str, arguments: Any) -> None:
        """Raise `ToolArgumentsError` (or `UnknownToolError`) unless the call could be sent."""
        entry = self._lookup(tool)
        if not isinstance(arguments, Mapping):
            raise ToolArgumentsError(tool, f"arguments must be a JSON object, not {type(arguments).__name__}")
        if entry.validator is None:
            return
        error = jsonschema_exceptions.best_match(entry.validator.iter_errors(arguments))
        if error is not None:
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            raise ToolArgumentsError(tool, error.message, path=f"arguments{path}" if path else "")

    # -- calls ------------------------------------------------------------------------------

    async def call(
        self, tool: str, arguments: Mapping[str, Any], *, key: str, on_event: EventSink | None = None
    ) -> ToolOutcome:
        """The outcome of calling `tool` once per `key` (see the module docstring for the steps)."""
        if not key or not isinstance(key, str):
            raise UsageError(f"tool {tool!r}: a call needs a non-empty idempotency key (run id + call position)")
        while (pending := self._inflight.get(key)) is not None:  # the same key in flight elsewhere
            try:
                outcome = replace(await asyncio.shield(pending), replayed=True)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled
                continue  # the first caller was: take over
            await _emit(on_event, "tool_result", _result_data(outcome))
            return outcome
        future: asyncio.Future[ToolOutcome] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            with telemetry.tool_call(tool, key) as span:
                outcome = await self.ledger.get(key)  # first: a recorded outcome stands even if the tool changed
                telemetry.ledger_hit(span, outcome is not None)
                if outcome is None:
                    self.validate(tool, arguments)
                    outcome = await self._execute(self._tools[tool], dict(arguments), key, on_event)
                    await self.ledger.put(outcome)
                telemetry.tool_outcome(span, ok=outcome.ok, attempts=outcome.attempts, error=outcome.error)
            future.set_result(outcome)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone caller must not log "never retrieved"
            raise
        finally:
            del self._inflight[key]
        if outcome.ok or outcome.replayed:
            await _emit(on_event, "tool_result", _result_data(outcome))
        return outcome

    async def _execute(
        self, entry: _Tool, arguments: dict[str, Any], key: str, on_event: EventSink | None
    ) -> ToolOutcome:
        name, spec = entry.spec.name, entry.conn.spec
        started = time.perf_counter()
        for attempt in range(1, spec.max_attempts + 1):
            await _emit(on_event, "tool_call", {"tool": name, "arguments": arguments, "key": key, "attempt": attempt})
            t0 = time.perf_counter()
            answer = await self._attempt(entry, arguments, key)
            if isinstance(answer, mcp_types.CallToolResult):
                return ToolOutcome(
                    key=key,
                    tool=name,
                    ok=True,
                    content=_content(answer, entry.spec),
                    attempts=attempt,
                    latency_s=time.perf_counter() - started,
                )
            final = not answer.transient or attempt == spec.max_attempts
            error = {"tool": name, "key": key, "attempt": attempt, "latency_s": time.perf_counter() - t0}
            error |= {"error": answer.message, "transient": answer.transient, "final": final}
            await _emit(on_event, "tool_error", error)
            if final:
                break
            await asyncio.sleep(self._backoff(spec, attempt))
        message = answer.message
        if answer.transient:
            message = f"{message} (gave up after {attempt} attempt{'s' if attempt > 1 else ''})"
        return ToolOutcome(
            key=key,
            tool=name,
            ok=False,
            error=message,
            attempts=attempt,
            latency_s=time.perf_counter() - started,
            error_kind="transient" if answer.transient else answer.kind,
        )

    async def _attempt(self, entry: _Tool, arguments: dict[str, Any], key: str) -> mcp_types.CallToolResult | _Failure:
        """One try: reopen the session if it was lost, call, and judge what came back."""
        conn = entry.conn
        seen = conn.generation
        if conn.lost:
            try:
                await conn.reconnect(seen)
            except Exception as exc:
                return _Failure("lost", f"server {conn.name!r} could not be restarted: {type(exc).__name__}: {exc}")
            seen = conn.generation
        try:
            async with asyncio.timeout(conn.spec.timeout_s + _TIMEOUT_GRACE_S):
                result = await conn.call(entry.spec.name, arguments, key=key)
        except Exception as exc:
            failure = _classify(exc, conn)
            if failure.kind == "lost" or (failure.kind == "timeout" and not await conn.alive()):
                conn.mark_lost(seen)
            return failure
        return _judge(result) or result

    def _backoff(self, spec: ServerSpec, attempt: int) -> float:
        """`backoff_s` doubled per attempt (capped), half of it fixed and half random ("equal jitter")."""
        delay = min(spec.backoff_s * 2 ** (attempt - 1), _MAX_BACKOFF_S)
        return delay / 2 + self._rng.uniform(0, delay / 2)


def _validator(schema: dict[str, Any]) -> Validator | None:
    """A compiled validator for an input schema; None (no check) if the server's schema is invalid."""
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema_exceptions.SchemaError:
        return None
    return cls(schema)


def _classify(exc: Exception, conn: ServerConnection) -> _Failure:
    """What an exception raised by a call means: only "lost" and "timeout" are retried."""
    server = conn.name
    if isinstance(exc, TimeoutError) or (isinstance(exc, MCPError) and exc.error.code == mcp_types.REQUEST_TIMEOUT):
        return _Failure("timeout", f"server {server!r} did not answer within {conn.spec.timeout_s:g} s")
    if isinstance(exc, MCPError):
        if exc.error.code == mcp_types.CONNECTION_CLOSED:
            return _Failure("lost", f"connection to server {server!r} lost ({exc.error.message})")
        return _Failure("protocol", f"server {server!r} refused the call: {exc.error.message} (code {exc.error.code})")
    if isinstance(exc, OSError | EOFError | anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream):
        return _Failure("lost", f"connection to server {server!r} lost ({type(exc).__name__}: {exc})")
    if isinstance(exc, RuntimeError) and str(exc).startswith(_LOST_MESSAGES):
        return _Failure("lost", f"connection to server {server!r} lost ({exc})")
    if type(exc).__module__.startswith(("httpx", "httpcore")):
        return _Failure("lost", f"connection to server {server!r} lost ({type(exc).__name__}: {exc})")
    first = str(exc).split("\n\n", 1)[0]  # jsonschema's messages go on with the whole schema
    return _Failure("malformed", f"server {server!r} returned a malformed result: {first}")


def _judge(result: mcp_types.CallToolResult) -> _Failure | None:
    """None for a success; the tool's own error answer, or its 'try again', otherwise."""
    if not result.is_error:
        return None
    text = _text(result) or "the tool reported an error without a message"
    if text.lstrip().lower().startswith(RETRY_PREFIX):
        return _Failure("retry", f"the server asked to try again: {text.strip()}")
    return _Failure("tool", text)


def _text(result: mcp_types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, mcp_types.TextContent))


def _content(result: mcp_types.CallToolResult, spec: ToolSpec) -> Any:
    """A JSON-able result: structured content (unwrapped if FastMCP wrapped a non-object), else
    the text of the content blocks, else the blocks themselves as dicts (images, resources)."""
    structured = result.structured_content
    if structured is not None:
        fastmcp_meta = (result.meta or {}).get("fastmcp")
        wrapped = (isinstance(fastmcp_meta, dict) and fastmcp_meta.get("wrap_result")) or (
            spec.output_schema or {}
        ).get("x-fastmcp-wrap-result")
        if wrapped and isinstance(structured, dict) and "result" in structured:
            return structured["result"]
        return structured
    blocks = result.content
    if all(isinstance(b, mcp_types.TextContent) for b in blocks):
        return "\n".join(b.text for b in blocks)  # type: ignore[union-attr]
    return [b.model_dump(mode="json", by_alias=True, exclude_none=True) for b in blocks]


def _result_data(outcome: ToolOutcome) -> dict[str, Any]:
    return {
        "tool": outcome.tool,
        "key": outcome.key,
        "ok": outcome.ok,
        "attempts": outcome.attempts,
        "latency_s": outcome.latency_s,
        "replayed": outcome.replayed,
    }


async def _emit(on_event: EventSink | None, kind: str, data: dict[str, Any]) -> None:
    if on_event is None:
        return
    returned = on_event({"type": kind, "data": data})
    if inspect.isawaitable(returned):
        await returned


__all__ = ["EventSink", "ToolRuntime"]
