"""Where a node's lifecycle events go: the driving orchestrator's sink, else LangGraph's `custom` stream.

LangGraph's stream writer hands every event to the event loop through `call_soon_threadsafe`
(a write to the loop's self-pipe and an extra turn of the loop), even when the node runs on that
very loop. Measured on the classic deliberation (`bench/overhead.py`, in memory): its 8 custom
events cost 2.4 ms of a 31 ms run, more than half of what moot adds to the raw graph. The
orchestrator drives its graphs on the loop their async nodes run on, so it puts a plain function
in the run's config (`EVENT_SINK`) and leaves `custom` out of its stream modes.

Order is kept: LangGraph's `astream` runs the graph inside the generator the orchestrator reads,
so a step's tasks start only after the orchestrator has taken the previous step's updates, and an
event from a node is published before the update that node returns.

A graph run by LangGraph's own tools (`langgraph dev`, `RemoteGraph`, a user's `astream`) has
no sink in its config: its nodes write to the `custom` stream as before, so a client that asks
for that mode still gets every event.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from langgraph.config import get_config, get_stream_writer

EVENT_SINK = "moot_event_sink"
"""The `configurable` key of a run's event sink (a callable: LangGraph keeps it out of checkpoint metadata)."""

Emit = Callable[[dict[str, Any]], None]


def node_emitter() -> Emit:
    """The event function of the node running now: the run's sink, or LangGraph's stream writer."""
    sink = get_config().get("configurable", {}).get(EVENT_SINK)
    return sink if sink is not None else get_stream_writer()


def loop_sink(handle: Emit) -> Emit:
    """`handle` made safe to call from any thread: inline on the running loop's own thread (the
    async nodes'), passed to the loop with `call_soon_threadsafe` from any other (a sync node
    runs in LangGraph's thread pool)."""
    loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def sink(event: dict[str, Any]) -> None:
        if threading.get_ident() == owner:
            handle(event)
        else:
            loop.call_soon_threadsafe(handle, event)

    return sink


__all__ = ["EVENT_SINK", "Emit", "loop_sink", "node_emitter"]
