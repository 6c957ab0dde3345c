"""The per-run event log: one behaviour suite over the in-process and the Redis backend (real Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as aioredis

from moot.errors import UsageError
from moot.events import Event, EventBus
from moot.service.events import (
    EventLog,
    InProcessEventLog,
    InvalidEventId,
    LogEntry,
    RedisEventLog,
    event_log,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


def ev(run_id: str, n: int, type_: str = "agent_started", **data: object) -> Event:
    return Event(type=type_, run_id=run_id, seq=n, data={"n": n, **data})  # type: ignore[arg-type]


async def collect(log: EventLog, run_id: str, **kwargs: object) -> list[LogEntry | None]:
    return [e async for e in log.read(run_id, **kwargs)]  # type: ignore[arg-type]


def ns(entries: list[LogEntry | None]) -> list[int]:
    return [e.event.data["n"] for e in entries if e is not None]


async def _cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"moot-test:{uuid.uuid4().hex}:"


@pytest.fixture(params=["memory", "redis"])
async def log(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[EventLog]:
    made: EventLog = InProcessEventLog() if request.param == "memory" else RedisEventLog(REDIS_URL, prefix=prefix)
    yield made
    await made.aclose()
    if request.param == "redis":
        await _cleanup(prefix)


async def test_appends_are_read_back_in_order_with_increasing_ids(log: EventLog) -> None:
    ids = [await log.append(ev("r1", n)) for n in range(5)]
    ids += await log.append_many([ev("r1", n) for n in range(5, 8)] + [ev("other", 99)])
    r1_ids = ids[:8]
    # strictly increasing within a run (ids of different runs may coincide: they are per run)
    assert r1_ids == sorted(r1_ids, key=lambda i: tuple(int(p) for p in i.split("-"))) and len(set(r1_ids)) == 8
    got = await collect(log, "r1", follow=False)
    assert [e.id for e in got if e] == r1_ids
    assert ns(got) == list(range(8))
    original = ev("r1", 0)
    assert got[0] is not None and got[0].event.model_dump(exclude={"ts"}) == original.model_dump(exclude={"ts"})
    assert ns(await collect(log, "other", follow=False)) == [99]
    last = await log.last("r1")
    assert last is not None and last.id == r1_ids[-1] and last.event.data["n"] == 7
    assert await log.last("nobody") is None
    assert await collect(log, "nobody", follow=False) == []


async def test_resume_after_an_id_has_no_loss_and_no_duplicates(log: EventLog) -> None:
    ids = await log.append_many([ev("r", n) for n in range(1200)])  # more than one page of catch-up
    for k in (0, 499, 500, 777, 1198):
        got = await collect(log, "r", after=ids[k], follow=False)
        assert ns(got) == list(range(k + 1, 1200))
        assert [e.id for e in got if e] == ids[k + 1 :]
    assert await collect(log, "r", after=ids[-1], follow=False) == []
    # a valid id beyond the end: nothing yet
    assert await collect(log, "r", after=log.check_id(ids[-1]), follow=False) == []


async def test_a_restarted_in_process_log_continues_above_the_ids_of_the_last_one() -> None:
    """An embedded server that restarts resumes its runs in a new log: a client reconnecting with
    the id it had gets everything the new process logs, as it would from Redis."""
    before = InProcessEventLog()
    old = await before.append_many([ev("r", 0), ev("r", 1)])
    after = InProcessEventLog()  # the restarted process
    new = await after.append_many([ev("r", 2), ev("r", 3)])
    assert old[-1] < new[0] and ns(await collect(after, "r", after=old[-1], follow=False)) == [2, 3]


async def test_follow_stops_at_a_terminal_event_and_a_resumed_run_continues_after_it(log: EventLog) -> None:
    await log.append_many([ev("r", 0, "run_started"), ev("r", 1), ev("r", 2, "run_failed")])
    # the run is resumed (maybe by another worker): its own seq restarts, the log order goes on
    more = await log.append_many([ev("r", 3, "run_started"), ev("r", 4, "run_finished"), ev("r", 5)])
    first = await asyncio.wait_for(collect(log, "r"), 5)
    assert ns(first) == [0, 1, 2]
    assert first[-1] is not None
    second = await asyncio.wait_for(collect(log, "r", after=first[-1].id), 5)
    assert ns(second) == [3, 4] and second[-1] is not None and second[-1].id == more[1]
    for terminal in ("run_cancelled",):
        await log.append(ev("t", 0, terminal))
        assert ns(await asyncio.wait_for(collect(log, "t"), 5)) == [0]


async def test_follow_yields_none_on_silence_and_waits_for_a_run_that_does_not_exist_yet(log: EventLog) -> None:
    reader = log.read("later", heartbeat_s=0.05)
    t0 = time.monotonic()
    assert await asyncio.wait_for(reader.__anext__(), 5) is None
    assert await asyncio.wait_for(reader.__anext__(), 5) is None
    assert time.monotonic() - t0 >= 0.09  # two heartbeats, not a busy loop

    async def produce() -> None:
        await asyncio.sleep(0.1)
        await log.append(ev("later", 1))
        await asyncio.sleep(0.2)
        await log.append(ev("later", 2, "run_finished"))

    task = asyncio.create_task(produce())
    rest = [e async for e in reader]
    await task
    assert ns(rest) == [1, 2]
    assert None in rest  # silence between the two events was reported too
    assert rest[-1] is not None and rest[-1].event.type == "run_finished"


async def test_closing_a_blocked_follow_reader_returns_promptly(log: EventLog) -> None:
    reader = log.read("quiet", heartbeat_s=30)
    task = asyncio.create_task(reader.__anext__())
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await reader.aclose()
    assert time.monotonic() - t0 < 1
    await log.append(ev("quiet", 1, "run_finished"))  # the log still works afterwards
    assert ns(await asyncio.wait_for(collect(log, "quiet"), 5)) == [1]


async def test_readers_joining_during_appends_miss_nothing(log: EventLog) -> None:
    """The catch-up/live race: events appended while a reader catches up must still reach it."""
    total = 300
    ids: list[str] = []
    readers: list[asyncio.Task[list[LogEntry | None]]] = []
    from_id: list[int] = []
    for n in range(total):
        if n % 37 == 0:  # a fresh reader from the start, and one resuming from the last id
            readers.append(asyncio.create_task(collect(log, "race", heartbeat_s=30)))
            from_id.append(-1)
            if ids:
                readers.append(asyncio.create_task(collect(log, "race", after=ids[-1], heartbeat_s=30)))
                from_id.append(len(ids) - 1)
        ids.append(await log.append(ev("race", n, "run_finished" if n == total - 1 else "agent_started")))
        await asyncio.sleep(0)  # let readers run between appends, at every possible point
    # a long heartbeat: a reader that missed a wake-up would stall here instead of catching up later
    results = await asyncio.wait_for(asyncio.gather(*readers), 10)
    for start, got in zip(from_id, results, strict=True):
        assert ns(got) == list(range(start + 1, total)), f"reader after index {start}"
        assert [e.id for e in got if e] == ids[start + 1 :]


async def test_a_waiting_reader_is_woken_by_each_append(log: EventLog) -> None:
    """No lost wake-ups: with a long heartbeat, a missed notification would stall the reader."""
    reader = log.read("pp", heartbeat_s=30)
    for n in range(20):
        pending = asyncio.create_task(reader.__anext__())  # type: ignore[arg-type]
        await asyncio.sleep(0.02 if n % 2 else 0)  # the reader already waiting, or not yet
        await log.append(ev("pp", n))
        entry = await asyncio.wait_for(pending, 2)
        assert entry is not None and entry.event.data["n"] == n
    await reader.aclose()


async def test_invalid_ids_are_a_clear_value_error(log: EventLog) -> None:
    await log.append(ev("r", 0))
    bad = ["", "abc", "1-2-3", "-1", "1-", " 1-0", "1-0\n", "１-0", "99999999999999999999999-0", "1-99999999999999999999999", "0x10"]
    bad += ["1-0"] if isinstance(log, InProcessEventLog) else ["12", "1.5"]
    for value in bad:
        with pytest.raises(InvalidEventId) as info:
            log.check_id(value)
        assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)
        assert "invalid event id" in str(info.value)
        with pytest.raises(ValueError):
            await collect(log, "r", after=value, follow=False)
    with pytest.raises(ValueError, match="heartbeat_s"):
        await collect(log, "r", heartbeat_s=0)
    first = await log.last("r")
    assert first is not None and log.check_id(first.id) == first.id


async def test_delete_forgets_a_run(log: EventLog) -> None:
    await log.append_many([ev("gone", 1), ev("kept", 2)])
    await log.delete("gone")
    await log.delete("never-existed")
    assert await collect(log, "gone", follow=False) == []
    assert await log.last("gone") is None
    assert ns(await collect(log, "kept", follow=False)) == [2]


async def test_recorder_never_blocks_the_publisher(log: EventLog) -> None:
    bus = EventBus()
    recorder = log.attach(bus)
    events = [ev("busy", n) for n in range(10_000)] + [ev("busy", 10_000, "run_finished")]
    t0 = time.perf_counter()
    for event in events:
        bus.publish(event)
    elapsed = time.perf_counter() - t0
    assert await log.last("busy") is None  # nothing was written while publishing: it only queued
    assert recorder.pending == len(events)
    assert elapsed < 0.5, f"publishing 10,001 events took {elapsed:.3f}s"
    await asyncio.wait_for(recorder.flush(), 30)
    assert recorder.pending == 0 and recorder.written == len(events)
    got = await asyncio.wait_for(collect(log, "busy"), 30)
    assert ns(got) == list(range(10_001))
    await recorder.aclose()
    bus.publish(ev("busy", 1))  # detached: no longer recorded
    await asyncio.sleep(0.05)
    last = await log.last("busy")
    assert last is not None and last.event.data["n"] == 10_000


async def test_a_live_reader_sees_a_recorded_run(log: EventLog) -> None:
    bus = EventBus()
    async with log.attach(bus):
        reader = asyncio.create_task(collect(log, "live", heartbeat_s=0.5))
        await asyncio.sleep(0.05)
        for n in range(50):
            bus.publish(ev("live", n))
            await asyncio.sleep(0)
        bus.publish(ev("live", 50, "run_finished"))
        assert ns(await asyncio.wait_for(reader, 10)) == list(range(51))


async def test_in_process_log_keeps_about_maxlen_entries_and_expires_idle_runs() -> None:
    log = InProcessEventLog(maxlen=50, ttl_s=0.2)
    ids = await log.append_many([ev("r", n) for n in range(500)])
    got = await collect(log, "r", follow=False)
    assert 50 <= len(got) <= 57 and ns(got)[-1] == 499
    # a reader that fell behind the bound resumes at the oldest entry left
    assert ns(await collect(log, "r", after=ids[0], follow=False)) == ns(got)
    await asyncio.sleep(0.25)
    await log.append(ev("fresh", 0))
    assert await log.last("r") is None and await log.last("fresh") is not None


async def test_redis_log_bounds_and_expires_each_stream(prefix: str) -> None:
    log = RedisEventLog(REDIS_URL, prefix=prefix, maxlen=100, ttl_s=60)
    raw = aioredis.from_url(REDIS_URL)
    try:
        await log.append_many([ev("r", n, blob=object()) for n in range(1000)])  # data JSON cannot hold
        length = await raw.xlen(log.key("r"))
        assert 100 <= length < 1000
        assert 0 < await raw.ttl(log.key("r")) <= 60
        last = await log.last("r")
        assert last is not None and last.event.data["n"] == 999 and last.event.data["blob"].startswith("<object")
        await raw.xadd(log.key("r"), {"junk": "1"})  # not ours: skipped, not a crash
        assert ns(await collect(log, "r", follow=False))[-1] == 999
    finally:
        await raw.aclose()
        await log.aclose()
        await _cleanup(prefix)


async def test_two_redis_workers_append_one_run_and_a_reader_sees_all_in_order(prefix: str) -> None:
    """Two processes' worth of clients append to one run (a run resumed elsewhere, or both racing)."""
    worker_a = RedisEventLog(REDIS_URL, prefix=prefix)
    worker_b = RedisEventLog(REDIS_URL, prefix=prefix)
    api = RedisEventLog(REDIS_URL, prefix=prefix)
    per_worker = 400
    try:
        reader = asyncio.create_task(collect(api, "shared", heartbeat_s=0.5))

        async def work(log: RedisEventLog, name: str) -> list[str]:
            ids = []
            for n in range(per_worker):
                first = ev("shared", 2 * n, worker=name)
                batch = [first] if n % 3 else [first, ev("shared", 2 * n + 1, worker=name)]  # some in one pipeline
                ids += await log.append_many(batch)
            return ids

        ids_a, ids_b = await asyncio.gather(work(worker_a, "a"), work(worker_b, "b"))
        assert not set(ids_a) & set(ids_b)
        await api.append(ev("shared", -1, "run_finished"))
        got = [e for e in await asyncio.wait_for(reader, 20) if e is not None]
        keys = [tuple(int(p) for p in e.id.split("-")) for e in got]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert len(got) == len(ids_a) + len(ids_b) + 1
        for name, ids in (("a", ids_a), ("b", ids_b)):
            mine = [e for e in got if e.event.data.get("worker") == name]
            assert [e.id for e in mine] == ids  # each worker's own order is kept
            assert [e.event.data["n"] for e in mine] == sorted(e.event.data["n"] for e in mine)
    finally:
        for log in (worker_a, worker_b, api):
            await log.aclose()
        await _cleanup(prefix)


