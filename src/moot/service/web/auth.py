"""Who is looking at the page: a login cookie when API keys are configured; loopback only without.

- **Open mode** (no active key, as the API): the viewer is tenant `local`, and only a loopback
  client is served (`moot serve` binds 127.0.0.1 in that mode anyway; this holds behind a proxy too).
- **Keys configured**: the viewer logs in with an API key once (`/ui/login`); the page then
  carries a signed, HTTP-only, SameSite=Strict cookie naming the key, its tenant and an expiry
  (`MOOT_WEB_LOGIN_TTL_S`). The key is looked up at every page, so a revoked key logs out.
- **CSRF**: every form carries a token bound to the cookie's random nonce (an HMAC of it), and
  every POST is refused without it, or with an `Origin` that is not this server. The nonce
  changes at login, so a token seen before login is worthless after it.

The cookie is signed with `MOOT_WEB_SECRET`, or a random secret kept in `$MOOT_HOME/web-secret`,
so logins survive a restart of the server. The EventSource of a live run sends the same cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moot.service.auth import LOCAL_TENANT
from moot.settings import moot_home, settings

COOKIE = "moot_login"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "testclient"})


@dataclass(frozen=True)
class Viewer:
    """The person at the page: a tenant (None before login), the key it logged in with (None in
    open mode) and the nonce its CSRF tokens are bound to."""

    tenant: str | None
    key_id: str | None
    nonce: str

    @property
    def signed_in(self) -> bool:
        return self.tenant is not None


class LoginRequired(Exception):
    """Raised by `viewer` when the page needs a login; answered with a redirect to the login page."""


class Forbidden(Exception):
    """A request the page refuses outright (not loopback in open mode, a bad CSRF token)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- the signed cookie ----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _secret_for(home: Path, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = home / "web-secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        home.mkdir(parents=True, exist_ok=True)
        fresh = secrets.token_urlsafe(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # two processes: one wins, both read it
        with os.fdopen(fd, "wb") as handle:
            handle.write(fresh)
        return fresh


def secret() -> bytes:
    """The signing secret (see the module docstring)."""
    env = settings()
    configured = env.web_secret.get_secret_value() if env.web_secret else None
    try:
        return _secret_for(moot_home(), configured)
    except FileExistsError:  # another process created it between our read and our create
        return _secret_for(moot_home(), configured)  # now it reads the file (errors are not cached)


def _mac(data: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret(), data, hashlib.sha256).digest()).decode().rstrip("=")


def sign(payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_mac(body.encode())}"


def unsign(value: str | None) -> dict[str, Any] | None:
    """The payload of a cookie we signed, or None (missing, tampered, malformed or expired)."""
    if not value or "." not in value:
        return None
    body, mac = value.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(body.encode())):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        return None
    if payload.get("exp") is not None and float(payload["exp"]) < time.time():
        return None
    return payload


def issue(request: Request, payload: dict[str, Any]) -> None:
    """Have the response to `request` set the cookie (CookieIssuer adds the header)."""
    ttl = settings().web_login_ttl_s
    secure = "; Secure" if request.url.scheme == "https" else ""
    request.state.moot_cookie = f"{COOKIE}={sign(payload)}; Path=/; Max-Age={ttl}; HttpOnly; SameSite=Strict{secure}"


def clear(request: Request) -> None:
    request.state.moot_cookie = f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"


class CookieIssuer:
    """Adds the `Set-Cookie` that `issue`/`clear` asked for to the response (a pure ASGI
    middleware: pages may return any response, and streams pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = scope.get("state", {}).get("moot_cookie")
                if cookie:
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, sending)


# -- who is looking -------------------------------------------------------------------------------


async def viewer(request: Request) -> Viewer:
    """The FastAPI dependency of every page: the signed-in viewer, or LoginRequired / Forbidden."""
    found = await current(request)
    if not found.signed_in:
        raise LoginRequired()
    return found


async def current(request: Request) -> Viewer:
    """The viewer as the cookie says, signed in or not (the login page's own dependency)."""
    payload = unsign(request.cookies.get(COOKIE))
    if not request.app.state.keys_required:
        host = request.client.host if request.client else ""
        if host not in LOOPBACK:
            raise Forbidden("this server has no API keys, so its page is served to this machine only (create one: moot keys create)")
        if payload is None or payload.get("t") != LOCAL_TENANT:
            payload = {"t": LOCAL_TENANT, "n": secrets.token_urlsafe(16)}
            issue(request, payload)
        return Viewer(LOCAL_TENANT, None, payload["n"])
    if payload is not None and payload.get("t") and payload.get("k"):
        ctx = request.app.state.ctx
        active = {k.key_id for k in await ctx.keys.list(payload["t"]) if k.revoked_at is None}
        if payload["k"] in active:
            return Viewer(str(payload["t"]), str(payload["k"]), payload["n"])
    if payload is None or payload.get("t"):  # no cookie, or a login that ended: a fresh anonymous one
        payload = {"t": None, "n": secrets.token_urlsafe(16)}
        issue(request, payload)
    return Viewer(None, None, payload["n"])


def csrf_token(request: Request, who: Viewer) -> str:
    """The token every form of `who` carries (bound to its cookie's nonce)."""
    return _mac(f"csrf:{who.nonce}".encode())


async def check_csrf(request: Request, who: Viewer) -> dict[str, str]:
    """The POSTed form, once its CSRF token and Origin are checked; Forbidden otherwise."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(f"a form from {origin} is not accepted here")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    token = form.get("csrf") or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(token, csrf_token(request, who)):
        raise Forbidden("this form has expired or did not come from this page: reload the page and send it again")
    return form


__all__ = ["COOKIE", "Forbidden", "LoginRequired", "Viewer", "check_csrf", "csrf_token", "current", "issue", "viewer"]
