"""The orchestrator: initialises a run's state, drives `graph.astream`, ends on `done` (design §3).

It holds no business logic: routing is the graph's (the stage router and its conditional edges),
reasoning is the agents'. It owns the run's identity (run id, session = LangGraph thread, user),
turns LangGraph's `custom` and `updates` streams into numbered `Event`s on the bus, records the
run in the run index, and resumes an interrupted run from its last checkpoint.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal, cast

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from moot.events import Event, EventBus
from moot.errors import UsageError
from moot.graph.approval import check_answer, parse_answer
from moot.graph.events import EVENT_SINK, loop_sink
from moot.graph.node import STAGE_ROUTER, finished_data, router_events
from moot.persistence import FAIL, FINISH, PAUSE, REOPEN, Move, RunTracker, compact_run
from moot.persistence.records import error_payload
from moot.policy import WritePolicy
from moot.run import Ended, RunResult, TaskRefused, check_task, initial_state, new_id
from moot import telemetry

Durability = Literal["sync", "async", "exit"]
def _takes(method: Any, name: str) -> bool:
    """Whether `method` accepts the keyword `name` (a run index may not record versions yet)."""
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


class Orchestrator:
    """Runs deliberations of one workspace's compiled graph; one instance may serve many runs."""

    def __init__(
        self,
        graph: CompiledStateGraph,
        *,
        workspace: str,
        bus: EventBus | None = None,
        index: RunTracker | None = None,
        durability: Durability = "sync",
        recursion_limit: int = 200,
        task_max_chars: int = 4000,
        compact: bool = True,
        workspace_path: str = "",
        prices: Mapping[str, Mapping[str, float]] | None = None,
        policy: WritePolicy | None = None,
        version: str = "",
    ) -> None:
        self.graph = graph
        self.workspace = workspace
        self.bus = bus or EventBus()
        self.index = index
        """Where the run's status is written: this orchestrator is the only writer of a run's
        outcome (paused, finished, failed), each a compare-and-set move (moot.persistence.transitions)."""
        self.durability = durability
        self.recursion_limit = recursion_limit
        self.task_max_chars = task_max_chars
        self.compact = compact
        self.workspace_path = workspace_path
        self.prices = dict(prices or {})
        self.policy = policy
        """The workspace's WritePolicy, to refuse an approval edit it forbids before resuming."""
        self.version = version
        """The workspace version of `graph` (moot.workspace.version), recorded with every run."""
        self.publish_values = False
        """Publish the state for a LangGraph client streaming `values`: whole at the first step
        (`state_values`), then a marker at the end of every step (`state_step`), the step's updates
        being in its `state_patch` events; off by default."""

    def check_task(self, task: str) -> str:
        """Refuse an empty or oversized task before anything is written (see `check_task`)."""
        return check_task(task, self.task_max_chars)

    def config(self, session_id: str, user_id: str = "", run_id: str | None = None) -> dict[str, Any]:
        """LangGraph config of a session's thread; `moot_run_id` tags each checkpoint with its run."""
        config: dict[str, Any] = {
            "configurable": {"thread_id": session_id, "user_id": user_id},
            "recursion_limit": self.recursion_limit,
        }
        if run_id:
            config["metadata"] = {"moot_run_id": run_id}
        return config

    async def run(
        self,
        task: str,
        *,
        session_id: str | None = None,
        user_id: str = "",
        run_id: str | None = None,
        claimed: bool = False,
    ) -> RunResult:
        """Run one deliberation to its end in `session_id`'s thread (a new session by default).

        `claimed`: the run is in the run index already and a worker has claimed it (the
        service's executor); its claim made it running, so nothing is written at the start.
        """
        task = self.check_task(task)
        run_id = run_id or new_id("run")
        session_id = session_id or new_id("session")
        if self.index is not None and not claimed:
            extra = {"workspace_version": self.version} if self.version and _takes(self.index.add, "workspace_version") else {}
            await self.index.add(run_id, session_id, self.workspace, task, user_id, self.workspace_path, **extra)
        start = initial_state(task, run_id=run_id, session_id=session_id, user_id=user_id)
        return await self._drive(start, run_id, session_id, user_id, {"task": task, "user_id": user_id, "resumed": False})

    async def resume(self, run_id: str, *, claimed: bool = False) -> RunResult:
        """Continue an interrupted run from its last checkpoint; a finished run is returned as is.

        Unless `claimed` (see `run`), the run is first moved back to running (`REOPEN`): a
        failed or cancelled run goes on because an operator asked for it.
        """
        if self.index is None:
            raise UsageError("resuming needs the run index of a persistent store")
        record = await self.index.get(run_id)
        if record.workspace != self.workspace:
            raise UsageError(
                f"run {run_id!r} belongs to workspace {record.workspace!r} ({record.workspace_path or 'built-in'}), "
                f"not {self.workspace!r}; resume it with that workspace"
            )
        config = self.config(record.thread_id, record.user_id)
        if record.status == "finished":
            values = await self._values_of(config, run_id)
            self._announce_finished(run_id, record.thread_id, values)
            return RunResult(run_id, record.thread_id, "finished", values)
        snapshot = await self.graph.aget_state(config)
        values = dict(snapshot.values or {})
        if values.get("run_id") != run_id:
            raise UsageError(
                f"run {run_id!r} is not the latest run of session {record.thread_id!r} "
                f"(that is {values.get('run_id')!r}); only the latest run of a session can resume"
            )
        if not claimed:
            await self._reopen(run_id)
        if values.get("done") and not snapshot.next:  # it ended, but its end was never written
            done = RunResult(run_id, record.thread_id, "finished", values)
            if (other := await self._settle(run_id, FINISH, result=done.summary(self.prices))) is not None:
                return replace(done, status=other)
            self._announce_finished(run_id, record.thread_id, values)
            return done
        return await self._drive(None, run_id, record.thread_id, record.user_id, {"task": record.task, "user_id": record.user_id, "resumed": True})

    async def approve(self, run_id: str, answer: Any, *, claimed: bool = False) -> RunResult:
        """Answer a run paused for approval (approve, edit or reject) and continue it.

        The answer is checked (shape, and the policy for an edit) before anything is resumed,
        so a bad answer leaves the run paused exactly as it was. Unless `claimed` (see `run`),
        the run is moved back to running first.
        """
        parsed = parse_answer(answer)
        if self.policy is not None:
            check_answer(parsed, self.policy)
        if self.index is None:
            raise UsageError("answering an approval needs the run index of a persistent store")
        record = await self.index.get(run_id)
        config = self.config(record.thread_id, record.user_id)
        snapshot = await self.graph.aget_state(config)
        if (snapshot.values or {}).get("run_id") != run_id or not _awaits_answer(snapshot):
            raise UsageError(f"run {run_id!r} is not waiting for approval (its status is {record.status!r})")
        info = {"task": record.task, "user_id": record.user_id, "resumed": True, "approval": parsed.action}
        if not claimed:
            await self._reopen(run_id)
        return await self._drive(
            Command(resume=parsed.model_dump(exclude_none=True)), run_id, record.thread_id, record.user_id, info
        )

    async def pending_approval(self, session_id: str, run_id: str) -> dict[str, Any] | None:
        """The approval request a paused run waits on, or None."""
        snapshot = await self.graph.aget_state(self.config(session_id))
        if (snapshot.values or {}).get("run_id") != run_id or not _awaits_answer(snapshot):
            return None
        return dict(snapshot.interrupts[0].value) if snapshot.interrupts else {"edited": True}

    async def _drive(
        self, start: dict[str, Any] | None, run_id: str, session_id: str, user_id: str, info: dict[str, Any]
    ) -> RunResult:
        """Drive the graph from `start` (a first state, None to resume, or a Command), in a span."""
        resumed = bool(info.get("resumed"))
        with telemetry.workflow(workspace=self.workspace, version=self.version, run_id=run_id, session_id=session_id, resumed=resumed) as span:
            result = await self._steps(start, run_id, session_id, user_id, info)
            telemetry.outcome(span, result.status)
            return result

    async def _steps(
        self, start: dict[str, Any] | None, run_id: str, session_id: str, user_id: str, info: dict[str, Any]
    ) -> RunResult:
        config = self.config(session_id, user_id, run_id)
        seq = 0

        def publish(type_: str, **fields: Any) -> None:
            nonlocal seq
            seq += 1
            self.bus.publish(
                Event(type=type_, run_id=run_id, session_id=session_id, workspace=self.workspace, seq=seq, **fields)  # type: ignore[arg-type]
            )

        publish("run_started", data={**info, "workspace_version": self.version} if self.version else info)
        durable = bool(self.graph.checkpointer)
        values: dict[str, Any] = {}
        interrupted = stepped = False
        running: dict[str, tuple[float, Any]] = {}  # agent → (when, stage) of its agent_started, until its update

        def on_event(event: dict[str, Any]) -> None:  # a node's lifecycle event (graph/events.py)
            data = dict(event)
            if data["type"] == "agent_started":
                running[data["agent"]] = (time.perf_counter(), data.get("stage"))
            publish(data.pop("type"), stage=data.pop("stage", None), agent=data.pop("agent", None), data=data.get("data", {}))

        config["configurable"][EVENT_SINK] = loop_sink(on_event)
        try:
            async for part in self.graph.astream(
                start,
                config,
                # the last `values` is the run's final state: no checkpoint read after the run;
                # nodes hand their events to `on_event`, not to the `custom` stream (graph/events.py)
                stream_mode=["updates", "values"],
                # without a checkpointer there is nothing to make durable (and LangGraph 1.2
                # fails on a durability setting it cannot honour)
                durability=self.durability if durable else None,
                version="v2",
            ):
                if part["type"] == "values":
                    values = part["data"]
                    if self.publish_values:  # the whole state once; later steps are folded from their updates
                        publish("state_step" if stepped else "state_values", stage=values.get("stage"), data={} if stepped else values)
                        stepped = True
                elif part["type"] == "updates":
                    for node, update in (part["data"] or {}).items():
                        if node == "__interrupt__":
                            interrupted = True
                        # skip LangGraph's own entries (`__metadata__` marks writes replayed on resume)
                        elif isinstance(update, dict) and not node.startswith("__"):
                            if node == STAGE_ROUTER:
                                for event in router_events(update, values.get("round") or 1):
                                    publish(event["type"], stage=event["stage"], agent=event["agent"], data=event["data"])
                            elif node in running:  # an agent of this run (not a write replayed on resume)
                                since, stage = running.pop(node)
                                took = time.perf_counter() - since
                                publish("agent_finished", stage=stage, agent=node, data=finished_data(node, update, took))
                            publish("state_patch", agent=node, data={"node": node, "update": update})
        except Exception as exc:  # a failed run is recorded and reported, then the error goes on
            await self._fail(run_id, exc, publish)
            raise
        values = dict(values or {})
        if durable and (interrupted or not values):
            snapshot = await self.graph.aget_state(config)
            values = dict(snapshot.values or {})
            if snapshot.interrupts:
                request = dict(snapshot.interrupts[0].value)
                paused = RunResult(run_id, session_id, "awaiting_approval", values, pending=request, version=self.version)
                # with what is asked: a reader never sees the pause without it
                if (other := await self._settle(run_id, PAUSE, result={"pending": request})) is not None:
                    return replace(paused, status=other, pending=None)
                publish("approval_requested", stage=request.get("stage"), data=request)
                return paused
        result = RunResult(run_id, session_id, "finished", values, version=self.version)
        summary = result.summary(self.prices)
        # with its result: a client reading the run after `run_finished` gets it; a cancel that
        # was recorded first wins, and the run is then not this drive's to finish or compact
        if (other := await self._settle(run_id, FINISH, result=summary)) is not None:
            return replace(result, status=other)
        if self.compact:
            await compact_run(self.graph.checkpointer, session_id, run_id)
        publish("run_finished", stage=values.get("stage"), data=summary)
        return result

    async def _values_of(self, config: dict[str, Any], run_id: str) -> dict[str, Any]:
        """The last state of `run_id` in its thread (runs are tagged `moot_run_id` in checkpoints)."""
        checkpointer = self.graph.checkpointer
        if checkpointer:
            # collect first: the SQLite saver holds its lock while the listing is open
            found = [c.config async for c in checkpointer.alist(config, filter={"moot_run_id": run_id}, limit=1)]
            if found:
                return dict((await self.graph.aget_state(found[0])).values or {})
        raise UsageError(f"run {run_id!r} has no checkpoint left in session {config['configurable']['thread_id']!r}")

    def _announce_finished(self, run_id: str, session_id: str, values: dict[str, Any]) -> None:
        """Say that a run asked to resume had already finished (so `moot resume` prints its end)."""
        data = {**RunResult(run_id, session_id, "finished", values).summary(self.prices), "already_finished": True}
        self.bus.publish(
            Event(type="run_finished", run_id=run_id, session_id=session_id, workspace=self.workspace, stage=values.get("stage"), data=data)
        )

    async def fail(self, run_id: str, session_id: str, error: BaseException) -> Ended:
        """Record that a run failed outside its drive (it timed out, its job broke) and say so.

        Nothing is written, and nothing said, when the run is no longer running: its drive has
        recorded its own failure, or a cancel landed first. Returns the status the run has.
        """
        if (other := await self._settle(run_id, FAIL, error=error)) is not None:
            return other
        self.bus.publish(
            Event(type="run_failed", run_id=run_id, session_id=session_id, workspace=self.workspace, data=_error_data(error))
        )
        return "failed"

    async def _fail(self, run_id: str, exc: Exception, publish: Any) -> None:
        if await self._settle(run_id, FAIL, error=exc) is None:
            publish("run_failed", data=_error_data(exc))

    async def _settle(self, run_id: str, move: Move, *, result: Any = None, error: Any = None) -> Ended | None:
        """Write the run's end by `move`; None when written, else the status the run has instead.

        A compare-and-set (moot.persistence.transitions): a run that a client cancelled while
        this drive took its last step stays cancelled, and the drive reports that, not its end.
        """
        if self.index is None:
            return None
        moved = await self.index.move(run_id, move, result=result, error=error)
        return None if moved.applied else cast(Ended, moved.status)

    async def _reopen(self, run_id: str) -> None:
        if self.index is not None:
            await self.index.move(run_id, REOPEN)


def _awaits_answer(snapshot: Any) -> bool:
    """Paused for approval: its interrupt is pending, or a human updated the state during the pause
    (LangGraph's `update_state` writes a checkpoint without the interrupt; the router runs next,
    asks again, and the answer given with the resume goes to it)."""
    if snapshot.interrupts:
        return True
    return (snapshot.metadata or {}).get("source") == "update" and STAGE_ROUTER in snapshot.next


def _error_data(error: BaseException) -> dict[str, Any]:
    """What `run_failed` carries, as the run index stores it: the error's type and message."""
    return dict(error_payload(error) or {})


__all__ = ["Durability", "Orchestrator", "RunResult", "TaskRefused", "check_task", "initial_state", "new_id"]
