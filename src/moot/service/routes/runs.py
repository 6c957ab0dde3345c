"""Runs: start in the background, status and result, cancel, resume, approval, events (SSE)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from moot.events import Event
from moot.graph.approval import ApprovalAnswer, check_answer
from moot.persistence import ACTIVE, ANSWER, REQUEUE, RunRecord
from moot.run import TaskRefused, check_task, new_id
from moot.service.auth import Principal, principal
from moot.service.event_stream import EventStream, Messages, documented, event_stream
from moot.service.jobs import cancel_run as record_cancel
from moot.service.problems import ERROR_SCHEMA, ApiError
from moot.service.routes.common import conflict, ctx_of, run_of, run_out, session_of
from moot.service.schemas import ApprovalRequest, RunCreate, RunList, RunOut, RunStatus

if TYPE_CHECKING:
    from moot.service.context import ServiceContext
    from moot.service.sessions import Session

# 400: a request moot refuses (UsageError, MootError) or a body that cannot be read (FastAPI)
router = APIRouter(tags=["runs"], responses={400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 404: ERROR_SCHEMA})


@router.post(
    "/v1/sessions/{session_id}/runs",
    status_code=202,
    response_model=RunOut,
    responses={409: ERROR_SCHEMA, 422: ERROR_SCHEMA, 429: ERROR_SCHEMA},
)
async def start_run(session_id: str, body: RunCreate, request: Request, response: Response, who: Principal = Depends(principal)) -> RunOut:
    """Queue a deliberation of `task` in the session; follow it at `links.events`."""
    queued = await queue_run(ctx_of(request), who.tenant, await session_of(request, who, session_id), body.task)
    response.headers["Location"] = f"/v1/runs/{queued.run_id}"
    return run_out(queued)


async def queue_run(ctx: ServiceContext, tenant: str, session: Session, task: str) -> RunRecord:
    """Check `task` and the tenant's limits, then queue a run of it in `session` (the API's and
    the page's start); an `ApiError` says why a run is refused."""
    limits = ctx.settings.limits
    manager = await ctx.hub.get(session.workspace)
    version = manager.current
    task_limit = min(limits.max_task_chars, version.workspace.spec.limits.task_max_chars)
    try:
        task = check_task(task, task_limit, limit_from="the smaller of the service's and the workspace's limits")
    except TaskRefused as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    index = ctx.persistence.index
    if await index.count_active(tenant) >= limits.max_active_runs:
        raise ApiError(
            429, "too_many_runs",
            f"the tenant already has {limits.max_active_runs} runs queued, running or waiting for approval; "
            "wait for one to end", headers={"Retry-After": "5"},
        )
    busy = [r for r in await index.list(tenant, session_id=session.thread_id, limit=5) if r.status in ACTIVE]
    if busy:
        raise conflict("session_busy", f"run {busy[0].run_id!r} of this session is still {busy[0].status}; one run at a time per session")
    run_id = new_id("run")
    queued = await index.add(  # the answer is the run as accepted
        run_id, session.thread_id, session.workspace, task, session.user_id, str(manager.root),
        tenant=tenant, workspace_version=version.hash, status="queued",
    )
    await ctx.events.append(
        Event(type="run_queued", run_id=run_id, session_id=session.thread_id, workspace=session.workspace, data={"task": task})
    )
    await ctx.queue.submit(run_id, "start")
    await ctx.sessions.touch(tenant, session.thread_id)
    return queued


@router.get("/v1/runs", response_model=RunList)
async def list_runs(
    request: Request,
    session_id: str | None = Query(default=None, max_length=64),
    user_id: str | None = Query(default=None, max_length=128),
    status: RunStatus | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=200),
    who: Principal = Depends(principal),
) -> RunList:
    records = await ctx_of(request).persistence.index.list(
        who.tenant, user_id=user_id, session_id=session_id, status=status, limit=limit
    )
    return RunList(runs=[run_out(r) for r in records])


