"""Typed events and the in-process EventBus (design §4). Events observe; they never decide flow.

Events leave the graph through LangGraph's own streaming: the node wrapper writes lifecycle
events with the `custom` stream writer, state patches come from the `updates` stream, and the
orchestrator turns both into `Event`s, numbers them and publishes them on the bus. Each
subscriber has a bounded queue; when a subscriber falls behind, its oldest events are dropped
(and counted) so that a slow terminal or a stalled HTTP client never slows a run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

EventType = Literal[
    "run_started",
    "stage_entered",
    "agent_started",
    "agent_finished",
    "state_patch",
    "tool_call",
    "tool_result",
    "tool_error",
    "memory_written",
    "policy_violation",
    "run_finished",
    "run_failed",
    # the service's run lifecycle (issue 6): queued, paused for a human, decided, cancelled
    "run_queued",
    "approval_requested",
    "approval_given",
    "run_cancelled",
    # for a LangGraph client that streams `values` only: a run's whole state at its first step,
    # then the end of each later step (the state is folded from the step's `state_patch` updates)
    "state_values",
    "state_step",
    # workspaces (issue 7): a new version is serving, or an edit was refused
    "workspace_reloaded",
    "workspace_reload_failed",
]

TERMINAL_EVENTS = frozenset({"run_finished", "run_failed", "run_cancelled"})
"""After one of these a run emits nothing more (until it is started again, e.g. resumed)."""


class Event(BaseModel):
    """One observation of a run; `seq` orders the events of a run, `ts` is wall-clock seconds."""

    type: EventType
    run_id: str
    session_id: str = ""
    workspace: str = ""
    seq: int = 0
    ts: float = Field(default_factory=time.time)
    stage: str | None = None
    agent: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


Handler = Callable[[Event], None]


class Subscription:
    """A bounded queue of events for one subscriber; iterate it with `async for`."""

    def __init__(self, bus: EventBus, maxsize: int, run_id: str | None) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=maxsize)
        self.run_id = run_id
        self.dropped = 0

    def _offer(self, event: Event | None) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except asyncio.QueueEmpty:  # pragma: no cover - raced with a reader
                    pass

    async def get(self) -> Event | None:
        """The next event, or None once the subscription is closed."""
        return await self._queue.get()

    def get_nowait(self) -> Event | None:
        return self._queue.get_nowait()

    def close(self) -> None:
        self._bus.unsubscribe(self)
        self._offer(None)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event


class EventBus:
    """Fan-out of events to subscribers: bounded queues and synchronous handlers that must be quick."""

    def __init__(self, *, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._subs: list[Subscription] = []
        self._handlers: list[Handler] = []

    def subscribe(self, *, run_id: str | None = None, maxsize: int | None = None) -> Subscription:
        """A queue of the events of `run_id` (or of every run) from now on."""
        sub = Subscription(self, maxsize or self.maxsize, run_id)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def add_handler(self, handler: Handler) -> Callable[[], None]:
        """Call `handler(event)` for every event (logging, live views); returns a remover.

        A handler that raises is removed, never allowed to break the run it observes.
        """
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            if sub.run_id is None or sub.run_id == event.run_id:
                sub._offer(event)
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                self._handlers.remove(handler)


__all__ = ["TERMINAL_EVENTS", "Event", "EventBus", "EventType", "Handler", "Subscription"]
