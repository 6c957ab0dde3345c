"""Logging in to the page with an API key, and out (only when the server has keys)."""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from moot.service.web.auth import Viewer, check_csrf, clear, current, issue
from moot.service.web.templating import page
from moot.settings import settings

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this server (never `//host` or a scheme): no open redirect."""
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/ui/login")
async def login_form(request: Request, next: str | None = None, who: Viewer = Depends(current)) -> Response:
    if who.signed_in:
        return RedirectResponse(_safe_next(next), status_code=303)
    return page(request, "login.html", who, next=_safe_next(next))


@router.post("/ui/login")
async def login(request: Request, who: Viewer = Depends(current)) -> Response:
    form = await check_csrf(request, who)
    target = _safe_next(form.get("next"))
    key = (form.get("key") or "").strip()
    info = await request.app.state.ctx.keys.verify(key) if key else None
    if info is None:
        return page(request, "login.html", who, next=target, error="That key is unknown or revoked.", status_code=401)
    issue(request, {"t": info.tenant, "k": info.key_id, "n": secrets.token_urlsafe(16), "exp": time.time() + settings().web_login_ttl_s})
    return RedirectResponse(target, status_code=303)


@router.post("/ui/logout")
async def logout(request: Request, who: Viewer = Depends(current)) -> Response:
    await check_csrf(request, who)
    clear(request)
    return RedirectResponse("/ui/login", status_code=303)


__all__ = ["router"]
