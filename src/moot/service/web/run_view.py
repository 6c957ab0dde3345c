"""A run as the page shows it: its events folded, one at a time, into what the panels read.

The same fold serves the first render of the run page (every event so far) and the live stream
(each new event, then the panels it changed), so a page opened mid-run and a page that watched
from the start show the same thing. Rewards and usage are folded with the state channels' own
reducers (`merge_rewards`, `merge_usage`), so the tables say what the run's state holds.

Nothing here decides anything about the run: it only reads events.
"""

from __future__ import annotations

import json

from dataclasses import dataclass, field
from typing import Any

from moot.accounting import summarize, used_tokens
from moot.events import Event
from moot.state import merge_rewards, merge_usage

TRANSCRIPT_KINDS = frozenset({"proposal", "review", "decision", "measure", "intake", "approval", "gather"})
"""History entries shown as transcript lines (tool entries go to the tool-call table)."""

QUIET_EVENTS = frozenset({"agent_started", "agent_finished", "tool_call", "tool_result", "tool_error", "state_values", "state_step"})
"""Events that update panels or the graph but add no transcript line of their own."""

DISAGREEMENT = 0.3
"""Scores of one candidate on one dimension that differ by this much between agents are flagged."""

PANELS = ("rewards", "tools", "usage", "violations", "status")


@dataclass
class ToolCall:
    """One tool call of the run, by its ledger key (an intent has no key yet: its label)."""

    key: str
    tool: str
    agent: str = ""
    stage: str = ""
    label: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    status: str = "intended"
    errors: list[str] = field(default_factory=list)
    ledger: str = ""
    result: str = ""
    """What came back, in a few words (a booking's id and description, how many offers)."""