async def test_recorder_with_redis_down_neither_blocks_nor_hangs_on_close() -> None:
    log = RedisEventLog("redis://127.0.0.1:1/0", prefix="moot-test-down:")
    bus = EventBus()
    recorder = log.attach(bus, max_pending=100)
    t0 = time.perf_counter()
    for n in range(1000):
        bus.publish(ev("down", n))
    assert time.perf_counter() - t0 < 0.2
    await asyncio.sleep(0.1)  # the writer tries, fails, backs off
    assert recorder.dropped >= 900 and recorder.written == 0  # bounded: oldest pending dropped
    with pytest.raises(TimeoutError):
        await recorder.flush(timeout=0.2)
    t0 = time.perf_counter()
    await recorder.aclose(timeout=0.2)
    assert time.perf_counter() - t0 < 2
    await log.aclose()


async def test_factory_and_argument_checks(prefix: str) -> None:
    assert isinstance(event_log(), InProcessEventLog)
    made = event_log(REDIS_URL, prefix=prefix, maxlen=5, ttl_s=10)
    assert isinstance(made, RedisEventLog) and made.key("x") == f"{prefix}events:x" and made.maxlen == 5
    await made.aclose()
    for bad in ({"maxlen": 0}, {"ttl_s": 0}, {"maxlen": 1.5}):
        with pytest.raises(ValueError):
            event_log(**bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="running event loop"):
        await asyncio.to_thread(InProcessEventLog().attach, EventBus())


