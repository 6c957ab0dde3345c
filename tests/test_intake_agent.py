"""The demo's intake agent on the real travel server: slots read by parsers, places from the
server's own enums, dates against the run's `started_at`, the model asked only for free text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from moot.agents.base import AgentContext
from moot.agents.intake import IntakeAgent
from moot.errors import ConfigError, ModelError
from moot.intake.slots import keep_grounded
from moot.models.scripted import ScriptedChatModel
from moot.orchestrator import initial_state
from moot.workspace.runner import WorkspaceRunner
from moot.builtin.servers import builtin_servers
from moot.tools.types import ToolSpec
from moot.workspace.loader import load_workspace

STARTED = "2026-12-06T10:00:00+00:00"  # a Sunday
CITIES = "Lisbon, Porto, Madrid, Barcelona, Paris, London, Rome, Berlin"


@pytest.fixture
async def intake(tmp_path: Path) -> AsyncIterator[IntakeAgent]:
    """The demo's intake agent as a runtime with its MCP servers connected hands it out."""
    runtime = WorkspaceRunner.load("demo", models={"default": ScriptedChatModel(script=[])})
    async with runtime.open_tools(builtins=builtin_servers(tmp_path)):
        agent = runtime.agents["intake"]
        assert isinstance(agent, IntakeAgent)
        yield agent


async def read(agent: IntakeAgent, task: str, *, answer: Any = None, started_at: str = STARTED, user_id: str | None = "ana") -> tuple[dict[str, Any], ScriptedChatModel]:
    """The intake's history entry for `task`, and the model (which answers `answer`, if asked)."""
    model = ScriptedChatModel(script=[answer] if answer is not None else [], strict=True)
    ctx = AgentContext(agent="intake", stage="intake", round=1, run_id="run-1", session_id="s-1", model=model)
    result = await agent({"task": task, "started_at": started_at, "user_id": user_id}, ctx)
    (entry,) = result.updates["history"]
    assert entry["type"] == "intake" and result.updates["slots"] == entry["content"]["slots"]
    return entry["content"], model


@pytest.mark.parametrize(
    ("task", "problem"),
    [
        ("Plan a trip to Bahia for 3 nights", f"unknown destination 'Bahia': the servers know {CITIES}"),
        ("Fly me from London to New York on 10 March for 5 nights", f"unknown destination 'New York': the servers know {CITIES}"),
        ("Lisbon from London on 30 February for 2 nights", "'30 February' is not a date"),
        ("Trip to Paris from London on 1 January 2020 for 3 nights", "'1 January 2020' (2020-01-01) is in the past"),
        (
            "Planeie uma viagem de 3 dias a Lisboa por menos de 1500 EUR",
            (
                "moot cannot read this task: write it in English, naming the destination and what you want, "
                "e.g. 'Plan a 3-day trip to Lisbon under 1500 EUR'"
            ),
        ),
        ("Plan a 3-day trip under 1500 EUR", "the task does not say the destination (where to go, e.g. 'a trip to Lisbon')"),
    ],
    ids=["unknown-city", "unknown-two-words", "impossible-date", "past-date", "portuguese", "no-destination"],
)
async def test_a_task_that_cannot_be_done_is_a_problem_and_no_model_is_asked(intake: IntakeAgent, task: str, problem: str) -> None:
    content, model = await read(intake, task)
    assert problem in content["problems"]
    assert content["slots"]["problems"] == content["problems"]
    assert model.calls == []


async def test_what_the_task_does_not_say_takes_the_stated_default_and_says_so(intake: IntakeAgent) -> None:
    content, _ = await read(intake, "Plan a 3-day trip to Lisbon under 1500 EUR", answer={"preferences": ""})
    slots = content["slots"]
    assert content["problems"] == []
    assert {k: slots[k] for k in ("destination", "origin", "start", "nights", "end", "budget_eur", "travellers", "traveller", "hotel_only")} == {
        "destination": "Lisbon", "origin": "London", "start": "2026-12-20", "nights": 2, "end": "2026-12-22",
        "budget_eur": 1500.0, "travellers": 1, "traveller": "ana", "hotel_only": False,
    }
    assert content["defaults"] == [
        "origin: London (the workspace's default; the task does not say)",
        "start: 2026-12-20 (the workspace's default; the task does not say)",
        "travellers: 1 (the workspace's default; the task does not say)",
        "traveller: ana (the workspace's default; the task does not say)",
    ]
    assert "'3-day trip' read as 2 nights" in content["notes"]
    assert slots["defaulted"] == ["origin", "start", "travellers", "traveller"]  # what optional parts test


