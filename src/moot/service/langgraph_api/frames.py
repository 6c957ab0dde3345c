"""moot's run events, in LangGraph's stream modes: one log entry becomes zero or more SSE frames.

The run's event log (moot.service.events) is the one source of every stream, /v1's and this
one: a LangGraph stream is a *view* of the log, so a client reconnecting with `Last-Event-ID`, a
join stream and a stream served by another API worker all read the same entries. What each
mode shows, from which event:

| mode           | frame(s)                                   | from                               |
|----------------|--------------------------------------------|------------------------------------|
| values         | the whole state after each step            | `state_values` + `state_patch` + `state_step` |
| updates        | `{node: update}`                           | `state_patch`                      |
| custom         | moot's own event (`type`, stage, agent...) | every other event of the run       |
| messages-tuple | `[ai message, metadata]` per agent answer  | an agent's `state_patch` history   |
| events         | `on_chain_start` / `on_chain_end` / custom | agent starts, patches, other events |
| debug          | `task_result` / `checkpoint` records       | `state_patch` / `state_step`       |

`values` costs the run one whole state, at its first step (`state_values`), and a marker at the
end of every later step (`state_step`): the state after a step is rebuilt here by folding the
step's updates into the state before it with the channels of moot's state (LangGraph's own
reducers, as the graph applies them), instead of the run writing its whole state into the log
after every step, which made a `values` stream 1.45x slower than /v1.

An approval pause is LangGraph's interrupt: `{"__interrupt__": [{"value", "id"}]}` in `updates`,
and in `values` beside the last state (as recent servers send it). A failed run ends with an
`error` frame (`{"error", "message"}`), any other end with `end`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langgraph.channels.base import BaseChannel
from langgraph.graph import StateGraph

from moot.events import Event
from moot.graph.node import STAGE_ROUTER
from moot.state import MootState

Frame = tuple[str, Any]
"""An SSE event name and its JSON data."""

_STATE_EVENTS = frozenset({"state_patch", "state_values", "state_step", "run_queued"})
"""Events shown by `values` / `updates` (or by nothing), not as `custom` events."""


@dataclass
class Frames:
    """Turns a run's log entries into LangGraph frames for the requested `modes`.

    Stateful only in what a later frame needs: the last state seen (an interrupt's `values` frame
    shows it) and the step count (`debug`).
    """

    run_id: str
    thread_id: str
    modes: Sequence[str]
    values: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    channels: dict[str, BaseChannel] = field(default_factory=lambda: _CHANNELS)
    """How each key of the state takes an update (moot's state schema, as LangGraph builds it)."""
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """The updates of the step in progress, folded into `values` when the step ends."""

    def of(self, event: Event, entry_id: str) -> list[Frame]:
        """The frames of one logged event, in the order they are sent."""
        out: list[Frame] = []
        kind = event.type
        if kind in ("state_values", "state_step"):
            if kind == "state_values":
                self.values, self.pending = dict(event.data), []
            # LangGraph applies a step's writes in the order of its tasks' paths (a node's name),
            # not in the order the nodes finished: parallel reviewers land as in the checkpoint
            for _, update in sorted(self.pending, key=lambda p: p[0]):
                self._fold(update)
            self.pending.clear()
            self.step += 1
            self._add(out, "values", self.values)
            self._add(out, "debug", self._debug("checkpoint", {"values": self.values, "metadata": {"step": self.step}}))
        elif kind == "state_patch":
            node = str(event.data.get("node") or event.agent or "")
            update = event.data.get("update") or {}
            if "values" in self.modes or "debug" in self.modes:
                self.pending.append((node, update))
            self._add(out, "updates", {node: update})
            if node != STAGE_ROUTER:
                self._messages(out, node, update, entry_id)
            self._add(out, "events", self._lc_event("on_chain_end", node, {"output": update}))
            self._add(out, "debug", self._debug("task_result", {"name": node, "result": [[k, v] for k, v in update.items()], "error": None, "interrupts": []}))
        elif kind == "approval_requested":
            interrupt = [{"value": dict(event.data), "id": _interrupt_id(self.run_id, entry_id)}]
            self._add(out, "updates", {"__interrupt__": interrupt})
            self._add(out, "values", {**self.values, "__interrupt__": interrupt})
            self._custom(out, event)
        elif kind == "run_failed":
            self._custom(out, event)
            out.append(("error", {"error": str(event.data.get("error") or "RunFailed"), "message": str(event.data.get("message") or "")}))
        elif kind not in _STATE_EVENTS:
            if kind == "agent_started":
                self._add(out, "events", self._lc_event("on_chain_start", str(event.agent or ""), {"input": {}}))
            self._custom(out, event)
        return out

    def _fold(self, update: dict[str, Any]) -> None:
        """Apply one node's update to `values` as the graph's channels do (append, merge, replace)."""
        for key, value in update.items():
            spec = self.channels.get(key)
            if spec is None:
                self.values[key] = value
                continue
            channel = spec.from_checkpoint(self.values[key]) if key in self.values else spec.copy()
            channel.update([value])
            self.values[key] = channel.get()

    def _add(self, out: list[Frame], mode: str, data: Any) -> None:
        if mode in self.modes:
            out.append(("messages" if mode == "messages-tuple" else mode, data))

    def _custom(self, out: list[Frame], event: Event) -> None:
        """moot's own event, as `custom` data and as an `events` custom event."""
        own = {"type": event.type, "stage": event.stage, "agent": event.agent, "seq": event.seq, "ts": event.ts, "data": event.data}
        self._add(out, "custom", own)
        self._add(out, "events", {**self._lc_event("on_custom_event", event.type, own["data"]), "name": event.type})

    def _messages(self, out: list[Frame], node: str, update: dict[str, Any], entry_id: str) -> None:
        """An agent's answer as one whole AI message (moot's agents answer whole: no partial chunks)."""
        if "messages-tuple" not in self.modes:
            return
        entries = update.get("history") or []
        text = "\n".join(_entry_text(e) for e in (entries if isinstance(entries, list) else [entries]))
        if not text:
            return
        message = {
            "type": "ai", "content": text, "id": f"{self.run_id}:{entry_id}", "name": node,
            "additional_kwargs": {}, "response_metadata": {}, "tool_calls": [], "invalid_tool_calls": [], "usage_metadata": None,
        }
        meta = {"langgraph_node": node, "langgraph_step": self.step, "run_id": self.run_id, "thread_id": self.thread_id}
        self._add(out, "messages-tuple", [message, meta])

    def _lc_event(self, name: str, node: str, data: dict[str, Any]) -> dict[str, Any]:
        """A LangChain `astream_events` record (the `events` mode's shape)."""
        return {
            "event": name, "name": node, "run_id": self.run_id, "tags": [], "parent_ids": [],
            "metadata": {"thread_id": self.thread_id, "langgraph_node": node, "langgraph_step": self.step}, "data": data,
        }

    def _debug(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "timestamp": datetime.now(UTC).isoformat(), "step": self.step, "payload": payload}


_CHANNELS: dict[str, BaseChannel] = {k: v for k, v in StateGraph(MootState).channels.items() if not k.startswith("__")}


def _entry_text(entry: Any) -> str:
    """A history entry's words: its text, else its content as compact JSON."""
    import json

    content = entry.get("content") if isinstance(entry, dict) else entry
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return content["text"]
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str) if content is not None else ""


def _interrupt_id(run_id: str, entry_id: str) -> str:
    """A stable id of the pause (the same on every read of the log)."""
    return hashlib.sha256(f"{run_id}:{entry_id}".encode()).hexdigest()[:32]


__all__ = ["Frame", "Frames"]
