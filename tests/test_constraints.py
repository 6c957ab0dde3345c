"""Hard constraints: a candidate that breaks one is excluded with the constraint's reason; a check
that cannot be evaluated excludes it too ("could not be checked"): an unchecked plan is never acted on.
"""

from __future__ import annotations

from typing import Any

import pytest

from moot.constraints import Constraint, candidate_names, violations
from moot.expressions import Expression
from moot.templates import Template
from moot.workspace.loader import load_workspace
from moot.workspace.spec_decide import NAMES

SLOTS = {"destination": "Lisbon", "nights": 2, "start": "2026-12-20", "end": "2026-12-22", "travellers": 1, "budget_eur": 500.0}
HOTEL = {"id": "H-LIS-ALFAMA", "city": "Lisbon", "nights": 2, "checkin": "2026-12-20", "travellers": 1, "total_eur": 170.0}
OUT = {"id": "TP1363@2026-12-20", "date": "2026-12-20", "travellers": 1, "total_eur": 113.0}
BACK = {"id": "TP1350@2026-12-22", "date": "2026-12-22", "travellers": 1, "total_eur": 115.0}


def expr(source: str) -> Expression:
    return Expression.parse(source, names=NAMES)


BUDGET = Constraint(
    "within budget",
    expr("facts['total_eur'] <= slots['budget_eur']"),
    when=expr("slots.get('budget_eur') is not None"),
    reason=Template.parse("total {facts['total_eur']} EUR is over the budget of {slots['budget_eur']} EUR", names=NAMES),
)


def bundle(total: float, **parts: Any) -> dict[str, Any]:
    return {"parts": parts or {"outbound": OUT, "hotel": HOTEL, "inbound": BACK}, "facts": {"total_eur": total}}


def test_a_candidate_within_the_budget_breaks_nothing() -> None:
    assert BUDGET.violation(candidate_names(bundle(398.0), SLOTS)) is None


def test_a_broken_constraint_gives_its_rendered_reason() -> None:
    assert BUDGET.violation(candidate_names(bundle(612.5), SLOTS)) == "total 612.50 EUR is over the budget of 500 EUR"


def test_a_constraint_whose_when_is_false_does_not_apply() -> None:
    assert BUDGET.violation(candidate_names(bundle(10_000.0), {**SLOTS, "budget_eur": None})) is None


def test_a_check_that_cannot_be_evaluated_excludes_the_candidate_saying_so() -> None:
    why = BUDGET.violation(candidate_names({"parts": {"hotel": HOTEL}, "facts": {}}, SLOTS))
    assert why is not None
    assert why.startswith("within budget: could not be checked (evaluation failed")
    assert "total_eur" in why


def test_a_when_that_cannot_be_evaluated_excludes_too() -> None:
    strict = Constraint("stars", expr("parts['hotel']['stars'] >= 3"), when=expr("slots['wants_stars']"))
    why = strict.violation(candidate_names(bundle(1.0), SLOTS))
    assert why is not None and why.startswith("stars: could not be checked")


def test_without_a_reason_or_with_a_reason_that_fails_the_name_is_the_reason() -> None:
    bare = Constraint("cheap", expr("facts['total_eur'] < 100"))
    assert bare.violation(candidate_names(bundle(150.0), SLOTS)) == "cheap"
    broken_reason = Constraint("cheap", expr("facts['total_eur'] < 100"), reason=Template.parse("{facts['missing']} EUR", names=NAMES))
    assert broken_reason.violation(candidate_names(bundle(150.0), SLOTS)) == "cheap"


def test_violations_lists_every_broken_constraint_in_order() -> None:
    nights = Constraint("the stay's nights", expr("parts['hotel']['nights'] == slots['nights']"))
    cheap = Constraint("cheap", expr("facts['total_eur'] < 100"))
    names = candidate_names(bundle(612.5), {**SLOTS, "nights": 3})
    assert violations([BUDGET, nights, cheap], names) == [
        "total 612.50 EUR is over the budget of 500 EUR", "the stay's nights", "cheap",
    ]
    assert violations([BUDGET], candidate_names(bundle(100.0), SLOTS)) == []


def test_candidate_names_gives_every_name_a_value_and_copies_the_candidate() -> None:
    cand = bundle(398.0)
    names = candidate_names(cand, None, task="Plan a trip", all_facts=[{"total_eur": 1}])
    assert names["slots"] == {} and names["task"] == "Plan a trip" and names["all_facts"] == [{"total_eur": 1}]
    assert names["user_id"] is None and names["started_at"] is None
    assert names["parts"] == cand["parts"] and names["facts"] == {"total_eur": 398.0}
    assert names["candidate"] == cand
    names["facts"]["total_eur"] = 0
    names["slots"]["x"] = 1
    assert cand["facts"] == {"total_eur": 398.0}  # a constraint cannot change the candidate it reads
    assert set(NAMES) <= set(names)  # every name an expression may use is bound


# --- the demo's own constraints ---------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_constraints() -> dict[str, Constraint]:
    return {c.name: c for c in load_workspace("demo").constraints}


def test_the_demo_accepts_a_bundle_that_fits_the_slots(demo_constraints: dict[str, Constraint]) -> None:
    names = candidate_names(bundle(398.0), SLOTS)
    assert violations(demo_constraints.values(), names) == []


@pytest.mark.parametrize(
    ("change", "name", "reason"),
    [
        ({"facts": {"total_eur": 730.0}}, "within budget", "total 730 EUR is over the budget of 500 EUR"),
        ({"hotel": {**HOTEL, "city": "Porto"}}, "hotel in the destination", "the hotel is in Porto, not Lisbon"),
        ({"hotel": {**HOTEL, "nights": 3}}, "the stay's nights", "the hotel is 3 nights from 2026-12-20, not 2 from 2026-12-20"),
        ({"inbound": {**BACK, "date": "2026-12-23"}}, "flights on the stay's dates", "the flights do not fly on 2026-12-20 and 2026-12-22"),
        ({"outbound": {**OUT, "travellers": 2}}, "room for everyone", "an offer is for another number of travellers than 1"),
    ],
)
def test_the_demo_excludes_a_bundle_with_the_broken_constraints_reason(
    demo_constraints: dict[str, Constraint], change: dict[str, Any], name: str, reason: str
) -> None:
    parts = {"outbound": OUT, "hotel": HOTEL, "inbound": BACK}
    parts.update({k: v for k, v in change.items() if k != "facts"})
    cand = {"parts": parts, "facts": change.get("facts", {"total_eur": 398.0})}
    assert violations(demo_constraints.values(), candidate_names(cand, SLOTS)) == [reason]
    assert demo_constraints[name].violation(candidate_names(cand, SLOTS)) == reason


def test_the_demos_budget_constraint_ignores_a_task_without_a_budget(demo_constraints: dict[str, Constraint]) -> None:
    names = candidate_names(bundle(9_999.0), {**SLOTS, "budget_eur": None})
    assert violations(demo_constraints.values(), names) == []


def test_a_hotel_only_bundle_needs_no_flights(demo_constraints: dict[str, Constraint]) -> None:
    names = candidate_names({"parts": {"hotel": HOTEL}, "facts": {"total_eur": 170.0}}, SLOTS)
    assert violations(demo_constraints.values(), names) == []