async def test_what_the_task_says_is_not_a_default(intake: IntakeAgent) -> None:
    content, _ = await read(intake, "Two people, Madrid to Lisbon, from 12 March to 15 March, max €2000", answer={"preferences": ""})
    slots = content["slots"]
    assert (slots["origin"], slots["destination"], slots["start"], slots["nights"], slots["travellers"]) == ("Madrid", "Lisbon", "2027-03-12", 3, 2)
    assert content["defaults"] == ["traveller: ana (the workspace's default; the task does not say)"]
    assert slots["defaulted"] == ["traveller"]


async def test_a_guest_without_a_user_id_is_named_by_the_default_expression(intake: IntakeAgent) -> None:
    content, _ = await read(intake, "Plan a 3-day trip to Lisbon", answer={"preferences": ""}, user_id=None)
    assert content["slots"]["traveller"] == "Guest"


@pytest.mark.parametrize(
    ("task", "budget", "note"),
    [
        ("I need to be in Berlin from 3 to 6 March, coming from London, budget £900", 1053.0, "'£900' read as 1053 EUR (1 GBP = 1.17 EUR)"),
        ("Rome for 3 nights from 6 March, under $1000", 920.0, "'$1000' read as 920 EUR (1 USD = 0.92 EUR)"),
        ("Plan a 3-day trip to Lisbon under 1500 CHF", 1590.0, "'1500 CHF' read as 1590 EUR (1 CHF = 1.06 EUR)"),
    ],
    ids=["pounds", "dollars", "francs"],
)
async def test_a_budget_in_another_currency_is_converted_at_the_stated_rate(intake: IntakeAgent, task: str, budget: float, note: str) -> None:
    """The demo states rates for GBP, USD and CHF (`rates:` of its budget slot)."""
    content, _ = await read(intake, task, answer={"preferences": ""})
    assert content["slots"]["budget_eur"] == budget
    assert note in content["notes"]


@pytest.mark.parametrize(
    ("task", "hotel_only"),
    [
        ("Hotel only in Paris for 3 nights from 5 February, budget 500 EUR", True),
        ("Can you book me a hotel in Porto for 2 nights from 9 January? I already have flights.", True),
        ("Just a hotel in Barcelona, 2 nights from 18 April", True),
        ("Fly me from Paris to Lisbon next Friday for 4 nights", False),
    ],
)
async def test_the_hotel_only_flag(intake: IntakeAgent, task: str, hotel_only: bool) -> None:
    content, _ = await read(intake, task, answer={"preferences": ""})
    assert content["problems"] == [] and content["slots"]["hotel_only"] is hotel_only


async def test_the_model_is_asked_only_for_the_free_text_slot_and_its_words_must_be_the_tasks(intake: IntakeAgent) -> None:
    task = "Book Madrid to Lisbon on 20/01, 3 nights, cheap hotel please"
    content, model = await read(intake, task, answer={"preferences": "cheap hotel"})
    assert content["slots"]["preferences"] == "cheap hotel"
    (call,) = model.calls
    schema = call["kwargs"]["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["preferences"]
    assert schema["properties"]["preferences"]["maxLength"] == 80

    content, _ = await read(intake, task, answer={"preferences": "luxury spa with sea view"})
    assert content["slots"]["preferences"] is None
    assert "preferences: dropped the model's reading 'luxury spa with sea view', which is not in the task's words" in content["notes"]
    assert content["slots"]["destination"] == "Lisbon"  # what code read does not depend on the model


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("cheap hotel", "cheap hotel"),
        ("  Cheap   HOTEL ", "Cheap HOTEL"),  # the model's spacing and case do not matter
        ("a cheap hotel", "a cheap hotel"),  # words of two letters or fewer are not checked
        ("cheap hotel near the beach", ""),  # one word the task never said drops it all
        ("", ""),
    ],
)
def test_keep_grounded_keeps_only_the_tasks_own_words(value: str, kept: str) -> None:
    assert keep_grounded("Book Madrid to Lisbon on 20/01, 3 nights, cheap hotel please", value, 80) == kept


