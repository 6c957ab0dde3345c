"""Agents that are code: the scout's searches from the slots, and the measure's scores by formula.

Neither asks a model (the scripted model is strict and empty: a call would fail the test); both
are the demo's own agents, compiled from its YAML.
"""

from __future__ import annotations

from typing import Any

import pytest

from moot.agents.base import AgentContext, AgentResult
from moot.agents.calls import Call
from moot.agents.measure import MeasureAgent
from moot.agents.scout import ScoutAgent
from moot.expressions import Expression
from moot.models.scripted import ScriptedChatModel
from moot.templates import Value
from moot.workspace.loader import Workspace, load_workspace
from moot.workspace.spec_decide import NAMES

SLOTS = {
    "destination": "Lisbon", "origin": "London", "start": "2026-12-20", "end": "2026-12-22",
    "nights": 2, "travellers": 2, "hotel_only": False,
}


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return load_workspace("demo")


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel(script=[], strict=True)


def ctx(model: ScriptedChatModel, agent: str, stage: str) -> AgentContext:
    return AgentContext(agent=agent, stage=stage, round=1, run_id="run-1", session_id="s-1", model=model)


def call(arguments: dict[str, Any], when: str | None = None) -> Call:
    return Call(
        label="outbound", tool="search_flights", arguments=Value.parse(arguments, names=NAMES),
        when=Expression.parse(when, names=NAMES) if when else None,
    )


def names(slots: dict[str, Any]) -> dict[str, Any]:
    return {"slots": slots, "parts": {}, "facts": {}}


# --- Call ------------------------------------------------------------------------------------

def test_a_call_renders_its_arguments_from_the_slots() -> None:
    c = call({"origin": "=slots['origin']", "date": "=slots['start']", "travellers": "=slots['travellers']", "cabin": "economy"})
    assert c.render(names(SLOTS)) == ({"origin": "London", "date": "2026-12-20", "travellers": 2, "cabin": "economy"}, "")


def test_a_call_with_an_argument_without_a_value_is_not_made_and_says_which() -> None:
    c = call({"origin": "=slots['origin']", "destination": "=slots['destination']", "date": "=slots.get('start')"})
    assert c.render(names({**SLOTS, "origin": None, "start": None})) == (None, "no value for origin, date")


def test_a_call_whose_arguments_fail_says_so() -> None:
    arguments, why = call({"origin": "=slots['origin']"}).render(names({"destination": "Lisbon"}))
    assert arguments is None and why.startswith("its arguments could not be computed: evaluation failed")


def test_a_call_is_needed_when_its_condition_holds_or_cannot_be_evaluated() -> None:
    flights = call({"origin": "=slots['origin']"}, when="not slots['hotel_only']")
    assert flights.needed(names(SLOTS)) is True
    assert flights.needed(names({**SLOTS, "hotel_only": True})) is False
    assert flights.needed(names({})) is True  # render will then report the missing value
    assert call({"origin": "London"}).needed(names({})) is True


# --- the scout -------------------------------------------------------------------------------

async def test_the_scout_records_one_gather_intent_per_search(demo: Workspace, model: ScriptedChatModel) -> None:
    scout = demo.agents["scout"]
    assert isinstance(scout, ScoutAgent)
    result = await scout({"task": "t", "slots": SLOTS}, ctx(model, "scout", "gather"))
    *intents, gathered = result.updates["history"]
    assert [(e["type"], e["content"]["label"], e["content"]["tool"], e["content"]["position"]) for e in intents] == [
        ("tool_call", "outbound", "search_flights", 0),
        ("tool_call", "hotel", "search_hotels", 1),
        ("tool_call", "inbound", "search_flights", 2),
    ]
    assert all(e["content"]["purpose"] == "gather" and e["content"]["status"] == "intent" for e in intents)
    assert intents[0]["content"]["arguments"] == {"origin": "London", "destination": "Lisbon", "date": "2026-12-20", "travellers": 2}
    assert intents[1]["content"]["arguments"] == {"city": "Lisbon", "checkin": "2026-12-20", "nights": 2, "travellers": 2}
    assert intents[2]["content"]["arguments"] == {"origin": "Lisbon", "destination": "London", "date": "2026-12-22", "travellers": 2}
    assert gathered["type"] == "gather"
    assert gathered["content"] == {"calls": ["outbound", "hotel", "inbound"], "skipped": {}, "not_needed": []}
    assert [e["data"]["label"] for e in result.events] == ["outbound", "hotel", "inbound"]
    assert model.calls == []


