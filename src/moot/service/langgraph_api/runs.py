"""LangGraph's run routes: create (background, stream, wait), thread-less runs, list, get, cancel,
join, join stream, delete.

A LangGraph run is a moot run of the thread's session (thread_id = session id), queued on the
service's run queue and executed by its workers like a /v1 run; its stream is a view of the
run's event log (`stream.py`, `frames.py`). How a request becomes a moot action (new run,
approval answer, fork) is `run_start.py`. A run's LangGraph status is read from moot's:
queued → pending, awaiting_approval → interrupted, finished → success, failed → error,
cancelled → interrupted (LangGraph's cancel is an interrupt).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Header, Query, Request, Response

from moot.events import TERMINAL_EVENTS
from moot.persistence import ACTIVE, RunRecord
from moot.service.auth import Principal, principal
from moot.service.event_stream import EventStream, documented, event_stream
from moot.service.jobs import cancel_run as record_cancel
from moot.service.langgraph_api.errors import (
    LangGraphError,
    langgraph_router,
    not_found,
)
from moot.service.langgraph_api.frames import Frames
from moot.service.langgraph_api.run_body import (
    LangGraphRunCreate,
    stream_modes,
    task_of,
)
from moot.service.langgraph_api.run_start import (
    Started,
    start,
    temporary_thread,
    thread_of,
)
from moot.service.langgraph_api.stream import Cursor, parse_cursor, sse
from moot.service.routes.common import ctx_of
from moot.state_io import export_state

_FRAMES = "Server-Sent Events: `metadata`, the stream modes' frames (`id` for Last-Event-ID), then `end` or `error`"

router = langgraph_router(tags=["langgraph runs"])

STATUS = {
    "queued": "pending", "running": "running", "awaiting_approval": "interrupted",
    "finished": "success", "failed": "error", "cancelled": "interrupted",
}
"""moot's run status → LangGraph's."""


def run_json(record: RunRecord, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run as `langgraph_sdk.schema.Run`."""
    updated = record.updated_at or record.finished_at or record.started_at
    out: dict[str, Any] = {
        "run_id": record.run_id,
        "thread_id": record.thread_id,
        "assistant_id": record.workspace,
        "created_at": _iso(record.started_at),
        "updated_at": _iso(updated),
        "status": STATUS.get(record.status, "pending"),
        "metadata": {"graph_id": record.workspace, "task": record.task, **(metadata or {})},
        "multitask_strategy": "reject",
        "kwargs": {},
    }
    if record.status == "cancelled":
        out["cancel_reason"] = (record.error or {}).get("message")
    return out


# -- creating runs -----------------------------------------------------------------------------


async def _on_thread(
    thread_id: str, body: LangGraphRunCreate, request: Request, response: Response, who: Principal = Depends(principal)
) -> tuple[Started, LangGraphRunCreate]:
    ctx = ctx_of(request)
    _precheck(body)  # before the thread is created or bound: nothing half-written
    session, unbound = await thread_of(ctx, who, thread_id, body)
    started = await start(ctx, who, session, body, bind=unbound)
    _locate(request, response, started, body)
    return started, body


async def _thread_less(
    body: LangGraphRunCreate, request: Request, response: Response, who: Principal = Depends(principal)
) -> tuple[Started, LangGraphRunCreate]:
    ctx = ctx_of(request)
    if body.command is not None or body.checkpoint_to_fork():
        raise LangGraphError(422, "a thread-less run starts from input: resume or fork on the thread itself")
    _precheck(body)
    session = await temporary_thread(ctx, who, body)
    try:
        started = await start(ctx, who, session, body)
    except Exception:
        await ctx.sessions.delete(who.tenant, session.thread_id)  # a refused run leaves no thread behind
        raise
    _locate(request, response, started, body)
    return started, body


def _precheck(body: LangGraphRunCreate) -> None:
    """What can be refused from the body alone (modes, unsupported fields, the input's shape)."""
    body.refuse_unsupported()
    if body.command is None and not body.checkpoint_to_fork():
        task_of(body.input)


def _locate(request: Request, response: Response, started: Started, body: LangGraphRunCreate) -> None:
    """`Content-Location`: the run; a stream's `Location`: its join stream, which a client
    reconnects to (with `Last-Event-ID`)."""
    response.headers.update(_locations(request, started, body))


def _locations(request: Request, started: Started, body: LangGraphRunCreate) -> dict[str, str]:
    base = f"/threads/{started.record.thread_id}/runs/{started.record.run_id}"
    out = {"Content-Location": base}
    if request.url.path.endswith("/stream"):
        query = urlencode([("stream_mode", m) for m in body.modes()])
        out["Location"] = f"{base}/stream?{query}"
    return out


