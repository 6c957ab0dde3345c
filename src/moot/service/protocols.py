"""The seams of the service: what its parts call on each other, as small Protocols.

Each backend family has an abstract base that a backend implements (`EventLog`, `SessionControl`,
`RunQueue`); the code that *uses* one (the routes, the executor, the context) types against the
few methods it calls, listed here, so a reader following the data sees the contract at once
and a test can hand in anything that keeps it. Like `ToolCaller` in moot.graph.tools_node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol

from moot.events import Event, EventBus

if TYPE_CHECKING:
    from moot.orchestrator import Durability, Orchestrator
    from moot.persistence import RunTracker
    from moot.service.events.base import EventRecorder, LogEntry
    from moot.service.sessions.base import Session
    from moot.workspace.version import WorkspaceVersion

Action = Literal["start", "resume", "approve"]
"""What a run's job does: start the run, resume it from its checkpoint, or go on after an approval."""


class RunEvents(Protocol):
    """The runs' event log as the service uses it: fed from a run's bus, read by SSE clients."""

    async def append(self, event: Event) -> str:
        """Append one event outside a run (queued, cancelled); its id."""
        ...

    def attach(self, bus: EventBus) -> EventRecorder:
        """Copy every event of `bus` into the log until the recorder is closed."""
        ...

    def read(
        self, run_id: str, *, after: str | None = None, follow: bool = True, heartbeat_s: float = 15.0
    ) -> AsyncIterator[LogEntry | None]:
        """The run's entries after `after`; None while nothing comes for `heartbeat_s`."""
        ...

    def read_pages(
        self, run_id: str, *, after: str | None = None, follow: bool = True, heartbeat_s: float = 15.0
    ) -> AsyncIterator[list[LogEntry] | None]:
        """`read`, as the pages each round trip brought (an SSE stream writes one per page)."""
        ...

    def check_id(self, value: str) -> str:
        """`value` in canonical form, or `InvalidEventId` (checked before an SSE response starts)."""
        ...

    async def aclose(self) -> None: ...


class Sessions(Protocol):
    """Sessions as the routes and the executor use them (every call names the tenant)."""

    async def create(
        self, *, tenant: str, user_id: str, workspace: str | None, ttl_s: int | None = None, title: str = "",
        metadata: dict[str, Any] | None = None, session_id: str | None = None,
    ) -> Session:
        """`workspace=None`: unbound until `bind` (a LangGraph thread); `session_id`: the caller's id."""
        ...

    async def bind(self, tenant: str, session_id: str, workspace: str) -> Session:
        """Bind an unbound session to `workspace` (its first run); `WorkspaceMismatch` if bound to another."""
        ...

    async def set_metadata(self, tenant: str, session_id: str, metadata: dict[str, Any]) -> Session: ...

    async def get(self, tenant: str, session_id: str) -> Session: ...

    async def touch(self, tenant: str, session_id: str) -> Session:
        """Slide the session's expiry; `SessionNotFound` when it is gone."""
        ...

    async def list(self, tenant: str, user_id: str | None = None, *, limit: int = 100) -> list[Session]: ...

    async def delete(self, tenant: str, session_id: str) -> None: ...

    async def aclose(self) -> None: ...


class JobQueue(Protocol):
    """Where the API hands runs for execution (inline tasks, or arq jobs for a fleet)."""

    async def submit(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        """Queue a job for the run; the job id."""
        ...

    async def cancel(self, run_id: str) -> bool:
        """Stop the run's job if it is queued or running; True if a job was found."""
        ...

    async def aclose(self) -> None: ...


class Workspace(Protocol):
    """A loaded workspace as the executor runs it: its held versions and an orchestrator of one."""

    def version(self, hash: str) -> WorkspaceVersion:
        """A version still held (a run keeps the version it started on), else a `MootError`."""
        ...

    def use(self, version: WorkspaceVersion | None = None) -> AbstractAsyncContextManager[WorkspaceVersion]:
        """Keep `version` (default: the current one) loaded while the block runs."""
        ...

    def orchestrator(
        self,
        *,
        bus: EventBus | None = None,
        index: RunTracker | None = None,
        version: WorkspaceVersion | str | None = None,
        durability: Durability = "sync",
    ) -> tuple[Orchestrator, WorkspaceVersion]: ...


class Workspaces(Protocol):
    """The loaded workspaces by name (the service's `WorkspaceHub`)."""

    async def get(self, name: str) -> Workspace: ...


__all__ = ["Action", "JobQueue", "RunEvents", "Sessions", "Workspace", "Workspaces"]
