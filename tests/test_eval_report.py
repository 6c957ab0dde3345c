"""The checker's own instruments: `day()`, predicate evaluation, `=` arguments, and the Wilson interval."""

from __future__ import annotations

import pytest

from moot.eval import wilson
from moot.eval.predicates import ARGUMENT_NAMES, check, day_reader, resolve
from moot.eval.records import RunRecord
from moot.eval.report import rate
from moot.expressions import Expression

STARTED = "2026-12-06T21:40:15+01:00"  # a Sunday evening


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("next Friday", "2026-12-11"),
        ("in two weeks", "2026-12-20"),
        ("2027-01-10", "2027-01-10"),
        ("12 March", "2027-03-12"),  # a date without a year is the next one
        ("tomorrow", "2026-12-07"),
        ("the day the moon falls", None),
    ],
)
def test_day_reads_dates_against_the_runs_start(text: str, expected: str | None) -> None:
    assert day_reader(STARTED)(text) == expected


def test_predicates_call_day_and_a_predicate_that_raises_has_failed() -> None:
    names = {"mine": [{"start_date": "2026-12-11", "price_eur": 90}], "vars": {"when": "next friday"}}
    day = day_reader(STARTED)
    src = "all(b['start_date'] == day(vars['when']) for b in mine) and sum(b['price_eur'] for b in mine) < 100"
    held = check("expect", Expression.parse(src, where="t.yaml:3:7", names=frozenset({"mine", "vars", "day"})), names, day)
    assert held.ok and held.error is None and held.where == "t.yaml:3:7"
    wrong = check("booked", Expression.parse("mine[0]['start_date'] == day('next monday')", names=frozenset({"mine", "day"})), names, day)
    assert not wrong.ok and wrong.error is None
    raised = check("booked", Expression.parse("mine[3]['price_eur'] > 0", where="t.yaml:9:7", names=frozenset({"mine"})), names, day)
    assert not raised.ok and raised.error is not None and "IndexError" in raised.error
    assert raised.describe().startswith("mine[3]['price_eur'] > 0 (t.yaml:9:7): IndexError")


def test_equals_arguments_are_computed_from_vars_task_and_day() -> None:
    checkin = Expression.parse("day(vars['when'])", names=ARGUMENT_NAMES)
    nights = Expression.parse("vars['nights'] + 1", names=ARGUMENT_NAMES)
    arguments = {"checkin": checkin, "nights": nights, "tags": [Expression.parse("task", names=ARGUMENT_NAMES)], "kind": "hotel"}
    names = {"vars": {"when": "next friday", "nights": 1}, "task": "Lisbon"}
    assert resolve(arguments, names, day_reader(STARTED)) == {"checkin": "2026-12-11", "nights": 2, "tags": ["Lisbon"], "kind": "hotel"}


def test_wilson_score_interval() -> None:
    low, high = wilson(8, 10)  # type: ignore[misc]
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson(0, 0) is None
    low, high = wilson(0, 5)  # type: ignore[misc]
    assert low == 0.0 and round(high, 3) == 0.434
    low, high = wilson(5, 5)  # type: ignore[misc]
    assert high == 1.0 and round(low, 3) == 0.566
    with pytest.raises(ValueError):
        wilson(6, 5)


def test_a_run_with_an_error_or_without_predicates_is_never_a_success() -> None:
    from moot.eval.records import PredicateResult

    held = PredicateResult("expect", "True", "t.yaml:1:1", True)
    records = [
        RunRecord("a", "moot", 0, True, 1.0, predicates=(held,)),
        RunRecord("b", "moot", 0, True, 1.0, predicates=(held,), error="timeout"),
        RunRecord("c", "moot", 0, False, 1.0),
    ]
    assert [r.ok for r in records] == [True, False, False]
    assert rate(records) == {"runs": 3, "ok": 1, "success_rate": 0.3333, "ci95": [round(x, 4) for x in wilson(1, 3)]}  # type: ignore[union-attr]
