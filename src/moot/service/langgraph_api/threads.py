"""Threads: moot's sessions, as LangGraph's clients create, read, search, patch, copy and delete them.

A thread *is* a session (`thread_id` = `session_id`), of the caller's tenant. LangGraph creates a
thread before any run says its graph, so a session may start unbound and binds to a workspace at
its first run (`metadata.graph_id` at creation binds it at once). The session's user is
`metadata.user_id` (memory is per user), `default` otherwise, as on /v1. `graph_id`,
`assistant_id` and `user_id` in a thread's metadata are read from the session, never stored twice.
Status is derived from the session's latest run; values and interrupts from its latest checkpoint.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request, Response

from moot.service.auth import Principal, principal
from moot.service.langgraph_api.errors import (
    DETAIL_SCHEMA,
    LangGraphError,
    langgraph_router,
)
from moot.service.langgraph_api.lookups import (
    graph_of,
    thread_metadata,
    thread_of,
    thread_status,
    workspace_of,
)
from moot.service.langgraph_api.shapes import (
    Interrupt,
    Thread,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
    iso,
)
from moot.service.routes.common import ctx_of
from moot.service.sessions.base import MAX_LIST

if TYPE_CHECKING:
    from moot.service.sessions import Session

router = langgraph_router(responses={409: DETAIL_SCHEMA})

DERIVED = ("graph_id", "assistant_id", "user_id")
"""Metadata keys a thread shows from its session; a client sets them only through what they mean."""
DEFAULT_USER = "default"
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


async def thread_out(request: Request, who: Principal, session: Session) -> Thread:
    """The session as a LangGraph thread, with its status, latest values and pending interrupts."""
    values: dict[str, Any] | None = None
    interrupts: dict[str, list[Interrupt]] = {}
    found = await graph_of(request, session)
    if found is not None:
        graph, config = found
        snapshot = await graph.aget_state(config)
        values = dict(snapshot.values) if isinstance(snapshot.values, dict) else None
        interrupts = {
            t.id: [Interrupt(value=i.value, id=i.id) for i in t.interrupts] for t in snapshot.tasks if t.interrupts
        }
    return Thread(
        thread_id=session.session_id, created_at=iso(session.created_at), updated_at=iso(session.last_active),
        metadata=thread_metadata(session), status=await thread_status(request, who, session),
        values=values, interrupts=interrupts,
    )


def _own_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (metadata or {}).items() if k not in DERIVED}


def _graph_id(request: Request, metadata: dict[str, Any] | None) -> str | None:
    graph_id = (metadata or {}).get("graph_id", (metadata or {}).get("assistant_id"))
    if graph_id is None:
        return None
    if not isinstance(graph_id, str) or graph_id not in ctx_of(request).hub.names():
        raise LangGraphError(404, f"Assistant with ID {str(graph_id)[:128]!r} not found (metadata.graph_id)")
    return graph_id


def _user(metadata: dict[str, Any] | None) -> str:
    user = (metadata or {}).get("user_id", DEFAULT_USER)
    if not isinstance(user, str) or not _USER.match(user):
        raise LangGraphError(422, "metadata.user_id must be 1-128 letters, digits or _.@- (memory is kept per user)")
    return user


@router.post("/threads", response_model=Thread)
async def create_thread(body: ThreadCreate, request: Request, who: Principal = Depends(principal)) -> Thread:
    """A new session; `thread_id` chooses its id (`if_exists`: raise 409, or do_nothing and return it)."""
    from moot.service.sessions import SessionExists, SessionNotFound

    ctx = ctx_of(request)
    if body.thread_id is not None:
        try:
            existing = await ctx.sessions.get(who.tenant, body.thread_id)
        except SessionNotFound:
            existing = None
        if existing is not None:
            if body.if_exists == "do_nothing":
                return await thread_out(request, who, existing)
            raise LangGraphError(409, f"Thread with ID {body.thread_id!r} already exists")
    workspace = _graph_id(request, body.metadata)
    if workspace is not None:
        await workspace_of(request, workspace)  # a broken workspace is refused now, not at the first run
    try:
        session = await ctx.sessions.create(
            tenant=who.tenant, user_id=_user(body.metadata), workspace=workspace,
            metadata=_own_metadata(body.metadata), session_id=body.thread_id,
        )
    except SessionExists:  # created between the check and now
        raise LangGraphError(409, f"Thread with ID {body.thread_id!r} already exists") from None
    return await thread_out(request, who, session)


@router.get("/threads/{thread_id}", response_model=Thread)
async def get_thread(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Thread:
    return await thread_out(request, who, await thread_of(request, who, thread_id))


@router.patch("/threads/{thread_id}", response_model=Thread)
async def patch_thread(thread_id: str, body: ThreadPatch, request: Request, who: Principal = Depends(principal)) -> Thread:
    """Merge `metadata` into the thread's; a `graph_id` binds an unbound thread (never rebinds one)."""
    from moot.service.sessions import WorkspaceMismatch

    session = await thread_of(request, who, thread_id)
    sessions = ctx_of(request).sessions
    workspace = _graph_id(request, body.metadata)
    if "user_id" in body.metadata and _user(body.metadata) != session.user_id:
        raise LangGraphError(409, f"thread {thread_id!r} belongs to user {session.user_id!r}; its user cannot change")
    if workspace is not None:
        try:
            session = await sessions.bind(who.tenant, thread_id, workspace)
        except WorkspaceMismatch as exc:
            raise LangGraphError(409, str(exc)) from None
    own = _own_metadata(body.metadata)
    if own:
        session = await sessions.set_metadata(who.tenant, thread_id, own)
    return await thread_out(request, who, session)


