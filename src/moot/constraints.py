"""Hard constraints: what a candidate must satisfy before anyone scores it (design §3b).

A workspace lists them in moot.yaml (`constraints:`), as safe expressions over a candidate's
`facts`, its `parts` and the task's `slots` — "total ≤ budget", "hotel city = destination". A
candidate that breaks one is excluded with the constraint's reason, in the proposal itself, so
no reviewer scores it and the synthesizer can never pick it. A check that cannot be evaluated
(a fact the candidate does not have) excludes the candidate too, saying so: a plan that was not
checked is never acted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moot.errors import ExpressionError
from moot.expressions import Expression
from moot.templates import Template


@dataclass(frozen=True)
class Constraint:
    """One compiled constraint; `violation(names)` says why a candidate breaks it, or None."""

    name: str
    check: Expression
    when: Expression | None = None
    reason: Template | None = None

    def violation(self, names: Mapping[str, Any]) -> str | None:
        try:
            if self.when is not None and not self.when.holds(names):
                return None
            if self.check.holds(names):
                return None
        except ExpressionError as exc:
            return f"{self.name}: could not be checked ({exc.reason})"
        if self.reason is None:
            return self.name
        try:
            return self.reason.render(names)
        except ExpressionError:
            return self.name


def violations(constraints: Iterable[Constraint], names: Mapping[str, Any]) -> list[str]:
    """Every reason a candidate is infeasible (empty: it satisfies all constraints)."""
    return [why for c in constraints if (why := c.violation(names)) is not None]


def candidate_names(
    candidate: Mapping[str, Any], slots: Mapping[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    """The names a constraint, a score or an action sees for one candidate."""
    names: dict[str, Any] = {
        "slots": dict(slots or {}),
        "parts": dict(candidate.get("parts") or {}),
        "facts": dict(candidate.get("facts") or {}),
        "candidate": dict(candidate),
        "all_facts": [],
        "task": None,
        "user_id": None,
        "started_at": None,
        "results": {},
        "decision": {},
        "reviews": [],
    }
    names.update(extra)
    return names


__all__ = ["Constraint", "candidate_names", "violations"]
