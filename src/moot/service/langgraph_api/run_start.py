"""Starting a LangGraph run on moot: a new deliberation, an approval answer, or a fork.

One LangGraph run request becomes one of three moot actions, decided here and checked in full
before anything is written (a refusal leaves the thread, its runs and its checkpoints as they
were):

- `input` → a new moot run of the thread's session (the task is `input.task` or the last human
  message); a run waiting for approval in that thread is cancelled first (LangGraph lets a new
  input supersede an interrupt), a running one follows `multitask_strategy`;
- `command: {resume}` → the answer to the approval the thread's run waits on (approve, edit,
  reject; LangGraph-style values are mapped by `approval_answer`); the *same* moot run goes on,
  so the LangGraph run id of a resume is the paused run's id and its stream continues its log;
- `checkpoint_id` without input → a fork: a new run continues from that checkpoint; its first
  checkpoint is written as a child of the chosen one (LangGraph's own `aupdate_state`), so the
  thread's earlier checkpoints stay exactly as they were.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from moot.errors import MootError
from moot.events import Event
from moot.graph.approval import check_answer, parse_answer
from moot.graph.node import STAGE_ROUTER
from moot.persistence import ACTIVE, ANSWER, RunRecord
from moot.run import TaskRefused, check_task, new_id
from moot.service.jobs import cancel_run
from moot.service.jobs.executor import JOB_OPTIONS
from moot.service.langgraph_api.errors import LangGraphError, not_found
from moot.service.langgraph_api.run_body import LangGraphRunCreate, task_of
from moot.service.sessions import SessionNotFound, WorkspaceMismatch

if TYPE_CHECKING:
    from moot.service.auth import Principal
    from moot.service.context import ServiceContext
    from moot.service.events.base import EventLog
    from moot.service.sessions import Session

ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
"""The official server's namespace for an assistant id made from a graph id (uuid5)."""

Kind = Literal["start", "resume", "fork"]


@dataclass(frozen=True)
class Started:
    """A run as accepted: its record, what it does, and where its stream begins in its log."""

    record: RunRecord
    kind: Kind
    after: str | None = None
    """The log entry the LangGraph run's stream begins after (a resume: the pause)."""


def assistant_workspace(ctx: ServiceContext, assistant_id: str) -> str:
    """The workspace an assistant id names (its name, or the official server's uuid5 of it), or 404."""
    names = ctx.hub.names()
    if assistant_id in names:
        return assistant_id
    for name in names:
        if str(uuid.uuid5(ASSISTANT_NAMESPACE, name)) == assistant_id:
            return name
    raise not_found("Assistant", assistant_id)


async def thread_of(ctx: ServiceContext, who: Principal, thread_id: str, body: LangGraphRunCreate) -> tuple[Session, bool]:
    """The tenant's thread as the run will see it, and whether it is still to be bound; or
    404/409/422. An unbound thread comes back with the run's workspace filled in but not yet
    stored: `start(bind=True)` binds it once the run is accepted, so a refused run leaves it unbound."""
    workspace = assistant_workspace(ctx, body.assistant_id) if body.assistant_id else None
    try:
        session = await ctx.sessions.get(who.tenant, thread_id)
    except SessionNotFound:
        if body.if_not_exists != "create" or workspace is None:
            raise
        return await ctx.sessions.create(tenant=who.tenant, user_id="default", workspace=workspace, session_id=thread_id), False
    if workspace is None:
        if not session.workspace:
            raise LangGraphError(422, "the thread has no graph yet: name the run's assistant_id")
        return session, False
    if session.workspace and session.workspace != workspace:
        raise LangGraphError(409, str(WorkspaceMismatch(session, workspace)))
    if session.workspace:
        return session, False
    return session.model_copy(update={"workspace": workspace}), True


async def temporary_thread(ctx: ServiceContext, who: Principal, body: LangGraphRunCreate) -> Session:
    """A thread for a thread-less run (`POST /runs/...`), bound to the run's assistant."""
    if not body.assistant_id:
        raise LangGraphError(422, "assistant_id is required")
    workspace = assistant_workspace(ctx, body.assistant_id)
    return await ctx.sessions.create(tenant=who.tenant, user_id="default", workspace=workspace, metadata={"temporary": True})


