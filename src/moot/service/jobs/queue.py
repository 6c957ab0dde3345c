"""Where the API hands runs for execution: the queue's contract and the inline queue.

`InlineQueue` (the embedded default, no Redis) runs jobs as tasks of this process;
`ArqQueue` (`arq.py`) puts them on Redis for `moot worker` processes (`moot.service.worker`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from abc import ABC, abstractmethod
from contextlib import suppress
from typing import Any

from moot.service.jobs.executor import LeaseBusy, RunExecutor
from moot.service.protocols import Action

log = logging.getLogger("moot.service.queue")


class RunQueue(ABC):
    """Where the API hands runs for execution."""

    @abstractmethod
    async def submit(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        """Queue a job for the run; return the job id."""

    @abstractmethod
    async def cancel(self, run_id: str) -> bool:
        """Stop the run's job if it is queued or running; True if a job was found."""

    async def depth(self) -> int:
        """Jobs queued and not yet started (the inline queue starts each at once: 0)."""
        return 0

    async def aclose(self) -> None:
        return None


class InlineQueue(RunQueue):
    """Runs as tasks of this process: the embedded default, no Redis needed.

    Runs in flight are lost with the process, but not their checkpoints: `recover()` (called at
    start-up) submits again every run that the index says was queued or running.
    """

    def __init__(self, executor: RunExecutor) -> None:
        self.executor = executor
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    async def submit(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        job_id = f"{run_id}:{action}:{uuid.uuid4().hex[:8]}"
        task = asyncio.create_task(self._run(run_id, action, answer), name=job_id)
        self._tasks[run_id] = task
        task.add_done_callback(lambda t: self._tasks.pop(run_id, None) if self._tasks.get(run_id) is t else None)
        return job_id

    async def _run(self, run_id: str, action: Action, answer: dict[str, Any] | None) -> None:
        for _ in range(50):
            try:
                await self.executor.execute(run_id, action, answer)
                return
            except LeaseBusy:
                await asyncio.sleep(self.executor.leases.ttl_s)
            except Exception:
                log.exception("run %s: job failed", run_id)
                return

    async def cancel(self, run_id: str) -> bool:
        task = self._tasks.get(run_id)
        if task is None or task.done():
            return False
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with suppress(asyncio.CancelledError, Exception):
                await task


__all__ = ["InlineQueue", "RunQueue"]
