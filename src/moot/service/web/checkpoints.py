"""A run's checkpoints for the time-travel page: the timeline, and one state annotated key by key.

Read through LangGraph's own graph API on the workspace's compiled graph and its checkpointer
(`aget_state_history`, `aget_state`), as `/threads/{id}/history` and `/threads/{id}/state/{cp}`
read them, and converted by the same `thread_state`, so the page and the API never disagree on
what a checkpoint holds. A thread holds every run of its session; the timeline shows them all
and marks the checkpoints of the run being looked at.

Who wrote a checkpoint is not in LangGraph 1.x's checkpoint metadata any more; it is the tasks
of its parent (the nodes that ran in the step that produced it), which the history also gives.
Each top-level key of a state is annotated with its LangGraph channel (the compiled graph's
own channel class: LastValue, BinaryOperatorAggregate, Topic...) and the writers moot's write
policy allows for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moot.service.langgraph_api.shapes import ThreadState
from moot.service.langgraph_api.state import thread_state

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    from moot.persistence import RunRecord
    from moot.policy import WritePolicy
    from moot.service.context import ServiceContext

PAGE = 100
"""Checkpoints per page of the timeline (a run of the demo writes about 20); older ones are a link away."""


@dataclass(frozen=True)
class Point:
    """One checkpoint on the timeline."""

    checkpoint_id: str
    step: int | None
    source: str
    created_at: str | None
    writers: tuple[str, ...]
    next: tuple[str, ...]
    run_id: str
    summary: str

    @property
    def time(self) -> str:
        """`HH:MM:SS` of the ISO time LangGraph recorded (the date is on the run page)."""
        return (self.created_at or "")[11:19]


@dataclass(frozen=True)
class Key:
    """One top-level key of a state: its value, channel and allowed writers."""

    name: str
    value: Any
    channel: str
    writers: tuple[str, ...]


async def thread_graph(ctx: ServiceContext, record: RunRecord) -> tuple[CompiledStateGraph, dict[str, Any], WritePolicy | None]:
    """The compiled graph of the run's workspace, its thread's config and the write policy.

    The current version's graph: every version compiles the same channels (moot's one state),
    and the checkpointer is the service's, so it reads the run's checkpoints whatever version wrote them.
    """
    manager = await ctx.hub.get(record.workspace)
    orch, _ = manager.orchestrator()
    return orch.graph, orch.config(record.thread_id), orch.policy


async def timeline(graph: CompiledStateGraph, config: dict[str, Any], *, before: str | None = None) -> tuple[list[Point], str | None]:
    """A page of the thread's checkpoints, newest first (those older than `before`, if given),
    and the id to pass as `before` for the next page (None on the last).

    One checkpoint more than a page is read: it tells whether there is a next page, and it is
    the parent that says who wrote the page's last checkpoint.
    """
    older = {**config, "configurable": {**config["configurable"], "checkpoint_id": before}} if before else None
    states = [thread_state(s) async for s in graph.aget_state_history(config, before=older, limit=PAGE + 1)]
    points = []
    for i, state in enumerate(states[:PAGE]):
        parent = states[i + 1] if i + 1 < len(states) else None
        meta = state.metadata or {}
        values = state.values if isinstance(state.values, dict) else {}
        points.append(Point(
            checkpoint_id=str(state.checkpoint_id or ""),
            step=meta.get("step") if isinstance(meta.get("step"), int) else None,
            source=str(meta.get("source") or ""),
            created_at=state.created_at,
            writers=tuple(t.name for t in parent.tasks) if parent is not None else (),
            next=tuple(state.next),
            run_id=str(values.get("run_id") or ""),
            summary=summary(values, parent.values if parent is not None and isinstance(parent.values, dict) else {}),
        ))
    return points, points[-1].checkpoint_id if len(states) > PAGE else None


async def state_at(graph: CompiledStateGraph, config: dict[str, Any], checkpoint_id: str) -> ThreadState | None:
    """The state at one checkpoint of the thread; None when the thread has no such checkpoint."""
    at = {**config, "configurable": {**config["configurable"], "checkpoint_id": checkpoint_id, "checkpoint_ns": ""}}
    snapshot = await graph.aget_state(at)
    return thread_state(snapshot) if snapshot.config is not None and snapshot.values else None


def annotate(graph: CompiledStateGraph, policy: WritePolicy | None, values: dict[str, Any]) -> list[Key]:
    """Each top-level key of `values` with its channel class and the policy's writers of it."""
    channels = graph.channels
    return [
        Key(
            name=name, value=value,
            channel=type(channels[name]).__name__ if name in channels else "?",
            writers=tuple(sorted(policy.allowed(name))) if policy is not None else (),
        )
        for name, value in values.items()
    ]


def summary(values: dict[str, Any], before: dict[str, Any]) -> str:
    """A line saying what a checkpoint changed: the stage and round, new history entries, the winner."""
    parts = []
    if values.get("stage"):
        parts.append(f"stage {values['stage']}" + (f", round {values['round']}" if values.get("round") else ""))
    history, earlier = values.get("history") or [], before.get("history") or []
    if len(history) > len(earlier):
        added = history[len(earlier):]
        kinds = ", ".join(f"{h.get('type', '?')} by {h.get('agent', '?')}" for h in added[:3] if isinstance(h, dict))
        more = f" (+{len(added) - 3})" if len(added) > 3 else ""
        parts.append(f"{kinds}{more}")
    changed = sorted(k for k in values if k not in ("history", "usage") and values.get(k) != before.get(k))
    if changed and before:
        parts.append("changed " + ", ".join(changed))
    if values.get("done"):
        parts.append(f"done, winner {values.get('winner')}")
    return "; ".join(parts) or ("the run's input" if not before else "no change")


__all__ = ["PAGE", "Key", "Point", "annotate", "state_at", "summary", "thread_graph", "timeline"]
