"""`GET /metrics`: Prometheus' text format, for a scraper holding an API key (moot.telemetry.metrics).

Protected like the rest of the API: with keys configured a scraper sends one
(`authorization: {credentials: <key>}` in Prometheus' scrape config); in open mode the server
listens on loopback only. Not a separate port: one address to secure, and the numbers are an
operator's (counts by workspace and tool, no tenant's content). `moot worker` has no HTTP API,
so it serves its own metrics on a loopback port (`--metrics-port`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from moot.service.auth import Principal, principal
from moot.service.routes.common import ctx_of
from moot.telemetry.metrics import APPROVALS_WAITING, QUEUE_DEPTH, exposition

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics(request: Request, who: Principal = Depends(principal)) -> Response:
    """The service's metrics; the approvals waiting and the queue depth are read now."""
    ctx = ctx_of(request)
    APPROVALS_WAITING.set(await ctx.persistence.index.count_status("awaiting_approval"))
    QUEUE_DEPTH.set(await ctx.queue.depth())
    body, content_type = exposition()
    return Response(body, media_type=content_type)


__all__ = ["router"]
