"""The schema of a task-set file (`moot eval WORKSPACE TASKS.yaml`), checked part by part.

```yaml
workspace: demo                 # optional: must be the evaluated workspace's name
probes:                         # tool calls made after each run, on that run's own servers
  bookings: {tool: list_bookings, arguments: {}}
checks:                         # named groups of predicates
  booked_ok: ["len(bookings) >= 1", "all(b['status'] == 'confirmed' for b in bookings)"]
tasks:
  - id: lisbon-3d               # unique slug
    task: "Plan a 3-day trip to Lisbon under 1500 EUR"
    feasible: true              # default true; the report gives success apart for feasible and not
    vars: {budget: 1500}        # any values, `vars` in predicates
    checks: [booked_ok]         # groups that must all hold
    expect: ["sum(b['price_eur'] for b in bookings) <= vars['budget']"]
    setup:                      # tool calls on the fresh servers before the run
      - {tool: book, arguments: {kind: hotel, item_id: H-LIS-ALFAMA, traveller: X, checkin: "=day('next friday')", nights: 2}}
```

The top level, each probe and each task are validated apart (`yamlio.validate` with a prefix),
so one broken task does not hide the problems of the next; what crosses parts (check groups named
by tasks, predicates, `=` arguments, unique ids) is checked by `moot.eval.taskset`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
"""A task id: lowercase letters, digits, `-` and `_`, as in `-k` selections and file names."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallSpec(_Spec):
    """A tool call of a probe or a setup step; a string argument starting with `=` is an expression
    (write `==` for a literal leading `=`)."""

    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class TaskSpec(_Spec):
    """One task of the set."""

    id: str = Field(min_length=1)
    task: str = Field(min_length=1)
    feasible: bool = True
    vars: dict[str, Any] = Field(default_factory=dict)
    checks: list[str] = Field(default_factory=list)
    expect: list[str] = Field(default_factory=list)
    setup: list[CallSpec] = Field(default_factory=list)


class TaskSetSpec(_Spec):
    """The file's top level; the parts are typed loosely here and validated one by one."""

    workspace: str | None = None
    probes: dict[str, Any] = Field(default_factory=dict)
    checks: dict[str, list[Any]] = Field(default_factory=dict)
    tasks: list[Any] = Field(min_length=1)


__all__ = ["CallSpec", "SLUG", "TaskSetSpec", "TaskSpec"]
