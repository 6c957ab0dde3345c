"""The YAML of decisions that hold (design §3b): slots, searches, grounded candidates, constraints, actions.

These are the parts of a workspace that let a small model do only what it can while code does
the rest: an intake reads the task into typed `slots`; a scout's `calls` search before anyone
proposes; a `grounded` proposer chooses among bundles of offers the searches returned (facts and
prices are computed from the offers, never taken from the model's text); `constraints` exclude an
infeasible candidate before it is scored; a measuring agent's `scores` and a booking agent's
`actions` are computed from the winner. Shapes are checked here; the expressions inside them are
compiled by `moot.workspace.compile`, so a typo is a `file:line:col` problem at load.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moot.intake.spec import SlotSpec, SlotType

NAMES = frozenset({"slots", "parts", "facts", "candidate", "all_facts", "task", "user_id", "started_at", "results", "decision", "reviews"})
"""The names an expression of these specs sees (those that do not apply to it are None):
`slots` (the intake's values), `parts` (a bundle's offers by part), `facts` (computed from
them), `candidate`, `all_facts` (facts of every option, to compare), `task`, `user_id`,
`started_at`, `results` (what the scout's searches returned, by label), `decision` and `reviews`
(every reviewer's comment: `{agent, candidate, comment}`), for actions."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallSpec(_Spec):
    """A tool call computed by code: `arguments` are literals or `=expressions`.

    A scout's call runs when `when` holds (default: every argument has a value); a booking
    agent's action is derived from the winning candidate the same way.
    """

    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    when: str | None = None
    label: str | None = Field(default=None, max_length=60)
    """How the call is named in history and in the run's outcome (an action: "outbound flight")."""


class PartSpec(_Spec):
    """A part of a bundle: the label of the search it takes its offers from, and when it may be
    left out (`optional`: an expression over the slots) if that search finds nothing."""

    label: str = Field(min_length=1)
    optional: str | None = None
    """E.g. `'origin' in slots['defaulted']`: flights from a default origin the servers cannot
    fly from are left out (and the plan says so) rather than making the whole trip infeasible."""


class GroundedSpec(_Spec):
    """A proposer that chooses among bundles of offers the searches returned.

    `parts` maps a part of a bundle to the label of the scout's call whose results it takes
    (`outbound: outbound`, `hotel: hotel`); every combination is an option, its `facts`
    computed from the parts, its `title` and `summary` written from them; `constraints`
    exclude options before the model sees them; the model picks among at most `options` of
    the rest (varied, cheapest first by `order`) and argues for them in a short pitch.
    """

    parts: dict[str, str | PartSpec] = Field(min_length=1)
    facts: dict[str, str] = Field(default_factory=dict)
    title: str = Field(min_length=1)
    summary: str = ""
    order: str | None = None
    """`=expression` to sort feasible options by (ascending), e.g. `=facts['total_eur']`."""
    options: int = Field(default=6, ge=1, le=12)
    max_combinations: int = Field(default=500, ge=1, le=10_000)


class ConstraintSpec(_Spec):
    """A hard constraint (moot.yaml `constraints:`): a candidate for which `check` is false is
    excluded before it is scored, with `reason` (a `{expression}` template) recorded."""

    name: str = Field(min_length=1, max_length=60)
    check: str = Field(min_length=1)
    when: str | None = None
    """Applies only when this holds (e.g. `slots.get('budget') is not None`)."""
    reason: str | None = None


__all__ = ["NAMES", "CallSpec", "ConstraintSpec", "GroundedSpec", "PartSpec", "SlotSpec", "SlotType"]
