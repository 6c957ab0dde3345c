"""A run, live (`/ui/runs/{run_id}`): what has happened so far, then its events as they come.

The page is rendered from the run's event log folded by `RunView`; `live.js` then follows the
cookie-authenticated stream `/ui/runs/{run_id}/events`. Each message of that stream is one log
entry (the same ids as `/v1/runs/{id}/events`, so `Last-Event-ID` and `?after=` work alike)
carrying the transcript line it adds and the panels it changed, rendered here by the same
templates as the page: one renderer, and a line is keyed by its event id, so a replay after a
reconnect never shows it twice. The approval card answers through `answer_run`, the function
behind `POST /v1/runs/{id}/approval`: the same schema, the same policy, the same refusals.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from moot.errors import MootError
from moot.graph.approval import ApprovalAnswer
from moot.service.event_stream import event_stream
from moot.service.problems import ApiError
from moot.service.routes.common import ctx_of, run_of
from moot.service.routes.runs import answer_run, pending_of
from moot.service.web.auth import Viewer, check_csrf, csrf_token, viewer
from moot.service.web.checkpoints import thread_graph
from moot.service.web.graph_picture import graph_svg
from moot.service.web.run_view import PANELS, RunView
from moot.service.web.templating import page, templates

router = APIRouter()

ENDED = frozenset({"finished", "failed", "cancelled"})
APPROVAL_EVENTS = frozenset({"approval_requested", "approval_given", "run_started", "run_finished", "run_failed", "run_cancelled"})
"""Events after which the approval card is drawn again (it appears, or goes)."""


async def _record(request: Request, who: Viewer, run_id: str) -> Any:
    """The tenant's run, or an ApiError 404 (a foreign run looks exactly like an unknown one)."""
    return await run_of(request, who, run_id)  # type: ignore[arg-type]  # a Viewer has the tenant run_of reads


async def _facts(request: Request, record: Any) -> dict[str, Any]:
    """What the page knows of the run's workspace version: stages, their agents, budgets, picture."""
    ctx = ctx_of(request)
    try:
        manager = await ctx.hub.get(record.workspace)
        try:
            version = manager.version(record.workspace_version)
        except MootError:
            version = manager.current
    except MootError as exc:
        return {"stages": [], "stage_agents": {}, "token_budget": None, "prices": {}, "svg": None, "svg_error": str(exc)}
    ws = version.workspace
    svg, why = await graph_svg(version)
    return {
        "stages": list(ws.plan.order),
        "stage_agents": {name: list(ws.plan[name].agents) for name in ws.plan.order},
        "token_budget": ws.spec.limits.token_budget,
        "prices": {k: v.model_dump() for k, v in ws.spec.prices.items()},
        "svg": svg,
        "svg_error": why,
    }


def _view(request: Request, facts: dict[str, Any], record: Any) -> RunView:
    """An empty view of the run; what it waits for, as its record says (a log may have lost that)."""
    return RunView(
        stages=facts["stages"], token_budget=facts["token_budget"], prices=facts["prices"],
        seconds_budget=float(ctx_of(request).settings.limits.run_timeout_s), pending=pending_of(record),
    )


def _render_part(name: str, **context: Any) -> str:
    return templates.env.get_template(f"run/{name}.html").render(**context)


