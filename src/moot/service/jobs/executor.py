"""Execute one delivered run job: start, resume after a crash, or continue after an approval.

The executor is what a queue job calls (inline or on an arq worker). A job may be delivered more
than once (the queue redelivers the job of a dead worker), so everything here is idempotent:

- a run that already ended is left alone;
- only the holder of the run's lease executes it (`lease.py`);
- a run with a checkpoint is *resumed* from it, never started again: LangGraph replays nothing
  that was checkpointed, and the tool ledger answers any booking already made, so no history entry
  is lost or duplicated and no tool is called twice.

Every event of the run goes to the run's event log (the SSE source, shared by the fleet) and
to the workspace's logs. The executor writes no status but the claim: the orchestrator records
the run's end (moot.persistence.transitions), also a failure the executor saw (a timeout); a
client's cancel is recorded by the route, and the run's job then reports it (`run_cancelled`
after the run's own events) whichever of the cancel and the run's last step landed first.

A LangGraph client's run (moot.service.langgraph_api) adds `JOB_OPTIONS` to the job's payload:
`values` publishes the whole state after every step (`state_values`, for the `values` stream
mode) and `keep_checkpoints` keeps every checkpoint of the run (LangGraph's history and forks
read them); a /v1 run's job has neither and costs nothing more.

The executor gets its collaborators one by one (the run index, the leases, the event log, the
workspaces, the sessions) rather than the whole `ServiceContext`: the context builds the
executor, so the executor must not know the context.
"""

from __future__ import annotations

import asyncio
import time
import logging
from collections.abc import Callable
from typing import Any

from moot.errors import MootError, RunTimeout
from moot.events import Event, EventBus
from moot.orchestrator import Orchestrator, RunResult
from moot.persistence import RunNotClaimable, RunRecord, RunTracker
from moot.service.jobs.lease import Held, Leases
from moot.service.protocols import Action, RunEvents, Sessions, Workspace, Workspaces
from moot.service.sessions.base import SessionNotFound
from moot.workspace.version import WorkspaceVersion
from moot import telemetry
from moot.telemetry.metrics import QUEUE_WAIT

log = logging.getLogger("moot.service.executor")

ENDED = frozenset({"finished", "failed", "cancelled"})

JOB_OPTIONS = "langgraph"
"""The key of a job payload's LangGraph options (see the module docstring)."""

Observe = Callable[[EventBus, str], Callable[[], None]]
"""Attach a workspace's observers (its logs, the memory recorder) to a run's bus; returns a detacher."""


class LeaseBusy(Exception):
    """Another live worker holds the run's lease; the job should be retried later, not dropped."""


def scoped_user(tenant: str, user_id: str) -> str:
    """The user id the run's memory sees: users of two tenants never share memory."""
    return f"{tenant}:{user_id}" if tenant else user_id


