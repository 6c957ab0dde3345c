"""Derived bookings: the demo's booking agent computes its calls from the winner, with no model.

Each call carries the winner's offer ids and the slots; an action whose arguments cannot be
computed is recorded as failed, so the run's outcome is `actions_failed`, never a quiet `done`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from moot.agents.base import AgentContext
from moot.agents.booking import BookingAgent
from moot.models.scripted import ScriptedChatModel
from moot.outcome import outcome_of
from moot.workspace.runner import WorkspaceRunner
from moot.builtin.servers import builtin_servers
from moot.builtin.servers.travel import Inventory
from moot.workspace.loader import load_workspace

DEMO = Path(__file__).parents[1] / "src" / "moot" / "builtin" / "demo"
SLOTS = {"traveller": "Ana Silva", "travellers": 2, "start": "2027-01-10", "nights": 3, "end": "2027-01-13"}
OUT = {"id": "BA0500@2027-01-10", "total_eur": 300.0}
HOTEL = {"id": "H-LIS-BAIXA", "total_eur": 360.0}
BACK = {"id": "TP1350@2027-01-13", "total_eur": 230.0}


@pytest.fixture(scope="module")
def booking() -> BookingAgent:
    agent = load_workspace("demo").agents["booking"]
    assert isinstance(agent, BookingAgent) and agent.options.get("actions")
    return agent


def state(winner: str | None, slots: dict[str, Any] = SLOTS, **plans: dict[str, Any]) -> dict[str, Any]:
    cands = [{"id": plan, "title": plan.upper(), "parts": parts, "facts": {}} for plan, parts in plans.items()]
    return {
        "task": "Plan a trip",
        "user_id": "ana",
        "slots": dict(slots),
        "decision": {"winner": winner, "next_stage": "booking"},
        "history": [{"type": "proposal", "agent": "optimistic", "content": {"candidates": cands, "excluded": []}}],
    }


async def act(agent: BookingAgent, snapshot: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], ScriptedChatModel]:
    model = ScriptedChatModel(script=[], strict=True)
    ctx = AgentContext(agent="booking", stage="booking", round=1, run_id="run-1", session_id="s-1", model=model)
    result = await agent(snapshot, ctx)
    return result.updates["history"], result.events, model


async def test_the_winners_actions_are_exactly_one_call_per_offer(booking: BookingAgent) -> None:
    other = {"outbound": {"id": "TP1363@2027-01-10"}, "hotel": {"id": "H-LIS-ALFAMA"}, "inbound": {"id": "BA0501@2027-01-13"}}
    entries, events, model = await act(booking, state("plan-2", **{"plan-1": other, "plan-2": {"outbound": OUT, "hotel": HOTEL, "inbound": BACK}}))
    *intents, actions = entries
    assert [(e["type"], e["content"]["tool"], e["content"]["label"], e["content"]["position"], e["content"]["purpose"]) for e in intents] == [
        ("tool_call", "book", "outbound flight", 0, "act"),
        ("tool_call", "book", "hotel", 1, "act"),
        ("tool_call", "book", "return flight", 2, "act"),
    ]
    assert [e["content"]["arguments"] for e in intents] == [
        {"kind": "flight", "item_id": "BA0500@2027-01-10", "traveller": "Ana Silva", "travellers": 2},
        {"kind": "hotel", "item_id": "H-LIS-BAIXA", "traveller": "Ana Silva", "checkin": "2027-01-10", "nights": 3, "travellers": 2},
        {"kind": "flight", "item_id": "TP1350@2027-01-13", "traveller": "Ana Silva", "travellers": 2},
    ]
    assert actions["type"] == "actions" and actions["content"] == {"winner": "plan-2", "planned": 3, "failed": {}}
    assert [e["data"]["label"] for e in events] == ["outbound flight", "hotel", "return flight"]
    assert model.calls == []


async def test_a_hotel_only_winner_books_the_hotel_alone(booking: BookingAgent) -> None:
    entries, _, _ = await act(booking, state("plan-1", **{"plan-1": {"hotel": HOTEL}}))
    *intents, actions = entries
    assert [(e["content"]["label"], e["content"]["arguments"]["item_id"]) for e in intents] == [("hotel", "H-LIS-BAIXA")]
    assert actions["content"]["planned"] == 1 and actions["content"]["failed"] == {}


async def test_a_decision_that_names_no_proposed_candidate_acts_on_nothing(booking: BookingAgent) -> None:
    entries, events, _ = await act(booking, state("plan-9", **{"plan-1": {"hotel": HOTEL}}))
    assert [e["type"] for e in entries] == ["note"] and events == []
    assert entries[0]["content"]["note"] == "nothing to act on: the decision names no proposed candidate ('plan-9')"


def with_outcomes(snapshot: dict[str, Any], entries: list[dict[str, Any]], oks: list[bool]) -> dict[str, Any]:
    """The state after the tool node ran each intent (`oks[n]`: whether call n succeeded)."""
    history = list(snapshot["history"]) + entries
    calls = [e for e in history if e["type"] == "tool_call"]
    for n, (intent, ok) in enumerate(zip(calls, oks, strict=True)):
        content = {"tool": intent["content"]["tool"], "ok": ok, "content": {"booking_id": f"BK-{n}"} if ok else None,
                   "error": None if ok else "refused", "call": n, "label": intent["content"]["label"], "purpose": "act"}
        history.append({"type": "tool_result" if ok else "tool_error", "agent": "tool_runtime", "content": content})
    return {**snapshot, "history": history}


async def test_an_action_whose_arguments_cannot_be_computed_fails_the_outcome(booking: BookingAgent) -> None:
    """The hotel offer has no id: the flights are booked, the hotel is recorded as failed."""
    snapshot = state("plan-1", **{"plan-1": {"outbound": OUT, "hotel": {"total_eur": 360.0}, "inbound": BACK}})
    entries, _, _ = await act(booking, snapshot)
    *intents, actions = entries
    assert [e["content"]["label"] for e in intents] == ["outbound flight", "return flight"]
    assert list(actions["content"]["failed"]) == ["hotel"]
    assert actions["content"]["failed"]["hotel"].startswith("its arguments could not be computed: evaluation failed")
    outcome = outcome_of(with_outcomes(snapshot, entries, [True, True]))
    assert outcome.status == "actions_failed"
    assert outcome.headline.startswith("actions failed for plan-1 (PLAN-1): 2 of 3 succeeded; hotel(): its arguments could not be computed")
    assert [(a["label"], a["ok"]) for a in outcome.actions] == [("outbound flight", True), ("return flight", True), ("hotel", False)]


async def test_an_argument_without_a_value_fails_every_action_that_needs_it(booking: BookingAgent) -> None:
    snapshot = state("plan-1", {**SLOTS, "traveller": None}, **{"plan-1": {"outbound": OUT, "hotel": HOTEL, "inbound": BACK}})
    entries, events, _ = await act(booking, snapshot)
    (actions,) = entries
    assert events == [] and actions["content"]["planned"] == 0
    assert actions["content"]["failed"] == {
        "outbound flight": "no value for traveller", "hotel": "no value for traveller", "return flight": "no value for traveller",
    }
    outcome = outcome_of(snapshot | {"history": snapshot["history"] + entries})
    assert outcome.status == "actions_failed" and outcome.headline.startswith("actions failed for plan-1 (PLAN-1): 0 of 3 succeeded")


# --- on the real travel server -----------------------------------------------------------------

async def test_a_run_books_exactly_the_winners_offers_for_its_slots(demo_script: dict[str, Any], tmp_path: Path) -> None:
    runtime = WorkspaceRunner.load("demo", models={"default": ScriptedChatModel(script=demo_script)})
    async with runtime.open_store_and_tools(tmp_path / "m.db", builtins=builtin_servers(tmp_path)) as (saver, index):
        result = await runtime.orchestrator(saver, index=index).run("Two people, Madrid to Lisbon, from 12 March to 15 March, max €2000", user_id="Ana Silva")
    outcome = outcome_of(result.state)
    assert outcome.status == "done", outcome.headline
    chosen = outcome.chosen
    assert chosen is not None and chosen["id"] == result.state["decision"]["winner"]
    booked = Inventory(tmp_path / "travel.db").bookings()
    assert [b.item_id for b in booked] == [chosen["parts"][p]["id"] for p in ("outbound", "hotel", "inbound")]
    assert {(b.traveller, b.travellers, b.status) for b in booked} == {("Ana Silva", 2, "confirmed")}
    hotel = booked[1]
    slots = result.state["slots"]
    assert slots["start"].endswith("-03-12") and slots["nights"] == 3
    assert (hotel.city, hotel.start_date, hotel.nights) == ("Lisbon", slots["start"], 3)
    assert [b.booking_id for b in booked] == [a["result"]["booking_id"] for a in outcome.actions]


async def test_a_run_whose_every_action_the_server_refused_reports_actions_failed(demo_script: dict[str, Any], tmp_path: Path) -> None:
    """A copy of the demo that books offers under ids the server never returned: every call is
    refused, nothing is booked, and the outcome says so (never `done`)."""
    ws = tmp_path / "ws"
    shutil.copytree(DEMO, ws)
    path = ws / "agents" / "booking.yaml"
    text = path.read_text()
    for part in ("outbound", "hotel", "inbound"):
        text = text.replace(f"\"=parts['{part}']['id']\"", f"\"='GONE-' + parts['{part}']['id']\"")
    assert text.count("GONE-") == 3
    path.write_text(text)
    runtime = WorkspaceRunner.load(ws, models={"default": ScriptedChatModel(script=demo_script)})
    async with runtime.open_store_and_tools(tmp_path / "m.db", builtins=builtin_servers(tmp_path)) as (saver, index):
        result = await runtime.orchestrator(saver, index=index).run("Plan a 3-day trip to Lisbon under 1500 EUR")
    outcome = outcome_of(result.state)
    assert outcome.status == "actions_failed"
    assert "0 of 3 succeeded" in outcome.headline
    parts = (outcome.chosen or {})["parts"]
    assert [r.split(": ", 1)[1].split(";")[0] for r in outcome.reasons] == [
        f"unknown {kind} 'GONE-{parts[part]['id']}'" for kind, part in (("flight", "outbound"), ("hotel", "hotel"), ("flight", "inbound"))
    ]
    assert all(not a["ok"] and a["error"] for a in outcome.actions)
    assert Inventory(tmp_path / "travel.db").bookings() == []