@router.get("/v1/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: str, request: Request, who: Principal = Depends(principal)) -> RunOut:
    """Status, and when the run has ended its result (decision, tokens, cost) or error."""
    return run_out(await run_of(request, who, run_id))


@router.post("/v1/runs/{run_id}/cancel", status_code=202, response_model=RunOut, responses={409: ERROR_SCHEMA})
async def cancel_run(run_id: str, request: Request, who: Principal = Depends(principal)) -> RunOut:
    """Stop a queued, running or paused run; its checkpoints stay (it can be resumed)."""
    ctx = ctx_of(request)
    await run_of(request, who, run_id)
    moved = await record_cancel(ctx.persistence.index, ctx.queue, ctx.events, run_id)
    if not moved.applied:  # it ended first (its last step won the race): the record says how
        raise conflict("run_ended", f"run {run_id!r} has already ended ({moved.status})")
    return run_out(await run_of(request, who, run_id))


@router.post("/v1/runs/{run_id}/resume", status_code=202, response_model=RunOut, responses={409: ERROR_SCHEMA})
async def resume_run(run_id: str, request: Request, who: Principal = Depends(principal)) -> RunOut:
    """Continue a failed, cancelled or imported run from its last checkpoint."""
    ctx = ctx_of(request)
    await run_of(request, who, run_id)
    moved = await ctx.persistence.index.move(run_id, REQUEUE)
    if not moved.applied:
        raise conflict("not_resumable", f"run {run_id!r} is {moved.status}; only failed or cancelled runs resume")
    queued = moved.record
    await ctx.queue.submit(run_id, "resume")
    return run_out(queued)


@router.get("/v1/runs/{run_id}/approval", response_model=ApprovalRequest, responses={409: ERROR_SCHEMA})
async def get_approval(run_id: str, request: Request, who: Principal = Depends(principal)) -> ApprovalRequest:
    """What the paused run asks a human to approve: the stage and the synthesizer's decision."""
    record = await run_of(request, who, run_id)
    pending = _pending(record)
    return ApprovalRequest(run_id=run_id, **{k: pending.get(k) for k in ("stage", "decision", "winner", "round")})


@router.post("/v1/runs/{run_id}/approval", status_code=202, response_model=RunOut, responses={409: ERROR_SCHEMA})
async def answer_approval(run_id: str, answer: ApprovalAnswer, request: Request, who: Principal = Depends(principal)) -> RunOut:
    """Approve, edit (replace the decision) or reject; the run continues in the background."""
    return run_out(await answer_run(ctx_of(request), await run_of(request, who, run_id), answer))


async def answer_run(ctx: ServiceContext, record: RunRecord, answer: ApprovalAnswer) -> RunRecord:
    """Check `answer` against the run's pending request and its workspace's policy, then have the
    run go on (the API's and the page's answer); a refusal raises (`ApiError`, `PolicyViolation`)
    and leaves the run paused."""
    _pending(record)
    manager = await ctx.hub.get(record.workspace)
    try:
        policy = manager.version(record.workspace_version).workspace.policy
    except Exception:
        policy = manager.current.workspace.policy
    check_answer(answer, policy)  # a forbidden edit is refused now; the run stays paused
    moved = await ctx.persistence.index.move(record.run_id, ANSWER, result=record.result)  # what was asked stays
    if not moved.applied:  # cancelled, or answered by another request, meanwhile
        raise conflict("not_awaiting_approval", f"run {record.run_id!r} is {moved.status}, not waiting for approval")
    await ctx.queue.submit(record.run_id, "approve", answer.model_dump(exclude_none=True))
    return moved.record


def pending_of(record: RunRecord) -> dict[str, Any] | None:
    """What the paused run asks a human to approve, or None when it asks nothing (yet)."""
    if record.status != "awaiting_approval" or not isinstance(record.result, dict):
        return None
    pending = record.result.get("pending")
    return pending if isinstance(pending, dict) else None


def _pending(record: RunRecord) -> dict[str, Any]:
    if record.status != "awaiting_approval":
        raise conflict("not_awaiting_approval", f"run {record.run_id!r} is {record.status}, not waiting for approval")
    pending = (record.result or {}).get("pending") if isinstance(record.result, dict) else None
    if not isinstance(pending, dict):
        raise conflict("not_awaiting_approval", f"run {record.run_id!r} is being paused; try again in a moment")
    return pending


async def _stream_start(
    run_id: str,
    request: Request,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID", max_length=64),
    after: str | None = Query(default=None, max_length=64, description="Resume after this event id (same as Last-Event-ID)."),
    who: Principal = Depends(principal),
) -> str | None:
    """Checks made before the stream opens (an SSE body cannot turn into an error response)."""
    await run_of(request, who, run_id)
    start = last_event_id or after
    if start is not None:
        try:
            return ctx_of(request).events.check_id(start)
        except ValueError as exc:
            raise ApiError(400, "invalid_event_id", str(exc)) from None
    return None


@router.get(
    "/v1/runs/{run_id}/events",
    response_class=EventStream,
    responses={400: ERROR_SCHEMA, 200: documented("Server-Sent Events: one `Event` per message, `id` for Last-Event-ID")},
)
async def run_events(
    run_id: str,
    request: Request,
    follow: bool = Query(default=True, description="Keep streaming until the run ends."),
    start: str | None = Depends(_stream_start),
) -> EventStream:
    """The run's events in order; reconnect with `Last-Event-ID` to continue without loss or repeats."""

    async def pages() -> Messages:
        async for page in ctx_of(request).events.read_pages(run_id, after=start, follow=follow, heartbeat_s=10.0):
            # pydantic's own JSON encoder: FastAPI would otherwise walk the event with jsonable_encoder
            yield None if page is None else [(e.id, e.event.type, e.event.model_dump_json(fallback=repr)) for e in page]

    return event_stream(pages(), disconnected=request.is_disconnected)


__all__ = ["answer_run", "pending_of", "queue_run", "router"]
