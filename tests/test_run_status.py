"""One writer of a run's status, and a cancel that races the run's last step (issue 12).

Every status change is a compare-and-set move on the real run index (SQLite and PostgreSQL):
a terminal status is never overwritten, and of a cancel and a run's end that race, exactly one
lands; the run index, what the executor returns and the run's event log then agree on which.
The races are real: the index level runs both writes at once many times; the service level
runs the demo deliberation on the scripted model through the executor and cancels it exactly
at its last write (both orders, by a hook on the index), then at random moments around its end.
"""

from __future__ import annotations

import re

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pgtools import PG_URL, forget, uid

import moot

from moot.models.scripted import ScriptedChatModel
from moot.persistence import (
    ACTIVE,
    CANCEL_RUNNING,
    CANCEL_WAITING,
    FAIL,
    FINISH,
    MOVES,
    PAUSE,
    REOPEN,
    REQUEUE,
    Move,
    Moved,
    Persistence,
    RunIndex,
    open_persistence,
)
from moot.service.context import ServiceContext
from moot.service.jobs import CANCELLED, cancel_run
from moot.service.settings import ServiceSettings

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
TERMINAL_EVENTS = {"run_finished", "run_failed", "run_cancelled"}


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "moot.db") if request.param == "sqlite" else PG_URL


@pytest.fixture
def prefix() -> str:
    """Every run id of a test starts with this, so the test can delete its rows from PostgreSQL."""
    return uid("status")


@pytest.fixture
async def store(database: str, prefix: str) -> AsyncIterator[Persistence]:
    async with open_persistence(database, pool_size=4) as persistence:
        try:
            yield persistence
        finally:
            if persistence.backend == "postgres":
                await forget(persistence, prefix)


async def _queued(index: RunIndex, prefix: str) -> str:
    run_id = uid(prefix)
    await index.add(run_id, uid("session"), "demo", TASK, "ana", tenant=prefix, status="queued")
    return run_id


def test_every_cancel_leaves_every_active_status_and_outcomes_leave_only_running() -> None:
    assert {s for m in MOVES if m.name == "cancel" for s in m.leaves} == set(ACTIVE)
    assert {m.to for m in (PAUSE, FINISH, FAIL)} == {"awaiting_approval", "finished", "failed"}
    assert all(m.leaves == ("running",) for m in (PAUSE, FINISH, FAIL))
    assert "finished" not in REOPEN.leaves


def test_no_module_writes_a_status_but_through_a_move() -> None:
    """`set_status` puts a run in any status whatever it was: for repairs and tests, not for moot."""
    src = Path(moot.__file__).parent
    # (a trace span's `span.set_status(...)`, OpenTelemetry's, is not the run index's)
    writers = [str(p.relative_to(src)) for p in src.rglob("*.py") if re.search(r"(?<!span)\.set_status\(|def set_status\(", p.read_text(encoding="utf-8"))]
    assert writers == ["persistence/runs.py"]


async def test_a_terminal_status_is_never_overwritten_by_a_move(store: Persistence, prefix: str) -> None:
    index = store.index
    run_id = await _queued(index, prefix)
    cancelled = await index.move(run_id, CANCEL_WAITING, error=CANCELLED)
    assert cancelled.applied and cancelled.status == "cancelled" and cancelled.record.error == CANCELLED
    for late in (FINISH, FAIL, PAUSE, CANCEL_RUNNING, CANCEL_WAITING):
        refused = await index.move(run_id, late, result={"winner": "x"}, error=RuntimeError("late"))
        assert not refused.applied and refused.record == await index.get(run_id)
        assert (refused.status, refused.record.error, refused.record.result) == ("cancelled", CANCELLED, None)

    again = await index.move(run_id, REQUEUE)  # a client asked to go on: an explicit move out of it
    assert again.applied and (again.status, again.record.finished_at, again.record.error) == ("queued", None, None)
    await index.claim(run_id, "worker-a")
    done = await index.move(run_id, FINISH, result={"winner": "alfama"})
    assert done.applied and done.record.result == {"winner": "alfama"} and done.record.finished_at is not None
    for late in (CANCEL_RUNNING, CANCEL_WAITING, FAIL, REOPEN, REQUEUE):
        assert not (await index.move(run_id, late, error=RuntimeError("late"))).applied
    final = await index.get(run_id)
    assert (final.status, final.result, final.error) == ("finished", {"winner": "alfama"}, None)


async def test_a_cancel_and_a_finish_written_at_once_one_wins_and_the_record_says_which(store: Persistence, prefix: str) -> None:
    index = store.index
    wins: dict[str, int] = {"finished": 0, "cancelled": 0}
    for i in range(40):
        run_id = await _queued(index, prefix)
        await index.claim(run_id, "worker-a")
        writes: list[tuple[Move, dict[str, Any]]] = [(FINISH, {"result": {"winner": "alfama"}}), (CANCEL_RUNNING, {"error": CANCELLED})]
        if i % 2:
            writes.reverse()  # which statement is sent first alternates
        finish, cancel = _by_move(await asyncio.gather(*(index.move(run_id, move, **kwargs) for move, kwargs in writes)), writes)
        assert finish.applied != cancel.applied, (finish, cancel)
        record = await index.get(run_id)
        winner = "finished" if finish.applied else "cancelled"
        wins[winner] += 1
        assert record.status == winner == finish.status == cancel.status
        assert (record.result is not None, record.error is not None) == (winner == "finished", winner == "cancelled")
    assert sum(wins.values()) == 40


