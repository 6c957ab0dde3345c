"""`SkillAgent`: an agent declared in YAML (prompt, reads, writes, output schema, exit rule, model).

The built-in roles (`moot.agents.roles`) are SkillAgents too; a role only decides which output
schema the model must fill and how a validated answer becomes state updates. Everything else
(the prompt, what it reads and writes, when it exits, which model) is workspace data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from moot.agents.base import Agent, AgentContext, AgentResult
from moot.agents.schemas import NoteOutput, SchemaAnswer
from moot.agents.structured import ainvoke_structured, takes_response_format
from moot.memory.rules import build_prompt
from moot.stages.router import candidate_ids
from moot.stages.rules import ExitRule

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders from `values`; unknown names stay as written (no format-string tricks)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


class SkillAgent(Agent):
    """A declarative agent. The base kind, `note`, adds one note to the history."""

    kind = "note"

    def __init__(
        self,
        name: str,
        *,
        prompt: str,
        reads: tuple[str, ...] = ("task", "history"),
        writes: tuple[str, ...] = ("history",),
        exit_rule: ExitRule | None = None,
        model_name: str = "default",
        description: str = "",
        dimensions: tuple[str, ...] = (),
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.prompt = prompt
        self.reads = tuple(reads)
        self.writes = tuple(writes)
        self.exit_rule = exit_rule or ExitRule()
        self.model_name = model_name
        self.description = description
        self.dimensions = tuple(dimensions)
        self.options = dict(options or {})

    # -- what the model must answer ------------------------------------------------------------
    def output_schema(self, snapshot: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, Any], dict[str, Any]]:
        """(pydantic schema, JSON schema sent as constraint, validation context).

        A `note` agent answers a short note, or, when its YAML declares `output:` (a JSON
        Schema), an object of that schema.
        """
        declared = self.options.get("output")
        if declared:
            return SchemaAnswer, dict(declared), {"json_schema": dict(declared)}
        return NoteOutput, NoteOutput.model_json_schema(), {}

    def to_result(self, output: Any, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        """Turn a validated answer into updates. Only declared `writes` are produced."""
        content = output.root if isinstance(output, SchemaAnswer) else output.model_dump()
        return AgentResult(updates={"history": [self.entry("note", content, ctx)]})

    # -- the call ------------------------------------------------------------------------------
    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        schema, json_schema, context = self.output_schema(snapshot)
        output, usage = await ainvoke_structured(
            ctx.model,
            self.messages(snapshot, ctx, json_schema),
            schema,
            agent=self.name,
            max_repairs=ctx.max_repairs,
            json_schema=json_schema,
            context=context,
            config={"metadata": {"moot_agent": self.name, "moot_stage": ctx.stage}, "tags": [f"moot:{self.name}"]},
        )
        result = self.to_result(output, snapshot, ctx)
        result.usage = usage
        result.updates = {k: v for k, v in result.updates.items() if k in self.writes}
        return result

    def messages(self, snapshot: Mapping[str, Any], ctx: AgentContext, json_schema: dict[str, Any]) -> list[BaseMessage]:
        values = self.prompt_values(snapshot, ctx)
        system = build_prompt(render(self.prompt, values).strip(), ctx.rules)
        brief = "\n".join(f"{label}:\n{values[key]}" for key, label in self.brief_sections() if values.get(key))
        if takes_response_format(ctx.model):
            # the schema travels as the model's constraint, which also shows it to the LLM
            ask = "Answer with one JSON object only."
        else:
            ask = f"Answer with one JSON object only, matching this schema:\n{json.dumps(json_schema, separators=(',', ':'))}"
        return [SystemMessage(content=system), HumanMessage(content=f"{brief}\n\n{ask}")]

    def brief_sections(self) -> tuple[tuple[str, str], ...]:
        """The parts of the snapshot shown to the model under the system prompt, in order."""
        return (
            ("memory", "What you remember"),
            ("task", "Task"),
            ("candidates", "Candidates"),
            ("reviews", "Reviews"),
            ("ranking", "Ranking"),
        )

    def prompt_values(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> dict[str, str]:
        """Short text renderings of the snapshot for the prompt: small models need small prompts."""
        history = snapshot.get("history") or []
        values = {
            "task": str(snapshot.get("task") or ""),
            "stage": ctx.stage,
            "round": str(ctx.round),
            "agent": self.name,
            "dimensions": ", ".join(self.dimensions),
            "candidates": "\n".join(
                f"- {c['id']}: {c['title']} — {c['summary']}" for c in candidates_of(history)
            ),
            "reviews": "\n".join(
                f"- {e['agent']} on {r['candidate']}: {r['comment']}"
                for e in history
                if e.get("type") == "review"
                for r in e["content"].get("reviews", [])
            ),
        }
        for key in self.reads:  # any state key the agent reads is a named input: {winner}, {round}...
            if key not in values and key != "history" and snapshot.get(key) not in (None, "", {}, []):
                values[key] = _brief(snapshot[key])
        if ctx.memory:
            values["memory"] = ctx.memory
        decision = snapshot.get("decision") or {}
        if decision:
            values["decision"] = f"winner {decision.get('winner')}: {decision.get('rationale', '')}"
        return values

    def entry(self, type_: str, content: Mapping[str, Any], ctx: AgentContext) -> dict[str, Any]:
        """A history entry; the node wrapper stamps agent, stage and round on it."""
        return {"type": type_, "agent": self.name, "stage": ctx.stage, "round": ctx.round, "content": dict(content)}


def _brief(value: Any, limit: int = 1200) -> str:
    """A state value as prompt text: strings as they are, the rest as compact JSON, bounded."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def candidates_of(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest version of every candidate proposed in this run."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in history:
        if entry.get("type") == "proposal":
            for cand in (entry.get("content") or {}).get("candidates", []):
                latest[cand["id"]] = cand
    return [latest[cid] for cid in candidate_ids(history)]


__all__ = ["SkillAgent", "candidates_of", "render"]
