"""Assistants: every workspace the server serves, seen as a LangGraph assistant (read-only).

A workspace *is* its graph's configuration, so there is one assistant per workspace and nothing to
create: `assistant_id` = `graph_id` = the workspace's name, and its version is the workspace's
current files (their hash is in `metadata.version_hash`; a reload makes a new one). The graph and
schemas come from the compiled LangGraph graph of the current version, as the official server
takes them from its graph (`get_graph`, `get_input_jsonschema`, ...).
"""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import Depends, Query, Request, Response
from langgraph.warnings import LangGraphDeprecatedSinceV10

from moot.service.auth import Principal, principal
from moot.service.langgraph_api.errors import LangGraphError, langgraph_router
from moot.service.langgraph_api.lookups import workspace_of
from moot.service.langgraph_api.shapes import (
    Assistant,
    AssistantCount,
    AssistantSearch,
    GraphSchema,
    iso,
)
from moot.service.routes.common import ctx_of

router = langgraph_router()


async def assistant(request: Request, name: str) -> Assistant:
    """The assistant of workspace `name` (404 for an unknown one)."""
    manager = await workspace_of(request, name)
    version = manager.current
    loaded = iso(version.loaded_at)
    return Assistant(
        assistant_id=name, graph_id=name, name=name, description=version.workspace.spec.description or None,
        created_at=loaded, updated_at=loaded,
        metadata={"created_by": "system", "version_hash": version.hash},
    )


def _matches(a: Assistant, graph_id: str | None, name: str | None, metadata: dict[str, Any] | None) -> bool:
    if graph_id is not None and a.graph_id != graph_id:
        return False
    if name is not None and name.lower() not in a.name.lower():
        return False
    return all(a.metadata.get(k) == v for k, v in (metadata or {}).items())


async def _all(request: Request, graph_id: str | None, name: str | None, metadata: dict[str, Any] | None) -> list[Assistant]:
    names = ctx_of(request).hub.names()
    if graph_id is not None:  # one workspace to load, not all of them
        names = [n for n in names if n == graph_id]
    found: list[Assistant] = []
    for workspace in names:
        try:
            candidate = await assistant(request, workspace)
        except LangGraphError:  # a workspace that does not load is no assistant to offer
            continue
        if _matches(candidate, graph_id, name, metadata):
            found.append(candidate)
    return found


@router.post("/assistants/search", response_model=list[Assistant])
async def search_assistants(
    body: AssistantSearch, request: Request, response: Response, who: Principal = Depends(principal)
) -> list[Assistant]:
    """The workspaces as assistants, filtered by `graph_id`, `name` (a substring) and `metadata`."""
    found = await _all(request, body.graph_id, body.name, body.metadata)
    if body.sort_by is not None:
        found.sort(key=lambda a: getattr(a, body.sort_by or "name"), reverse=body.sort_order == "desc")
    page = found[body.offset : body.offset + body.limit]
    if body.offset + body.limit < len(found):  # where the SDK's response_format="object" reads the next page
        response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return page


@router.post("/assistants/count", response_model=int)
async def count_assistants(body: AssistantCount, request: Request, who: Principal = Depends(principal)) -> int:
    return len(await _all(request, body.graph_id, body.name, body.metadata))


@router.get("/assistants/{assistant_id}", response_model=Assistant)
async def get_assistant(assistant_id: str, request: Request, who: Principal = Depends(principal)) -> Assistant:
    return await assistant(request, assistant_id)


def _xray(value: str) -> bool | int:
    """`?xray=true|false|<depth>`, as the SDK sends it."""
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered.isdigit() and int(lowered) <= 32:
        return int(lowered)
    raise LangGraphError(422, f"xray must be true, false or a depth from 0 to 32, got {value[:20]!r}")


@router.get("/assistants/{assistant_id}/graph")
async def get_assistant_graph(
    assistant_id: str, request: Request, xray: str = Query(default="false", max_length=8), who: Principal = Depends(principal)
) -> dict[str, Any]:
    """The compiled graph as LangGraph's drawable JSON (`nodes`, `edges`), as `get_graph` returns it."""
    depth = _xray(xray)
    graph = (await workspace_of(request, assistant_id)).graph()
    drawn: dict[str, Any] = (await graph.aget_graph(xray=depth)).to_json()
    return drawn


def schemas_of(graph_id: str, graph: Any) -> GraphSchema:
    """The graph's JSON schemas: its input and output, its state (every channel), its config and context.

    LangGraph 1.0 deprecates the config schema for the context one; clients still read both.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        config_schema = graph.get_config_jsonschema()
    return GraphSchema(
        graph_id=graph_id,
        input_schema=graph.get_input_jsonschema(),
        output_schema=graph.get_output_jsonschema(),
        state_schema=graph.get_input_jsonschema(),  # moot's graphs take and give the whole state
        config_schema=config_schema,
        context_schema=graph.get_context_jsonschema(),
    )


@router.get("/assistants/{assistant_id}/schemas", response_model=GraphSchema)
async def get_assistant_schemas(assistant_id: str, request: Request, who: Principal = Depends(principal)) -> GraphSchema:
    return schemas_of(assistant_id, (await workspace_of(request, assistant_id)).graph())


@router.get("/assistants/{assistant_id}/subgraphs", response_model=dict[str, GraphSchema])
async def get_assistant_subgraphs(
    assistant_id: str, request: Request, recurse: bool = False, who: Principal = Depends(principal)
) -> dict[str, GraphSchema]:
    """Schemas of the graph's subgraphs by namespace (moot's graphs have none today: `{}`)."""
    graph = (await workspace_of(request, assistant_id)).graph()
    return {ns: schemas_of(assistant_id, sub) async for ns, sub in graph.aget_subgraphs(recurse=recurse)}


@router.get("/assistants/{assistant_id}/subgraphs/{namespace}", response_model=dict[str, GraphSchema])
async def get_assistant_subgraphs_of(
    assistant_id: str, namespace: str, request: Request, recurse: bool = False, who: Principal = Depends(principal)
) -> dict[str, GraphSchema]:
    graph = (await workspace_of(request, assistant_id)).graph()
    return {
        ns: schemas_of(assistant_id, sub) async for ns, sub in graph.aget_subgraphs(namespace=namespace, recurse=recurse)
    }


__all__ = ["assistant", "router", "schemas_of"]
