"""Constrained actions: a tool's schema as the model's constraint, tighter than the contract, never looser.

The schemas are the real travel server's, listed over an in-memory MCP session; the ids bound to
`book.item_id` are those its searches returned.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from moot.agents.base import AgentContext
from moot.agents.booking import BookingAgent
from moot.agents.tool_schema import bind_enum, bounded, result_ids
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner
from moot.builtin.servers import builtin_servers
from moot.tools.types import ToolSpec

DEMO = Path(__file__).parents[1] / "src" / "moot" / "builtin" / "demo"

BOOKING_WITH_BIND = """\
name: booking
kind: booking
description: Books the winner through the travel server; the model writes the calls.
prompt: "Book every offer of the winning plan."
reads: [task, history, decision, slots]
writes: [history]
tools: [book]
bind:
  book.item_id: [search_hotels, search_flights]
exit: once_per_stage
"""


@pytest.fixture
async def travel(tmp_path: Path) -> AsyncIterator[WorkspaceRunner]:
    """The demo, connected to its travel server (a fresh inventory under tmp_path)."""
    runtime = WorkspaceRunner.load("demo", models={"default": ScriptedChatModel(script=[])})
    async with runtime.open_tools(builtins=builtin_servers(tmp_path)):
        yield runtime


def specs(runtime: WorkspaceRunner) -> dict[str, ToolSpec]:
    assert runtime.tools is not None
    return {s.name: s for s in runtime.tools.tools()}  # type: ignore[attr-defined]


async def search(runtime: WorkspaceRunner, n: int, tool: str, **arguments: Any) -> dict[str, Any]:
    """A real search, as the tool node records its outcome in history."""
    assert runtime.tools is not None
    outcome = await runtime.tools.call(tool, arguments, key=f"run-1:{n}")
    content = {"tool": tool, "ok": outcome.ok, "content": outcome.content, "error": outcome.error, "call": n, "purpose": "gather"}
    return {"type": "tool_result" if outcome.ok else "tool_error", "agent": "tool_runtime", "content": content}


# --- bounded ----------------------------------------------------------------------------------

async def test_bounded_bounds_free_strings_and_keeps_every_other_constraint(travel: WorkspaceRunner) -> None:
    book = specs(travel)["book"].input_schema
    original = copy.deepcopy(book)
    out = bounded(book)
    props = out["properties"]
    assert props["item_id"] == {**book["properties"]["item_id"], "maxLength": 120}
    assert props["traveller"]["maxLength"] == 120
    assert props["kind"] == book["properties"]["kind"]  # an enum: untouched
    assert props["checkin"] == book["properties"]["checkin"]  # format and pattern: untouched
    assert props["nights"] == book["properties"]["nights"] and props["travellers"] == book["properties"]["travellers"]
    assert {k: v for k, v in out.items() if k != "properties"} == {k: v for k, v in book.items() if k != "properties"}
    assert book == original  # a copy: validation still uses the server's own schema


def test_bounded_leaves_const_pattern_format_enum_and_an_explicit_bound_alone() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "const": "x"},
            "b": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "c": {"type": "string", "format": "date-time"},
            "d": {"type": "string", "enum": ["p", "q"]},
            "e": {"type": "string", "maxLength": 5},
            "f": {"type": ["string", "null"]},
            "g": {"type": "array", "items": {"type": "string"}},
            "h": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
    }
    out = bounded(schema, max_length=40)
    props = out["properties"]
    assert [props[k] == schema["properties"][k] for k in "abcde"] == [True] * 5
    assert props["f"] == {"type": ["string", "null"], "maxLength": 40}
    assert props["g"]["items"] == {"type": "string", "maxLength": 40}
    assert props["h"]["anyOf"] == [{"type": "string", "maxLength": 40}, {"type": "integer"}]


# --- bind_enum and result_ids -----------------------------------------------------------------

async def test_book_item_id_is_bound_to_the_ids_the_searches_returned(travel: WorkspaceRunner) -> None:
    book = specs(travel)["book"].input_schema
    outcomes = [
        (await search(travel, 0, "search_flights", origin="London", destination="Lisbon", date="2027-01-10"))["content"],
        (await search(travel, 1, "search_hotels", city="Lisbon", checkin="2027-01-10", nights=2))["content"],
    ]
    ids = result_ids(outcomes, ["search_hotels", "search_flights"])
    assert ids == [o["id"] for o in outcomes[0]["content"]] + [o["id"] for o in outcomes[1]["content"]]
    assert "H-LIS-ALFAMA" in ids and "BA0500@2027-01-10" in ids
    bound = bind_enum(book, "item_id", ids)
    assert bound["properties"]["item_id"] == {"type": "string", "enum": ids, "description": book["properties"]["item_id"]["description"]}
    assert {k: v for k, v in bound["properties"].items() if k != "item_id"} == {k: v for k, v in book["properties"].items() if k != "item_id"}
    assert "enum" not in book["properties"]["item_id"]  # the server's schema is not changed
    assert bounded(bound)["properties"]["item_id"]["enum"] == ids  # and bounding keeps the enum


def test_result_ids_reads_only_successful_results_of_the_named_tools_in_order() -> None:
    outcomes = [
        {"tool": "search_hotels", "ok": True, "content": [{"id": "H-1"}, {"id": "H-2"}, {"name": "no id"}]},
        {"tool": "search_hotels", "ok": False, "content": [{"id": "H-FAILED"}], "error": "boom"},
        {"tool": "list_bookings", "ok": True, "content": [{"id": "B-1"}]},
        {"tool": "search_flights", "ok": True, "content": [{"id": "F-1"}, {"id": "H-1"}]},
        {"tool": "book", "ok": True, "content": {"booking_id": "BK-00001", "id": "X"}},
    ]
    assert result_ids(outcomes, ["search_hotels", "search_flights"]) == ["H-1", "H-2", "F-1"]
    assert result_ids(outcomes, ["book"], key="booking_id") == ["BK-00001"]
    assert result_ids(outcomes, ["cancel"]) == []


def test_bind_enum_without_values_or_argument_returns_the_schema_unchanged() -> None:
    schema = {"type": "object", "properties": {"item_id": {"type": "string"}, "n": {"type": "integer", "title": "N"}}}
    assert bind_enum(schema, "item_id", []) == schema
    assert bind_enum(schema, "missing", ["a"]) == schema
    assert bind_enum({"type": "object"}, "item_id", ["a"]) == {"type": "object"}
    assert bind_enum(schema, "n", [1, 2, 2])["properties"]["n"] == {"enum": [1, 2], "title": "N"}
    nullable = {"properties": {"id": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
    assert bind_enum(nullable, "id", ["a", "b"])["properties"]["id"] == {"type": "string", "enum": ["a", "b"]}


# --- the booking agent's constraint -----------------------------------------------------------

@pytest.fixture
async def bound_booking(tmp_path: Path) -> AsyncIterator[tuple[BookingAgent, WorkspaceRunner]]:
    """A copy of the demo whose booking agent is model-driven, with `bind: {book.item_id: ...}`."""
    ws = tmp_path / "ws"
    shutil.copytree(DEMO, ws)
    (ws / "agents" / "booking.yaml").write_text(BOOKING_WITH_BIND)
    runtime = WorkspaceRunner.load(ws, models={"default": ScriptedChatModel(script=[])})
    async with runtime.open_tools(builtins=builtin_servers(tmp_path)):
        agent = runtime.agents["booking"]
        assert isinstance(agent, BookingAgent)
        yield agent, runtime


async def test_a_booking_agent_with_bind_offers_the_model_only_ids_it_has_seen(bound_booking: tuple[BookingAgent, WorkspaceRunner]) -> None:
    agent, runtime = bound_booking
    history = [await search(runtime, 0, "search_hotels", city="Porto", checkin="2027-01-10", nights=2)]
    ids = [o["id"] for o in history[0]["content"]["content"]]
    assert ids[:2] == ["H-OPO-BOLHAO", "H-OPO-RIBEIRA"]
    _, schema, context = agent.output_schema({"history": history})
    (shape,) = schema["$defs"]["ToolCallIntent"]["anyOf"]  # `tools: [book]`: the only tool offered
    assert shape["properties"]["tool"] == {"const": "book"}
    arguments = shape["properties"]["arguments"]
    assert arguments["properties"]["item_id"]["enum"] == ids
    assert "maxLength" not in arguments["properties"]["item_id"]
    assert arguments["properties"]["traveller"]["maxLength"] == 120  # a free string is bounded
    assert context["tools"]["book"]["properties"]["item_id"]["enum"] == ids  # validation checks the same
    # before any search there is nothing to bind: the server's own schema stands
    _, unbound, _ = agent.output_schema({"history": []})
    assert "enum" not in json.dumps(unbound["$defs"]["ToolCallIntent"]["anyOf"][0]["properties"]["arguments"]["properties"]["item_id"])


async def test_an_invented_id_is_refused_before_anything_is_sent_and_repaired(bound_booking: tuple[BookingAgent, WorkspaceRunner]) -> None:
    agent, runtime = bound_booking
    history = [await search(runtime, 0, "search_hotels", city="Porto", checkin="2027-01-10", nights=2)]
    args = {"kind": "hotel", "traveller": "Ana Silva", "checkin": "2027-01-10", "nights": 2}
    model = ScriptedChatModel(script=[
        {"tool_calls": [{"tool": "book", "arguments": {**args, "item_id": "H-OPO-RITZ"}}]},
        {"tool_calls": [{"tool": "book", "arguments": {**args, "item_id": "H-OPO-RIBEIRA"}}]},
    ])
    ctx = AgentContext(agent="booking", stage="booking", round=1, run_id="run-1", session_id="s-1", model=model)
    result = await agent({"history": history, "decision": {"winner": "plan-1"}}, ctx)
    assert len(model.calls) == 2
    repair = model.calls[1]["messages"][-1].content
    assert "item_id: 'H-OPO-RITZ' is not one of" in repair
    (intent,) = result.updates["history"]
    assert intent["type"] == "tool_call" and intent["content"]["arguments"]["item_id"] == "H-OPO-RIBEIRA"