def _by_move(results: list[Moved], writes: list[tuple[Move, dict[str, Any]]]) -> tuple[Moved, Moved]:
    """(the finish's outcome, the cancel's outcome) whatever order they were sent in."""
    by = {move.to: moved for (move, _), moved in zip(writes, results, strict=True)}
    return by["finished"], by["cancelled"]


# -- the service: a run on the scripted model, cancelled at its last step ---------------------


@pytest.fixture
async def service(database: str, prefix: str, demo_script: Any) -> AsyncIterator[ServiceContext]:
    settings = ServiceSettings(database_url=database, memory=False)
    ctx = await ServiceContext(settings, models={"default": ScriptedChatModel(script=demo_script)}).start()
    try:
        yield ctx
    finally:
        if ctx.persistence.backend == "postgres":
            await forget(ctx.persistence, prefix)
        await ctx.aclose()


async def _queue_run(ctx: ServiceContext, prefix: str) -> str:
    """What POST /v1/sessions/{id}/runs records before it submits the job."""
    session = await ctx.sessions.create(tenant=prefix, user_id="ana", workspace="demo")
    manager = await ctx.hub.get("demo")
    run_id = uid(prefix)
    await ctx.persistence.index.add(
        run_id, session.thread_id, "demo", TASK, "ana", str(manager.root),
        tenant=prefix, workspace_version=manager.current.hash, status="queued",
    )  # fmt: skip
    return run_id


async def _terminal_events(ctx: ServiceContext, run_id: str) -> list[str]:
    return [e.event.type async for e in ctx.events.read(run_id, follow=False) if e is not None and e.event.type in TERMINAL_EVENTS]


class CancelAtFinish:
    """The real run index, with a client's cancel landing right before (or right after) the
    statement that writes the run's end: the race, made to happen on every run."""

    def __init__(self, ctx: ServiceContext, *, cancel_first: bool) -> None:
        self.ctx = ctx
        self.index = ctx.persistence.index
        self.cancel_first = cancel_first
        self.cancel: Moved | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)

    async def move(self, run_id: str, move: Move, **written: Any) -> Moved:
        if move is not FINISH:
            return await self.index.move(run_id, move, **written)
        if self.cancel_first:
            self.cancel = await cancel_run(self.index, self.ctx.queue, self.ctx.events, run_id)
        moved = await self.index.move(run_id, move, **written)
        if not self.cancel_first:
            self.cancel = await cancel_run(self.index, self.ctx.queue, self.ctx.events, run_id)
        return moved


@pytest.mark.parametrize("cancel_first", [True, False], ids=["cancel-lands-first", "finish-lands-first"])
async def test_a_cancel_at_the_last_step_is_never_overwritten_and_everyone_agrees(
    service: ServiceContext, prefix: str, cancel_first: bool
) -> None:
    ctx = service
    run_id = await _queue_run(ctx, prefix)
    hook = CancelAtFinish(ctx, cancel_first=cancel_first)
    ctx.executor.index = hook
    status = await ctx.executor.execute(run_id)

    record = await ctx.persistence.index.get(run_id)
    assert hook.cancel is not None and hook.cancel.applied == cancel_first
    if cancel_first:  # the deliberation ran to its end, but the cancel was recorded first: it stands
        assert status == record.status == "cancelled"
        assert (record.result, record.error) == (None, CANCELLED)
        assert await _terminal_events(ctx, run_id) == ["run_cancelled"]
    else:  # the end was recorded first: the cancel moved nothing, as a 409 says to the client
        assert status == record.status == hook.cancel.status == "finished"
        assert record.result["winner"] and record.error is None
        assert await _terminal_events(ctx, run_id) == ["run_finished"]


async def test_cancels_racing_runs_on_the_inline_queue_leave_one_consistent_end(service: ServiceContext, prefix: str) -> None:
    """No hook: runs go through the inline queue and a client's cancel comes at a random moment
    around the run's end, so it lands before, during or after the run's last step."""
    ctx = service
    started = time.monotonic()
    calibration = await _queue_run(ctx, prefix)
    await ctx.queue.submit(calibration)
    await _settled(ctx, calibration)
    duration = time.monotonic() - started
    seen: dict[str, int] = {"finished": 0, "cancelled": 0}
    rng = random.Random(12)
    for _ in range(10):
        run_id = await _queue_run(ctx, prefix)
        await ctx.queue.submit(run_id)
        await asyncio.sleep(rng.uniform(0.3, 1.1) * duration)
        cancel = await cancel_run(ctx.persistence.index, ctx.queue, ctx.events, run_id)
        record = await _settled(ctx, run_id)
        terminal = await _terminal_events(ctx, run_id)
        seen[record.status] = seen.get(record.status, 0) + 1
        assert record.status in ("finished", "cancelled"), record
        assert cancel.applied == (record.status == "cancelled"), (cancel, record)
        assert terminal == ["run_cancelled" if record.status == "cancelled" else "run_finished"], (terminal, record)
        assert (record.error == CANCELLED) == (record.status == "cancelled")
    print(f"{ctx.persistence.backend}: run {duration:.2f} s; ends after racing cancels: {seen}")


async def _settled(ctx: ServiceContext, run_id: str, timeout: float = 60.0) -> Any:
    """The run once it has ended and its job has let go of it (its events are all in the log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = await ctx.persistence.index.get(run_id)
        if record.status not in ACTIVE and await ctx.leases.holder(run_id) is None and await _terminal_events(ctx, run_id):
            return record
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not settle in {timeout} s: {await ctx.persistence.index.get(run_id)}")
