"""Sessions and memory: the tenant's sessions (`/ui/sessions`), one session with its runs, and a
user's memory (`/ui/users/{user_id}/memory`): search within a token budget, forget one or all.

Memory is read and forgotten by the functions `/v1/users/{id}/memory` uses
(`moot.service.routes.misc`), on the tenant-scoped user id, so the page and the API see the same
memories and a tenant never reaches another's. Forgetting asks first: the form posts without
`confirm`, the page answers with a confirmation form, and only its `confirm=yes` forgets.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from moot.service.jobs import scoped_user
from moot.service.routes.common import ctx_of
from moot.service.routes.misc import forget_item, forget_user, memory_entries, search
from moot.service.schemas import NAME_PATTERN
from moot.service.web.auth import Viewer, check_csrf, viewer
from moot.service.web.lookups import not_found, session_record
from moot.service.web.templating import page

router = APIRouter()

LIST_LIMIT = 100
"""Sessions (and runs of a session) a page lists."""
BUDGET = (1, 8000, 500)
"""A search's token budget: least, most, default (as `/v1/users/{id}/memory/search`)."""
MAX_QUERY = 2000


def _valid_user(user_id: str) -> bool:
    return re.match(NAME_PATTERN, user_id) is not None


@router.get("/ui/sessions")
async def sessions_page(request: Request, user: str = "", who: Viewer = Depends(viewer)) -> Response:
    ctx = ctx_of(request)
    error = None
    if user and not _valid_user(user):
        error, found = "A user id is 1-128 letters, digits and _ . @ - (starting with a letter or digit).", []
    else:
        found = await ctx.sessions.list(who.tenant, user or None, limit=LIST_LIMIT)
    rows = [(s, await _runs(request, who, s.session_id)) for s in found]
    return page(request, "sessions.html", who, section="sessions", rows=rows, user=user, error=error,
                status_code=422 if error else 200)


@router.get("/ui/sessions/{session_id}")
async def session_page(request: Request, session_id: str, who: Viewer = Depends(viewer)) -> Response:
    session = await session_record(request, who, session_id)
    if session is None:
        return not_found(request, who, "session", session_id, section="sessions")
    return page(request, "session.html", who, section="sessions", session=session, runs=await _runs(request, who, session_id))


async def _runs(request: Request, who: Viewer, session_id: str) -> list[Any]:
    return await ctx_of(request).persistence.index.list(str(who.tenant), session_id=session_id, limit=LIST_LIMIT)


@router.get("/ui/users/{user_id}/memory")
async def memory_page(request: Request, user_id: str, q: str = "", budget: str = "", who: Viewer = Depends(viewer)) -> Response:
    return await _memory(request, who, user_id, q=q, budget=budget, searched="q" in request.query_params)


@router.post("/ui/users/{user_id}/memory/forget")
async def forget(request: Request, user_id: str, who: Viewer = Depends(viewer)) -> Response:
    form = await check_csrf(request, who)
    memory = ctx_of(request).memory
    if memory is None or not _valid_user(user_id):
        return await _memory(request, who, user_id)
    memory_id = (form.get("memory_id") or "").strip()[:256]
    if form.get("confirm") != "yes":
        return page(request, "memory_forget.html", who, section="sessions", user_id=user_id, memory_id=memory_id,
                    item=await _item(memory, scoped_user(str(who.tenant), user_id), memory_id))
    scoped = scoped_user(str(who.tenant), user_id)
    if memory_id:
        gone = await forget_item(memory, scoped, memory_id)
        notice = "Forgot that memory." if gone else None
        error = None if gone else "That memory is not there any more (it was forgotten already, or is not this user's)."
    else:
        count = await forget_user(memory, scoped)
        notice, error = f"Forgot everything about {user_id} ({count} item{'s' if count != 1 else ''}).", None
    return await _memory(request, who, user_id, notice=notice, error=error, status_code=200 if error is None else 404)


async def _item(memory: Any, scoped: str, memory_id: str) -> Any:
    if not memory_id:
        return None
    return next((e for e in await memory_entries(memory, scoped, 1000) if e.id == memory_id), None)


async def _memory(
    request: Request, who: Viewer, user_id: str, *, q: str = "", budget: str = "", searched: bool = False,
    notice: str | None = None, error: str | None = None, status_code: int = 200,
) -> Response:
    memory = ctx_of(request).memory
    context: dict[str, Any] = {
        "user_id": user_id, "q": q, "budget": budget or str(BUDGET[2]), "result": None, "semantic": [], "episodic": [],
        "memory_on": memory is not None, "notice": notice, "error": error, "budget_range": BUDGET, "max_query": MAX_QUERY,
    }
    if not _valid_user(user_id):
        context["error"] = "A user id is 1-128 letters, digits and _ . @ - (starting with a letter or digit)."
        return page(request, "memory.html", who, section="sessions", status_code=422, **context)
    if memory is None:
        return page(request, "memory.html", who, section="sessions", status_code=status_code, **context)
    scoped = scoped_user(str(who.tenant), user_id)
    entries = await memory_entries(memory, scoped, 1000)
    context["semantic"] = [e for e in entries if e.layer != "episodic"]
    context["episodic"] = [e for e in entries if e.layer == "episodic"][:50]
    if searched:
        tokens = int(budget) if budget.strip().isdigit() else None
        if not q.strip() or len(q) > MAX_QUERY:
            context["error"], status_code = f"Type what to search for (1-{MAX_QUERY} characters).", 422
        elif tokens is None or not BUDGET[0] <= tokens <= BUDGET[1]:
            context["error"], status_code = f"The token budget is a whole number from {BUDGET[0]} to {BUDGET[1]}.", 422
        else:
            context["result"] = await search(memory, scoped, user_id, q, tokens)
    return page(request, "memory.html", who, section="sessions", status_code=status_code, **context)


__all__ = ["router"]
