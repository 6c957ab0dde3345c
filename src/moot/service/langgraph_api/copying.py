"""Copy a thread's checkpoints to another thread (LangGraph's `POST /threads/{id}/copy`).

Through the checkpointer's own API (`alist`, `aput`, `aput_writes`), oldest first, so every copied
checkpoint keeps its parent and its pending writes (an interrupted run's copy is interrupted too)
and any saver moot runs on (SQLite, PostgreSQL, memory) copies the same way.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver


async def copy_checkpoints(saver: BaseCheckpointSaver | None, source: dict[str, Any], thread_id: str) -> int:
    """Copy every checkpoint of `source`'s thread into `thread_id`; how many were copied."""
    if saver is None:
        return 0
    source_thread = source["configurable"]["thread_id"]
    # collect first: the SQLite saver holds its lock while a listing is open
    found = [t async for t in saver.alist({"configurable": {"thread_id": source_thread}})]
    for t in reversed(found):  # oldest first: a parent exists before its children
        c = t.config["configurable"]
        parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        target: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": c.get("checkpoint_ns", "")}}
        if parent:
            target["configurable"]["checkpoint_id"] = parent
        written = await saver.aput(target, t.checkpoint, t.metadata, dict(t.checkpoint["channel_versions"]))
        by_task: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for task_id, channel, value in t.pending_writes or ():
            by_task[task_id].append((channel, value))
        for task_id, writes in by_task.items():
            await saver.aput_writes(written, writes, task_id)
    return len(found)


__all__ = ["copy_checkpoints"]
