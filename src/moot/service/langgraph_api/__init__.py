"""The LangGraph server API, served beside `/v1` on the same sessions, runs, keys and tenancy.

LangGraph's own clients (`langgraph_sdk`, `RemoteGraph`) drive moot unchanged: a workspace is an
assistant (`assistant_id` = `graph_id` = its name), a session is a thread, a moot run is a run.
Mounted at the root (no prefix) by `moot.service.app`; each module holds one noun's routes and
this package only gathers them into one `router` (add a sub-router with one line below).
"""

from __future__ import annotations

from fastapi import APIRouter

from moot.service.langgraph_api import assistants, info, runs, state, store, threads

router = APIRouter()
router.include_router(info.router)
router.include_router(assistants.router)
router.include_router(threads.router)
router.include_router(state.router)
router.include_router(store.router)
router.include_router(runs.router)

__all__ = ["router"]
