"""`{expr}` templates, `=expr` values and `show`: text and arguments a workspace computes in YAML.

The names are those of a grounded candidate (`moot.workspace.spec_decide.NAMES`): the same
evaluator as exit rules, checked at parse time against the names the expression will see.
"""

from __future__ import annotations

from typing import Any

import pytest

from moot.errors import ExpressionError
from moot.expressions import Expression, add_days, days_between
from moot.templates import Template, Value, show
from moot.workspace.spec_decide import NAMES

HOTEL = {"id": "H-LIS-ALFAMA", "name": "Casa do Fado guesthouse, Alfama", "nights": 2, "total_eur": 170.0}
OUT = {"id": "TP1363@2026-12-20", "flight": "TP1363", "total_eur": 113.0}
BACK = {"id": "TP1350@2026-12-22", "flight": "TP1350", "total_eur": 115.5}


def names(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "slots": {"destination": "Lisbon", "nights": 2, "start": "2026-12-20", "traveller": "Ana Silva", "travellers": 2},
        "parts": {"outbound": OUT, "hotel": HOTEL, "inbound": BACK},
        "facts": {"total_eur": 398.5},
        "candidate": {},
        "all_facts": [],
        "task": "Plan a trip to Lisbon",
        "user_id": "ana",
        "started_at": "2026-12-06T10:00:00+00:00",
    }
    return {**base, **extra}


@pytest.mark.parametrize(
    ("value", "text"),
    [(478.0, "478"), (12.5, "12.50"), (12.345, "12.35"), (None, "—"), (True, "yes"), (False, "no"), (3, "3"), ("Lisbon", "Lisbon")],
)
def test_show_writes_a_value_as_a_person_reads_it(value: Any, text: str) -> None:
    assert show(value) == text


def test_a_template_fills_every_placeholder_from_the_candidate() -> None:
    template = Template.parse("{parts['hotel']['name']}, {slots['nights']} nights: {facts['total_eur']} EUR", names=NAMES)
    assert template.render(names()) == "Casa do Fado guesthouse, Alfama, 2 nights: 398.50 EUR"
    # literal text is kept apart from the expressions, in order
    assert [p if isinstance(p, str) else p.source for p in template.parts] == [
        "parts['hotel']['name']", ", ", "slots['nights']", " nights: ", "facts['total_eur']", " EUR",
    ]


def test_a_template_without_placeholders_is_its_text() -> None:
    assert Template.parse("no flights", names=NAMES).render({}) == "no flights"


def test_a_template_placeholder_may_hold_a_conditional_and_a_comprehension() -> None:
    template = Template.parse(
        "{('with ' + parts['outbound']['flight']) if 'outbound' in parts else 'no flights'}; "
        "{round(sum(p['total_eur'] for p in parts.values()), 2)}",
        names=NAMES,
    )
    assert template.render(names()) == "with TP1363; 398.50"
    assert template.render(names(parts={"hotel": HOTEL})) == "no flights; 170"


def test_a_failing_placeholder_raises_with_the_expression() -> None:
    template = Template.parse("{parts['hotel']['stars']} stars", where="agents/x.yaml:3:5", names=NAMES)
    with pytest.raises(ExpressionError) as info:
        template.render(names())
    assert info.value.expression == "parts['hotel']['stars']"
    assert "evaluation failed" in info.value.reason and "agents/x.yaml:3:5" in str(info.value)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{rewards['totals']}", "unknown name 'rewards'"),  # a state key, not a candidate's name
        ("{parts['hotel'][}", "syntax error"),
        ("{parts.__class__}", "attribute '__class__' is not allowed"),
    ],
)
def test_a_template_is_checked_against_the_names_it_will_see(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError, match=fragment.replace("[", r"\[")):
        Template.parse(source, where="agents/optimistic.yaml:20:10", names=NAMES)


def test_a_value_computes_its_expressions_and_keeps_the_rest_literal() -> None:
    value = Value.parse(
        {
            "kind": "hotel",
            "item_id": "=parts['hotel']['id']",
            "nights": "=slots['nights']",
            "checkout": "=add_days(slots['start'], slots['nights'])",
            "travellers": ["=slots['travellers']", 1, "two"],
            "nested": {"who": "=slots['traveller']", "plain": "Ana = Ana"},
        },
        names=NAMES,
    )
    assert value.render(names()) == {
        "kind": "hotel",
        "item_id": "H-LIS-ALFAMA",
        "nights": 2,
        "checkout": "2026-12-22",
        "travellers": [2, 1, "two"],
        "nested": {"who": "Ana Silva", "plain": "Ana = Ana"},
    }


def test_a_value_keeps_the_type_an_expression_returns() -> None:
    assert Value.parse("=slots['travellers'] * 2", names=NAMES).render(names()) == 4
    assert Value.parse("=slots.get('budget_eur')", names=NAMES).render(names()) is None
    assert Value.parse(7, names=NAMES).render({}) == 7


def test_a_value_with_a_bad_expression_fails_at_parse_not_at_render() -> None:
    with pytest.raises(ExpressionError) as info:
        Value.parse({"ok": "=slots['nights']", "bad": {"deep": ["=slots['start'"]}}, where="agents/scout.yaml:9:5", names=NAMES)
    assert info.value.expression == "slots['start'"
    assert "syntax error" in info.value.reason and "agents/scout.yaml:9:5" in str(info.value)


def test_a_value_whose_expression_fails_at_render_raises() -> None:
    value = Value.parse({"item_id": "=parts['outbound']['id']"}, names=NAMES)
    with pytest.raises(ExpressionError, match="evaluation failed"):
        value.render(names(parts={"hotel": HOTEL}))


@pytest.mark.parametrize(
    ("day", "days", "expected"),
    [("2026-12-20", 2, "2026-12-22"), ("2027-02-27", 3, "2027-03-02"), ("2028-02-28", 1, "2028-02-29"), ("2026-12-31", 1, "2027-01-01")],
)
def test_add_days_crosses_months_years_and_leap_days(day: str, days: int, expected: str) -> None:
    assert add_days(day, days) == expected
    assert days_between(day, expected) == days


def test_date_functions_are_available_to_expressions() -> None:
    expr = Expression.parse("days_between(slots['start'], add_days(slots['start'], slots['nights'])) == slots['nights']", names=NAMES)
    assert expr.holds(names())
    with pytest.raises(ExpressionError, match="evaluation failed"):
        Expression.parse("add_days('30 February', 1)", names=NAMES).evaluate({})


def test_comprehension_names_are_bound_but_other_unknown_names_are_refused() -> None:
    ok = Expression.parse("all(p.get('travellers', 1) <= slots['travellers'] for k, p in parts.items())", names=NAMES)
    assert ok.holds(names())
    with pytest.raises(ExpressionError, match="unknown name 'q'"):
        Expression.parse("all(p['total_eur'] > 0 for p in q)", names=NAMES)
    with pytest.raises(ExpressionError, match="unknown name 'history'"):
        Expression.parse("len(history) > 0", names=NAMES)  # a state key is not among a candidate's names
