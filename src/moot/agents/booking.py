"""The booking agent: turns the decision into tool calls that the tool node executes over MCP.

Its tools are the MCP servers' own tools, listed when the runtime starts (`with_tools`): their
JSON schemas constrain the model's answer (an `anyOf` of `{tool, arguments}` shapes) and validate
it, so arguments that do not match are repaired by the agent before anything is sent. Without MCP
servers, the workspace's `tools:` list (names and descriptions) still lets it record intents.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from moot.agents.base import AgentContext, AgentResult
from moot.agents.schemas import BookingOutput
from moot.agents.calls import Call, intent
from moot.agents.skill import SkillAgent, candidate_line
from moot.agents.tool_schema import SCALAR, bind_enum, bounded, result_ids
from moot.constraints import candidate_names
from moot.errors import ConfigError
from moot.history import OUTCOME_TYPES, candidates_of, gathered, reviews_of, tool_outcomes
from moot.tools.types import ToolSpec


class BookingAgent(SkillAgent):
    """Records tool-call intents for the decision's winner."""

    kind = "booking"

    @property
    def tool_names(self) -> list[str]:
        return [t["name"] for t in self.catalog()]

    def catalog(self) -> list[dict[str, Any]]:
        """`{name, description, input_schema?}` of every tool this agent may call."""
        specs: list[ToolSpec] | None = self.options.get("tool_specs")
        if specs is not None:
            return [{"name": s.name, "description": s.description, "input_schema": s.input_schema} for s in specs]
        return [t if isinstance(t, Mapping) else {"name": str(t), "description": ""} for t in self.options.get("tools", [])]

    def with_tools(self, specs: Sequence[ToolSpec]) -> BookingAgent:
        """A copy that uses the MCP servers' tools; the YAML `tools:` names (if any) are an allow-list."""
        listed = {t["name"] if isinstance(t, Mapping) else str(t) for t in self.options.get("tools", [])}
        known = {s.name for s in specs}
        missing = sorted(listed - known)
        if missing:
            raise ConfigError(
                f"agent {self.name!r} lists tools {missing} that no MCP server of the workspace offers "
                f"(offered: {', '.join(sorted(known)) or 'none'})"
            )
        twin = copy.copy(self)
        twin.options = {**self.options, "tool_specs": [s for s in specs if not listed or s.name in listed]}
        return twin

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        actions: tuple[Call, ...] | None = self.options.get("actions")
        if actions is None:
            return await super().__call__(snapshot, ctx)
        return self._derived(actions, snapshot, ctx)

    def _derived(self, actions: tuple[Call, ...], snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        """The winner's tool calls, computed from its parts and the slots: no model call.

        An action whose arguments cannot be computed is recorded as failed (in an `actions`
        entry), so the run's outcome says "actions failed" rather than a quiet partial "done".
        """
        history = list(snapshot.get("history") or [])
        winner = (snapshot.get("decision") or {}).get("winner")
        chosen = next((c for c in candidates_of(history) if c.get("id") == winner), None)
        if chosen is None:
            note = {"note": f"nothing to act on: the decision names no proposed candidate ({winner!r})"}
            return AgentResult(updates={"history": [self.entry("note", note, ctx)]})
        names = candidate_names(
            chosen, snapshot.get("slots"), task=snapshot.get("task"), user_id=snapshot.get("user_id"),
            results=gathered(history), decision=dict(snapshot.get("decision") or {}), reviews=reviews_of(history),
        )
        entries, events, failed = [], [], {}
        for position, call in enumerate(actions):
            if not call.needed(names):
                continue
            arguments, why = call.render(names)
            if arguments is None:
                failed[call.label] = why
                continue
            entries.append(self.entry("tool_call", intent(call, arguments, position=position, purpose="act"), ctx))
            events.append({"type": "tool_call", "data": {"tool": call.tool, "arguments": arguments, "status": "intent", "label": call.label}})
        entries.append(self.entry("actions", {"winner": winner, "planned": len(entries), "failed": failed}, ctx))
        return AgentResult(updates={"history": entries}, events=events)

    def output_schema(self, snapshot: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, Any], dict[str, Any]]:
        schema = BookingOutput.model_json_schema()
        catalog = self._bound(self.catalog(), snapshot.get("history") or [])
        if not catalog:
            return BookingOutput, schema, {}
        item = schema["$defs"]["ToolCallIntent"]
        if all("input_schema" in t for t in catalog):
            shapes = [
                {
                    "type": "object",
                    "properties": {"tool": {"const": t["name"]}, "arguments": bounded(t["input_schema"] or {"type": "object"})},
                    "required": ["tool", "arguments"],
                    "additionalProperties": False,
                }
                for t in catalog
            ]
            schema["$defs"]["ToolCallIntent"] = {"anyOf": shapes}
            return BookingOutput, schema, {"tools": {t["name"]: t["input_schema"] for t in catalog}}
        item["properties"]["tool"] = {"type": "string", "enum": [t["name"] for t in catalog]}
        item["properties"]["arguments"] = {"type": "object", "additionalProperties": SCALAR, "maxProperties": 8}
        return BookingOutput, schema, {"tools": {t["name"]: {"type": "object"} for t in catalog}}

    def _bound(self, catalog: list[dict[str, Any]], history: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The catalog with `bind:` applied: e.g. `book.item_id` must be an id a search returned."""
        binds: Mapping[str, list[str]] = self.options.get("bind") or {}
        if not binds:
            return catalog
        outcomes = tool_outcomes(list(history))
        out = []
        for tool in catalog:
            schema = tool.get("input_schema")
            for target, sources in binds.items():
                name, _, argument = target.partition(".")
                if name == tool["name"] and schema is not None:
                    schema = bind_enum(schema, argument, result_ids(outcomes, sources))
            out.append({**tool, "input_schema": schema} if schema is not None else tool)
        return out

    def prompt_values(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> dict[str, str]:
        values = super().prompt_values(snapshot, ctx)
        winner = (snapshot.get("decision") or {}).get("winner")
        chosen = [c for c in candidates_of(snapshot.get("history") or []) if c["id"] == winner]
        values["candidates"] = "\n".join(candidate_line(c) for c in chosen)
        values["tools"] = "\n".join(f"- {t['name']}: {t.get('description', '')}".rstrip(": ") for t in self.catalog())
        values["results"] = "\n".join(_outcome_line(e) for e in snapshot.get("history") or [] if e.get("type") in OUTCOME_TYPES)
        return values

    def brief_sections(self) -> tuple[tuple[str, str], ...]:
        return (
            ("memory", "What you remember"),
            ("task", "Task"),
            ("decision", "Decision"),
            ("candidates", "Chosen candidate"),
            ("tools", "Tools"),
            ("results", "Results of your earlier tool calls"),
        )

    def to_result(self, output: Any, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        entries = [
            self.entry("tool_call", {"tool": c.tool, "arguments": c.arguments, "status": "intent", "position": i}, ctx)
            for i, c in enumerate(output.tool_calls)
        ]
        events = [
            {"type": "tool_call", "data": {"tool": c.tool, "arguments": c.arguments, "status": "intent"}}
            for c in output.tool_calls
        ]
        return AgentResult(updates={"history": entries}, events=events)


def _outcome_line(entry: Mapping[str, Any], limit: int = 600) -> str:
    """One tool outcome for the prompt, cut to `limit` characters (search results can be long)."""
    c = entry.get("content") or {}
    body = json.dumps(c.get("content"), ensure_ascii=False) if c.get("ok") else f"error: {c.get('error')}"
    return f"- {c.get('tool')}: {body[:limit]}"


__all__ = ["BookingAgent", "bounded"]
