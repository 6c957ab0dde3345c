"""Grounded candidates: bundles of offers that searches returned, checked by the hard constraints.

The menu (`build_menu`) is tested on hand-written search results in history, with the built-in
demo's own `grounded:` spec and constraints; the proposer, evaluator and synthesizer with a
scripted model; and one run of the demo on the real travel server, whose every candidate is
compared with what the searches returned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moot.agents.base import AgentContext
from moot.agents.grounded import Grounding, build_menu
from moot.agents.roles import EvaluatorAgent, ProposerAgent, SynthesizerAgent
from moot.constraints import Constraint
from moot.errors import AgentOutputError
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner
from moot.builtin.servers import builtin_servers
from moot.workspace.loader import Workspace, load_workspace

SLOTS = {
    "destination": "Lisbon", "origin": "London", "start": "2026-12-20", "end": "2026-12-22",
    "nights": 2, "travellers": 1, "budget_eur": None, "hotel_only": False,
}


def flight(flight_no: str, origin: str, destination: str, day: str, total: float, departs: str = "08:15") -> dict[str, Any]:
    return {
        "id": f"{flight_no}@{day}", "flight": flight_no, "carrier": "TAP", "origin": origin, "destination": destination,
        "date": day, "departs": departs, "travellers": 1, "price_eur": total, "total_eur": total,
    }


def hotel(hotel_id: str, name: str, nightly: float, nights: int = 2) -> dict[str, Any]:
    return {
        "id": hotel_id, "name": name, "city": "Lisbon", "checkin": "2026-12-20", "nights": nights, "travellers": 1,
        "nightly_eur": nightly, "total_eur": nightly * nights,
    }


OUT_A = flight("TP1363", "London", "Lisbon", "2026-12-20", 100.0)
OUT_B = flight("BA0500", "London", "Lisbon", "2026-12-20", 150.0)
H1 = hotel("H-LIS-ALFAMA", "Casa do Fado guesthouse, Alfama", 100.0)
H2 = hotel("H-LIS-BAIXA", "Pombalina Baixa Suites", 150.0)
BACK = flight("TP1350", "Lisbon", "London", "2026-12-22", 100.0, departs="06:55")


def searched(label: str, tool: str, arguments: dict[str, Any], n: int, offers: list[Any] | None = None, error: str | None = None) -> list[dict[str, Any]]:
    """A scout's intent and the tool node's outcome, as they stand in history."""
    intent = {"tool": tool, "arguments": arguments, "status": "intent", "position": n, "label": label, "purpose": "gather"}
    ok = error is None
    outcome = {"tool": tool, "ok": ok, "content": offers if ok else None, "error": error, "label": label, "purpose": "gather", "call": n}
    return [
        {"type": "tool_call", "agent": "scout", "stage": "gather", "round": 1, "content": intent},
        {"type": "tool_result" if ok else "tool_error", "agent": "tool_runtime", "stage": "gather", "round": 1, "content": outcome},
    ]


def gather(not_needed: list[str] = (), skipped: dict[str, str] | None = None) -> dict[str, Any]:  # type: ignore[assignment]
    content = {"calls": ["outbound", "hotel", "inbound"], "skipped": skipped or {}, "not_needed": list(not_needed)}
    return {"type": "gather", "agent": "scout", "stage": "gather", "round": 1, "content": content}


def history(outbound: list[Any] | None = None, hotels: list[Any] | None = None, inbound: list[Any] | None = None) -> list[dict[str, Any]]:
    out = [gather()]
    out += searched("outbound", "search_flights", {"origin": "London", "destination": "Lisbon", "date": "2026-12-20"}, 0, [OUT_A, OUT_B] if outbound is None else outbound)
    out += searched("hotel", "search_hotels", {"city": "Lisbon", "checkin": "2026-12-20", "nights": 2}, 1, [H1, H2] if hotels is None else hotels)
    out += searched("inbound", "search_flights", {"origin": "Lisbon", "destination": "London", "date": "2026-12-22"}, 2, [BACK] if inbound is None else inbound)
    return out


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return load_workspace("demo")


@pytest.fixture(scope="module")
def grounding(demo: Workspace) -> Grounding:
    return demo.agents["optimistic"].options["grounded"]


@pytest.fixture(scope="module")
def constraints(demo: Workspace) -> tuple[Constraint, ...]:
    return demo.constraints


def ids(cand: dict[str, Any]) -> tuple[str, ...]:
    return tuple(cand["parts"][p]["id"] for p in ("outbound", "hotel", "inbound") if p in cand["parts"])


# --- the menu ---------------------------------------------------------------------------------

def test_options_bundle_the_offers_the_searches_returned(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    menu = build_menu(grounding, constraints, history(), SLOTS)
    assert menu.combinations == 4 and menu.excluded == [] and menu.why_empty == []
    assert [o["id"] for o in menu.options] == ["plan-1", "plan-2", "plan-3", "plan-4"]
    offers = {"outbound": [OUT_A, OUT_B], "hotel": [H1, H2], "inbound": [BACK]}
    for option in menu.options:
        assert set(option["parts"]) == {"outbound", "hotel", "inbound"}
        for part, offer in option["parts"].items():
            assert offer in offers[part]  # the offer as the search returned it, every field
        assert option["facts"]["total_eur"] == sum(p["total_eur"] for p in option["parts"].values())
        assert option["facts"]["hotel_eur"] == option["parts"]["hotel"]["total_eur"]
        assert option["title"].startswith(option["parts"]["hotel"]["name"])
        assert f"total {option['facts']['total_eur']:g} EUR" in option["summary"]
    assert menu.options[0]["title"] == "Casa do Fado guesthouse, Alfama, 2 night(s)"
    assert menu.options[0]["summary"] == "flights TP1363 out 08:15, TP1350 back 06:55; hotel 100 EUR a night; total 400 EUR"


def test_the_cheapest_comes_first_then_options_that_use_other_offers(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    """Totals: A+H1 400, B+H1 450, A+H2 500, B+H2 550. The second option is not the second
    cheapest (which repeats the Alfama hotel) but the one whose offers are all new."""
    menu = build_menu(grounding, constraints, history(), SLOTS)
    assert [ids(o)[:2] for o in menu.options] == [
        ("TP1363@2026-12-20", "H-LIS-ALFAMA"),
        ("BA0500@2026-12-20", "H-LIS-BAIXA"),
        ("BA0500@2026-12-20", "H-LIS-ALFAMA"),
        ("TP1363@2026-12-20", "H-LIS-BAIXA"),
    ]
    two = build_menu(Grounding(**{**vars(grounding), "options": 2}), constraints, history(), SLOTS)
    assert [o["facts"]["total_eur"] for o in two.options] == [400, 550]


def test_constraints_exclude_bundles_with_their_reason_before_anyone_sees_them(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    menu = build_menu(grounding, constraints, history(), {**SLOTS, "budget_eur": 460.0})
    assert [(ids(o), o["facts"]["total_eur"]) for o in menu.options] == [
        (("TP1363@2026-12-20", "H-LIS-ALFAMA", "TP1350@2026-12-22"), 400),
        (("BA0500@2026-12-20", "H-LIS-ALFAMA", "TP1350@2026-12-22"), 450),
    ]
    assert menu.counts == {"within budget": 2}
    assert menu.record() == {"combinations": 4, "feasible": 2, "excluded_by": {"within budget": 2}}
    # closest to feasible first, each with the constraint's own words
    assert [(e["id"], e["reasons"]) for e in menu.excluded] == [
        ("H-LIS-BAIXA + TP1350@2026-12-22 + TP1363@2026-12-20", ["total 500 EUR is over the budget of 460 EUR"]),
        ("BA0500@2026-12-20 + H-LIS-BAIXA + TP1350@2026-12-22", ["total 550 EUR is over the budget of 460 EUR"]),
    ]
    assert menu.excluded[0]["title"] == "Pombalina Baixa Suites, 2 night(s)"


def test_an_offer_that_breaks_a_constraint_is_excluded_whatever_it_costs(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    porto = {**hotel("H-OPO-BOLHAO", "Bolhão Market Rooms", 10.0), "city": "Porto"}
    menu = build_menu(grounding, constraints, history(hotels=[porto, H1]), SLOTS)
    assert {o["parts"]["hotel"]["id"] for o in menu.options} == {"H-LIS-ALFAMA"}
    assert menu.counts == {"hotel in the destination": 2}
    assert all(e["reasons"] == ["the hotel is in Porto, not Lisbon"] for e in menu.excluded)


def test_when_nothing_is_feasible_the_menu_says_why(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    menu = build_menu(grounding, constraints, history(), {**SLOTS, "budget_eur": 300.0})
    assert menu.options == []
    assert menu.why_empty == [
        "none of the 4 combination(s) of offers is feasible: within budget (4)",
        "closest: Casa do Fado guesthouse, Alfama, 2 night(s): total 400 EUR is over the budget of 300 EUR",
    ]


def test_a_part_whose_search_was_not_needed_is_left_out_of_the_bundles(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    """A hotel-only trip: the scout did not search flights, so bundles are hotels alone."""
    hist = [gather(not_needed=["outbound", "inbound"])]
    hist += searched("hotel", "search_hotels", {"city": "Lisbon", "checkin": "2026-12-20", "nights": 2}, 0, [H1, H2])
    menu = build_menu(grounding, constraints, hist, {**SLOTS, "hotel_only": True})
    assert [list(o["parts"]) for o in menu.options] == [["hotel"], ["hotel"]]
    assert [o["facts"] for o in menu.options] == [
        {"total_eur": 200.0, "hotel_eur": 200.0, "flights_eur": 0},
        {"total_eur": 300.0, "hotel_eur": 300.0, "flights_eur": 0},
    ]
    assert menu.options[0]["title"] == "Casa do Fado guesthouse, Alfama, 2 night(s)"
    assert menu.options[0]["summary"].startswith("no flights; hotel 100 EUR a night")


def test_a_failed_search_empties_the_menu_and_names_the_call(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    hist = [gather()]
    hist += searched("outbound", "search_flights", {"origin": "Porto", "destination": "Berlin"}, 0, error="TravelError: no such route")
    hist += searched("hotel", "search_hotels", {"city": "Berlin"}, 1, [H1])
    hist += searched("inbound", "search_flights", {"origin": "Berlin", "destination": "Porto"}, 2, [])
    menu = build_menu(grounding, constraints, hist, SLOTS)
    assert menu.options == [] and menu.combinations == 0
    assert menu.why_empty == [
        'no outbound offers: search_flights(origin="Porto", destination="Berlin") failed: TravelError: no such route',
        'no inbound offers: search_flights(origin="Berlin", destination="Porto") found none',
    ]


def test_a_search_that_was_not_made_says_why(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    hist = [gather(skipped={"outbound": "no value for origin", "inbound": "no value for destination"})]
    hist += searched("hotel", "search_hotels", {"city": "Lisbon"}, 0, [H1])
    menu = build_menu(grounding, constraints, hist, SLOTS)
    assert menu.options == []
    assert menu.why_empty == [
        "no outbound offers: the search 'outbound' was not made (no value for origin)",
        "no inbound offers: the search 'inbound' was not made (no value for destination)",
    ]


def test_a_bundle_whose_facts_cannot_be_computed_is_excluded(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    unpriced = {k: v for k, v in H2.items() if k != "total_eur"}
    menu = build_menu(grounding, constraints, history(hotels=[H1, unpriced]), SLOTS)
    assert {o["parts"]["hotel"]["id"] for o in menu.options} == {"H-LIS-ALFAMA"}
    assert menu.counts == {"facts": 2}
    assert all(e["reasons"][0].startswith("a fact could not be computed: ") for e in menu.excluded)


def test_the_combinations_are_capped(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    many = [hotel(f"H-LIS-{i}", f"Hotel {i}", 50.0 + i) for i in range(30)]
    menu = build_menu(Grounding(**{**vars(grounding), "max_combinations": 7}), constraints, history(hotels=many), SLOTS)
    assert menu.combinations == 7 and len(menu.options) == grounding.options


# --- the proposer -----------------------------------------------------------------------------

def proposer(grounding: Grounding, constraints: tuple[Constraint, ...], *, max_candidates: int = 2) -> ProposerAgent:
    options = {"grounded": grounding, "constraints": constraints, "max_candidates": max_candidates}
    return ProposerAgent("optimistic", prompt="Pick the best options.", writes=("history", "rewards"), dimensions=("quality",), options=options)


def ctx(model: ScriptedChatModel, agent: str = "optimistic", *, max_repairs: int = 2, weights: dict[str, float] | None = None) -> AgentContext:
    return AgentContext(agent=agent, stage="proposal", round=1, run_id="run-1", session_id="s-1", model=model, max_repairs=max_repairs, stage_weights=weights or {})


def pick(plan: str, pitch: str = "A fine option.", quality: float = 0.7) -> dict[str, Any]:
    return {"id": plan, "pitch": pitch, "quality": quality}


async def test_a_grounded_proposal_takes_ids_from_the_model_and_everything_else_from_the_offers(
    grounding: Grounding, constraints: tuple[Constraint, ...]
) -> None:
    model = ScriptedChatModel(script=[{"candidates": [pick("plan-2", "Only 5 EUR at the Ritz, by Concorde.", 0.9)]}])
    result = await proposer(grounding, constraints)({"task": "Plan a trip to Lisbon", "history": history(), "slots": SLOTS}, ctx(model))
    (entry,) = result.updates["history"]
    (cand,) = entry["content"]["candidates"]
    assert cand["id"] == "plan-2" and cand["pitch"] == "Only 5 EUR at the Ritz, by Concorde."
    assert cand["parts"] == {"outbound": OUT_B, "hotel": H2, "inbound": BACK}
    assert cand["facts"]["total_eur"] == 550.0 and "Ritz" not in cand["title"] + cand["summary"]
    assert result.updates["rewards"]["by_agent"] == {"optimistic": {"plan-2": {"quality": 0.9}}}
    # the model was offered the menu's ids only, and saw the options written by code
    schema = model.calls[0]["kwargs"]["response_format"]["json_schema"]["schema"]
    assert json.dumps(schema).count('"enum": ["plan-1", "plan-2", "plan-3", "plan-4"]') == 1
    prompt = model.calls[0]["messages"][-1].content
    assert "- plan-1: Casa do Fado guesthouse, Alfama, 2 night(s) — flights TP1363 out 08:15, TP1350 back 06:55" in prompt


async def test_an_id_outside_the_menu_is_refused_and_repaired(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    model = ScriptedChatModel(script=[{"candidates": [pick("budget-hostel")]}, {"candidates": [pick("plan-3")]}])
    result = await proposer(grounding, constraints)({"history": history(), "slots": SLOTS}, ctx(model))
    assert len(model.calls) == 2
    repair = model.calls[1]["messages"][-1].content
    assert repair.startswith("That answer was not valid: candidates.0.id") and "'plan-1'" in repair
    assert [c["id"] for c in result.updates["history"][0]["content"]["candidates"]] == ["plan-3"]
    assert result.usage.calls == 2


async def test_an_id_outside_the_menu_every_time_fails_cleanly_after_the_repairs(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    model = ScriptedChatModel(script=[{"candidates": [pick("plan-9")]}])
    with pytest.raises(AgentOutputError) as info:
        await proposer(grounding, constraints)({"history": history(), "slots": SLOTS}, ctx(model, max_repairs=1))
    assert info.value.agent == "optimistic" and info.value.attempts == 2
    assert "candidates.0.id" in info.value.last_error
    assert len(model.calls) == 2


async def test_an_excluded_bundle_is_never_offered_and_is_recorded_with_its_reason(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    model = ScriptedChatModel(script=[{"candidates": [pick("plan-1"), pick("plan-2")]}])
    slots = {**SLOTS, "budget_eur": 460.0}
    result = await proposer(grounding, constraints)({"history": history(), "slots": slots}, ctx(model))
    content = result.updates["history"][0]["content"]
    assert [c["facts"]["total_eur"] for c in content["candidates"]] == [400, 450]
    assert [e["reasons"] for e in content["excluded"]] == [
        ["total 500 EUR is over the budget of 460 EUR"], ["total 550 EUR is over the budget of 460 EUR"],
    ]
    schema = json.dumps(model.calls[0]["kwargs"]["response_format"]["json_schema"]["schema"])
    assert '"enum": ["plan-1", "plan-2"]' in schema and "plan-3" not in schema
    prompt = model.calls[0]["messages"][-1].content
    assert "Pombalina" not in prompt  # neither excluded bundle (both with the Baixa hotel) reaches the model


async def test_a_repeated_pick_counts_once(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    model = ScriptedChatModel(script=[{"candidates": [pick("plan-1", "first", 0.4), pick("plan-1", "again", 0.8)]}])
    result = await proposer(grounding, constraints)({"history": history(), "slots": SLOTS}, ctx(model))
    assert [(c["id"], c["pitch"]) for c in result.updates["history"][0]["content"]["candidates"]] == [("plan-1", "first")]
    assert result.updates["rewards"]["by_agent"]["optimistic"] == {"plan-1": {"quality": 0.4}}


async def test_with_nothing_feasible_the_proposer_asks_the_model_nothing(grounding: Grounding, constraints: tuple[Constraint, ...]) -> None:
    model = ScriptedChatModel(script=[], strict=True)
    result = await proposer(grounding, constraints)({"history": history(), "slots": {**SLOTS, "budget_eur": 300.0}}, ctx(model))
    content = result.updates["history"][0]["content"]
    assert model.calls == []
    assert content["candidates"] == [] and len(content["excluded"]) == 4
    assert content["infeasible"]["reasons"][0] == "none of the 4 combination(s) of offers is feasible: within budget (4)"
    assert "rewards" not in result.updates


# --- reviewers and the synthesizer ------------------------------------------------------------

def proposal(candidates: list[str], excluded: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    content = {
        "candidates": [{"id": c, "title": c.upper(), "parts": {}, "facts": {}} for c in candidates],
        "excluded": [{"id": e, "title": e.upper(), "reasons": ["total 900 EUR is over the budget of 500 EUR"]} for e in excluded],
    }
    return {"type": "proposal", "agent": "optimistic", "stage": "proposal", "round": 1, "content": content}


async def test_an_evaluator_with_no_candidates_returns_nothing_and_asks_no_model() -> None:
    model = ScriptedChatModel(script=[], strict=True)
    critic = EvaluatorAgent("critic", prompt="Review.", writes=("history", "rewards"), dimensions=("risk",))
    result = await critic({"history": [proposal([], excluded=["plan-x"])]}, ctx(model, "critic"))
    assert result.updates == {} and result.events == [] and model.calls == []


async def test_the_synthesizer_can_never_pick_an_excluded_candidate() -> None:
    """The excluded bundle has the best scores anyone gave (a reviewer scored it anyway); the
    ranking ignores them and the model's wish, and the winner is a proposed candidate."""
    rewards = {
        "by_agent": {
            "critic": {"plan-x": {"quality": 1.0}, "plan-1": {"quality": 0.3}, "plan-2": {"quality": 0.6}},
            "measure": {"plan-x": {"value": 1.0}, "plan-1": {"value": 0.9}, "plan-2": {"value": 0.5}},
        },
        "counts": {},
    }
    model = ScriptedChatModel(script={"synthesizer": [{"rationale": "plan-x is clearly the best.", "next_stage": "booking"}]})
    synth = SynthesizerAgent("synthesizer", prompt="Decide.", writes=("history", "winner", "decision"))
    state = {"history": [proposal(["plan-1", "plan-2"], excluded=["plan-x"])], "rewards": rewards}
    result = await synth(state, ctx(model, "synthesizer", weights={"quality": 1.0, "value": 2.0}))
    decision = result.updates["decision"]
    assert result.updates["winner"] == decision["winner"] == "plan-1"
    assert [r["candidate"] for r in decision["ranking"]] == ["plan-1", "plan-2"]
    assert decision["why"] == "plan-1 ranks first with 2.10 (quality 0.30×1, value 0.90×2); next plan-2 with 1.60"
    prompt = model.calls[0]["messages"][-1].content
    assert "Ranking:\n1. plan-1 (weighted score 2.10)\n2. plan-2 (weighted score 1.60)" in prompt
    assert "plan-x" not in prompt


