"""What a run is, apart from who drives it: its id, its first state, the check of its task, its result.

Shared by the orchestrator (which drives runs) and the faces that start or report them (CLI,
service, eval) without needing the orchestrator's machinery.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from langgraph.types import Overwrite

from moot.accounting import summarize
from moot.errors import UsageError
from moot.outcome import Outcome, outcome_of

Ended = Literal["finished", "failed", "awaiting_approval", "cancelled"]


@dataclass
class RunResult:
    """How a run ended: its winner and decision, token totals, and the final state."""

    run_id: str
    session_id: str
    status: Ended
    """How the drive ended; `cancelled` when a cancel was recorded before the drive could write its end."""
    state: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    pending: dict[str, Any] | None = None
    """With `awaiting_approval`: what the human is asked about (stage, decision, winner)."""
    version: str = ""
    """The workspace version (content hash) the run ran on; "" when the runtime has none."""

    @property
    def winner(self) -> str | None:
        return self.state.get("winner")

    @property
    def decision(self) -> dict[str, Any] | None:
        return self.state.get("decision")

    @property
    def outcome(self) -> Outcome:
        """What the run came to (done / nothing feasible / actions failed), read from its state."""
        return outcome_of(self.state)

    def summary(self, prices: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
        """What a `run_finished` event carries: the outcome and the run's accounting."""
        return {
            "winner": self.winner,
            "decision": self.decision,
            "outcome": self.outcome.as_dict(),
            "tokens": self.tokens,
            "usage": self.state.get("usage", {}),
            "accounting": summarize(self.state.get("usage"), prices),
        }

    @property
    def tokens(self) -> dict[str, int]:
        usage = self.state.get("usage") or {}
        return {
            "prompt": sum(int(u.get("prompt_tokens", 0)) for u in usage.values()),
            "completion": sum(int(u.get("completion_tokens", 0)) for u in usage.values()),
        }


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def initial_state(
    task: str, *, run_id: str, session_id: str, user_id: str, started_at: datetime | None = None
) -> dict[str, Any]:
    """A run's first write. `Overwrite`s reset run-scoped channels on a session's reused thread.

    `started_at` is the local time with its offset: a task's "next Friday" means the user's
    next Friday, and the value stays in the state so a resumed run reads the task the same way.
    """
    started = (started_at or datetime.now().astimezone()).isoformat(timespec="seconds")
    return {
        "task": task,
        "run_id": run_id,
        "session_id": session_id,
        "user_id": user_id,
        "stage": "",
        "done": False,
        "round": 1,
        "winner": None,
        "decision": None,
        "slots": None,
        "started_at": started,
        "history": Overwrite([]),
        "rewards": Overwrite({}),
        "executed_agents_per_stage": Overwrite({}),
        "usage": Overwrite({}),
    }


class TaskRefused(UsageError):
    """A task that no run may start with; `code` names why (`empty_task`, `task_too_long`)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def check_task(task: str, max_chars: int, *, limit_from: str = "limits.task_max_chars in the workspace's moot.yaml") -> str:
    """The task stripped, or `TaskRefused` when it is empty or longer than `max_chars`.

    The one check of a task, for every face (CLI, `moot eval`, the service, the orchestrator
    itself): each calls it before anything is written, with its own limit.
    """
    if not isinstance(task, str) or not task.strip():
        raise TaskRefused("the task is empty; say what the moot should decide", "empty_task")
    if len(task) > max_chars:
        raise TaskRefused(
            f"the task is {len(task)} characters long; the limit is {max_chars} ({limit_from})", "task_too_long"
        )
    return task.strip()


__all__ = ["Ended", "RunResult", "TaskRefused", "check_task", "initial_state", "new_id"]
