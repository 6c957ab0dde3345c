"""The service's request and response bodies (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionCreate(_Body):
    user_id: str = Field(default="default", pattern=NAME_PATTERN, description="Whose session (memory is per user).")
    workspace: str = Field(default="demo", min_length=1, max_length=128, description="A workspace name (GET /v1/workspaces).")
    title: str = Field(default="", max_length=200)
    ttl_s: int | None = Field(default=None, ge=60, le=90 * 24 * 3600, description="Idle lifetime; default from the server.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class SessionOut(BaseModel):
    session_id: str
    user_id: str
    workspace: str
    title: str
    created_at: float
    last_active: float
    expires_at: float
    ttl_s: int
    metadata: dict[str, Any]


class RunCreate(_Body):
    task: str = Field(min_length=1, description="What the moot should decide.")


RunStatus = Literal["queued", "running", "awaiting_approval", "finished", "failed", "cancelled"]


class RunOut(BaseModel):
    run_id: str
    session_id: str
    user_id: str
    workspace: str
    workspace_version: str
    task: str
    status: RunStatus
    attempts: int
    started_at: float
    finished_at: float | None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    links: dict[str, str] = Field(default_factory=dict)


class RunList(BaseModel):
    runs: list[RunOut]


class SessionList(BaseModel):
    sessions: list[SessionOut]


class ApprovalRequest(BaseModel):
    run_id: str
    stage: str | None
    decision: dict[str, Any] | None
    winner: str | None = None
    round: int | None = None


class MemoryEntry(BaseModel):
    id: str
    layer: str
    text: str
    session_id: str = ""
    ts: float | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class MemoryList(BaseModel):
    user_id: str
    items: list[MemoryEntry]


class MemorySearch(BaseModel):
    user_id: str
    query: str
    budget_tokens: int
    tokens: int
    items: list[MemoryEntry]


class MemoryDeleted(BaseModel):
    user_id: str
    deleted: int


class WorkspaceOut(BaseModel):
    name: str
    description: str = ""
    version: str = ""
    agents: list[str] = Field(default_factory=list)
    stages: list[str] = Field(default_factory=list)
    approval_stages: list[str] = Field(default_factory=list)


class WorkspaceList(BaseModel):
    workspaces: list[str]


class GraphOut(BaseModel):
    workspace: str
    version: str
    mermaid: str


class StateImport(_Body):
    """A state export (`GET .../state` or `moot state export`) to continue in an empty session."""

    model_config = ConfigDict(extra="allow")
    format: str
    values: dict[str, Any]
    next: list[str] = Field(default_factory=list)
    workspace: str = ""


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str] = Field(default_factory=dict)
    mode: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "ApprovalRequest", "GraphOut", "Health", "MemoryDeleted", "MemoryEntry", "MemoryList", "MemorySearch",
    "RunCreate", "RunList", "RunOut", "SessionCreate", "SessionList", "SessionOut", "StateImport",
    "WorkspaceList", "WorkspaceOut",
]