class _CountingLog(InProcessEventLog):
    """The in-process log, counting its writes (each one wakes every reader of the run)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    async def append_many(self, events: Sequence[Event]) -> list[str]:
        self.writes.append(len(events))
        return await super().append_many(events)


async def test_a_lingering_recorder_writes_fewer_fuller_batches_and_never_holds_back_the_end() -> None:
    log, bus = _CountingLog(), EventBus()
    recorder = log.attach(bus)
    recorder.linger_s = 0.5  # long enough that only the terminal event can end the wait
    loop = asyncio.get_running_loop()
    for n in range(5):
        bus.publish(ev("r", n))
        await asyncio.sleep(0.005)
    assert log.writes == []  # still gathering
    started = loop.time()
    bus.publish(ev("r", 5, "run_finished"))
    await recorder.flush(timeout=1.0)
    assert loop.time() - started < 0.25  # the run's end went at once, not after the linger
    assert log.writes == [6] and ns(await collect(log, "r", follow=False)) == list(range(6))
    # without a terminal event the batch goes when the linger is over
    recorder.linger_s = 0.05
    bus.publish(ev("r2", 0))
    await recorder.flush(timeout=1.0)
    assert log.writes == [6, 1]
    await recorder.aclose()


async def test_a_lingering_recorder_does_not_hold_back_a_request_for_approval() -> None:
    log, bus = _CountingLog(), EventBus()
    recorder = log.attach(bus)
    recorder.linger_s = 0.5
    loop = asyncio.get_running_loop()
    bus.publish(ev("r", 0))
    await asyncio.sleep(0.005)
    started = loop.time()
    bus.publish(ev("r", 1, "approval_requested"))
    while not log.writes and loop.time() - started < 1.0:
        await asyncio.sleep(0.005)
    assert loop.time() - started < 0.25  # a person is waiting to be asked
    assert log.writes == [2]
    await recorder.aclose()


def test_the_redis_log_lingers_and_the_in_process_one_does_not() -> None:
    assert RedisEventLog.linger_s > 0 and InProcessEventLog.linger_s == 0
