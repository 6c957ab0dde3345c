"""How the page answers a viewer it will not serve: a login it needs, or a request it refuses."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from moot.service.web.auth import CookieIssuer, Forbidden, LoginRequired
from moot.service.web.pages.login import login_again
from moot.service.web.templating import templates


async def to_login(request: Request, exc: Exception) -> Response:
    """A page that needs a login: to the login page, which comes back here afterwards; a form
    sent after the login ended: the login page carrying the form (`login_again`)."""
    if request.method == "POST":
        return await login_again(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)


async def refused(request: Request, exc: Exception) -> HTMLResponse:
    """A 403 page that says why (not loopback in open mode, a form without its CSRF token)."""
    message = exc.message if isinstance(exc, Forbidden) else str(exc)
    context = {"message": message, "viewer": None, "nav": (), "section": ""}
    return templates.TemplateResponse(request, "refused.html", context, status_code=403)


def install_auth(app: FastAPI) -> None:
    """The cookie middleware and the answers to LoginRequired / Forbidden."""
    app.add_middleware(CookieIssuer)
    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(Forbidden, refused)


__all__ = ["install_auth", "refused", "to_login"]