async def _page(request: Request, who: Viewer, run_id: str, *, approval: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    try:
        record = await _record(request, who, run_id)
    except ApiError as exc:
        return page(request, "missing.html", who, section="runs", message=exc.message, status_code=exc.status)
    facts = await _facts(request, record)
    view = _view(request, facts, record)
    lines = await _fold(request, record, view)
    view.status = record.status  # the record is the authority; the log may lag it by a write
    pending = pending_of(record)
    if pending is not None:
        view.pending = pending
    return page(
        request, "run.html", who, section="runs", status_code=status_code, run=record, view=view, lines=lines,
        facts=facts, approval=approval or {}, ended=record.status in ENDED,
    )


@router.get("/ui/runs/{run_id}")
async def run_page(request: Request, run_id: str, who: Viewer = Depends(viewer)) -> Response:
    return await _page(request, who, run_id)


@router.get("/ui/runs/{run_id}/events")
async def run_events(
    request: Request,
    run_id: str,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID", max_length=64),
    after: str | None = Query(default=None, max_length=64),
    who: Viewer = Depends(viewer),
) -> Response:
    """The run's events as the page applies them (see the module docstring); 404 for another tenant's run."""
    ctx = ctx_of(request)
    try:
        record = await _record(request, who, run_id)
        start = last_event_id or after
        if start is not None:
            try:
                start = ctx.events.check_id(start)
            except ValueError as exc:
                raise ApiError(400, "invalid_event_id", str(exc)) from None
    except ApiError as exc:
        return Response(exc.message, status_code=exc.status, media_type="text/plain")
    facts = await _facts(request, record)
    csrf = csrf_token(request, who)
    return event_stream(_messages(request, record, facts, start, csrf), disconnected=request.is_disconnected)


async def _messages(request: Request, record: Any, facts: dict[str, Any], start: str | None, csrf: str) -> AsyncIterator[Any]:
    """Pages of SSE messages: the log folded from the start, sent from after `start`."""
    events = ctx_of(request).events
    view = _view(request, facts, record)
    if start is not None:  # what the page has already: folded, not sent
        await _fold(request, record, view, upto=start)
        if view.seeded_ts is not None:  # the log was lost: the page's panels are drawn again from the checkpoint
            yield [(None, "message", _payload(view, None, {*PANELS, "approval"}, facts, csrf, record.run_id,
                                              id_=f"checkpoint-{view.seeded_ts}", event=_state_event(record, view.seeded_ts)))]
    else:  # the page had nothing: only a seed from the checkpoint (if the log lost the run's beginning) is folded first, and sent
        seeded = await _fold(request, record, view, upto="0")
        if seeded:
            yield [(None, "message", _payload(view, seeded[0], set(PANELS), facts, csrf, record.run_id))]
    # an ended run: its last events may still be on their way to the log (a recorder lingers), or
    # lost with an embedded server; the stream ends after 2 s of silence instead of waiting for them
    ended = record.status in ENDED
    async for batch in events.read_pages(record.run_id, after=start, follow=True, heartbeat_s=2.0 if ended else 10.0):
        if batch is None:
            if ended:
                return
            yield None
            continue
        yield [(entry.id, "message", _message(view, entry, facts, csrf, record.run_id)) for entry in batch]


async def _fold(request: Request, record: Any, view: RunView, *, upto: str | None = None) -> list[Any]:
    """Fold the run's log into `view` (up to and including `upto`); the transcript lines. When
    the log has lost the run's beginning, the view starts from the run's checkpoint."""
    lines: list[Any] = []
    first = True
    async for entry in ctx_of(request).events.read(record.run_id, follow=False):
        if entry is None:
            continue
        if first:
            first = False
            if entry.event.type != "run_queued":
                lines += await _seed(request, record, view)
        if upto is not None and _order(entry.id) > _order(upto):
            break
        line, _ = view.apply(entry.id, entry.event)
        if line is not None:
            lines.append(line)
    if first:  # an empty log: the process that logged the run is gone
        lines += await _seed(request, record, view)
    return lines


async def _seed(request: Request, record: Any, view: RunView) -> list[Any]:
    """Seed `view` from the run's latest checkpoint, if that checkpoint is this run's."""
    from datetime import datetime

    try:
        graph, config, _ = await thread_graph(ctx_of(request), record)
        snapshot = await graph.aget_state(config)
    except MootError:
        return []
    values = snapshot.values or {}
    if values.get("run_id") != record.run_id:
        return []
    ts = datetime.fromisoformat(snapshot.created_at).timestamp() if snapshot.created_at else 0.0
    line = view.seed(values, ts, _state_event(record, ts))
    return [line] if line is not None else []


def _state_event(record: Any, ts: float) -> Any:
    """The event a seed from the checkpoint stands for (it has no entry in the log)."""
    from moot.events import Event

    return Event(type="state_values", run_id=record.run_id, session_id=record.thread_id, workspace=record.workspace, ts=ts)


def _order(id_: str) -> tuple[int, ...]:
    """An event id as numbers, in the log's order: in process `00017…`, Redis `1700000000000-3`."""
    return tuple(int(part) for part in id_.split("-") if part.isdigit())


def _message(view: RunView, entry: Any, facts: dict[str, Any], csrf: str, run_id: str) -> str:
    event = entry.event
    line, changed = view.apply(entry.id, event)
    if event.type in APPROVAL_EVENTS:
        changed = changed | {"approval"}
    return _payload(view, line, changed, facts, csrf, run_id, id_=entry.id, event=event)


def _payload(
    view: RunView, line: Any, changed: set[str], facts: dict[str, Any], csrf: str, run_id: str, *, id_: str | None = None, event: Any = None,
) -> str:
    """One message's JSON: the event's id, kind and time, its line and the changed panels, rendered."""
    context = {"view": view, "facts": facts, "csrf": csrf, "run_id": run_id, "approval": {}}
    panels = {name: _render_part(name, **context) for name in (*PANELS, "approval") if name in changed}
    event = event if event is not None else line.event
    return json.dumps({
        "id": id_ or (line.id if line is not None else None), "kind": event.type, "ts": event.ts, "stage": event.stage, "agent": event.agent,
        "line": _render_part("line", line=line, view=view) if line is not None else None,
        "panels": panels, "snap": view.snapshot(),
    }, default=str)


@router.post("/ui/runs/{run_id}/approval")
async def answer(request: Request, run_id: str, who: Viewer = Depends(viewer)) -> Response:
    """Approve, edit or reject from the card; refusals come back inline with the form as it was."""
    form = await check_csrf(request, who)
    kept = {k: form.get(k, "") for k in ("action", "reason", "decision")}
    try:
        record = await _record(request, who, run_id)
    except ApiError as exc:
        return page(request, "missing.html", who, section="runs", message=exc.message, status_code=exc.status)
    try:
        await answer_run(ctx_of(request), record, _answer(kept))
    except ApiError as exc:
        return await _page(request, who, run_id, approval={**kept, "error": exc.message}, status_code=exc.status)
    except MootError as exc:  # the policy refuses the edit (PolicyViolation) or the answer does not parse
        return await _page(request, who, run_id, approval={**kept, "error": str(exc)}, status_code=422)
    return RedirectResponse(f"/ui/runs/{run_id}", status_code=303)


def _answer(form: dict[str, str]) -> ApprovalAnswer:
    """The card's form as an `ApprovalAnswer` (the API's own schema), or ApiError 422 saying why not."""
    action = form["action"]
    decision: Any = None
    if action == "edit":
        try:
            decision = json.loads(form["decision"] or "null")
        except json.JSONDecodeError as exc:
            raise ApiError(422, "invalid_decision", f"The edited decision is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}.") from None
        if not isinstance(decision, dict):
            raise ApiError(422, "invalid_decision", "The edited decision must be a JSON object, like the one shown.")
    try:
        return ApprovalAnswer(action=action, decision=decision, reason=form["reason"])  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
        raise ApiError(422, "invalid_answer", f"That answer cannot be sent ({where}): {first.get('msg')}.") from None


__all__ = ["router"]
