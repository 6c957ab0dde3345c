"""Lookups every LangGraph route shares: the tenant's thread, an assistant's workspace, a thread's graph.

Each answers a missing, expired or foreign id with the same 404 in LangGraph's words, so ids
cannot be probed across tenants; the thread's status is derived from its latest moot run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request

from moot.errors import MootError, UsageError
from moot.service.auth import Principal
from moot.service.langgraph_api.errors import LangGraphError, not_found
from moot.service.langgraph_api.shapes import ThreadStatus
from moot.service.routes.common import ctx_of

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from moot.service.sessions import Session
    from moot.workspace.manager import WorkspaceManager

STATUS_OF_RUN: dict[str, ThreadStatus] = {
    "queued": "busy",
    "running": "busy",
    "awaiting_approval": "interrupted",
    "failed": "error",
    "finished": "idle",
    "cancelled": "idle",
}
"""A thread's status is its latest run's, in LangGraph's four words (no run yet: idle)."""


async def thread_of(request: Request, who: Principal, thread_id: str) -> Session:
    """The tenant's live session with this id, or 404 (unknown, expired and foreign look the same)."""
    from moot.service.sessions import SessionNotFound

    try:
        return await ctx_of(request).sessions.get(who.tenant, thread_id)
    except (SessionNotFound, UsageError):
        raise not_found("Thread", thread_id) from None


async def workspace_of(request: Request, assistant_id: str) -> WorkspaceManager:
    """The workspace an assistant id (its name) names, loaded; 404 for an unknown one.

    Names only: the hub also opens folders by path, which a client must never choose.
    """
    hub = ctx_of(request).hub
    if assistant_id not in hub.names():
        raise not_found("Assistant", assistant_id)
    try:
        return await hub.get(assistant_id)
    except MootError as exc:  # it exists but does not load: say why, as /v1 does
        raise LangGraphError(409, f"assistant {assistant_id!r} does not load: {exc}") from None


async def graph_of(request: Request, session: Session) -> tuple[CompiledStateGraph, dict[str, Any]] | None:
    """The compiled graph of the session's workspace and the config of its thread; None while unbound."""
    if not session.workspace:
        return None
    manager = await workspace_of(request, session.workspace)
    orch, _ = manager.orchestrator()
    return orch.graph, orch.config(session.thread_id)


async def thread_status(request: Request, who: Principal, session: Session) -> ThreadStatus:
    latest = await ctx_of(request).persistence.index.list(who.tenant, session_id=session.session_id, limit=1)
    return STATUS_OF_RUN.get(latest[0].status, "idle") if latest else "idle"


def thread_metadata(session: Session) -> dict[str, Any]:
    """The thread's metadata: the session's, with `graph_id` (and `assistant_id`) once it is bound."""
    bound = {"graph_id": session.workspace, "assistant_id": session.workspace} if session.workspace else {}
    return {**session.metadata, "user_id": session.user_id, **bound}


__all__ = ["STATUS_OF_RUN", "graph_of", "thread_metadata", "thread_of", "thread_status", "workspace_of"]
