"""Errors as JSON: every refusal is a 4xx with `{"error": {"type", "message"}}`, never a 500.

moot's own errors already say what went wrong and how to fix it; here they only get a status:
a missing or foreign resource is 404 (another tenant's id looks exactly like an unknown id), a
bad request 400, a write the policy forbids 409, a limit 413/429. Anything else is a bug: it is
logged with its traceback and answered 500 with an id to find it in the log, and no detail.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from moot.errors import ConfigError, MootError, PolicyViolation, UsageError

log = logging.getLogger("moot.service")


class ApiError(Exception):
    """A refusal with its HTTP status and a stable, machine-readable type."""

    def __init__(self, status: int, type_: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = headers


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} {ident!r}")


def body(type_: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, **extra}}


ERROR_SCHEMA = {
    "description": "A refusal",
    "content": {"application/json": {"example": body("not_found", "no run 'run-0123456789ab'")}},
}
"""Documented on the routes (OpenAPI `responses`) for the 4xx statuses they can return."""


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a JSON body with a 4xx (or a logged 500)."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.type, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": list(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()[:20]
        ]
        first = problems[0] if problems else {"loc": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse(
            body("invalid_request", f"{where}: {first['message']}", problems=problems), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status_code, "http_error")
        return JSONResponse(body(type_, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(PolicyViolation)
    async def _policy(_: Request, exc: PolicyViolation) -> JSONResponse:
        return JSONResponse(body("policy_violation", str(exc)), status_code=409)

    @app.exception_handler(UsageError)
    async def _usage(_: Request, exc: UsageError) -> JSONResponse:
        return JSONResponse(body("bad_request", str(exc)), status_code=400)

    @app.exception_handler(ConfigError)
    async def _config(_: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse(body("workspace_error", str(exc)), status_code=400)

    @app.exception_handler(MootError)
    async def _moot(_: Request, exc: MootError) -> JSONResponse:
        return JSONResponse(body(type(exc).__name__, str(exc)), status_code=400)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
        return JSONResponse(body("internal_error", f"internal error (incident {incident}; see the server log)"), status_code=500)


__all__ = ["ERROR_SCHEMA", "ApiError", "body", "install", "not_found"]
