"""What a run came to, read from its final state alone: done, infeasible, actions_failed, undecided."""

from __future__ import annotations

from typing import Any

from moot.outcome import outcome_of

PLAN = {"id": "plan-1", "title": "Casa do Fado, 2 night(s)", "parts": {"hotel": {"id": "H-LIS-ALFAMA"}}, "facts": {"total_eur": 170.0}}
EXCLUDED = {"id": "H-LIS-AVENIDA", "title": "Avenida Grand, 2 night(s)", "reasons": ["total 480 EUR is over the budget of 300 EUR"]}
BOOK = {"kind": "hotel", "item_id": "H-LIS-ALFAMA", "traveller": "Ana Silva", "checkin": "2027-01-10", "nights": 2}


def entry(type_: str, content: dict[str, Any], agent: str = "x") -> dict[str, Any]:
    return {"type": type_, "agent": agent, "stage": "s", "round": 1, "content": content}


def proposed(*cands: dict[str, Any], excluded: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return entry("proposal", {"candidates": list(cands), "excluded": list(excluded)}, "optimistic")


def intent(arguments: dict[str, Any] = BOOK, *, purpose: str = "act", label: str = "hotel") -> dict[str, Any]:
    return entry("tool_call", {"tool": "book", "arguments": arguments, "status": "intent", "purpose": purpose, "label": label}, "booking")


def result(call: int, ok: bool = True, *, purpose: str = "act", error: str = "") -> dict[str, Any]:
    content = {"tool": "book", "ok": ok, "call": call, "purpose": purpose, "content": {"booking_id": "BK-00001"} if ok else None, "error": error or None}
    return entry("tool_result" if ok else "tool_error", content, "tool_runtime")


def decided(history: list[dict[str, Any]], winner: str | None = "plan-1", **decision: Any) -> dict[str, Any]:
    return {"history": history, "decision": {"winner": winner, **decision}, "slots": {"destination": "Lisbon"}}


def test_done_when_every_action_succeeded() -> None:
    search = [intent({"city": "Lisbon"}, purpose="gather", label="hotel"), result(0, purpose="gather")]
    out = outcome_of(decided([*search, proposed(PLAN, excluded=[EXCLUDED]), intent(), result(1)]))
    assert out.status == "done"
    assert out.headline == "done: plan-1 (Casa do Fado, 2 night(s)); 1 action(s) succeeded"
    assert out.reasons == () and out.chosen == PLAN and out.slots == {"destination": "Lisbon"}
    assert out.actions == ({"tool": "book", "arguments": BOOK, "label": "hotel", "ok": True, "result": {"booking_id": "BK-00001"}},)
    assert out.excluded == (EXCLUDED,)  # what was excluded, and why, is part of the outcome


def test_a_decision_that_needed_no_action_is_done() -> None:
    out = outcome_of(decided([proposed(PLAN)]))
    assert (out.status, out.headline, out.actions) == ("done", "decided: plan-1 (Casa do Fado, 2 night(s))", ())


def test_a_winner_that_was_never_proposed_is_named_by_its_id() -> None:
    out = outcome_of(decided([proposed(PLAN)], winner="approve", chosen=None))
    assert (out.status, out.headline, out.chosen) == ("done", "decided: approve", None)


def test_infeasible_with_the_decisions_reasons() -> None:
    state = decided([proposed(excluded=[EXCLUDED])], winner=None, outcome="infeasible", reasons=["total 480 EUR is over the budget of 300 EUR"])
    out = outcome_of(state)
    assert out.status == "infeasible"
    assert out.headline == "nothing feasible: total 480 EUR is over the budget of 300 EUR"
    assert out.reasons == ("total 480 EUR is over the budget of 300 EUR",) and out.excluded == (EXCLUDED,)
    assert out.chosen is None and out.actions == ()


def test_infeasible_without_stated_reasons_reads_them_from_history() -> None:
    history = [
        entry("intake", {"problems": ["unknown destination 'Bahia': the servers know Lisbon"]}, "intake"),
        entry("proposal", {"candidates": [], "excluded": [], "infeasible": {"reasons": ["no hotel offers: search_hotels(city=\"Bahia\") found none"]}}),
    ]
    out = outcome_of(decided(history, winner=None))
    assert out.status == "infeasible"
    assert out.reasons == ("unknown destination 'Bahia': the servers know Lisbon", "no hotel offers: search_hotels(city=\"Bahia\") found none")


def test_infeasible_without_any_reason_still_gives_one() -> None:
    out = outcome_of(decided([], winner=None))
    assert (out.status, out.reasons) == ("infeasible", ("no candidate could be proposed",))


def test_infeasible_after_a_failed_search_names_the_search() -> None:
    history = [intent({"city": "Rome"}, purpose="gather"), result(0, ok=False, purpose="gather", error="the server is down")]
    out = outcome_of(decided(history, winner=None, outcome="infeasible"))
    assert out.reasons == ("book failed: the server is down",)


def test_actions_failed_names_the_failed_call_and_its_error() -> None:
    back = {**BOOK, "kind": "flight", "item_id": "TP1350@2027-01-12"}
    history = [proposed(PLAN), intent(), intent(back, label="return flight"), result(0), result(1, ok=False, error="flight TP1350 is sold out")]
    out = outcome_of(decided(history))
    assert out.status == "actions_failed"
    assert out.headline == (
        'actions failed for plan-1 (Casa do Fado, 2 night(s)): 1 of 2 succeeded; book(kind="flight", item_id="TP1350@2027-01-12", '
        'traveller="Ana Silva", checkin="2027-01-10", nights=2): flight TP1350 is sold out'
    )
    assert [a["ok"] for a in out.actions] == [True, False]


def test_an_intent_never_executed_is_a_failed_action() -> None:
    out = outcome_of(decided([proposed(PLAN), intent()]))
    assert out.status == "actions_failed" and out.actions[0]["error"] == "not executed"


def test_actions_whose_arguments_could_not_be_computed_fail_the_outcome() -> None:
    failed = entry("actions", {"winner": "plan-1", "planned": 0, "failed": {"hotel": "no value for traveller"}}, "booking")
    out = outcome_of(decided([proposed(PLAN), failed]))
    assert out.status == "actions_failed"
    assert out.reasons == ("hotel(): no value for traveller",)
    assert out.headline.endswith("0 of 1 succeeded; hotel(): no value for traveller")


def test_a_run_whose_every_action_was_refused_is_never_done() -> None:
    history = [proposed(PLAN), intent(), intent(label="again"), result(0, ok=False, error="unknown hotel"), result(1, ok=False, error="unknown hotel")]
    out = outcome_of(decided(history))
    assert out.status == "actions_failed" and "0 of 2 succeeded" in out.headline


def test_failed_searches_do_not_count_as_failed_actions() -> None:
    history = [intent({"city": "Rome"}, purpose="gather"), result(0, ok=False, purpose="gather", error="down"), proposed(PLAN)]
    assert outcome_of(decided(history)).status == "done"


def test_undecided_when_the_run_ended_without_a_decision() -> None:
    intake = entry("intake", {"problems": ["the task does not say the destination"]}, "intake")
    out = outcome_of({"history": [intake], "decision": None})
    assert out.status == "undecided"
    assert out.headline == "no decision was reached"
    assert out.reasons == ("the task does not say the destination",)
    assert outcome_of({}).status == "undecided"


def test_as_dict_is_plain_data() -> None:
    data = outcome_of(decided([proposed(PLAN), intent(), result(0)])).as_dict()
    assert data["status"] == "done" and data["chosen"]["id"] == "plan-1"
    assert data["actions"][0]["result"] == {"booking_id": "BK-00001"} and data["excluded"] == ()
