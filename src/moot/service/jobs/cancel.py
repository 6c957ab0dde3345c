"""Cancel a run: record it first, then stop its job; exactly one `run_cancelled` is reported.

The cancel is a compare-and-set on the run index (moot.persistence.transitions), so it races the
run's own last step safely: if the cancel lands first, the run's end is never written and the
run is cancelled; if the end lands first, the cancel moves nothing and the caller is told the
run has ended. Who reports the cancellation follows from the status the cancel moved the run
from, read atomically by trying the two cancel moves in turn:

- queued or awaiting approval: no job is executing the run (a queued job that comes later finds
  it cancelled and does nothing), so the canceller reports it now;
- running: the run's job reports it, after the run's own last events (the executor, when its
  task is stopped or when its drive finds the cancel recorded first).
"""

from __future__ import annotations

from moot.events import Event
from moot.persistence import ACTIVE, CANCEL_RUNNING, CANCEL_WAITING, Moved, RunTracker
from moot.service.protocols import JobQueue, RunEvents

CANCELLED = {"error": "Cancelled", "message": "cancelled by request"}


async def cancel_run(index: RunTracker, queue: JobQueue, events: RunEvents, run_id: str) -> Moved:
    """Cancel `run_id` if it has not ended; `Moved.applied` is False (and nothing happens) if it has."""
    while True:
        moved = await index.move(run_id, CANCEL_WAITING, error=CANCELLED)
        if moved.applied:
            await queue.cancel(run_id)
            record = moved.record
            await events.append(
                Event(type="run_cancelled", run_id=run_id, session_id=record.thread_id, workspace=record.workspace, data={"reason": "cancelled by request"})
            )
            return moved
        if moved.status not in ACTIVE:
            return moved
        moved = await index.move(run_id, CANCEL_RUNNING, error=CANCELLED)
        if moved.applied:
            await queue.cancel(run_id)  # its job reports the cancellation
            return moved
        if moved.status not in ACTIVE:
            return moved
        # it moved between the two (claimed, or paused): try again from where it is now


__all__ = ["CANCELLED", "cancel_run"]
