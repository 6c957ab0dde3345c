"""Errors of the LangGraph API in LangGraph's own shape, `{"detail": "..."}`, beside /v1's.

LangGraph's clients read `detail` (langgraph_sdk raises `httpx.HTTPStatusError` and shows it);
/v1 keeps its `{"error": {"type", "message"}}` problem shape. Exception handlers are app-wide,
so the switch happens per route: every router of this package is made by `langgraph_router()`,
whose route class turns moot's refusals into `detail` bodies before the app's handlers see them.
Statuses: unknown or foreign id 404 (another tenant's id looks exactly like an unknown one), bad
body 422, a write the policy refuses 403 (state updates) or 409 (a run's resume), a conflict 409.
Anything else is left to the app's handler: a bug is logged and answered 500 without detail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from moot.errors import MootError, PolicyViolation, UsageError
from moot.service.problems import ApiError

DETAIL_SCHEMA = {
    "description": "A refusal, in LangGraph's shape",
    "content": {"application/json": {"example": {"detail": "Thread with ID 'session-0123' not found"}}},
}


class LangGraphError(ApiError):
    """A refusal of a LangGraph route; `extra` fields go beside `detail` (e.g. a refused key)."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(status, "langgraph", detail)
        self.extra = extra


def not_found(what: str, ident: object) -> LangGraphError:
    """404 in the official server's words (`Thread with ID '...' not found`)."""
    return LangGraphError(404, f"{what} with ID {str(ident)[:128]!r} not found")


def detail_body(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """Status, body and headers of a refusal; raises `exc` again when it is not one (a bug)."""
    from moot.service.sessions import SessionNotFound

    if isinstance(exc, LangGraphError):
        return exc.status, {"detail": exc.message, **exc.extra}, exc.headers
    if isinstance(exc, ApiError):
        return exc.status, {"detail": exc.message}, exc.headers
    if isinstance(exc, RequestValidationError):
        problems = exc.errors()[:20]
        first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return 422, {"detail": f"{where}: {first.get('msg', 'invalid')}", "errors": [
            {"loc": list(p.get("loc", ())), "msg": p.get("msg", "invalid")} for p in problems
        ]}, None
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, {"detail": str(exc.detail)}, getattr(exc, "headers", None)
    if isinstance(exc, SessionNotFound):
        return 404, {"detail": f"Thread with ID {exc.session_id[:128]!r} not found"}, None
    if isinstance(exc, PolicyViolation):
        return 409, {"detail": str(exc), "key": exc.key, "writers": list(exc.allowed)}, None
    if isinstance(exc, UsageError):  # a value moot refuses: LangGraph answers bad input with 422
        return 422, {"detail": str(exc)}, None
    if isinstance(exc, MootError):  # e.g. a workspace that does not load
        return 400, {"detail": str(exc)}, None
    raise exc


class LangGraphRoute(APIRoute):
    """An APIRoute whose refusals (including 422s and auth's 401) answer `{"detail": ...}`."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def detailed(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - detail_body re-raises what is not a refusal
                status, body, headers = detail_body(exc)
                return JSONResponse(body, status_code=status, headers=headers)

        return detailed


V1_PREFIXES = ("/v1/", "/healthz", "/readyz", "/docs", "/openapi.json", "/redoc")


def install(app: FastAPI) -> None:
    """Answer what the router refuses before any route runs (a wrong method: 405, an unknown
    path: 404) in LangGraph's shape outside /v1; /v1 keeps the handler `problems` installed."""
    v1_handler = app.exception_handlers[StarletteHTTPException]

    async def either(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(V1_PREFIXES):
            return await v1_handler(request, exc)
        status, body, headers = detail_body(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    app.add_exception_handler(StarletteHTTPException, either)


def langgraph_router(**kwargs: Any) -> APIRouter:
    """A router of this package: LangGraph's error shape, the `langgraph` tag, its refusals documented."""
    kwargs.setdefault("tags", ["langgraph"])
    responses = {status: DETAIL_SCHEMA for status in (400, 401, 404, 409, 413, 422)} | kwargs.pop("responses", {})
    return APIRouter(route_class=LangGraphRoute, responses=responses, **kwargs)


__all__ = [
    "DETAIL_SCHEMA", "LangGraphError", "LangGraphRoute", "detail_body", "install", "langgraph_router", "not_found",
]
