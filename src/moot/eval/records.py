"""The records an eval passes around: what an arm's run came to, and what the checker made of it.

`ArmRun` is the one shape both arms return (the moot's `RunResult` and the single agent's loop
are read into it), so the checker, the report and the JSON never ask which arm they look at.
`RunRecord` is one task run as judged: its predicates, its numbers, and why it failed if it did.
Both are frozen: a record is written once, by the runner, and only read afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArmRun:
    """One run of one arm: its final state, its outcome (`Outcome.as_dict()` keys) and its cost."""

    state: Mapping[str, Any]
    outcome: Mapping[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_errors: tuple[Mapping[str, Any], ...] = ()
    """Failed or refused tool calls of the run (the moot's `tool_error` outcomes; the single
    agent's calls that the ToolRuntime refused or that the tool answered with an error)."""
    run_id: str = ""
    error: str | None = None
    """Set when the run did not end normally (it raised, or paused for an approval): the task
    has failed whatever the state says; the state is what was checkpointed before the end."""

    @property
    def refused_calls(self) -> int:
        return len(self.tool_errors)


@dataclass(frozen=True)
class PredicateResult:
    """One predicate of a task, evaluated on one run."""

    group: str
    """The check group it came from, or "expect" for a task's own predicates."""
    source: str
    where: str
    ok: bool
    error: str | None = None
    """Why it could not be evaluated (it raised); such a predicate counts as failed."""

    def describe(self) -> str:
        """`len(bookings) >= 1 (tasks.yaml:7:7)`, plus the error if it raised."""
        text = f"{self.source} ({self.where})"
        return f"{text}: {self.error}" if self.error else text

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "source": self.source, "where": self.where, "ok": self.ok, "error": self.error}


@dataclass(frozen=True)
class RunRecord:
    """One task run as judged: ok when it ended normally and every predicate held."""

    task_id: str
    arm: str
    repeat: int
    feasible: bool
    seconds: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refused_calls: int = 0
    error: str | None = None
    """"timeout", the run's exception, a setup call or a probe that failed: the task failed."""
    predicates: tuple[PredicateResult, ...] = ()
    outcome: Mapping[str, Any] | None = None
    probes: Mapping[str, Any] = field(default_factory=dict)
    run_id: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.predicates) and all(p.ok for p in self.predicates)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def headline(self) -> str:
        return str((self.outcome or {}).get("headline") or "")

    @property
    def first_failure(self) -> str | None:
        """Why the task failed: its error, else the first predicate that did not hold."""
        if self.error is not None:
            return self.error
        failed = next((p for p in self.predicates if not p.ok), None)
        return failed.describe() if failed is not None else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "arm": self.arm,
            "repeat": self.repeat,
            "feasible": self.feasible,
            "ok": self.ok,
            "seconds": round(self.seconds, 4),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "refused_calls": self.refused_calls,
            "error": self.error,
            "failed": self.first_failure,
            "headline": self.headline,
            "predicates": [p.as_dict() for p in self.predicates],
            "outcome": dict(self.outcome) if self.outcome is not None else None,
            "probes": dict(self.probes),
            "run_id": self.run_id,
        }


__all__ = ["ArmRun", "PredicateResult", "RunRecord"]
