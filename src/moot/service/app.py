"""The moot HTTP service: `create_app(settings)` → a FastAPI app (run it with `moot serve`).

The lifespan opens one ServiceContext (models, embedder, stores, Redis pool, MCP clients, the
SessionControl and the WorkspaceHub) and every request borrows it. Routes are versioned under
`/v1` and documented in the OpenAPI schema (`/openapi.json`, `/docs`). Every refusal is a 4xx
JSON body (moot.service.problems); request bodies over `limits.max_body_bytes` get a 413 before
they are read in full.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from langchain_core.language_models import BaseChatModel

import moot
from moot import telemetry
from moot.service import problems
from moot.service.context import ServiceContext
from moot.service.heap import settle_heap
from moot.service.langgraph_api import errors as langgraph_errors, router as langgraph_router
from moot.service.routes import metrics, misc, runs, sessions
from moot.service.settings import ServiceSettings
from moot.service.web import install as install_web

log = logging.getLogger("moot.service")

DESCRIPTION = """\
State-driven multi-agent deliberation on LangGraph, as a service.

A **session** is a LangGraph thread of one user on one workspace. A **run** deliberates one task
in a session, in the background: follow it with Server-Sent Events (`GET /v1/runs/{id}/events`,
reconnect with `Last-Event-ID`), answer its approval request if its workspace asks for one, and
read its result. Authenticate with `Authorization: Bearer <key>` (keys: `moot keys create`).
"""


def create_app(
    settings: ServiceSettings | None = None,
    *,
    models: Mapping[str, BaseChatModel] | None = None,
    memory_model: BaseChatModel | None = None,
    context: ServiceContext | None = None,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    """The app; `models` replaces every workspace's chat models and `memory_model` extracts
    semantic memories (tests pass scripted ones); `context` is an already open context;
    `on_started` runs once the context is open, before the first request."""
    settings = settings or ServiceSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or await ServiceContext(settings, models=models, memory_model=memory_model).start()
        try:
            app.state.ctx = ctx
            app.state.keys_required = any(k.revoked_at is None for k in await ctx.keys.list())
            if not app.state.keys_required:
                log.warning("no API keys are configured: every request is tenant 'local' (create one: moot keys create)")
            if settings.queue == "inline":
                await _recover(ctx)
            if on_started is not None:
                on_started()
            yield
        finally:
            if context is None:
                await ctx.aclose()

    app = FastAPI(
        title="moot",
        version=getattr(moot, "__version__", "0.1.0"),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    problems.install(app)
    _instrument(app)
    langgraph_errors.install(app)
    app.add_middleware(BodySizeLimit, max_body_size=settings.limits.max_body_bytes)
    app.include_router(sessions.router)
    app.include_router(runs.router)
    app.include_router(misc.router)
    app.include_router(misc.health_router)
    app.include_router(metrics.router)
    app.include_router(langgraph_router)
    install_web(app)
    return app


def _instrument(app: FastAPI) -> None:
    """Server spans of every request when tracing is on (OpenTelemetry's FastAPI instrumentation);
    not one per chunk of a stream (`send`/`receive` spans excluded)."""
    if not telemetry.enabled():
        return
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError:
        log.error("tracing is on but the FastAPI instrumentation is missing: pip install 'moot[otel]'")
        return
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"], excluded_urls="healthz,readyz,metrics")


class BodySizeLimit:
    """413 with moot's JSON error for a body over `limits.max_body_bytes`.

    A declared `Content-Length` over the limit is refused before a byte is read; a body sent
    without one is counted as it arrives, and the read that crosses the limit raises a 413
    `HTTPException`, which the app's handlers turn into the same JSON error. (FastAPI's own
    `max_body_size` answers in plain text, outside the app's exception handlers.)
    """

    def __init__(self, app: Any, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    def _message(self) -> str:
        return f"the request body is larger than {self.max_body_size} bytes (limits.max_body_bytes)"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_size):
            response = JSONResponse(problems.body("request_too_large", self._message()), status_code=413)
            await response(scope, receive, send)
            return
        total = 0

        async def counted() -> Any:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.max_body_size:
                    raise StarletteHTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)


async def _recover(ctx: ServiceContext) -> None:
    """Inline queue: runs that were queued or running when this process last stopped go again.

    Their checkpoints survived; the executor resumes each from its last one.
    """
    stale = await ctx.persistence.index.stale_running(0.0, limit=1000)
    queued = [r for r in await ctx.persistence.index.latest(1000) if r.status == "queued"]
    for record in [*stale, *queued]:
        log.warning("run %s was %s when the service stopped; resuming it", record.run_id, record.status)
        await ctx.queue.submit(record.run_id, "resume")


def app_from_env() -> Any:
    """`uvicorn --factory moot.service.app:app_from_env` (what `moot serve --workers N` runs):
    a process of its own, so its heap is settled once the app has started (moot.service.heap)."""
    from moot.telemetry.metrics import spans_dropped
    from moot.telemetry.setup import configure

    configure("moot-api", on_dropped=spans_dropped)
    return create_app(ServiceSettings.from_env(), on_started=settle_heap)


__all__ = ["app_from_env", "create_app"]
