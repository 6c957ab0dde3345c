"""What a task's predicates see, and how they (and `=` arguments) are evaluated.

A predicate is a `moot.expressions.Expression` parsed when the task set loads, with the names of
`PREDICATE_NAMES` plus the task set's probes. After a run it sees:

- `state`: the run's final state values; `outcome`: `Outcome.as_dict()` (or the single arm's
  outcome of the same keys); `decision`, `slots`, `history` (empty for the single arm);
- `vars` (the task's own values), `task` (the task text);
- `tool_errors`: the run's failed or refused tool calls;
- each probe's name: what that tool call returned on the run's own servers, after the run;
- `day(text)`: a date written for people ("next Friday", "in two weeks", "12 March") read as an
  ISO date, or None. It is the checker's own reading, with `dateparser`, independent of whatever
  the workspace uses to read the task: a checker that shared the code under test would agree with
  its bugs. Relative dates resolve against the run's `started_at` (the same moment the run read
  its task), so a task checked after midnight still means the run's "tomorrow".

An argument of a setup call or a probe that starts with `=` is an expression over `ARGUMENT_NAMES`
(`vars`, `task`, `day`); before a run `day` resolves against the current time.

`day` differs per run, so it goes to `Expression.evaluate` as a function (simpleeval calls only
what is in its function table, never a name's value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from moot.eval.records import ArmRun, PredicateResult
from moot.errors import ExpressionError
from moot.expressions import FUNCTIONS, Expression

PREDICATE_NAMES: frozenset[str] = frozenset(
    {"state", "outcome", "decision", "slots", "vars", "task", "history", "tool_errors", "day"}
)
"""Names every predicate may use, besides the task set's probes and the expression functions."""

ARGUMENT_NAMES: frozenset[str] = frozenset({"vars", "task", "day"})
"""Names an `=` argument of a setup call or a probe may use (a run's results are not known yet)."""

RESERVED: frozenset[str] = PREDICATE_NAMES | frozenset(FUNCTIONS) | {"True", "False", "None"}
"""Names a probe may not take."""

DayReader = Callable[[str], str | None]


def day_reader(started_at: str | None = None) -> DayReader:
    """`day(text)` resolved against `started_at` (ISO 8601, as in a run's state; default: now).

    The base is the run's local wall time (the offset is dropped, not converted): "next Friday"
    is the Friday of the user who started the run.
    """
    base = _base(started_at)

    def day(text: str) -> str | None:
        import dateparser  # a second or so to import its language data: only when a predicate asks

        found = dateparser.parse(
            str(text), languages=["en"], settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}
        )
        return found.date().isoformat() if found is not None else None

    return day


def _base(started_at: str | None) -> datetime:
    if started_at:
        try:
            return datetime.fromisoformat(str(started_at)).replace(tzinfo=None)
        except ValueError:
            pass
    return datetime.now()


def evaluate(expression: Expression, names: Mapping[str, Any], day: DayReader) -> Any:
    """The value of a parsed expression over `names`, with `day` among its functions (raises as
    simpleeval does, so a predicate can keep the error it failed with)."""
    return expression.evaluate(names, functions={"day": day})


def resolve(value: Any, names: Mapping[str, Any], day: DayReader) -> Any:
    """A setup call's or probe's arguments with every `=` expression replaced by its value."""
    if isinstance(value, Expression):
        return evaluate(value, names, day)
    if isinstance(value, Mapping):
        return {key: resolve(item, names, day) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, names, day) for item in value]
    return value


def run_names(run: ArmRun, *, task: str, task_vars: Mapping[str, Any], probes: Mapping[str, Any]) -> dict[str, Any]:
    """The names a predicate sees after `run` (see the module docstring)."""
    state = dict(run.state)
    outcome = dict(run.outcome)
    return {
        "state": state,
        "outcome": outcome,
        "decision": dict(state.get("decision") or {}),
        "slots": dict(outcome.get("slots") or state.get("slots") or {}),
        "vars": dict(task_vars),
        "task": task,
        "history": list(state.get("history") or []),
        "tool_errors": [dict(e) for e in run.tool_errors],
        **probes,
    }


def check(group: str, expression: Expression, names: Mapping[str, Any], day: DayReader) -> PredicateResult:
    """One predicate on one run; one that raises has failed, with the error kept."""
    where = expression.where or ""
    try:
        held = bool(evaluate(expression, names, day))
    except ExpressionError as exc:  # every evaluation failure means "did not hold"
        return PredicateResult(group, expression.source, where, False, exc.reason.removeprefix("evaluation failed: "))
    return PredicateResult(group, expression.source, where, held)


__all__ = [
    "ARGUMENT_NAMES",
    "DayReader",
    "PREDICATE_NAMES",
    "RESERVED",
    "check",
    "day_reader",
    "evaluate",
    "resolve",
    "run_names",
]
