"""A thread's state and history, read and written through LangGraph's own graph API.

The thread is the session's LangGraph thread, so its checkpoints are the ones moot's runs wrote:
`aget_state` / `aget_state_history` / `aupdate_state` on the workspace's compiled graph and its
checkpointer give what `moot.state_io` exports, with nothing copied. A state update is a write
like any other: moot's write policy decides it, as the `human` writer (or the writer `as_node`
names, if the policy lets that writer write every key), and a refused update is refused whole
(403 naming the key and its writers) before LangGraph sees it, so nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Depends, Query, Request
from langgraph.errors import InvalidUpdateError

from moot.errors import PolicyViolation
from moot.graph.node import STAGE_ROUTER
from moot.policy import HUMAN, ORCHESTRATOR, TOOL_RUNTIME
from moot.service.auth import Principal, principal
from moot.service.langgraph_api.errors import (
    DETAIL_SCHEMA,
    LangGraphError,
    langgraph_router,
)
from moot.service.langgraph_api.lookups import (
    graph_of,
    thread_of,
    thread_status,
    workspace_of,
)
from moot.service.langgraph_api.shapes import (
    Checkpoint,
    CheckpointRef,
    HistoryQuery,
    Interrupt,
    StateAt,
    StateUpdate,
    StateUpdated,
    ThreadState,
    ThreadTask,
)
from moot.state import STATE_KEYS

if TYPE_CHECKING:
    from langgraph.types import StateSnapshot

    from moot.service.sessions import Session

router = langgraph_router(responses={403: DETAIL_SCHEMA, 409: DETAIL_SCHEMA})

NODE_WRITERS = {STAGE_ROUTER: ORCHESTRATOR, "tools": TOOL_RUNTIME}
"""The policy's writer behind a graph node that is not an agent (an agent node is its agent)."""


def _checkpoint(config: dict[str, Any] | None) -> Checkpoint | None:
    if not config:
        return None
    c = config.get("configurable", {})
    return Checkpoint(
        thread_id=str(c.get("thread_id", "")), checkpoint_ns=str(c.get("checkpoint_ns", "")),
        checkpoint_id=c.get("checkpoint_id"), checkpoint_map=c.get("checkpoint_map"),
    )


def thread_state(snapshot: StateSnapshot) -> ThreadState:
    """A LangGraph `StateSnapshot` in the shape `client.threads.get_state` returns."""
    checkpoint = _checkpoint(snapshot.config)
    parent = _checkpoint(snapshot.parent_config)
    tasks = [
        ThreadTask(
            id=t.id, name=t.name, error=None if t.error is None else repr(t.error),
            interrupts=[Interrupt(value=i.value, id=i.id) for i in t.interrupts],
            checkpoint=_checkpoint(t.state) if isinstance(t.state, dict) else None,
            state=thread_state(t.state) if t.state is not None and not isinstance(t.state, dict) else None,
            result=t.result if isinstance(t.result, dict) else None,
        )
        for t in snapshot.tasks
    ]
    return ThreadState(
        values=snapshot.values if isinstance(snapshot.values, (dict, list)) else {},
        next=list(snapshot.next),
        checkpoint=checkpoint or Checkpoint(thread_id=""),
        metadata=dict(snapshot.metadata) if snapshot.metadata is not None else None,
        created_at=snapshot.created_at,
        parent_checkpoint=parent,
        tasks=tasks,
        interrupts=[Interrupt(value=i.value, id=i.id) for i in snapshot.interrupts],
        checkpoint_id=checkpoint.checkpoint_id if checkpoint else None,
        parent_checkpoint_id=parent.checkpoint_id if parent else None,
    )


def empty_state(thread_id: str) -> ThreadState:
    """The state of a thread that has no checkpoint yet (unbound, or bound but never run)."""
    return ThreadState(values={}, next=[], checkpoint=Checkpoint(thread_id=thread_id), metadata=None, created_at=None)


def _at(config: dict[str, Any], ref: CheckpointRef | str | None) -> dict[str, Any]:
    """The thread's config pointed at a checkpoint (the thread always comes from the path)."""
    if ref is None:
        return config
    fields = {"checkpoint_id": ref} if isinstance(ref, str) else ref.model_dump(exclude={"thread_id"}, exclude_none=True)
    return {**config, "configurable": {**config["configurable"], **fields}}


async def _state(request: Request, who: Principal, thread_id: str, ref: CheckpointRef | str | None, subgraphs: bool) -> ThreadState:
    session = await thread_of(request, who, thread_id)
    found = await graph_of(request, session)
    if found is None:
        return empty_state(thread_id)
    graph, config = found
    snapshot = await graph.aget_state(_at(config, ref), subgraphs=subgraphs)
    if ref is not None and snapshot.config is None:
        raise LangGraphError(404, f"Checkpoint {_name(ref)!r} not found in thread {thread_id!r}")
    return thread_state(snapshot) if snapshot.config is not None else empty_state(thread_id)


def _name(ref: CheckpointRef | str) -> str:
    return ref if isinstance(ref, str) else str(ref.checkpoint_id)