async def test_relative_dates_resolve_against_the_runs_start(intake: IntakeAgent) -> None:
    task = "Fly me from Paris to Lisbon next Friday for 4 nights"
    sunday, _ = await read(intake, task, answer={"preferences": ""}, started_at="2026-12-06T10:00:00+00:00")
    monday, _ = await read(intake, task, answer={"preferences": ""}, started_at="2027-03-01T10:00:00+01:00")
    assert (sunday["slots"]["start"], sunday["slots"]["end"]) == ("2026-12-11", "2026-12-15")
    assert (monday["slots"]["start"], monday["slots"]["end"]) == ("2027-03-05", "2027-03-09")
    default, _ = await read(intake, "Plan a 3-day trip to Lisbon", answer={"preferences": ""}, started_at="2027-03-01T10:00:00+01:00")
    assert default["slots"]["start"] == "2027-03-15"  # the default, "in two weeks", from the same start


async def test_a_resumed_run_reads_the_task_against_the_start_it_recorded(demo_script: dict[str, Any], tmp_path: Path) -> None:
    """A run that began on Monday 3 March 2031 fails in its intake (the model is down) and is
    resumed today: "next Friday" is still 7 March 2031, read from the state, not from the clock."""
    task = "Fly me from Paris to Lisbon next Friday for 4 nights"
    script = {**demo_script, "intake": [RuntimeError("the model is down"), {"preferences": ""}]}
    runtime = WorkspaceRunner.load("demo", models={"default": ScriptedChatModel(script=script)})
    started = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    async with runtime.open_store_and_tools(tmp_path / "m.db", builtins=builtin_servers(tmp_path)) as (saver, index):
        orch = runtime.orchestrator(saver, index=index)
        await index.add("run-1", "session-1", "demo", task)
        start = initial_state(task, run_id="run-1", session_id="session-1", user_id="", started_at=started)
        with pytest.raises(ModelError, match="the model is down"):
            await orch.graph.ainvoke(start, orch.config("session-1", "", "run-1"))
        result = await orch.resume("run-1")
    assert result.status == "finished"
    assert result.state["started_at"] == "2031-03-03T09:00:00+00:00"
    assert (result.state["slots"]["start"], result.state["slots"]["end"]) == ("2031-03-07", "2031-03-11")
    assert result.state["decision"]["winner"] == "plan-1"


# --- learning the places from the servers ------------------------------------------------------

def spec(name: str, **properties: Any) -> ToolSpec:
    return ToolSpec(name=name, server="travel", input_schema={"type": "object", "properties": properties})


def test_with_tools_learns_each_place_slots_choices_from_the_tools_enum() -> None:
    agent = load_workspace("demo").agents["intake"]
    assert isinstance(agent, IntakeAgent)
    learnt = agent.with_tools([
        spec("search_hotels", city={"type": "string", "enum": ["Lisbon", "Porto"]}),
        spec("search_flights", origin={"anyOf": [{"type": "string", "enum": ["London", "Lisbon"]}, {"type": "null"}]}),
    ])
    assert learnt.choices()["destination"] == {"Lisbon": ["Lisbon", "Lisboa"], "Porto": ["Porto", "Oporto"]}
    assert list(learnt.choices()["origin"]) == ["London", "Lisbon"]
    assert agent.choices() == {"destination": {}, "origin": {}}  # the workspace's agent is unchanged


def test_with_tools_refuses_a_tool_no_server_offers() -> None:
    agent = load_workspace("demo").agents["intake"]
    with pytest.raises(ConfigError) as info:
        agent.with_tools([spec("search_flights", origin={"enum": ["London"]})])
    message = str(info.value)
    assert "slot 'destination' takes its choices from 'search_hotels.city'" in message
    assert "no MCP server offers tool 'search_hotels' (offered: search_flights)" in message


def test_with_tools_refuses_an_argument_without_an_enum() -> None:
    agent = load_workspace("demo").agents["intake"]
    with pytest.raises(ConfigError, match="tool 'search_hotels' publishes no enum for 'city'"):
        agent.with_tools([spec("search_hotels", city={"type": "string"}), spec("search_flights", origin={"enum": ["London"]})])


async def test_an_intake_whose_servers_are_not_connected_says_so() -> None:
    agent = load_workspace("demo").agents["intake"]
    model = ScriptedChatModel(script=[], strict=True)
    ctx = AgentContext(agent="intake", stage="intake", round=1, run_id="run-1", session_id="s-1", model=model)
    with pytest.raises(ConfigError, match=r"place slot\(s\) destination, origin have no choices yet"):
        await agent({"task": "Plan a trip to Lisbon", "started_at": STARTED}, ctx)
