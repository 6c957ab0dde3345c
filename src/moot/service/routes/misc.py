"""Memory of a user, workspaces and their graphs, health and readiness."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from moot.errors import MootError
from moot.service.auth import Principal, principal
from moot.service.jobs import scoped_user
from moot.service.problems import ERROR_SCHEMA, ApiError
from moot.service.routes.common import ctx_of
from moot.service.schemas import (
    GraphOut, Health, MemoryDeleted, MemoryEntry, MemoryList, MemorySearch, NAME_PATTERN, WorkspaceList, WorkspaceOut,
)

if TYPE_CHECKING:
    from moot.memory.manager import MemoryManager
    from moot.memory.types import MemoryItem

router = APIRouter(responses={401: ERROR_SCHEMA, 404: ERROR_SCHEMA})
health_router = APIRouter(tags=["health"])
"""Liveness and readiness: open to every caller, no error bodies to document."""

USER = {"pattern": NAME_PATTERN}


def _memory(request: Request) -> MemoryManager:
    memory = ctx_of(request).memory
    if memory is None:
        raise ApiError(404, "memory_off", "this server runs without memory")
    return memory


@router.get("/v1/users/{user_id}/memory", response_model=MemoryList, tags=["memory"])
async def list_memory(
    user_id: str, request: Request, limit: int = Query(default=100, ge=1, le=1000), who: Principal = Depends(principal)
) -> MemoryList:
    """What moot remembers of a user: the episodic records of their runs, newest first."""
    memory = _memory(request)
    _check_user(user_id)
    items = await memory_entries(memory, scoped_user(who.tenant, user_id), limit)
    return MemoryList(user_id=user_id, items=items)


@router.get("/v1/users/{user_id}/memory/search", response_model=MemorySearch, tags=["memory"])
async def search_memory(
    user_id: str,
    request: Request,
    q: str = Query(min_length=1, max_length=2000),
    budget_tokens: int = Query(default=500, ge=1, le=8000),
    session_id: str = Query(default="", max_length=64),
    who: Principal = Depends(principal),
) -> MemorySearch:
    """What recall would put in a prompt for `q`, within `budget_tokens`."""
    memory = _memory(request)
    _check_user(user_id)
    return await search(memory, scoped_user(who.tenant, user_id), user_id, q, budget_tokens, session_id)


@router.delete("/v1/users/{user_id}/memory", response_model=MemoryDeleted, tags=["memory"])
async def delete_memory(user_id: str, request: Request, who: Principal = Depends(principal)) -> MemoryDeleted:
    """Forget everything about a user in every layer."""
    memory = _memory(request)
    _check_user(user_id)
    deleted = await forget_user(memory, scoped_user(who.tenant, user_id))
    return MemoryDeleted(user_id=user_id, deleted=deleted)


# -- what the memory routes and the web page's memory page both do ---------------------------


async def memory_entries(memory: MemoryManager, scoped: str, limit: int) -> list[MemoryEntry]:
    """A (tenant-scoped) user's memories: episodic records newest first, then semantic items."""
    items: list[MemoryEntry] = []
    if memory.episodic is not None:
        records = await memory.episodic.query(scoped, limit=limit)
        items = [
            MemoryEntry(id=r.id, layer="episodic", text=r.text, session_id=r.session_id, ts=r.ts,
                        meta={"run_id": r.run_id, "stage": r.stage, "agent": r.agent, "kind": r.kind})
            for r in records
        ]
    if memory.semantic is not None:
        items += [_entry(i) for i in await memory.semantic.items(scoped)]
    return items[:limit]


async def search(memory: MemoryManager, scoped: str, user_id: str, q: str, budget_tokens: int, session_id: str = "") -> MemorySearch:
    """What recall would put in a prompt for `q` within `budget_tokens` (the items and the tokens used)."""
    recall = await memory.recall(session_id, scoped, q, budget_tokens=budget_tokens)
    return MemorySearch(
        user_id=user_id, query=q, budget_tokens=budget_tokens, tokens=int(getattr(recall, "tokens", 0) or 0),
        items=[_entry(i) for i in recall.items],
    )


async def forget_user(memory: MemoryManager, scoped: str) -> int:
    """Forget everything about a (tenant-scoped) user in every layer; how many items went."""
    deleted = memory.forget_user(scoped)
    if memory.episodic is not None:
        deleted = max(deleted, await memory.episodic.delete_user(scoped))
    if memory.semantic is not None:
        deleted += await memory.semantic.delete_user(scoped)
    return deleted


async def forget_item(memory: MemoryManager, scoped: str, memory_id: str) -> bool:
    """Forget one semantic memory of a (tenant-scoped) user; False when it is not theirs or gone."""
    return memory.semantic is not None and await memory.semantic.forget(scoped, memory_id)


def _check_user(user_id: str) -> None:
    import re

    if not re.match(NAME_PATTERN, user_id):
        raise ApiError(422, "invalid_user_id", "a user id is 1-128 letters, digits and _ . @ -")


def _entry(item: MemoryItem) -> MemoryEntry:
    return MemoryEntry(
        id=item.id, layer=item.layer, text=item.text, session_id=item.session_id or "", ts=item.ts,
        meta={k: v for k, v in (item.meta or {}).items() if isinstance(v, (str, int, float, bool)) or v is None},
    )


@router.get("/v1/workspaces", response_model=WorkspaceList, tags=["workspaces"])
async def list_workspaces(request: Request, who: Principal = Depends(principal)) -> WorkspaceList:
    return WorkspaceList(workspaces=ctx_of(request).hub.names())


async def _manager(request: Request, name: str) -> Any:
    if name not in ctx_of(request).hub.names():  # names only, never a server path
        raise ApiError(404, "not_found", f"no workspace {name!r}")
    try:
        return await ctx_of(request).hub.get(name)
    except MootError as exc:
        if name in ctx_of(request).hub.names():  # it exists but does not load: say why
            raise ApiError(409, "workspace_invalid", str(exc)) from None
        raise ApiError(404, "not_found", f"no workspace {name!r}") from None


@router.get("/v1/workspaces/{name}", response_model=WorkspaceOut, tags=["workspaces"])
async def get_workspace(name: str, request: Request, who: Principal = Depends(principal)) -> WorkspaceOut:
    version = (await _manager(request, name)).current
    ws = version.workspace
    return WorkspaceOut(
        name=ws.name, description=ws.spec.description, version=version.hash, agents=sorted(ws.agents),
        stages=list(ws.plan.order), approval_stages=[s for s in ws.plan.order if ws.plan[s].approval],
    )


@router.get("/v1/workspaces/{name}/graph", response_model=GraphOut, tags=["workspaces"])
async def workspace_graph(name: str, request: Request, who: Principal = Depends(principal)) -> GraphOut:
    """The compiled LangGraph graph of the workspace's current version, as Mermaid."""
    manager = await _manager(request, name)
    return GraphOut(workspace=name, version=manager.current.hash, mermaid=manager.graph().get_graph().draw_mermaid())


@health_router.get("/healthz", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@health_router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def ready(request: Request, response: Response) -> Health:
    """Readiness: the database (and Redis, in a fleet) answer."""
    ctx = ctx_of(request)
    checks = await ctx.ready()
    ok = all(v == "ok" for v in checks.values())
    if not ok:
        response.status_code = 503
    mode = {"queue": ctx.settings.queue, "keys_required": request.app.state.keys_required, "worker": ctx.worker}
    return Health(status="ok" if ok else "degraded", checks=checks, mode=mode)


__all__ = ["forget_item", "forget_user", "health_router", "memory_entries", "router", "search"]