@pytest.mark.parametrize(
    "slots",
    [{**SLOTS, "hotel_only": True}, {**SLOTS, "origin": "Lisbon"}],
    ids=["hotel-only", "already-there"],
)
async def test_flights_a_trip_does_not_need_are_left_out(demo: Workspace, model: ScriptedChatModel, slots: dict[str, Any]) -> None:
    result = await demo.agents["scout"]({"slots": slots}, ctx(model, "scout", "gather"))
    *intents, gathered = result.updates["history"]
    assert [e["content"]["label"] for e in intents] == ["hotel"]
    assert gathered["content"]["not_needed"] == ["outbound", "inbound"] and gathered["content"]["skipped"] == {}


async def test_a_search_without_a_value_is_skipped_with_the_reason(demo: Workspace, model: ScriptedChatModel) -> None:
    result = await demo.agents["scout"]({"slots": {**SLOTS, "start": None, "end": None}}, ctx(model, "scout", "gather"))
    *intents, gathered = result.updates["history"]
    assert intents == []
    assert gathered["content"]["skipped"] == {
        "outbound": "no value for date", "hotel": "no value for checkin", "inbound": "no value for date",
    }


async def test_a_scout_without_slots_skips_every_search_and_says_why(demo: Workspace, model: ScriptedChatModel) -> None:
    result = await demo.agents["scout"]({"task": "t"}, ctx(model, "scout", "gather"))
    (gathered,) = result.updates["history"]
    assert set(gathered["content"]["skipped"]) == {"outbound", "hotel", "inbound"}
    assert all(why.startswith("its arguments could not be computed") for why in gathered["content"]["skipped"].values())


# --- the measure -----------------------------------------------------------------------------

def proposal(*totals: float | None) -> list[dict[str, Any]]:
    cands = [{"id": f"plan-{i}", "facts": {} if t is None else {"total_eur": t}} for i, t in enumerate(totals, 1)]
    return [{"type": "proposal", "agent": "optimistic", "content": {"candidates": cands, "excluded": []}}]


async def test_the_demos_value_for_money_is_the_cheapest_total_over_each_total(demo: Workspace, model: ScriptedChatModel) -> None:
    measure = demo.agents["measure"]
    assert isinstance(measure, MeasureAgent)
    result = await measure({"history": proposal(400.0, 500.0, 800.0), "slots": SLOTS}, ctx(model, "measure", "proposal"))
    (entry,) = result.updates["history"]
    expected = {"plan-1": {"value": 1.0}, "plan-2": {"value": 0.8}, "plan-3": {"value": 0.5}}
    assert entry["type"] == "measure" and entry["content"] == {"scores": expected, "unscored": {}}
    assert result.updates["rewards"]["by_agent"] == {"measure": expected}
    assert model.calls == []


async def test_a_candidate_without_the_facts_a_formula_needs_is_left_unscored(demo: Workspace, model: ScriptedChatModel) -> None:
    result = await demo.agents["measure"]({"history": proposal(400.0, None)}, ctx(model, "measure", "proposal"))
    content = result.updates["history"][0]["content"]
    assert content["scores"] == {}  # the cheapest cannot be known when one total is missing
    assert set(content["unscored"]) == {"plan-1.value", "plan-2.value"}
    assert "rewards" not in result.updates


def measure(formula: str) -> MeasureAgent:
    return MeasureAgent(
        "measure", prompt="", writes=("history", "rewards"), options={"scores": {"fit": Expression.parse(formula, names=NAMES)}}
    )


async def test_scores_are_clipped_to_between_zero_and_one(model: ScriptedChatModel) -> None:
    result = await measure("facts['total_eur'] / 100 - 1")({"history": proposal(270.0, 50.0, 150.0)}, ctx(model, "measure", "proposal"))
    assert result.updates["rewards"]["by_agent"]["measure"] == {"plan-1": {"fit": 1.0}, "plan-2": {"fit": 0.0}, "plan-3": {"fit": 0.5}}


async def test_a_formula_that_is_not_a_number_is_unscored(model: ScriptedChatModel) -> None:
    result = await measure("'cheap' if facts['total_eur'] < 300 else 0.25")({"history": proposal(100.0, 400.0)}, ctx(model, "measure", "proposal"))
    content = result.updates["history"][0]["content"]
    assert content["scores"] == {"plan-2": {"fit": 0.25}}
    assert list(content["unscored"]) == ["plan-1.fit"] and "cheap" in content["unscored"]["plan-1.fit"]


async def test_with_no_candidates_the_measure_writes_nothing(demo: Workspace, model: ScriptedChatModel) -> None:
    result = await demo.agents["measure"]({"history": proposal()}, ctx(model, "measure", "proposal"))
    assert result == AgentResult()
