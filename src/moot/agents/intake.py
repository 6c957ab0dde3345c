"""The intake agent: turns the task into typed slots before anyone searches or proposes (design §3b).

Parsers and the servers' own schemas do what they do better than a model (`moot.intake.slots`):
the places a place slot accepts are the `enum` an MCP tool publishes for one of its arguments
(`choices_from: search_hotels.city`), learnt when the servers connect (`with_tools`); dates
resolve against the run's `started_at`, kept in the state so a resumed run reads them the same.
The model is asked only for free-text slots (`extract: model`), under a schema with bounded
strings, and its words must be the task's. The slots go to the `slots` state key; the intake's
history entry says what was read, what took a default, and what could not be read.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, create_model

from moot.agents.base import AgentContext, AgentResult
from moot.agents.skill import SkillAgent
from moot.errors import ConfigError
from moot.intake.slots import Slot, keep_grounded, read_slots
from moot.tools.types import ToolSpec


class IntakeAgent(SkillAgent):
    """Reads the task into the slots declared in its YAML (`slots:`)."""

    kind = "intake"

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(self.options.get("slots") or ())

    def choices(self) -> dict[str, dict[str, list[str]]]:
        """Per place slot: each allowed value → the names it may be written as."""
        learnt: Mapping[str, list[str]] = self.options.get("learnt_choices") or {}
        out: dict[str, dict[str, list[str]]] = {}
        for slot in self.slots:
            if slot.spec.type != "place":
                continue
            values = list(slot.spec.choices or learnt.get(slot.name) or [])
            out[slot.name] = {v: list(dict.fromkeys([v, *slot.spec.aliases.get(v, [])])) for v in values}
        return out

    def with_tools(self, specs: Sequence[ToolSpec]) -> IntakeAgent:
        """A copy that knows the enums its `choices_from` slots name (e.g. `search_hotels.city`)."""
        by_name = {s.name: s for s in specs}
        learnt: dict[str, list[str]] = {}
        for slot in self.slots:
            source = slot.spec.choices_from
            if not source:
                continue
            tool, _, argument = source.partition(".")
            spec = by_name.get(tool)
            prop = ((spec.input_schema if spec else {}).get("properties") or {}).get(argument) or {}
            values = _enum_of(prop)
            if not values:
                offered = ", ".join(sorted(by_name)) or "none"
                raise ConfigError(
                    f"agent {self.name!r}: slot {slot.name!r} takes its choices from {source!r}, but "
                    + (f"tool {tool!r} publishes no enum for {argument!r}" if spec else f"no MCP server offers tool {tool!r} (offered: {offered})")
                )
            learnt[slot.name] = values
        twin = copy.copy(self)
        twin.options = {**self.options, "learnt_choices": learnt}
        return twin

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        task = str(snapshot.get("task") or "")
        now = _local(snapshot.get("started_at"))
        names = {"task": task, "user_id": snapshot.get("user_id"), "started_at": snapshot.get("started_at")}
        missing = [s.name for s in self.slots if s.spec.type == "place" and not self.choices().get(s.name)]
        if missing:
            raise ConfigError(
                f"agent {self.name!r}: place slot(s) {', '.join(missing)} have no choices yet; "
                f"their MCP servers must be connected (Runtime.open_tools) before the intake runs"
            )
        reading = read_slots(task, self.slots, now=now, choices=self.choices(), names=names)
        result = AgentResult()
        if reading.open and not reading.problems:
            specs = {s.name: s.spec for s in self.slots}
            schema = _text_schema({name: specs[name].max_length for name in reading.open}, specs)
            values = self.prompt_values(snapshot, ctx)
            output, result.usage = await self.ask(snapshot, ctx, schema, schema.model_json_schema(), {}, values)
            for name in reading.open:
                kept = keep_grounded(task, getattr(output, name), specs[name].max_length)
                reading.values[name] = kept or None
                if getattr(output, name) and not kept:
                    reading.notes.append(f"{name}: dropped the model's reading {getattr(output, name)!r}, which is not in the task's words")
        entry = self.entry("intake", reading.record(), ctx)
        result.updates = {k: v for k, v in {"slots": reading.values, "history": [entry]}.items() if k in self.writes}
        return result


def _enum_of(prop: Mapping[str, Any]) -> list[str]:
    if isinstance(prop.get("enum"), list):
        return [str(v) for v in prop["enum"]]
    for branch in prop.get("anyOf", []) + prop.get("oneOf", []):
        if isinstance(branch, Mapping) and isinstance(branch.get("enum"), list):
            return [str(v) for v in branch["enum"]]
    return []


def _text_schema(lengths: Mapping[str, int], specs: Mapping[str, Any]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (str, Field(default="", max_length=n, description=specs[name].description or name)) for name, n in lengths.items()
    }
    return create_model("IntakeText", **fields)


def _local(started_at: Any) -> datetime:
    """The run's start as a naive local datetime (what the date parser resolves against)."""
    if isinstance(started_at, str) and started_at:
        try:
            return datetime.fromisoformat(started_at).replace(tzinfo=None)
        except ValueError:
            pass
    return datetime.now()


__all__ = ["IntakeAgent"]
