"""Time travel (`/ui/runs/{run_id}/history`): a run's checkpoint timeline, the state at any
checkpoint, and a fork from one.

The timeline and the states come from LangGraph's own checkpointer history
(`moot.service.web.checkpoints`); a fork is the LangGraph API's fork from a `checkpoint_id`
(`moot.service.langgraph_api.run_start.start`): a new run of the same thread continues from the
chosen checkpoint, whose first checkpoint is written as a child of it, so the thread's earlier
checkpoints stay exactly as they were. Every refusal of a fork (a stale checkpoint, a busy thread,
the tenant's active-run limit) comes back as an inline message on this page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from moot.errors import MootError
from moot.service.langgraph_api.run_body import LangGraphRunCreate
from moot.service.langgraph_api.run_start import start
from moot.service.problems import ApiError
from moot.service.routes.common import ctx_of
from moot.service.web.auth import Viewer, check_csrf, viewer
from moot.service.web.checkpoints import annotate, state_at, thread_graph, timeline
from moot.service.web.lookups import not_found, principal_of, run_record, session_record
from moot.service.web.templating import page

router = APIRouter()

MAX_ID = 200
"""The longest checkpoint id accepted (as the LangGraph API's run body)."""


@router.get("/ui/runs/{run_id}/history")
async def history_page(
    request: Request, run_id: str, checkpoint: str | None = None, before: str | None = None, who: Viewer = Depends(viewer)
) -> Response:
    record = await run_record(request, who, run_id)
    if record is None:
        return not_found(request, who, "run", run_id, section="runs")
    error = None
    if checkpoint is not None and not checkpoint.strip():
        checkpoint, error = None, "Choose a checkpoint to inspect."
    return await _render(request, who, record, checkpoint, error=error, before=(before or "")[:MAX_ID] or None)


@router.post("/ui/runs/{run_id}/fork")
async def fork(request: Request, run_id: str, who: Viewer = Depends(viewer)) -> Response:
    form = await check_csrf(request, who)
    record = await run_record(request, who, run_id)
    if record is None:
        return not_found(request, who, "run", run_id, section="runs")
    checkpoint = (form.get("checkpoint") or "").strip()
    if not checkpoint or len(checkpoint) > MAX_ID:
        return await _render(request, who, record, None, error="That is not a checkpoint of this run's thread: choose one from the timeline.", status_code=422)
    session = await session_record(request, who, record.thread_id)
    if session is None:
        why = f"The session {record.thread_id} of this run has expired, so a new run cannot join it; its checkpoints can still be inspected."
        return await _render(request, who, record, checkpoint, error=why, status_code=409)
    try:
        started = await start(ctx_of(request), principal_of(who), session, LangGraphRunCreate(checkpoint_id=checkpoint))
    except ApiError as exc:  # LangGraphError too: a stale checkpoint (404), a busy thread (409), the run limit (429)
        message = f"Checkpoint {checkpoint} is not (or no longer) in this run's thread." if exc.status == 404 else exc.message
        return await _render(request, who, record, None, error=message, status_code=exc.status)
    except MootError as exc:  # the workspace no longer loads, say
        return await _render(request, who, record, None, error=str(exc), status_code=409)
    return RedirectResponse(f"/ui/runs/{started.record.run_id}", status_code=303)


async def _render(
    request: Request, who: Viewer, record: Any, checkpoint: str | None, *, error: str | None = None, status_code: int = 200,
    before: str | None = None,
) -> Response:
    ctx = ctx_of(request)
    context: dict[str, Any] = {"run": record, "points": [], "selected": None, "keys": [], "error": error, "before": before, "older": None}
    try:
        graph, config, policy = await thread_graph(ctx, record)
    except MootError as exc:
        context["error"] = error or f"The run's workspace {record.workspace!r} does not load now, so its checkpoints cannot be read: {exc}"
        return page(request, "history.html", who, section="runs", status_code=status_code if error else 409, **context)
    context["points"], context["older"] = await timeline(graph, config, before=before)
    if checkpoint is not None:
        state = await state_at(graph, config, checkpoint[:MAX_ID])
        if state is None:
            context["error"] = error or f"Checkpoint {checkpoint[:MAX_ID]} is not (or no longer) in this run's thread: choose one from the timeline."
            status_code = status_code if error else 404
        else:
            context["selected"] = state
            context["keys"] = annotate(graph, policy, state.values if isinstance(state.values, dict) else {})
    return page(request, "history.html", who, section="runs", status_code=status_code, **context)


__all__ = ["router"]