@router.post("/threads/{thread_id}/runs")
async def create_run(made: tuple[Started, LangGraphRunCreate] = Depends(_on_thread)) -> dict[str, Any]:
    """Start a run in the background; follow it with join or the join stream."""
    started, body = made
    return run_json(started.record, body.metadata)


@router.post("/runs")
async def create_thread_less_run(made: tuple[Started, LangGraphRunCreate] = Depends(_thread_less)) -> dict[str, Any]:
    """Start a run on a new thread of its own, in the background."""
    started, body = made
    return run_json(started.record, body.metadata)


@router.post("/threads/{thread_id}/runs/stream", response_class=EventStream, responses={200: documented(_FRAMES)})
async def stream_run(request: Request, made: tuple[Started, LangGraphRunCreate] = Depends(_on_thread)) -> EventStream:
    """Start a run and stream it (`metadata` first, then the modes' frames, then `end` or `error`)."""
    started, body = made
    return _stream(request, started, body)


@router.post("/runs/stream", response_class=EventStream, responses={200: documented(_FRAMES)})
async def stream_thread_less_run(request: Request, made: tuple[Started, LangGraphRunCreate] = Depends(_thread_less)) -> EventStream:
    """Start a run on a new thread of its own and stream it."""
    started, body = made
    return _stream(request, started, body)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_run(request: Request, made: tuple[Started, LangGraphRunCreate] = Depends(_on_thread)) -> dict[str, Any]:
    """Start a run and answer with the thread's values when it ends or pauses."""
    started, _ = made
    return await _outcome(request, started.record, started.after)


@router.post("/runs/wait")
async def wait_thread_less_run(request: Request, made: tuple[Started, LangGraphRunCreate] = Depends(_thread_less)) -> dict[str, Any]:
    """Start a run on a new thread of its own; answer with its values when it ends or pauses."""
    started, _ = made
    return await _outcome(request, started.record, started.after)


def _stream(request: Request, started: Started, body: LangGraphRunCreate) -> EventStream:
    record = started.record
    ctx = ctx_of(request)
    abandon = (lambda: _cancel(request, record)) if body.on_disconnect == "cancel" else None
    return event_stream(
        sse(
            ctx.events, Frames(record.run_id, record.thread_id, body.modes()), Cursor(started.after),
            metadata={"run_id": record.run_id, "thread_id": record.thread_id, "attempt": max(1, record.attempts)},
            waiting=lambda: _waiting(request, record.run_id), settled=lambda: _settled_now(request, record.run_id), disconnected=request.is_disconnected, on_abandon=abandon,
        ),
        headers=_locations(request, started, body),  # a returned response does not take the dependency's headers
    )


# -- reading, joining, cancelling --------------------------------------------------------------


