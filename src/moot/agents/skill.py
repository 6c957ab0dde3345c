"""`SkillAgent`: an agent declared in YAML (prompt, reads, writes, output schema, exit rule, model).

The built-in roles (`moot.agents.roles`) are SkillAgents too; a role only decides which output
schema the model must fill and how a validated answer becomes state updates. Everything else
(the prompt, what it reads and writes, when it exits, which model) is workspace data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from moot.agents.base import Agent, AgentContext, AgentResult, Usage
from moot.agents.prompt_fit import fit
from moot.agents.schemas import NoteOutput, SchemaAnswer
from moot.agents.structured import ainvoke_structured, takes_response_format
from moot.memory.rules import build_prompt
from moot.history import candidates_of, gathered
from moot.templates import show
from moot.tools.types import ToolSpec

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
        model_name: str = "default",
        description: str = "",
        dimensions: tuple[str, ...] = (),
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.prompt = prompt
        self.reads = tuple(reads)
        self.writes = tuple(writes)
        self.model_name = model_name
        self.description = description
        self.dimensions = tuple(dimensions)
        self.options = dict(options or {})

    def with_tools(self, specs: Sequence[ToolSpec]) -> SkillAgent:
        """This agent for a runtime whose MCP servers offer `specs` (listed when they connect).

        Agents that use tool schemas (booking: its calls; intake: the enums of its places)
        return a copy that knows them; the rest are returned as they are.
        """
        return self

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
        output, usage = await self.ask(snapshot, ctx, schema, json_schema, context)
        result = self.to_result(output, snapshot, ctx)
        result.usage = usage
        result.updates = {k: v for k, v in result.updates.items() if k in self.writes}
        return result

    async def ask(
        self,
        snapshot: Mapping[str, Any],
        ctx: AgentContext,
        schema: type[BaseModel],
        json_schema: dict[str, Any],
        context: Mapping[str, Any],
        values: Mapping[str, str] | None = None,
    ) -> tuple[Any, Usage]:
        """One structured answer of the model (validated, repaired), from this agent's prompt."""
        return await ainvoke_structured(
            ctx.model,
            self.messages(snapshot, ctx, json_schema, values),
            schema,
            agent=self.name,
            max_repairs=ctx.max_repairs,
            json_schema=json_schema,
            context=context,
            config={"metadata": {"moot_agent": self.name, "moot_stage": ctx.stage}, "tags": [f"moot:{self.name}"]},
        )

    def messages(
        self,
        snapshot: Mapping[str, Any],
        ctx: AgentContext,
        json_schema: dict[str, Any],
        values: Mapping[str, str] | None = None,
    ) -> list[BaseMessage]:
        values = dict(values) if values is not None else self.prompt_values(snapshot, ctx)
        if takes_response_format(ctx.model):
            # the schema travels as the model's constraint, which also shows it to the LLM
            ask = "Answer with one JSON object only."
        else:
            ask = f"Answer with one JSON object only, matching this schema:\n{json.dumps(json_schema, separators=(',', ':'))}"

        def build(v: Mapping[str, str]) -> list[BaseMessage]:
            system = build_prompt(render(self.prompt, v).strip(), ctx.rules)
            brief = "\n".join(f"{label}:\n{v[key]}" for key, label in self.brief_sections() if v.get(key))
            return [SystemMessage(content=system), HumanMessage(content=f"{brief}\n\n{ask}")]

        messages, _ = fit(ctx.model, build, values, schema=json_schema, agent=self.name)
        return messages

    def brief_sections(self) -> tuple[tuple[str, str], ...]:
        """The parts of the snapshot shown to the model under the system prompt, in order."""
        return (
            ("memory", "What you remember"),
            ("task", "Task"),
            ("slots", "What the task asks"),
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
            "candidates": "\n".join(candidate_line(c) for c in candidates_of(history)),
            "slots": slots_line(snapshot.get("slots")),
            "results": results_lines(gathered(history)),
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


def candidate_line(cand: Mapping[str, Any]) -> str:
    """A candidate for a prompt: id, title, summary and, for a grounded one, its proposer's pitch."""
    summary = f" — {cand['summary']}" if cand.get("summary") else ""
    pitch = f" (pitch: {cand['pitch']})" if cand.get("pitch") else ""
    return f"- {cand['id']}: {cand.get('title', '')}{summary}{pitch}"


def slots_line(slots: Mapping[str, Any] | None) -> str:
    """The intake's slots in one line a model reads: `destination: Lisbon; nights: 2; ...`."""
    shown = [(k, v) for k, v in (slots or {}).items() if k not in ("problems", "defaulted") and v not in (None, "", [], {})]
    return "; ".join(f"{k}: {show(v)}" for k, v in shown)


def results_lines(results: Mapping[str, Any], limit: int = 1500) -> str:
    """What the scout's searches returned, one line per label, as compact JSON (bounded): the
    `{results}` a prompt may show (the code-review panel's static findings)."""
    lines = [f"- {label}: {_brief(content, limit)}" for label, content in results.items()]
    return "\n".join(lines) or "(nothing)"


def _brief(value: Any, limit: int = 1200) -> str:
    """A state value as prompt text: strings as they are, the rest as compact JSON, bounded."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["SkillAgent", "candidate_line", "render", "slots_line"]
