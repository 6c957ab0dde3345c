"""Lookups every route shares: the context, a tenant's session, a tenant's run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from moot.errors import UsageError
from moot.service.auth import Principal
from moot.service.problems import ApiError, not_found
from moot.service.schemas import RunOut

if TYPE_CHECKING:
    from moot.persistence import RunRecord
    from moot.service.context import ServiceContext
    from moot.service.sessions import Session


def ctx_of(request: Request) -> ServiceContext:
    return request.app.state.ctx


async def session_of(request: Request, who: Principal, session_id: str) -> Session:
    """The tenant's session, or 404 (unknown, expired and foreign look the same)."""
    from moot.service.sessions import SessionNotFound

    try:
        return await ctx_of(request).sessions.get(who.tenant, session_id)
    except SessionNotFound:
        raise not_found("session", session_id) from None
    except UsageError:  # a malformed id is simply not one of the tenant's sessions
        raise not_found("session", session_id) from None


async def run_of(request: Request, who: Principal, run_id: str) -> RunRecord:
    """The tenant's run record, or 404."""
    if len(run_id) > 64:
        raise not_found("run", run_id[:64])
    try:
        return await ctx_of(request).persistence.index.get(run_id, tenant=who.tenant)
    except UsageError:
        raise not_found("run", run_id) from None


def run_out(record: RunRecord) -> RunOut:
    base = f"/v1/runs/{record.run_id}"
    links = {"self": base, "events": f"{base}/events", "cancel": f"{base}/cancel"}
    if record.status == "awaiting_approval":
        links["approval"] = f"{base}/approval"
    result = record.result if isinstance(record.result, dict) else None
    return RunOut(
        run_id=record.run_id,
        session_id=record.thread_id,
        user_id=record.user_id,
        workspace=record.workspace,
        workspace_version=record.workspace_version,
        task=record.task,
        status=record.status,
        attempts=record.attempts,
        started_at=record.started_at,
        finished_at=record.finished_at,
        result=result,
        error=record.error,
        links=links,
    )


def conflict(type_: str, message: str) -> ApiError:
    return ApiError(409, type_, message)


__all__ = ["conflict", "ctx_of", "run_of", "run_out", "session_of"]