def job_options(modes: tuple[str, ...]) -> dict[str, Any]:
    """What the run's job must record beyond a /v1 run (moot.service.jobs.executor.JOB_OPTIONS)."""
    return {JOB_OPTIONS: {"values": "values" in modes or "debug" in modes, "keep_checkpoints": True}}


async def start(ctx: ServiceContext, who: Principal, session: Session, body: LangGraphRunCreate, *, bind: bool = False) -> Started:
    """Accept the run (every check first), record it, queue its job; see the module docstring.
    `bind`: store the session's workspace as its binding once the run is accepted."""
    body.refuse_unsupported()
    options = job_options(body.modes())
    if body.command is not None:
        if body.checkpoint_to_fork():
            raise LangGraphError(422, "send either command.resume or a checkpoint to fork from, not both")
        return await _resume(ctx, who, session, body.command.resume, options)
    fork = body.checkpoint_to_fork()
    if fork and body.input:
        raise LangGraphError(
            422, "a run from a checkpoint continues that checkpoint's deliberation: send no input with checkpoint_id "
            "(a new input starts a new deliberation from the thread's latest state)"
        )
    manager = await ctx.hub.get(session.workspace)
    version = manager.current
    if fork:
        orch, _ = manager.orchestrator()
        snapshot = await orch.graph.aget_state(_at(orch.config(session.thread_id), fork))
        if not snapshot.values:
            raise not_found("Checkpoint", fork)
        task = str(snapshot.values.get("task") or "")
    else:
        limit = min(ctx.settings.limits.max_task_chars, version.workspace.spec.limits.task_max_chars)
        try:
            task = check_task(task_of(body.input), limit, limit_from="the smaller of the service's and the workspace's limits")
        except TaskRefused as exc:
            raise LangGraphError(422, str(exc)) from None
    await _make_room(ctx, who, session, body.multitask_strategy)
    if bind:
        await _bind(ctx, who, session)
    run_id = new_id("run")
    index = ctx.persistence.index
    await index.add(
        run_id, session.thread_id, session.workspace, task, session.user_id, str(manager.root),
        tenant=who.tenant, workspace_version=version.hash, status="queued",
    )
    await ctx.events.append(Event(type="run_queued", run_id=run_id, session_id=session.thread_id, workspace=session.workspace, data={"task": task}))
    record = await index.get(run_id, tenant=who.tenant)
    if fork:
        orch, _ = manager.orchestrator()
        snapshot = await orch.graph.aget_state(_at(orch.config(session.thread_id), fork))
        # the router runs next if the checkpoint had agents due; else an agent's write makes it run
        due = [n for n in snapshot.next if n != STAGE_ROUTER]
        as_node = STAGE_ROUTER if due else next(n for n in orch.graph.nodes if n not in (STAGE_ROUTER, "__start__"))
        await orch.graph.aupdate_state(_at(orch.config(session.thread_id, session.user_id, run_id), fork), {"run_id": run_id}, as_node=as_node)
    await ctx.queue.submit(run_id, "resume" if fork else "start", options)
    await ctx.sessions.touch(who.tenant, session.thread_id)
    return Started(record, "fork" if fork else "start")


