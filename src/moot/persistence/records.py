"""What the run index records about a run, and the default database file (under `moot_home()`).

A run record answers the questions a client or a worker asks without loading a checkpoint:
whose run it is (tenant, user, session), which workspace version runs it, where it stands
(status, attempts, worker) and how it ended (result or error). The checkpoint holds the state;
the record holds the bookkeeping.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from moot.errors import UsageError
from moot.settings import moot_home

RunStatus = Literal["queued", "running", "awaiting_approval", "finished", "failed", "cancelled"]
STATUSES: tuple[str, ...] = ("queued", "running", "awaiting_approval", "finished", "failed", "cancelled")
ACTIVE: tuple[str, ...] = ("queued", "running", "awaiting_approval")
"""A run in one of these may still do work: it counts against a tenant's concurrency."""
TERMINAL: tuple[str, ...] = ("finished", "failed", "cancelled")
"""A run in one of these has ended: it gets a `finished_at` and is never claimed again."""


def default_db() -> Path:
    return moot_home() / "moot.db"


@dataclass(frozen=True)
class RunRecord:
    """One row of the run index. The first nine fields are the original record's, in its order."""

    run_id: str
    thread_id: str
    """The LangGraph thread, that is the session the run belongs to."""
    workspace: str
    workspace_path: str
    task: str
    user_id: str
    status: str
    started_at: float
    finished_at: float | None
    tenant: str = ""
    workspace_version: str = ""
    result: Any = None
    """JSON the service shows for a finished run (the decision, its accounting), or None."""
    error: dict[str, str] | None = None
    """`{"error": <type>, "message": <text>}` of a failed or cancelled run, or None."""
    attempts: int = 0
    """How many times a worker claimed the run (a crash and a redelivery make it 2)."""
    worker: str = ""
    """The worker that claimed the run last."""
    updated_at: float = 0.0

    @property
    def session_id(self) -> str:
        return self.thread_id

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise UsageError(f"unknown run status {status!r}; use one of {', '.join(STATUSES)}")
    return status


def error_payload(error: Any) -> dict[str, str] | None:
    """The stored form of a run's error: an exception becomes `{error: type, message: text}`."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        return {"error": type(error).__name__, "message": str(error)}
    if isinstance(error, dict) and isinstance(error.get("error"), str) and isinstance(error.get("message"), str):
        return {"error": error["error"], "message": error["message"]}
    raise UsageError(f"a run's error is an exception or a dict with 'error' and 'message' strings, not {error!r}")


__all__ = [
    "ACTIVE",
    "STATUSES",
    "TERMINAL",
    "RunRecord",
    "RunStatus",
    "check_status",
    "default_db",
    "error_payload",
    "moot_home",  # moot.settings' own, kept here for the callers that import it from persistence
]
