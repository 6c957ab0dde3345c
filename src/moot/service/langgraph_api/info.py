"""`GET /info` and `GET /ok`: what LangGraph's clients ask a server before anything else.

`langgraph dev`'s studio and `RemoteGraph` probe `/info` for the server's version and which
optional features it has (`flags`); `/ok` is the official server's liveness path. Both answer
without a key, like `/healthz`: they say nothing about any tenant.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

import moot

router = APIRouter(tags=["langgraph"])

FLAGS = {"assistants": True, "crons": False, "langsmith": False, "langsmith_tracing_replicas": False}
"""What this server serves of the LangGraph API: assistants (read-only, one per workspace), no crons."""


@router.get("/info")
async def info() -> dict[str, Any]:
    """The server's identity and feature flags, in the official server's shape."""
    return {"version": getattr(moot, "__version__", "0.1.0"), "server": "moot", "flags": FLAGS}


@router.get("/ok")
async def ok() -> dict[str, bool]:
    """Liveness, as LangGraph's own server answers it."""
    return {"ok": True}


__all__ = ["router"]
