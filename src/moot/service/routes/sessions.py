"""Sessions (create, get, list, delete) and their state as JSON (export, import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from moot.errors import UsageError
from moot.run import new_id
from moot.service.auth import Principal, principal
from moot.service.problems import ERROR_SCHEMA, ApiError, not_found
from moot.service.routes.common import ctx_of, run_out, session_of
from moot.service.schemas import NAME_PATTERN, RunOut, SessionCreate, SessionList, SessionOut, StateImport
from moot.state_io import FORMAT, export_state, import_state

if TYPE_CHECKING:
    from moot.persistence import RunRecord
    from moot.service.context import ServiceContext
    from moot.service.sessions import Session

# 400: a request moot refuses (UsageError) or a body that cannot be read (FastAPI)
router = APIRouter(
    prefix="/v1/sessions", tags=["sessions"], responses={400: ERROR_SCHEMA, 401: ERROR_SCHEMA, 404: ERROR_SCHEMA}
)


def _out(session: Session) -> SessionOut:
    return SessionOut.model_validate(session.model_dump(exclude={"tenant"}))


@router.post("", status_code=201, response_model=SessionOut, responses={400: ERROR_SCHEMA})
async def create_session(body: SessionCreate, request: Request, who: Principal = Depends(principal)) -> SessionOut:
    """Open a session (a LangGraph thread) for a user on a workspace."""
    return _out(await open_session(ctx_of(request), who.tenant, body))


async def open_session(ctx: ServiceContext, tenant: str, body: SessionCreate) -> Session:
    """Open `body`'s session for the tenant once its workspace is known and loads (the API's and
    the page's); an unknown workspace is an `ApiError`, a broken one its `MootError`."""
    # names only: the hub also opens folders by path, which a client must never choose
    if body.workspace not in ctx.hub.names():
        raise ApiError(404, "not_found", f"no workspace {body.workspace!r}; GET /v1/workspaces lists them")
    await ctx.hub.get(body.workspace)  # a broken workspace is refused now, not at the first run
    return await ctx.sessions.create(
        tenant=tenant, user_id=body.user_id, workspace=body.workspace, ttl_s=body.ttl_s,
        title=body.title, metadata=body.metadata,
    )


@router.get("", response_model=SessionList)
async def list_sessions(
    request: Request,
    user_id: str | None = Query(default=None, pattern=NAME_PATTERN),
    limit: int = Query(default=50, ge=1, le=200),
    who: Principal = Depends(principal),
) -> SessionList:
    """The tenant's live sessions, newest first (optionally one user's)."""
    sessions = await ctx_of(request).sessions.list(who.tenant, user_id, limit=limit)
    return SessionList(sessions=[_out(s) for s in sessions])


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(session_id: str, request: Request, who: Principal = Depends(principal)) -> SessionOut:
    return _out(await session_of(request, who, session_id))


@router.delete("/{session_id}", status_code=204, response_class=Response)
async def delete_session(session_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    """Forget the session (its checkpoints stay until the store's own retention removes them)."""
    from moot.service.sessions import SessionNotFound

    try:
        await ctx_of(request).sessions.delete(who.tenant, session_id)
    except SessionNotFound:  # unknown, expired and another tenant's look the same, as on GET
        raise not_found("session", session_id[:64]) from None
    return Response(status_code=204)


@router.get("/{session_id}/state")
async def export_session_state(
    session_id: str, request: Request, run_id: str | None = Query(default=None, max_length=64), who: Principal = Depends(principal)
) -> dict[str, Any]:
    """The session's latest run state (or `run_id`'s) as a `moot.state/1` JSON document."""
    session = await session_of(request, who, session_id)
    ctx = ctx_of(request)
    if run_id is not None:
        await _owned_run(request, who, run_id, session_id)
    manager = await ctx.hub.get(session.workspace)
    orch, _ = manager.orchestrator()
    try:
        return await export_state(orch.graph, orch.config(session.thread_id), workspace=session.workspace, run_id=run_id)
    except UsageError as exc:
        raise ApiError(404, "no_state", str(exc)) from None


@router.post("/{session_id}/state", status_code=201, response_model=RunOut, responses={409: ERROR_SCHEMA})
async def import_session_state(
    session_id: str, body: StateImport, request: Request, who: Principal = Depends(principal)
) -> RunOut:
    """Write an export into this (empty) session as a new run, which can then be resumed."""
    session = await session_of(request, who, session_id)
    ctx = ctx_of(request)
    if body.format != FORMAT:
        raise ApiError(422, "invalid_export", f"not a moot state export (expected format {FORMAT!r})")
    if body.workspace and body.workspace != session.workspace:
        raise ApiError(409, "workspace_mismatch", f"the export is of workspace {body.workspace!r}, the session's is {session.workspace!r}")
    manager = await ctx.hub.get(session.workspace)
    orch, version = manager.orchestrator()
    run_id = new_id("run")
    values = {**body.values, "run_id": run_id, "session_id": session.thread_id, "user_id": session.user_id}
    task = str(values.get("task") or "")
    try:
        await import_state(orch.graph, {**body.model_dump(), "values": values}, orch.config(session.thread_id))
    except UsageError as exc:
        raise ApiError(409, "session_not_empty", str(exc)) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ApiError(422, "invalid_export", f"the export's values do not fit the state: {exc}") from None
    done = bool(values.get("done")) and not body.next
    await ctx.persistence.index.add(
        run_id, session.thread_id, session.workspace, task, session.user_id, str(manager.root),
        tenant=who.tenant, workspace_version=version.hash, status="finished" if done else "failed",
        error=None if done else {"error": "Imported", "message": "imported mid-run; POST .../resume to continue"},
    )
    return run_out(await ctx.persistence.index.get(run_id, tenant=who.tenant))


async def _owned_run(request: Request, who: Principal, run_id: str, session_id: str) -> RunRecord:
    from moot.service.routes.common import run_of

    record = await run_of(request, who, run_id)
    if record.thread_id != session_id:
        raise ApiError(404, "not_found", f"no run {run_id!r} in session {session_id!r}")
    return record


__all__ = ["open_session", "router"]
