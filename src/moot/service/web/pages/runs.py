"""The runs page (`/`): the tenant's runs with filters, their live status, and a form to start one.

Filters are a GET form, so a filtered list has an address. Runs still going are refreshed by a
small poll of `/ui/runs/status` (runs.js), cheaper than a stream per row. Starting a run goes
through the same functions as `POST /v1/sessions` and `POST /v1/sessions/{id}/runs`
(`open_session`, `queue_run`): the same limits, the same refusals, shown inline with what the
person typed kept in the form.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from moot.errors import MootError, UsageError
from moot.persistence.records import ACTIVE, STATUSES
from moot.service.problems import ApiError
from moot.service.routes.common import ctx_of
from moot.service.routes.runs import queue_run
from moot.service.routes.sessions import open_session
from moot.service.schemas import NAME_PATTERN, SessionCreate
from moot.service.web.auth import Viewer, check_csrf, viewer
from moot.service.web.templating import page

router = APIRouter()

LISTED = 100
"""Runs shown at once (the newest that pass the filters)."""


async def _choices(request: Request, who: Viewer) -> dict[str, Any]:
    """What the start form offers: the workspaces, the tenant's live sessions, the forced model."""
    ctx = ctx_of(request)
    sessions = await ctx.sessions.list(who.tenant or "", limit=50)
    return {"workspaces": ctx.hub.names(), "sessions": [s for s in sessions if s.workspace], "model": ctx.settings.model_override}


async def _render(request: Request, who: Viewer, filters: dict[str, str], form: dict[str, str], error: str | None = None, status_code: int = 200) -> Response:
    index = ctx_of(request).persistence.index
    want = {k: v for k, v in filters.items() if v}
    records = await index.list(who.tenant, user_id=want.get("user"), status=want.get("status"), limit=LISTED * 2 if "workspace" in want else LISTED)
    if "workspace" in want:
        records = [r for r in records if r.workspace == want["workspace"]][:LISTED]
    return page(
        request, "runs.html", who, section="runs", status_code=status_code, runs=records, filters=filters,
        statuses=STATUSES, active=ACTIVE, form=form, error=error, **await _choices(request, who),
    )


@router.get("/")
async def runs_page(
    request: Request,
    workspace: str = Query(default="", max_length=128),
    status: str = Query(default="", max_length=32),
    user: str = Query(default="", max_length=128),
    who: Viewer = Depends(viewer),
) -> Response:
    filters = {"workspace": workspace, "status": status if status in STATUSES else "", "user": user}
    names = ctx_of(request).hub.names()
    default = "demo" if "demo" in names else (workspace or (names[0] if names else ""))
    return await _render(request, who, filters, {"session": "new", "user_id": "default", "workspace": workspace or default})


@router.get("/ui/runs/status")
async def runs_status(request: Request, ids: str = Query(default="", max_length=64 * 101), who: Viewer = Depends(viewer)) -> Response:
    """`{"runs": {run_id: status}}` of the tenant's runs among `ids` (comma-separated); others are left out."""
    index = ctx_of(request).persistence.index
    found: dict[str, str] = {}
    for run_id in [i for i in ids.split(",") if i][:100]:
        try:
            found[run_id] = (await index.get(run_id[:64], tenant=who.tenant)).status
        except UsageError:
            continue
    return JSONResponse({"runs": found}, headers={"Cache-Control": "no-store"})


@router.post("/ui/runs")
async def start_run(request: Request, who: Viewer = Depends(viewer)) -> Response:
    """Start a run from the form; 303 to its page, or the form again with the refusal."""
    form = await check_csrf(request, who)
    kept = {k: form.get(k, "") for k in ("workspace", "task", "session", "user_id")}
    try:
        record = await _start(request, who, kept)
    except ApiError as exc:
        return await _render(request, who, {}, kept, exc.message, status_code=exc.status)
    except MootError as exc:
        return await _render(request, who, {}, kept, str(exc), status_code=400)
    return RedirectResponse(f"/ui/runs/{record.run_id}", status_code=303)


async def _start(request: Request, who: Viewer, form: dict[str, str]) -> Any:
    ctx = ctx_of(request)
    tenant = who.tenant or ""
    if not form["task"].strip():
        raise ApiError(422, "task_empty", "Say what the moot should decide: the task is empty.")
    if form["session"] in ("", "new"):
        if not re.match(NAME_PATTERN, form["user_id"]):
            raise ApiError(422, "invalid_user_id", "A user id is 1-128 letters, digits and _ . @ - (starting with a letter or digit).")
        try:
            session = await open_session(ctx, tenant, SessionCreate(user_id=form["user_id"], workspace=form["workspace"]))
        except ValidationError as exc:
            raise ApiError(422, "invalid_session", exc.errors()[0].get("msg", "invalid")) from None
        try:
            return await queue_run(ctx, tenant, session, form["task"])
        except BaseException:
            await ctx.sessions.delete(tenant, session.session_id)  # a refused first run leaves no empty session behind
            raise
    from moot.service.sessions import SessionNotFound

    try:
        session = await ctx.sessions.get(tenant, form["session"])
    except (SessionNotFound, UsageError):
        raise ApiError(404, "not_found", "That session has ended or is not yours; choose another or start a new one.") from None
    return await queue_run(ctx, tenant, session, form["task"])


__all__ = ["router"]