@router.delete("/threads/{thread_id}", status_code=204, response_class=Response)
async def delete_thread(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    """Forget the thread (its checkpoints stay until the store's retention removes them, as on /v1)."""
    from moot.service.sessions import SessionNotFound

    try:
        await ctx_of(request).sessions.delete(who.tenant, thread_id)
    except SessionNotFound:
        raise LangGraphError(404, f"Thread with ID {thread_id[:128]!r} not found") from None
    return Response(status_code=204)


def _subset(wanted: dict[str, Any] | None, have: dict[str, Any] | None) -> bool:
    """LangGraph's metadata/values filter: every wanted key has the wanted value."""
    return all((have or {}).get(k) == v for k, v in (wanted or {}).items())


async def _matching(
    request: Request, who: Principal, metadata: dict[str, Any] | None, values: dict[str, Any] | None,
    status: str | None, ids: list[str] | None,
) -> list[Thread]:
    sessions = await ctx_of(request).sessions.list(who.tenant, limit=MAX_LIST)
    if ids is not None:
        wanted = set(ids)
        sessions = [s for s in sessions if s.session_id in wanted]
    sessions = [s for s in sessions if _subset(metadata, thread_metadata(s))]
    threads = [await thread_out(request, who, s) for s in sessions]
    return [t for t in threads if (status is None or t.status == status) and _subset(values, t.values)]


@router.post("/threads/search", response_model=list[Thread])
async def search_threads(
    body: ThreadSearch, request: Request, response: Response, who: Principal = Depends(principal)
) -> list[Thread]:
    """The tenant's threads matching `metadata` (e.g. `graph_id`), `values`, `status`, `ids`;
    newest first unless `sort_by` says otherwise. Searches the tenant's newest 1000 sessions."""
    threads = await _matching(request, who, body.metadata, body.values, body.status, body.ids)
    sort_by = body.sort_by or "created_at"
    threads.sort(key=lambda t: (getattr(t, sort_by), t.thread_id), reverse=(body.sort_order or "desc") == "desc")
    if body.offset + body.limit < len(threads):
        response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return threads[body.offset : body.offset + body.limit]


@router.post("/threads/count", response_model=int)
async def count_threads(body: ThreadCount, request: Request, who: Principal = Depends(principal)) -> int:
    return len(await _matching(request, who, body.metadata, body.values, body.status, None))


@router.post("/threads/{thread_id}/copy", response_model=Thread)
async def copy_thread(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Thread:
    """A new thread with the same workspace, user, metadata and every checkpoint of this one.

    The checkpoints are copied as they are (their values still name the runs and the session
    they were made in); the copy's runs are its own, so it starts idle.
    """
    session = await thread_of(request, who, thread_id)
    copy = await ctx_of(request).sessions.create(
        tenant=who.tenant, user_id=session.user_id, workspace=session.workspace or None,
        title=session.title, metadata=session.metadata,
    )
    found = await graph_of(request, session)
    if found is not None:
        from moot.service.langgraph_api.copying import copy_checkpoints

        graph, config = found
        await copy_checkpoints(graph.checkpointer, config, copy.thread_id)
    return await thread_out(request, who, copy)


__all__ = ["router", "thread_out"]
