"""The records that cross the tool layer's borders: server configs, tool specs, outcomes, the ledger.

A tool call is identified by an idempotency key (run id + call position). Its outcome is written
to a `Ledger` before the graph checkpoints the result, so a resumed or replayed run finds the
recorded outcome and never calls the tool twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ServerSpec(BaseModel):
    """One MCP server of a workspace (`mcp_servers:` in moot.yaml): exactly one of `builtin`
    (a server shipped in moot, in-memory transport), `command` (stdio) or `url` (streamable HTTP)."""

    model_config = ConfigDict(extra="forbid")

    builtin: str | None = None
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    """Per-call timeout."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts for transient failures (connection lost, timeout, a server's 'try again')."""
    backoff_s: float = Field(default=0.2, ge=0)
    """First backoff; doubled per attempt, with jitter."""
    start_timeout_s: float = Field(default=30.0, gt=0)
    """Start-up (spawn, handshake, tools/list) and reconnect timeout."""

    @model_validator(mode="after")
    def _one_transport(self) -> ServerSpec:
        given = [name for name in ("builtin", "command", "url") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of builtin, command or url (got {', '.join(given) or 'none'})")
        return self


@dataclass(frozen=True)
class ToolSpec:
    """A tool as listed by its server at start-up; `input_schema` is the JSON schema of its arguments."""

    name: str
    server: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    """The JSON schema of the tool's structured result, when the server declares one."""


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call came to. `content` is JSON-able (structured content, or text)."""

    key: str
    tool: str
    ok: bool
    content: Any = None
    error: str | None = None
    attempts: int = 1
    latency_s: float = 0.0
    replayed: bool = False
    """True when the outcome came from the ledger instead of a call."""
    error_kind: str | None = None
    """Why `ok` is False: "tool" (the tool's own error answer), "transient" (connection lost,
    timeout or the server's 'try again' on every attempt: the server may or may not have acted),
    "malformed" (the result broke the protocol or the tool's output schema) or "protocol" (the
    server refused the request). None when `ok`."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


IDEMPOTENCY_META_KEY = "idempotency_key"
"""The key under which a call's idempotency key travels in the request's `_meta`. A FastMCP tool
reads it with `idempotency_key(ctx)`, so it can act once per key even if the ledger write was lost."""

RETRY_PREFIX = "retry:"
"""How a server says 'try again later': an error result (isError) whose text starts with this
(case-insensitive, e.g. `raise ToolError("retry: inventory locked")`). Such a call is retried with
backoff like a lost connection; any other error result is the tool's answer and is never retried."""


def idempotency_key(ctx: Any) -> str | None:
    """The idempotency key of the call being served, from a FastMCP tool's `ctx: Context`."""
    request = getattr(ctx, "request_context", None)
    meta = getattr(request, "meta", None) or {}
    key = meta.get(IDEMPOTENCY_META_KEY)
    return key if isinstance(key, str) else None


class Ledger(ABC):
    """Outcomes of tool calls by idempotency key, durable at least as long as the run."""

    @abstractmethod
    async def get(self, key: str) -> ToolOutcome | None:
        """The recorded outcome of `key`, or None if the call was never completed."""

    @abstractmethod
    async def put(self, outcome: ToolOutcome) -> None:
        """Record an outcome (durably: it must survive a kill right after this returns)."""


__all__ = [
    "IDEMPOTENCY_META_KEY",
    "RETRY_PREFIX",
    "Ledger",
    "ServerSpec",
    "ToolOutcome",
    "ToolSpec",
    "idempotency_key",
]