@dataclass
class Line:
    """One transcript line: what one event added (a state patch may add several entries)."""

    id: str
    kind: str
    event: Event
    entries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunView:
    """What the run page shows, folded from the run's events (`apply` each, in order)."""

    stages: list[str] = field(default_factory=list)
    token_budget: int | None = None
    seconds_budget: float | None = None
    prices: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    stage: str | None = None
    agents_on: set[str] = field(default_factory=set)
    stages_seen: list[str] = field(default_factory=list)
    round: int = 1
    rewards: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    agent_seconds: dict[str, float] = field(default_factory=dict)
    tools: dict[str, ToolCall] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, Any] | None = None
    started_ts: float | None = None
    last_ts: float | None = None
    last_id: str | None = None
    seeded_ts: float | None = None
    """The time of the checkpoint the view was seeded from (events up to it are already in it)."""
    seeded_entries: set[str] = field(default_factory=set)
    """The history entries of that checkpoint, each as canonical JSON (see `_in_seed`)."""

    def apply(self, id_: str, event: Event) -> tuple[Line | None, set[str]]:
        """Fold one event; the transcript line it adds (or None) and the panels it changed."""
        self.last_id = id_
        self.last_ts = event.ts
        changed: set[str] = set()
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            changed = handler(event) or set()
        if event.type in QUIET_EVENTS:
            return None, changed
        if event.type == "state_patch":
            if self._in_seed(event):
                return None, changed
            entries = [e for e in (event.data.get("update") or {}).get("history") or [] if e.get("type") in TRANSCRIPT_KINDS]
            return (Line(id_, "history", event, entries) if entries else None), changed
        return Line(id_, event.type, event), changed

    def seed(self, values: dict[str, Any], ts: float, event: Event) -> Line | None:
        """Start from a checkpoint's state (`values`, written at `ts`) when the log has lost the
        run's beginning (an embedded server's in-memory log dies with it): the rewards, usage,
        candidates and tool results it holds, and one line with its transcript entries. Events of
        the steps the checkpoint already holds (up to `ts`) are then not counted again."""
        self.seeded_ts = ts
        self.seeded_entries = {_canonical(e) for e in values.get("history") or [] if isinstance(e, dict)}
        self.rewards = merge_rewards({}, values.get("rewards") or {})
        self.usage = merge_usage({}, values.get("usage") or {})
        history = [e for e in values.get("history") or [] if isinstance(e, dict)]
        for entry in history:
            content = entry.get("content") or {}
            if entry.get("stage") and entry["stage"] not in self.stages_seen:
                self.stages_seen.append(str(entry["stage"]))
            if entry.get("type") == "tool_result" and content.get("key"):
                call = self.tools.setdefault(str(content["key"]), ToolCall(key=str(content["key"]), tool=str(content.get("tool") or "?")))
                call.stage, call.attempts = str(entry.get("stage") or ""), max(call.attempts, 1)
                call.status, call.ledger = ("ok" if content.get("ok", True) else "failed"), "recorded"
                self._tool_outcome(content)
        self._on_state_patch(Event(type="state_patch", run_id=event.run_id, data={"update": {"history": history}}))
        self.stage = values.get("stage") or self.stage
        entries = [e for e in history if e.get("type") in TRANSCRIPT_KINDS]
        return Line("checkpoint", "history", event, entries) if entries else None

    def _in_seed(self, event: Event) -> bool:
        """Whether the checkpoint the view was seeded from already holds this step's update.

        Told by the update's history entries (an agent's or the tool node's update carries its
        rewards and usage beside them), not by time: the run's stream can publish a step's
        update after LangGraph has written the checkpoint that holds it. An update without
        entries (the router's) falls back to the checkpoint's time."""
        if self.seeded_ts is None:
            return False
        entries = [e for e in (event.data.get("update") or {}).get("history") or [] if isinstance(e, dict)]
        if entries:
            return all(_canonical(e) in self.seeded_entries for e in entries)
        return event.ts <= self.seeded_ts

    # -- lifecycle -----------------------------------------------------------------------------

    def _on_run_queued(self, event: Event) -> set[str]:
        self.status = "queued"
        return {"status"}

    def _on_run_started(self, event: Event) -> set[str]:
        self.status = "running"
        self.pending = None
        if self.started_ts is None:
            self.started_ts = event.ts
        return {"status"}

    def _on_stage_entered(self, event: Event) -> set[str]:
        self.stage = event.stage
        self.round = int(event.data.get("round") or self.round)
        self.agents_on = set()
        if event.stage and event.stage not in self.stages_seen:
            self.stages_seen.append(event.stage)
        return {"status"}

    def _on_agent_started(self, event: Event) -> set[str]:
        if event.agent:
            self.agents_on.add(event.agent)
        return {"status"}

    def _on_agent_finished(self, event: Event) -> set[str]:
        if event.agent:
            self.agents_on.discard(event.agent)
            self.agent_seconds[event.agent] = round(self.agent_seconds.get(event.agent, 0.0) + float(event.data.get("duration_s") or 0), 6)
        return {"status", "usage"}

    def _on_approval_requested(self, event: Event) -> set[str]:
        self.status = "awaiting_approval"
        self.pending = dict(event.data)
        return {"status"}

    def _on_approval_given(self, event: Event) -> set[str]:
        self.pending = None
        return {"status"}

    def _on_run_finished(self, event: Event) -> set[str]:
        self.status, self.agents_on = "finished", set()
        return {"status"}

    def _on_run_failed(self, event: Event) -> set[str]:
        self.status, self.agents_on = "failed", set()
        return {"status"}

    def _on_run_cancelled(self, event: Event) -> set[str]:
        self.status, self.agents_on = "cancelled", set()
        return {"status"}

    def _on_policy_violation(self, event: Event) -> set[str]:
        self.violations.append({"agent": event.agent, "stage": event.stage, **event.data})
        return {"violations"}

    # -- state ---------------------------------------------------------------------------------

    def _on_state_patch(self, event: Event) -> set[str]:
        update = event.data.get("update") or {}
        changed: set[str] = set()
        if self._in_seed(event):
            return changed  # the checkpoint the view was seeded from holds it
        if update.get("rewards"):
            self.rewards = merge_rewards(self.rewards, update["rewards"])
            changed.add("rewards")
        if update.get("usage"):
            self.usage = merge_usage(self.usage, update["usage"])
            changed.add("usage")
        for entry in update.get("history") or []:
            if entry.get("type") in ("tool_result", "tool_error"):
                changed |= self._tool_outcome(entry.get("content") or {})
            if entry.get("type") == "proposal":
                for cand in (entry.get("content") or {}).get("candidates") or []:
                    if isinstance(cand, dict) and cand.get("id"):
                        self.candidates[str(cand["id"])] = cand
        return changed

    # -- tools ---------------------------------------------------------------------------------

    def _tool_outcome(self, content: dict[str, Any]) -> set[str]:
        """The result a tool's history entry records, shown on its call's row."""
        call = self.tools.get(str(content.get("key") or ""))
        if call is None:
            return set()
        value = content.get("content")
        if isinstance(value, dict):
            call.result = " ".join(str(value[k]) for k in ("booking_id", "description") if value.get(k)) or f"{len(value)} fields"
        elif isinstance(value, list):
            call.result = f"{len(value)} result(s)"
        elif content.get("error"):
            call.result = str(content["error"])
        return {"tools"}

    def _tool(self, event: Event) -> ToolCall:
        data = event.data
        key = str(data.get("key") or f"intent:{data.get('tool')}:{data.get('label') or len(self.tools)}")
        call = self.tools.get(key)
        if call is None:
            call = self.tools[key] = ToolCall(key=key, tool=str(data.get("tool") or "?"), stage=event.stage or "")
        if data.get("arguments"):
            call.arguments = dict(data["arguments"])
        if event.agent and event.agent != "tool_runtime":
            call.agent = event.agent
        if data.get("label"):
            call.label = str(data["label"])
        return call

    def _on_tool_call(self, event: Event) -> set[str]:
        if event.data.get("status") == "intent":
            self._tool(event)
            return {"tools"}
        call = self._tool(event)
        self._claim_intent(call)
        call.attempts = max(call.attempts, int(event.data.get("attempt") or 1))
        call.status = "calling"
        return {"tools"}

    def _claim_intent(self, call: ToolCall) -> None:
        """The runtime's call of an intent replaces the intent's row (same tool and arguments)."""
        for key, intent in list(self.tools.items()):
            if key.startswith("intent:") and intent.tool == call.tool and intent.arguments == call.arguments:
                call.agent = call.agent or intent.agent
                call.label = call.label or intent.label
                del self.tools[key]
                return

    def _on_tool_result(self, event: Event) -> set[str]:
        call = self._tool(event)
        call.attempts = max(call.attempts, int(event.data.get("attempts") or 1))
        call.status = "ok" if event.data.get("ok", True) else "failed"
        call.ledger = "replayed from the ledger" if event.data.get("replayed") else "recorded"
        return {"tools"}

    def _on_tool_error(self, event: Event) -> set[str]:
        call = self._tool(event)
        call.attempts = max(call.attempts, int(event.data.get("attempt") or 1))
        call.errors.append(str(event.data.get("error") or "error"))
        call.status = "failed" if event.data.get("final", True) else "retrying"
        return {"tools"}

    # -- what the panels read ------------------------------------------------------------------

    def accounting(self) -> dict[str, Any]:
        """Tokens, calls and seconds per agent and stage (and the cost, with a price table)."""
        out = summarize(self.usage, self.prices or None)
        out["used"] = used_tokens(self.usage)
        out["agent_seconds"] = self.agent_seconds
        out["elapsed_s"] = round((self.last_ts or 0) - (self.started_ts or self.last_ts or 0), 3)
        return out

    def reward_rows(self) -> list[dict[str, Any]]:
        """Per candidate and dimension: the total, each agent's score, and their spread."""
        rows = []
        by_agent = self.rewards.get("by_agent") or {}
        for cand, dims in sorted((self.rewards.get("totals") or {}).items()):
            for dim, total in sorted(dims.items()):
                shares = {agent: scores[cand][dim] for agent, scores in by_agent.items() if dim in (scores.get(cand) or {})}
                spread = max(shares.values()) - min(shares.values()) if len(shares) > 1 else 0.0
                rows.append({"candidate": cand, "dimension": dim, "total": total, "shares": shares,
                             "spread": round(spread, 3), "disagree": spread >= DISAGREEMENT})
        return rows

    def reward_agents(self) -> list[str]:
        return sorted(self.rewards.get("by_agent") or {})

    def snapshot(self) -> dict[str, Any]:
        """What the graph and the stage strip highlight: the status, the stage, the busy agents."""
        return {"status": self.status, "stage": self.stage, "agents": sorted(self.agents_on),
                "stages_seen": self.stages_seen, "round": self.round}



def _canonical(entry: dict[str, Any]) -> str:
    """One history entry as canonical JSON: the same entry read from the event log or from a
    checkpoint compares equal."""
    return json.dumps(entry, sort_keys=True, default=str)

__all__ = ["PANELS", "Line", "RunView", "ToolCall"]
