"""The runs page (`/`): the tenant's runs, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from moot.service.web.auth import Viewer, viewer
from moot.service.web.templating import page

router = APIRouter()


@router.get("/")
async def runs_page(request: Request, who: Viewer = Depends(viewer)) -> Response:
    ctx = request.app.state.ctx
    records = await ctx.persistence.index.list(who.tenant, limit=100)
    return page(request, "runs.html", who, section="runs", runs=records)


__all__ = ["router"]