async def test_the_synthesizer_decides_nothing_feasible_by_code_with_the_reasons() -> None:
    model = ScriptedChatModel(script=[], strict=True)
    synth = SynthesizerAgent("synthesizer", prompt="Decide.", writes=("history", "winner", "decision"))
    intake = {"type": "intake", "agent": "intake", "content": {"problems": ["unknown destination 'Bahia': the servers know Lisbon"]}}
    result = await synth({"history": [intake]}, ctx(model, "synthesizer", weights={"value": 2.0}))
    decision = result.updates["decision"]
    assert model.calls == []
    assert result.updates["winner"] is None
    assert decision["outcome"] == "infeasible" and decision["next_stage"] == "final" and decision["winner"] is None
    assert decision["reasons"] == ["unknown destination 'Bahia': the servers know Lisbon"]
    assert decision["rationale"] == "Nothing feasible: unknown destination 'Bahia': the servers know Lisbon"
    assert result.updates["history"][0]["type"] == "decision"


# --- a whole run ------------------------------------------------------------------------------

async def test_every_id_price_and_name_of_a_runs_candidates_came_from_a_search(demo_script: dict[str, Any], tmp_path: Path) -> None:
    runtime = WorkspaceRunner.load("demo", models={"default": ScriptedChatModel(script=demo_script)})
    async with runtime.open_store_and_tools(tmp_path / "m.db", builtins=builtin_servers(tmp_path)) as (saver, index):
        result = await runtime.orchestrator(saver, index=index).run("Plan a 3-day trip to Lisbon under 1500 EUR")
    hist = result.state["history"]
    returned = {e["content"]["label"]: e["content"]["content"] for e in hist if e["type"] == "tool_result" and e["content"].get("purpose") == "gather"}
    assert set(returned) == {"outbound", "hotel", "inbound"} and all(returned.values())
    (prop,) = [e["content"] for e in hist if e["type"] == "proposal"]
    assert [c["id"] for c in prop["candidates"]] == ["plan-1", "plan-2"]
    for cand in prop["candidates"]:
        for part, offer in cand["parts"].items():
            assert offer in returned[part], f"{cand['id']}.{part} is not an offer {part!r} returned"
        assert cand["facts"]["total_eur"] == round(sum(o["total_eur"] for o in cand["parts"].values()), 2)
        assert cand["title"].startswith(cand["parts"]["hotel"]["name"])
        assert cand["parts"]["outbound"]["flight"] in cand["summary"] and cand["parts"]["inbound"]["flight"] in cand["summary"]
    assert result.state["decision"]["winner"] in {c["id"] for c in prop["candidates"]}


