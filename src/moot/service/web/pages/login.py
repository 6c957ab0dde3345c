"""Logging in to the page with an API key, and out (only when the server has keys).

A form sent after the login ended (expired, or its key revoked) is not lost: the login page
carries its fields (`carry:NAME`) and where it was going (`carry_to`), and once logged in the
viewer sees what the form held and sends it again with one button (a fresh CSRF token; never
resent without being asked).
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote, urlsplit

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


CARRY = "carry:"
"""Prefix of the login form's fields that carry an interrupted form's own fields."""


def _carried(form: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    """Where an interrupted form was going (a path of this server) and its fields, from the login form."""
    to = form.get("carry_to")
    fields = {k[len(CARRY):]: v for k, v in form.items() if k.startswith(CARRY)}
    return (to if to and _safe_next(to) == to else None), fields


async def login_again(request: Request) -> Response:
    """The login page for a form POSTed after the login ended, carrying the form along when it
    came from one of this server's pages (a form from another site is not carried: the viewer
    would be offered to send what someone else wrote)."""
    ours = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    referer = urlsplit(request.headers.get("referer", ""))  # the page the form was on
    if (origin and origin != ours) or referer.netloc != request.url.netloc:
        target = quote(request.url.path, safe="")
        return RedirectResponse(f"/ui/login?next={target}", status_code=303)
    who = await current(request)  # anonymous now (a fresh nonce)
    try:
        sent = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf"}
    except Exception:  # noqa: BLE001 - a body that is not a form: nothing to carry
        sent = {}
    back = referer.path + (f"?{referer.query}" if referer.query else "")
    return page(request, "login.html", who, next=_safe_next(back), carry_to=request.url.path, carry=sent, status_code=401,
                error="Your login has ended. Log in again: what you sent is kept, and you can send it again.")


@router.post("/ui/login")
async def login(request: Request, who: Viewer = Depends(current)) -> Response:
    form = await check_csrf(request, who)
    target = _safe_next(form.get("next"))
    carry_to, carry = _carried(form)
    key = (form.get("key") or "").strip()
    info = await request.app.state.ctx.keys.verify(key) if key else None
    if info is None:
        return page(request, "login.html", who, next=target, carry_to=carry_to, carry=carry, error="That key is unknown or revoked.", status_code=401)
    payload = {"t": info.tenant, "k": info.key_id, "n": secrets.token_urlsafe(16), "exp": time.time() + settings().web_login_ttl_s}
    issue(request, payload)
    if carry_to:
        signed_in = Viewer(info.tenant, info.key_id, payload["n"])
        return page(request, "resend.html", signed_in, carry_to=carry_to, carry=carry, next=target)
    return RedirectResponse(target, status_code=303)


@router.post("/ui/logout")
async def logout(request: Request, who: Viewer = Depends(current)) -> Response:
    await check_csrf(request, who)
    clear(request)
    return RedirectResponse("/ui/login", status_code=303)


__all__ = ["login_again", "router"]
