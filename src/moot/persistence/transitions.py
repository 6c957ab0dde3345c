"""How a run's status may change: the moves, and the seam every status write goes through.

A move is a compare-and-set: `RunIndex.move` is one `UPDATE ... WHERE status IN (what the move
may leave) RETURNING ...`, atomic on SQLite and PostgreSQL alike. Two writers that race on a
run (a client's cancel and the run's own last step) cannot both win: the first statement to
commit moves the run, the second finds it elsewhere and writes nothing, and `Moved` tells it
where the run is. So an ended run stays ended unless someone asks to go on (resume, approve):

```
queued ──claim──▶ running ──pause──▶ awaiting_approval ──answer──▶ queued
  │                 ├──finish──▶ finished
  │                 ├──fail────▶ failed ─────┐
  │                 │                         ├──requeue──▶ queued
  └──cancel─────────┴──cancel (or from awaiting_approval)──▶ cancelled
reopen: `moot resume` / `moot approve` in process take a run that has not finished back to running
```

`claim` (a worker takes a run: attempts and worker too) is `RunIndex.claim`, a move of its own.
Who moves what: the orchestrator is the only one to write a run's outcome (pause, finish,
fail, and reopen when it is driven in process); the service's routes record what a client
asks (queue, cancel, requeue, answer); a worker claims. Nothing else writes a status.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from moot.persistence.records import ACTIVE, RunRecord, RunStatus


@dataclass(frozen=True)
class Move:
    """One kind of status change: the status it writes, and the statuses it may leave."""

    name: str
    to: RunStatus
    leaves: tuple[RunStatus, ...]


REOPEN = Move("reopen", "running", ("queued", "running", "awaiting_approval", "failed", "cancelled"))
"""An operator drives the run in this process (`moot resume`, `moot approve`): anything but finished."""
PAUSE = Move("pause", "awaiting_approval", ("running",))
FINISH = Move("finish", "finished", ("running",))
FAIL = Move("fail", "failed", ("running",))
CANCEL_WAITING = Move("cancel", "cancelled", ("queued", "awaiting_approval"))
"""Cancel a run that no worker executes (queued, or paused for a human): the canceller reports it."""
CANCEL_RUNNING = Move("cancel", "cancelled", ("running",))
"""Cancel a run a worker executes: its job stops, and reports the cancellation after its own events."""
REQUEUE = Move("requeue", "queued", ("failed", "cancelled"))
ANSWER = Move("answer", "queued", ("awaiting_approval",))
"""A human answered the approval: the run waits for a worker to go on."""

MOVES: tuple[Move, ...] = (REOPEN, PAUSE, FINISH, FAIL, CANCEL_WAITING, CANCEL_RUNNING, REQUEUE, ANSWER)


@dataclass(frozen=True)
class Moved:
    """What a move did: `applied`, or not because the run was elsewhere; `record` is the run now."""

    record: RunRecord
    applied: bool

    @property
    def status(self) -> str:
        return self.record.status


class RunTracker(Protocol):
    """The run index as the code that drives runs uses it (orchestrator, executor, routes)."""

    async def add(
        self,
        run_id: str,
        thread_id: str,
        workspace: str,
        task: str,
        user_id: str = "",
        workspace_path: str = "",
        *,
        tenant: str = "",
        workspace_version: str = "",
        status: str = "running",
        error: Any = None,
    ) -> RunRecord: ...

    async def get(self, run_id: str, *, tenant: str | None = None) -> RunRecord: ...

    async def claim(self, run_id: str, worker: str, *, allow: Collection[str] = ACTIVE) -> RunRecord: ...

    async def move(self, run_id: str, move: Move, *, result: Any = None, error: Any = None) -> Moved:
        """Apply `move` if the run's status is one it may leave; else write nothing."""
        ...


__all__ = [
    "ANSWER",
    "CANCEL_RUNNING",
    "CANCEL_WAITING",
    "FAIL",
    "FINISH",
    "MOVES",
    "PAUSE",
    "REOPEN",
    "REQUEUE",
    "Move",
    "Moved",
    "RunTracker",
]
