"""Safe expressions for exit rules and transitions, checked when the workspace loads.

Workspace authors write conditions such as
`len(executed_agents_per_stage.get('proposal', [])) >= 2` or
`decision['next_stage'] == 'final'`. They are parsed once, at load time, so a typo fails the
load with the file and the expression rather than a run an hour later; they are evaluated by
`simpleeval` over a read-only view of the state, never by `eval`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from simpleeval import DEFAULT_OPERATORS, EvalWithCompoundTypes

from moot.errors import ExpressionError
from moot.state import STATE_KEYS


def add_days(day: str, days: int) -> str:
    """`day` (YYYY-MM-DD) moved by `days`: the checkout of a stay, the date of a return flight."""
    return (date.fromisoformat(str(day)) + timedelta(days=int(days))).isoformat()


def days_between(first: str, last: str) -> int:
    """Days from `first` to `last` (YYYY-MM-DD each): the nights of a stay."""
    return (date.fromisoformat(str(last)) - date.fromisoformat(str(first))).days


FUNCTIONS: dict[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "any": any,
    "all": all,
    "sorted": sorted,
    "set": set,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "add_days": add_days,
    "days_between": days_between,
}
"""The functions an expression may call: pure, cheap, no I/O."""

EXTRA_NAMES: frozenset[str] = frozenset(
    {"state", "executed", "runs", "agent", "max_rounds", "candidates", "True", "False", "None"}
)
"""Names besides the state keys: `executed` (agents that ran in the current visit of the stage),
`runs` (how often the agent under test ran in it), `agent`, `max_rounds`, `candidates`."""

ALLOWED_NAMES: frozenset[str] = frozenset(STATE_KEYS) | EXTRA_NAMES | frozenset(FUNCTIONS)
METHODS = frozenset(
    {"get", "keys", "values", "items", "count", "startswith", "endswith", "lower", "upper", "strip", "split", "splitlines", "replace", "join"}
)
"""The methods an expression may call: read-only methods of dicts, lists and strings."""


@dataclass(frozen=True)
class Expression:
    """A parsed, validated condition. Build with `Expression.parse`; call `evaluate(names)`."""

    source: str
    where: str | None = None
    _tree: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, source: str, *, where: str | None = None, names: frozenset[str] | None = None) -> Expression:
        """Parse and check `source`; raise `ExpressionError` naming `where` if it is not allowed.

        `names` replaces the state's names for expressions that see something else (a hard
        constraint sees `slots`, `facts` and `parts` of one candidate; an eval predicate sees
        the run's outcome and what the tools report). Functions are always allowed.
        """
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError(str(source), "an expression must be a non-empty string", where=where)
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(source, f"syntax error at column {exc.offset}: {exc.msg}", where=where) from None
        allowed = ALLOWED_NAMES if names is None else frozenset(names) | frozenset(FUNCTIONS) | {"True", "False", "None"}
        _check(tree, source, where, allowed)
        return cls(source.strip(), where, _tree=tree.body)

    def evaluate(self, names: Mapping[str, Any], functions: Mapping[str, Any] | None = None) -> Any:
        """Evaluate over `names` (the state view); a failure names the expression and its place.

        `functions` adds callables for this evaluation (simpleeval calls only what is in its
        function table, never a name's value): `moot eval`'s `day()` reads dates against a run.
        """
        table = {**FUNCTIONS, **(functions or {})}
        evaluator = EvalWithCompoundTypes(operators=DEFAULT_OPERATORS, functions=table, names=dict(names))
        try:
            return evaluator.eval(self.source, previously_parsed=self._tree)
        except Exception as exc:  # simpleeval raises many types; all mean "this condition failed"
            raise ExpressionError(self.source, f"evaluation failed: {type(exc).__name__}: {exc}", where=self.where) from None

    def holds(self, names: Mapping[str, Any]) -> bool:
        """True when the expression evaluates to a truthy value."""
        return bool(self.evaluate(names))

    def holds_or(self, names: Mapping[str, Any], default: bool) -> bool:
        """`holds`, or `default` when the expression cannot be evaluated (a name it reads is
        missing): the caller decides what an unknown condition means."""
        try:
            return self.holds(names)
        except ExpressionError:
            return default


def state_names(state: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The names an expression sees: every state key (missing ones as None) plus `extra`."""
    names: dict[str, Any] = {key: state.get(key) for key in STATE_KEYS}
    for key in ("history",):
        names[key] = list(state.get(key) or [])
    for key in ("rewards", "executed_agents_per_stage", "usage"):
        names[key] = dict(state.get(key) or {})
    names["decision"] = dict(state.get("decision") or {})
    names["state"] = names.copy()
    names.update(extra)
    return names


def _check(tree: ast.AST, source: str, where: str | None, allowed: frozenset[str] = ALLOWED_NAMES) -> None:
    # names bound by a comprehension (`b` in `all(b['ok'] for b in bookings)`) are its own
    bound = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.comprehension)
        for target in ast.walk(node.target)
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in allowed and node.id not in bound:
            known = ", ".join(sorted(allowed - {"True", "False", "None"}))
            raise ExpressionError(source, f"unknown name {node.id!r} (known: {known})", where=where)
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or node.attr not in METHODS:
                raise ExpressionError(source, f"attribute {node.attr!r} is not allowed", where=where)
        if isinstance(node, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            raise ExpressionError(source, f"{type(node).__name__} is not allowed", where=where)


__all__ = ["ALLOWED_NAMES", "FUNCTIONS", "METHODS", "Expression", "state_names"]