@router.get("/threads/{thread_id}/state", response_model=ThreadState)
async def get_state(
    thread_id: str, request: Request, subgraphs: bool = False, who: Principal = Depends(principal)
) -> ThreadState:
    """The thread's latest checkpoint: the state moot's last run left (`GET /v1/sessions/{id}/state`'s values)."""
    return await _state(request, who, thread_id, None, subgraphs)


@router.get("/threads/{thread_id}/state/{checkpoint_id}", response_model=ThreadState)
async def get_state_at(
    thread_id: str, checkpoint_id: str, request: Request, subgraphs: bool = False, who: Principal = Depends(principal)
) -> ThreadState:
    return await _state(request, who, thread_id, checkpoint_id[:128], subgraphs)


@router.post("/threads/{thread_id}/state/checkpoint", response_model=ThreadState)
async def post_state_at(thread_id: str, body: StateAt, request: Request, who: Principal = Depends(principal)) -> ThreadState:
    return await _state(request, who, thread_id, body.checkpoint, body.subgraphs)


def _writer(as_node: str | None, nodes: set[str]) -> str:
    """Who writes: the `human` by default, else the policy's writer behind the node `as_node`."""
    if as_node is None:
        return HUMAN
    if as_node not in nodes:
        raise LangGraphError(422, f"as_node {as_node!r} is not a node of the graph; its nodes are {', '.join(sorted(nodes))}")
    return NODE_WRITERS.get(as_node, as_node)


@router.post("/threads/{thread_id}/state", response_model=StateUpdated)
async def update_state(
    thread_id: str, body: StateUpdate, request: Request, who: Principal = Depends(principal)
) -> StateUpdated:
    """Write `values` into the thread as the `human` writer (or `as_node`'s), if the write policy allows.

    Refused whole, before anything is written: a key outside moot's state (422), a key the
    writer may not write (403, naming the key and its writers), a thread with a run in progress
    or without a graph yet (409).
    """
    session = await thread_of(request, who, thread_id)
    found = await graph_of(request, session)
    if found is None:
        raise LangGraphError(409, f"thread {thread_id!r} has no graph yet: start a run on it first")
    graph, config = found
    values = body.values or {}
    unknown = sorted(set(values) - set(STATE_KEYS))
    if unknown:
        raise LangGraphError(422, f"unknown state key(s) {unknown}; moot's state keys are {', '.join(STATE_KEYS)}")
    if await thread_status(request, who, session) == "busy":
        raise LangGraphError(409, f"thread {thread_id!r} has a run in progress; update its state when the run has stopped")
    writer = _writer(body.as_node, {n for n in graph.nodes if not n.startswith("__")})
    policy = await _policy(request, session)
    try:
        policy.check(writer, values)
    except PolicyViolation as exc:
        raise LangGraphError(403, str(exc), key=exc.key, writers=list(exc.allowed)) from None
    target = _at(config, body.checkpoint or body.checkpoint_id)
    if (await graph.aget_state(target)).config is None and (body.checkpoint or body.checkpoint_id):
        raise LangGraphError(404, f"Checkpoint {_name(body.checkpoint or body.checkpoint_id or '')!r} not found in thread {thread_id!r}")
    try:
        written = await graph.aupdate_state(target, values, as_node=body.as_node)
    except InvalidUpdateError as exc:  # e.g. an ambiguous last writer: LangGraph asks for as_node
        raise LangGraphError(422, f"{exc}; name the node with as_node") from None
    checkpoint = _checkpoint(written)
    assert checkpoint is not None  # aupdate_state always returns the new checkpoint's config
    return StateUpdated(checkpoint=checkpoint)


async def _policy(request: Request, session: Session) -> Any:
    manager = await workspace_of(request, session.workspace)
    orch, _ = manager.orchestrator()
    if orch.policy is None:  # every assembled workspace has one; a missing one must not mean "anything goes"
        raise LangGraphError(409, f"workspace {session.workspace!r} has no write policy; state updates are refused")
    return orch.policy


async def _history(
    request: Request, who: Principal, thread_id: str, limit: int, before: CheckpointRef | str | None,
    metadata: dict[str, Any] | None, checkpoint: CheckpointRef | None,
) -> list[ThreadState]:
    session = await thread_of(request, who, thread_id)
    found = await graph_of(request, session)
    if found is None:
        return []
    graph, config = found
    states = [
        thread_state(s)
        async for s in graph.aget_state_history(
            _at(config, checkpoint), filter=metadata or None, before=_at(config, before) if before else None, limit=limit
        )
    ]
    return states


@router.post("/threads/{thread_id}/history", response_model=list[ThreadState])
async def post_history(
    thread_id: str, body: HistoryQuery, request: Request, who: Principal = Depends(principal)
) -> list[ThreadState]:
    """The thread's checkpoints, newest first (`limit`, `before` a checkpoint, `metadata` filter)."""
    return await _history(request, who, thread_id, body.limit, body.before, body.metadata, body.checkpoint)


@router.get("/threads/{thread_id}/history", response_model=list[ThreadState])
async def get_history(
    thread_id: str,
    request: Request,
    limit: int = Query(default=10, ge=1, le=1000),
    before: str | None = Query(default=None, max_length=128),
    who: Principal = Depends(principal),
) -> list[ThreadState]:
    return await _history(request, who, thread_id, limit, before, None, None)


__all__ = ["empty_state", "router", "thread_state"]
