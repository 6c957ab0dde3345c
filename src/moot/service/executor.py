"""Execute one delivered run job: start, resume after a crash, or continue after an approval.

The executor is what a queue job calls (inline or on an arq worker). A job may be delivered more
than once (the queue redelivers the job of a dead worker), so everything here is idempotent:

- a run that already ended is left alone;
- only the holder of the run's lease executes it (moot.service.lease);
- a run with a checkpoint is *resumed* from it, never started again: LangGraph replays nothing
  that was checkpointed, and the tool ledger answers any booking already made, so no history entry
  is lost or duplicated and no tool is called twice.

Every event of the run goes to the run's event log (the SSE source, shared by the fleet) and
to the workspace's logs; the run record gets the final status and the result summary.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

from moot.errors import MootError
from moot.events import Event, EventBus

if TYPE_CHECKING:
    from moot.service.context import ServiceContext

log = logging.getLogger("moot.service.executor")

Action = Literal["start", "resume", "approve"]
ENDED = frozenset({"finished", "failed", "cancelled"})


class LeaseBusy(Exception):
    """Another live worker holds the run's lease; the job should be retried later, not dropped."""


def scoped_user(tenant: str, user_id: str) -> str:
    """The user id the run's memory sees: users of two tenants never share memory."""
    return f"{tenant}:{user_id}" if tenant else user_id


class RunExecutor:
    """Runs jobs for the service's runs in this process (an API process or a worker)."""

    def __init__(self, ctx: ServiceContext, worker: str) -> None:
        self.ctx = ctx
        self.worker = worker

    async def execute(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        """Execute the job; return the run's status afterwards."""
        index = self.ctx.persistence.index
        record = await index.get(run_id)
        if record.status in ENDED:
            return record.status
        async with self.ctx.leases.hold(run_id, self.worker) as held:
            if held is None:
                raise LeaseBusy(run_id)
            record = await index.get(run_id)  # re-read under the lease: a cancel may have landed
            if record.status in ENDED:
                return record.status
            bus = EventBus()
            recorder = self.ctx.events.attach(bus)
            detach = self.ctx.observe(bus, record.workspace)
            try:
                return await self._execute(record, action, answer, bus, held)
            finally:
                detach()
                await recorder.aclose()

    async def _execute(self, record: Any, action: Action, answer: dict[str, Any] | None, bus: EventBus, held: Any) -> str:
        index = self.ctx.persistence.index
        manager = await self.ctx.hub.get(record.workspace)
        await index.claim(record.run_id, self.worker)
        timeout = self.ctx.settings.limits.run_timeout_s
        try:
            # the version the run started on (kept while the run uses it), or the current one
            async with asyncio.timeout(timeout), manager.use(_held_version(manager, record.workspace_version)) as version:
                orch, _ = manager.orchestrator(bus=bus, index=index, version=version)
                result = await self._drive(orch, record, action, answer)
        except TimeoutError:
            error = {"error": "RunTimeout", "message": f"the run took longer than {timeout:g} s (limits.run_timeout_s)"}
            await index.set_status(record.run_id, "failed", error=error)
            _publish(bus, record, "run_failed", error)
            return "failed"
        except asyncio.CancelledError:
            # who stopped the run? a client's cancel has already marked it cancelled; otherwise the
            # process is shutting down (or lost the lease): the run stays as it is, to be resumed
            # from its checkpoint by the next worker or at restart
            if not held.lost and (await index.get(record.run_id)).status == "cancelled":
                _publish(bus, record, "run_cancelled", {"reason": "cancelled by request"})
            else:
                log.warning("run %s: stopped with its worker; it resumes from its last checkpoint", record.run_id)
            raise
        except MootError as exc:  # the orchestrator has published run_failed and marked the run
            await index.set_status(record.run_id, "failed", error={"error": type(exc).__name__, "message": str(exc)})
            return "failed"
        except Exception as exc:
            log.exception("run %s failed", record.run_id)
            await index.set_status(record.run_id, "failed", error={"error": type(exc).__name__, "message": str(exc)})
            return "failed"
        if result.status == "awaiting_approval":
            await index.set_status(record.run_id, "awaiting_approval", result={"pending": result.pending})
        else:
            await index.set_status(record.run_id, result.status, result=result.summary(orch.prices))
        await self.ctx.sessions_touch(record)
        return result.status

    async def _drive(self, orch: Any, record: Any, action: Action, answer: dict[str, Any] | None) -> Any:
        """Start the run the first time; otherwise continue it from its checkpoint."""
        started = await _has_checkpoint(orch, record)
        if not started:
            return await orch.run(
                record.task,
                session_id=record.thread_id,
                user_id=scoped_user(record.tenant, record.user_id),
                run_id=record.run_id,
                indexed=True,
            )
        if action == "approve" and answer is not None:
            if await orch.pending_approval(record.thread_id, record.run_id) is not None:
                return await orch.approve(record.run_id, answer)
        return await orch.resume(record.run_id)


async def _has_checkpoint(orch: Any, record: Any) -> bool:
    snapshot = await orch.graph.aget_state(orch.config(record.thread_id))
    return (snapshot.values or {}).get("run_id") == record.run_id


def _held_version(manager: Any, wanted: str) -> Any:
    """The version the run started on, while the manager still holds it; else the current one."""
    if not wanted:
        return None
    try:
        return manager.version(wanted)
    except MootError:
        log.warning("workspace version %s is no longer loaded; the run continues on the current one", wanted)
        return None


def _publish(bus: EventBus, record: Any, type_: str, data: dict[str, Any]) -> None:
    bus.publish(Event(type=type_, run_id=record.run_id, session_id=record.thread_id, workspace=record.workspace, data=data))  # type: ignore[arg-type]


__all__ = ["Action", "LeaseBusy", "RunExecutor", "scoped_user"]