async def _resume(ctx: ServiceContext, who: Principal, session: Session, value: Any, options: dict[str, Any]) -> Started:
    """Answer the approval the thread's run waits on; 409 when the thread is not interrupted."""
    index = ctx.persistence.index
    waiting = [r for r in await index.list(who.tenant, session_id=session.thread_id, limit=5) if r.status == "awaiting_approval"]
    if not waiting:
        raise LangGraphError(409, f"thread {session.thread_id!r} is not interrupted: there is no approval to resume")
    record = waiting[0]
    answer = approval_answer(value)
    manager = await ctx.hub.get(record.workspace)
    try:
        policy = manager.version(record.workspace_version).workspace.policy
    except MootError:  # that version is no longer loaded: the current one's policy
        policy = manager.current.workspace.policy
    check_answer(answer, policy)  # a forbidden edit is refused now (409 naming key and writers)
    log = cast("EventLog", ctx.events)
    last = await log.last(record.run_id)  # the continuation's stream begins after the pause
    moved = await index.move(record.run_id, ANSWER, result=record.result)
    if not moved.applied:
        raise LangGraphError(409, f"run {record.run_id!r} is {moved.status}, not waiting for approval")
    await ctx.queue.submit(record.run_id, "approve", {**answer.model_dump(exclude_none=True), **options})
    return Started(moved.record, "resume", after=last.id if last else None)


def approval_answer(value: Any) -> Any:
    """moot's approval answer from a LangGraph-style resume value, or a 422 saying what fits.

    Accepted: moot's own `{"action": "approve"|"edit"|"reject", "decision", "reason"}`; `True` /
    `False`; the words approve/accept/yes, reject/no/ignore; agent-inbox responses (`{"type":
    "accept"|"ignore"|"edit", "args"}`, also in a list); `{"decision": {...}}` (an edit).
    """
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        value = {"action": "approve" if value else "reject"}
    elif isinstance(value, str):
        word = value.strip().lower()
        if word in ("approve", "approved", "accept", "yes", "ok"):
            value = {"action": "approve"}
        elif word in ("reject", "rejected", "no", "ignore", "deny"):
            value = {"action": "reject"}
        else:
            raise LangGraphError(422, f"resume {value[:80]!r} is not an approval answer: use approve, reject, or {{\"action\": \"edit\", \"decision\": {{...}}}}")
    elif isinstance(value, dict) and "action" not in value:
        kind = value.get("type")
        if kind in ("accept", "ignore", "edit", "response"):
            args = value.get("args")
            value = {"accept": {"action": "approve"}, "ignore": {"action": "reject"}, "response": {"action": "reject", "reason": str(args or "")[:2000]}}.get(
                kind, {"action": "edit", "decision": (args or {}).get("args", args) if isinstance(args, dict) else args}
            )
        elif "decision" in value:
            value = {"action": "edit", **value}
    return parse_answer(value)


async def _bind(ctx: ServiceContext, who: Principal, session: Session) -> None:
    """Store the binding of an unbound thread to the run's workspace (the run has been accepted)."""
    try:
        await ctx.sessions.bind(who.tenant, session.thread_id, session.workspace)  # type: ignore[attr-defined]
    except WorkspaceMismatch as exc:  # another run bound it meanwhile
        raise LangGraphError(409, str(exc)) from None


async def _make_room(ctx: ServiceContext, who: Principal, session: Session, strategy: str) -> None:
    """The thread's active run gives way (a paused one always; a running one per `strategy`) or 409."""
    index = ctx.persistence.index
    limits = ctx.settings.limits
    busy = [r for r in await index.list(who.tenant, session_id=session.thread_id, limit=5) if r.status in ACTIVE]
    for run in busy:
        if run.status != "awaiting_approval" and strategy == "reject":
            raise LangGraphError(409, f"thread {session.thread_id!r} is busy: run {run.run_id!r} is {run.status} (multitask_strategy 'reject')")
    if await index.count_active(who.tenant) - len(busy) >= limits.max_active_runs:
        refused = LangGraphError(429, f"the tenant already has {limits.max_active_runs} active runs; wait for one to end")
        refused.headers = {"Retry-After": "5"}
        raise refused
    for run in busy:
        await cancel_run(index, ctx.queue, ctx.events, run.run_id)


def _at(config: dict[str, Any], checkpoint_id: str) -> dict[str, Any]:
    config["configurable"] = {**config["configurable"], "checkpoint_id": checkpoint_id, "checkpoint_ns": ""}
    return config


__all__ = ["ASSISTANT_NAMESPACE", "Started", "approval_answer", "assistant_workspace", "job_options", "start", "temporary_thread", "thread_of"]