class RunExecutor:
    """Runs jobs for the service's runs in this process (an API process or a worker)."""

    def __init__(
        self,
        worker: str,
        *,
        index: RunTracker,
        leases: Leases,
        events: RunEvents,
        workspaces: Workspaces,
        sessions: Sessions,
        observe: Observe,
        timeout_s: float,
    ) -> None:
        self.worker = worker
        self.index = index
        self.leases = leases
        self.events = events
        self.workspaces = workspaces
        self.sessions = sessions
        self.observe = observe
        self.timeout_s = timeout_s

    async def execute(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        """Execute the job; return the run's status afterwards."""
        async with self.leases.hold(run_id, self.worker) as held:
            if held is None:
                raise LeaseBusy(run_id)
            record = await self.index.get(run_id)  # read under the lease: a cancel may have landed
            if record.status in ENDED:
                return record.status
            bus = EventBus()
            recorder = self.events.attach(bus)
            detach = self.observe(bus, record.workspace)
            attributes = telemetry.run_attributes.set({"moot.tenant": record.tenant, "moot.user_id": record.user_id, "moot.worker": self.worker})
            try:
                return await self._execute(record, action, answer, bus, held)
            finally:
                telemetry.run_attributes.reset(attributes)
                detach()
                await recorder.aclose()

    async def _execute(self, record: RunRecord, action: Action, answer: dict[str, Any] | None, bus: EventBus, held: Held) -> str:
        if action == "start" and record.status == "queued":
            QUEUE_WAIT.observe(max(0.0, time.time() - record.started_at))
        manager = await self.workspaces.get(record.workspace)
        # the version the run started on (kept while the run uses it), or the current one
        orch, version = manager.orchestrator(bus=bus, index=self.index, version=_held_version(manager, record.workspace_version))
        answer, options = _split_options(answer)
        orch.publish_values = bool(options.get("values"))
        orch.compact = orch.compact and not options.get("keep_checkpoints")
        try:
            await self.index.claim(record.run_id, self.worker)
            async with asyncio.timeout(self.timeout_s), manager.use(version):
                result = await self._drive(orch, record, action, answer)
        except RunNotClaimable as refused:  # cancelled after the re-read: whoever cancelled reports it
            return refused.record.status
        except TimeoutError:
            return self._report(bus, record, await orch.fail(record.run_id, record.thread_id, RunTimeout(self.timeout_s, "limits.run_timeout_s")))
        except asyncio.CancelledError:
            # who stopped the run? a client's cancel has already marked it cancelled; otherwise the
            # process is shutting down (or lost the lease): the run stays as it is, to be resumed
            # from its checkpoint by the next worker or at restart
            if not held.lost and (await self.index.get(record.run_id)).status == "cancelled":
                self._report(bus, record, "cancelled")
            else:
                log.warning("run %s: stopped with its worker; it resumes from its last checkpoint", record.run_id)
            raise
        except Exception as exc:  # recorded by the orchestrator, once: a failure its drive saw is not written again
            if not isinstance(exc, MootError):
                log.exception("run %s failed", record.run_id)
            return self._report(bus, record, await orch.fail(record.run_id, record.thread_id, exc))
        self._report(bus, record, result.status)
        await self._touch_session(record)
        return result.status

    @staticmethod
    def _report(bus: EventBus, record: RunRecord, status: str) -> str:
        """Say that a client's cancel stopped the run (the route leaves a running run's to its job)."""
        if status == "cancelled":
            _publish(bus, record, "run_cancelled", {"reason": "cancelled by request"})
        return status

    async def _drive(self, orch: Orchestrator, record: RunRecord, action: Action, answer: dict[str, Any] | None) -> RunResult:
        """Start the run the first time; otherwise continue it from its checkpoint.

        The first `start` of a run no worker has claimed (`attempts == 0` when it was read) has no
        checkpoint to look for: only a redelivered, resumed or imported run pays for reading one."""
        fresh = action == "start" and record.attempts == 0
        started = not fresh and await _has_checkpoint(orch, record)
        if not started:
            return await orch.run(
                record.task,
                session_id=record.thread_id,
                user_id=scoped_user(record.tenant, record.user_id),
                run_id=record.run_id,
                claimed=True,
            )
        if action == "approve" and answer is not None:
            if await orch.pending_approval(record.thread_id, record.run_id) is not None:
                return await orch.approve(record.run_id, answer, claimed=True)
        return await orch.resume(record.run_id, claimed=True)

    async def _touch_session(self, record: RunRecord) -> None:
        """A run slides its session's TTL (a session lives as long as it is used)."""
        try:
            await self.sessions.touch(record.tenant, record.thread_id)
        except SessionNotFound:
            pass


def _split_options(payload: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The job's approval answer (None if it has none) and its LangGraph options ({} if none)."""
    if not payload or JOB_OPTIONS not in payload:
        return payload, {}
    rest = {k: v for k, v in payload.items() if k != JOB_OPTIONS}
    return rest or None, dict(payload[JOB_OPTIONS] or {})


async def _has_checkpoint(orch: Orchestrator, record: RunRecord) -> bool:
    snapshot = await orch.graph.aget_state(orch.config(record.thread_id))
    return (snapshot.values or {}).get("run_id") == record.run_id


def _held_version(manager: Workspace, wanted: str) -> WorkspaceVersion | None:
    """The version the run started on, while the manager still holds it; else the current one."""
    if not wanted:
        return None
    try:
        return manager.version(wanted)
    except MootError:
        log.warning("workspace version %s is no longer loaded; the run continues on the current one", wanted)
        return None


def _publish(bus: EventBus, record: RunRecord, type_: str, data: dict[str, Any]) -> None:
    bus.publish(Event(type=type_, run_id=record.run_id, session_id=record.thread_id, workspace=record.workspace, data=data))  # type: ignore[arg-type]


__all__ = ["ENDED", "JOB_OPTIONS", "LeaseBusy", "Observe", "RunExecutor", "scoped_user"]