async def _run_on(request: Request, who: Principal, thread_id: str, run_id: str) -> RunRecord:
    """The tenant's run of that thread, or 404 (unknown, foreign and another thread's look alike)."""
    from moot.errors import UsageError

    ctx = ctx_of(request)
    await ctx.sessions.get(who.tenant, thread_id)  # an unknown thread is a thread 404
    try:
        record = await ctx.persistence.index.get(run_id[:64], tenant=who.tenant)
    except UsageError:
        raise not_found("Run", run_id) from None
    if record.thread_id != thread_id:
        raise not_found("Run", run_id)
    return record


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str, request: Request,
    limit: int = Query(default=10, ge=1, le=200), offset: int = Query(default=0, ge=0, le=10_000),
    status: str | None = Query(default=None, max_length=20),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]]:
    """The thread's runs, newest first."""
    ctx = ctx_of(request)
    await ctx.sessions.get(who.tenant, thread_id)
    wanted = [s for s, lg in STATUS.items() if lg == status] if status else None
    if status and not wanted:
        raise LangGraphError(422, f"unknown run status {status!r}; use one of {', '.join(sorted(set(STATUS.values())))}")
    records = await ctx.persistence.index.list(who.tenant, session_id=thread_id, status=wanted, limit=min(200, limit + offset))
    return [run_json(r) for r in records[offset:offset + limit]]


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(thread_id: str, run_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return run_json(await _run_on(request, who, thread_id, run_id))


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", status_code=202)
async def cancel_run(
    thread_id: str, run_id: str, request: Request,
    wait: bool = Query(default=False), action: str = Query(default="interrupt", pattern="^(interrupt|rollback)$"),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Stop the run (`rollback` too is an interrupt here: moot keeps a run's checkpoints and record);
    with `wait`, answer once it has stopped. 409 when it has already ended."""
    record = await _run_on(request, who, thread_id, run_id)
    if not await _cancel(request, record):
        raise LangGraphError(409, f"run {run_id!r} has already ended ({STATUS.get(record.status, record.status)})")
    if wait:
        await _settled(request, record.run_id, None)
    return run_json(await ctx_of(request).persistence.index.get(record.run_id, tenant=who.tenant))


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(thread_id: str, run_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """Wait for the run to end (or pause for approval); the thread's values then."""
    return await _outcome(request, await _run_on(request, who, thread_id, run_id), None)


async def _join_stream_start(
    thread_id: str, run_id: str, request: Request,
    stream_mode: list[str] | None = Query(default=None),
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID", max_length=100),
    who: Principal = Depends(principal),
) -> tuple[RunRecord, tuple[str, ...], Cursor]:
    """Checks made before the stream opens (an SSE body cannot turn into an error response)."""
    record = await _run_on(request, who, thread_id, run_id)
    return record, stream_modes(stream_mode), parse_cursor(ctx_of(request).events, last_event_id)


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_class=EventStream, responses={200: documented(_FRAMES)})
async def join_stream(
    request: Request, cancel_on_disconnect: bool = Query(default=False),
    opened: tuple[RunRecord, tuple[str, ...], Cursor] = Depends(_join_stream_start),
) -> EventStream:
    """The run's stream from its start, or after `Last-Event-ID` (a reconnect loses and repeats nothing)."""
    record, modes, cursor = opened
    fresh = cursor.after is None and cursor.part is None
    return event_stream(sse(
        ctx_of(request).events, Frames(record.run_id, record.thread_id, modes), cursor,
        metadata={"run_id": record.run_id, "thread_id": record.thread_id, "attempt": max(1, record.attempts)} if fresh else None,
        waiting=lambda: _waiting(request, record.run_id), settled=lambda: _settled_now(request, record.run_id), disconnected=request.is_disconnected,
        on_abandon=(lambda: _cancel(request, record)) if cancel_on_disconnect else None,
    ))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_run(thread_id: str, run_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    """Forget an ended run's events (409 while it is active). moot's run index keeps its record:
    it is the tenant's audit of what ran, so `GET` still answers it."""
    record = await _run_on(request, who, thread_id, run_id)
    if record.status in ACTIVE:
        raise LangGraphError(409, f"run {run_id!r} is {STATUS[record.status]}; cancel it before deleting it")
    await ctx_of(request).events.delete(record.run_id)  # type: ignore[attr-defined]
    return Response(status_code=204)


# -- helpers -----------------------------------------------------------------------------------


async def _waiting(request: Request, run_id: str) -> bool:
    """Whether the run still waits for an approval answer (its stream then ends at the request)."""
    return (await ctx_of(request).persistence.index.get(run_id)).status == "awaiting_approval"


async def _settled_now(request: Request, run_id: str) -> bool:
    """Whether the run has ended or waits for an approval answer (nothing more comes for now)."""
    return (await ctx_of(request).persistence.index.get(run_id)).status not in ("queued", "running")


async def _cancel(request: Request, record: RunRecord) -> bool:
    ctx = ctx_of(request)
    return (await record_cancel(ctx.persistence.index, ctx.queue, ctx.events, record.run_id)).applied


async def _settled(request: Request, run_id: str, after: str | None) -> None:
    """Follow the run's log until it ends or pauses for approval."""
    async for entry in ctx_of(request).events.read(run_id, after=after, follow=True, heartbeat_s=10.0):
        if entry is None:
            if await request.is_disconnected():
                return
        elif entry.event.type in TERMINAL_EVENTS or (entry.event.type == "approval_requested" and await _waiting(request, run_id)):
            return


async def _outcome(request: Request, record: RunRecord, after: str | None) -> dict[str, Any]:
    """The run's values once it has settled: its last state, `__interrupt__` when it pauses,
    `__error__` when it failed (as the official server answers `wait` and `join`)."""
    await _settled(request, record.run_id, after)
    ctx = ctx_of(request)
    record = await ctx.persistence.index.get(record.run_id)
    if record.status == "failed":
        return {"__error__": record.error or {"error": "RunFailed", "message": ""}}
    manager = await ctx.hub.get(record.workspace)
    orch, _ = manager.orchestrator()
    try:
        values = (await export_state(orch.graph, orch.config(record.thread_id), workspace=record.workspace, run_id=record.run_id))["values"]
    except Exception:  # noqa: BLE001 - a run cancelled before its first step has no state
        values = {}
    pending = (record.result or {}).get("pending") if isinstance(record.result, dict) else None
    if record.status == "awaiting_approval" and isinstance(pending, dict):
        values["__interrupt__"] = [{"value": pending, "id": record.run_id}]
    return dict(values)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


__all__ = ["STATUS", "router", "run_json"]
