"""The scout: searches for what the task needs before anyone proposes (design §3b).

It is code, not a model: each declared call (`calls:` in its YAML, by label) is computed from
the intake's slots and recorded as a `gather` intent; the tool node runs it and the results land
in history under the label, where a grounded proposer finds its offers. A call whose arguments
have no value (the task named no origin and the workspace gives no default) is not made, and the
`gather` entry says why, so "nothing feasible" can explain itself. A call whose `when` does not
hold is not needed (a hotel-only trip needs no flight search): its part is left out of the
bundles rather than missing from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moot.agents.base import AgentContext, AgentResult
from moot.agents.calls import Call, intent
from moot.agents.skill import SkillAgent


class ScoutAgent(SkillAgent):
    """Records the searches of its `calls` as tool-call intents (purpose `gather`)."""

    kind = "scout"

    @property
    def calls(self) -> tuple[Call, ...]:
        return tuple(self.options.get("calls") or ())

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        slots = dict(snapshot.get("slots") or {})
        names = {
            "slots": slots,
            "task": snapshot.get("task"),
            "user_id": snapshot.get("user_id"),
            "started_at": snapshot.get("started_at"),
            "parts": {}, "facts": {}, "candidate": {}, "all_facts": [],
        }
        entries: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        not_needed: list[str] = []
        for position, call in enumerate(self.calls):
            if not call.needed(names):
                not_needed.append(call.label)
                continue
            arguments, why = call.render(names)
            if arguments is None:
                skipped[call.label] = why
                continue
            content = intent(call, arguments, position=position, purpose="gather")
            entries.append(self.entry("tool_call", content, ctx))
            events.append({"type": "tool_call", "data": {"tool": call.tool, "arguments": arguments, "status": "intent", "label": call.label}})
        content = {"calls": [c.label for c in self.calls], "skipped": skipped, "not_needed": not_needed}
        entries.append(self.entry("gather", content, ctx))
        return AgentResult(updates={"history": entries}, events=events)


__all__ = ["ScoutAgent"]