# --- optional parts ---------------------------------------------------------------------------


def test_flights_from_a_default_origin_with_no_route_are_left_out_and_the_plan_says_why(demo: Workspace) -> None:
    proposer = demo.agents["optimistic"]
    slots = {**SLOTS, "defaulted": ["origin", "start"]}
    menu = build_menu(proposer.options["grounded"], demo.constraints, history(outbound=[], inbound=[]), slots)
    assert menu.options and menu.why_empty == []
    assert {tuple(sorted(o["parts"])) for o in menu.options} == {("hotel",)}
    assert set(menu.left_out) == {"outbound", "inbound"} and "found none" in menu.left_out["outbound"]
    assert menu.options[0]["left_out"] == menu.left_out and menu.record()["left_out"] == menu.left_out
    assert "no flights" in menu.options[0]["summary"]


def test_flights_from_an_origin_the_task_named_are_never_left_out(demo: Workspace) -> None:
    proposer = demo.agents["optimistic"]
    slots = {**SLOTS, "defaulted": ["start"]}  # the task said "from London"
    menu = build_menu(proposer.options["grounded"], demo.constraints, history(outbound=[], inbound=[]), slots)
    assert menu.options == [] and menu.left_out == {}
    assert menu.why_empty[0].startswith("no outbound offers: search_flights(") and "found none" in menu.why_empty[0]
