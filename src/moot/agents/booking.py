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
from moot.agents.skill import SkillAgent, candidates_of
from moot.errors import ConfigError
from moot.tools.intents import OUTCOME_TYPES
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

    def output_schema(self, snapshot: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, Any], dict[str, Any]]:
        schema = BookingOutput.model_json_schema()
        catalog = self.catalog()
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

    def prompt_values(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> dict[str, str]:
        values = super().prompt_values(snapshot, ctx)
        winner = (snapshot.get("decision") or {}).get("winner")
        chosen = [c for c in candidates_of(snapshot.get("history") or []) if c["id"] == winner]
        values["candidates"] = "\n".join(f"- {c['id']}: {c['title']} — {c['summary']}" for c in chosen)
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


SCALAR: dict[str, Any] = {"anyOf": [{"type": "string", "maxLength": 80}, {"type": "number"}, {"type": "boolean"}]}
"""An argument value of a tool without a schema, bounded so that a constrained model closes it."""


def bounded(schema: Any, max_length: int = 120) -> Any:
    """A copy of a tool's JSON schema for the model's *constraint*: strings get a `maxLength`.

    MCP servers rarely bound their strings; a small constrained model then fills one until its
    token limit and the answer is cut off. Validation still uses the server's own schema.
    """
    if isinstance(schema, list):
        return [bounded(s, max_length) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded(v, max_length) for k, v in schema.items()}
    kinds = out.get("type")
    is_string = kinds == "string" or (isinstance(kinds, list) and "string" in kinds)
    if is_string and not any(k in out for k in ("maxLength", "enum", "const", "format", "pattern")):
        out["maxLength"] = max_length
    return out


def _outcome_line(entry: Mapping[str, Any], limit: int = 600) -> str:
    """One tool outcome for the prompt, cut to `limit` characters (search results can be long)."""
    c = entry.get("content") or {}
    body = json.dumps(c.get("content"), ensure_ascii=False) if c.get("ok") else f"error: {c.get('error')}"
    return f"- {c.get('tool')}: {body[:limit]}"


__all__ = ["BookingAgent"]
