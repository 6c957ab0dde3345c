"""Episodic memory: the same behaviour tests against the in-process store and a real Redis.

The Redis backend runs against the server on 127.0.0.1:6379 under a fresh prefix per test, removed
afterwards; a Redis that is down fails these tests, it never skips them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from conftest import scripted_runtime

from moot.errors import UsageError
from moot.events import Event, EventBus
from moot.memory.episodic import DAY, EpisodicStore, InProcessEpisodic
from moot.memory.episodic.redis import RedisEpisodic
from moot.memory.episodic.recorder import EpisodicRecorder, records_from_entries, render
from moot.memory.types import EpisodicRecord
from moot.persistence.ledger import MemoryLedger
from redistools import redis_namespace

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


class Clock:
    """Wall-clock time that a test moves by hand (starts now, so Redis TTLs stay meaningful)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def redis_prefix() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    async with redis_namespace() as namespace:
        yield namespace


@pytest_asyncio.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[Callable[..., EpisodicStore]]:
    """A factory of stores of one backend, all on the test's clock (and, for Redis, one prefix)."""
    made: list[EpisodicStore] = []
    async with AsyncExitStack() as stack:
        if request.param == "redis":
            client, prefix = await stack.enter_async_context(redis_namespace())

            def make(**options: Any) -> EpisodicStore:
                made.append(RedisEpisodic(client, prefix=prefix, **{"clock": clock, **options}))
                return made[-1]
        else:

            def make(**options: Any) -> EpisodicStore:
                made.append(InProcessEpisodic(**{"clock": clock, **options}))
                return made[-1]

        yield make
        for store in made:
            await store.aclose()


@pytest.fixture
def store(make_store: Callable[..., EpisodicStore]) -> EpisodicStore:
    return make_store()


def rec(clock: Clock, dt: float = 0.0, **fields: Any) -> EpisodicRecord:
    base: dict[str, Any] = {"user_id": "u1", "session_id": "s1", "run_id": "r1", "task": "trip", "stage": "proposal",
                            "agent": "optimistic", "round": 1, "kind": "proposal", "text": "t", "ts": clock.now + dt, "data": {}}
    base.update(fields)
    return EpisodicRecord(**base)


def ids(records: list[EpisodicRecord]) -> list[str]:
    return [r.id for r in records]


def corpus(clock: Clock) -> list[EpisodicRecord]:
    """24 records over 2 sessions x 2 runs x 2 stages x 3 agents, with distinct times."""
    out = []
    for n, (s, r, stage, agent) in enumerate(itertools.product(["s1", "s2"], ["r1", "r2"], ["proposal", "synthesis"],
                                                               ["optimistic", "critic", "synthesizer"])):
        out.append(rec(clock, dt=-1000 + n, id=f"e{n:02d}", session_id=s, run_id=f"{s}-{r}", task=f"task {s}",
                       stage=stage, agent=agent, kind="review" if agent == "critic" else "proposal",
                       round=1 + n % 2, text=f"entry {n}", data={"n": n}))
    return out


# -- record and query ---------------------------------------------------------------------


async def test_query_by_each_field_and_by_several(store: EpisodicStore, clock: Clock) -> None:
    records = corpus(clock)
    assert await store.record(records) == ids(records)
    newest_first = sorted(records, key=lambda r: r.ts, reverse=True)
    for field in ("session_id", "run_id", "task", "stage", "agent", "kind", "round"):
        for value in {getattr(r, field) for r in records}:
            got = await store.query("u1", **{field: value})
            assert got == [r for r in newest_first if getattr(r, field) == value], (field, value)
    got = await store.query("u1", session_id="s2", stage="synthesis", agent="critic", round=1)
    assert got == [r for r in newest_first if (r.session_id, r.stage, r.agent, r.round) == ("s2", "synthesis", "critic", 1)]
    assert len(got) == 2
    assert await store.query("u1", session_id="s1", run_id="s2-r1") == []
    assert await store.query("u1", agent="nobody") == []
    assert await store.query("u1") == newest_first


async def test_records_round_trip_exactly(store: EpisodicStore, clock: Clock) -> None:
    odd = rec(clock, id="a:b/c d", user_id="user:1{x}", session_id="s:1", task="x" * 300, text="ünïcode ✓",
              data={"nested": {"list": [1, 2.5, None, True]}, "text": "ok", "when": (1, 2)})
    await store.record([odd])
    [got] = await store.query("user:1{x}", session_id="s:1", task="x" * 300)
    assert got == replace(odd, data={"nested": {"list": [1, 2.5, None, True]}, "text": "ok", "when": [1, 2]})


async def test_defaults_fill_id_and_time(store: EpisodicStore, clock: Clock) -> None:
    [stored] = await store.record([rec(clock, ts=0.0)])
    [got] = await store.query("u1")
    assert got.id == stored and got.ts == clock.now


async def test_newest_first_ties_by_id_and_half_open_windows(store: EpisodicStore, clock: Clock) -> None:
    t = clock.now
    await store.record([rec(clock, id="b", ts=t - 10), rec(clock, id="a", ts=t - 10), rec(clock, id="c", ts=t - 5),
                        rec(clock, id="d", ts=t - 1)])
    assert ids(await store.query("u1")) == ["d", "c", "b", "a"]
    assert ids(await store.query("u1", since=t - 10, until=t - 1)) == ["c", "b", "a"]
    assert ids(await store.query("u1", since=t - 5)) == ["d", "c"]
    assert ids(await store.query("u1", until=t - 5, agent="optimistic")) == ["b", "a"]
    assert await store.query("u1", since=t, until=t - 20) == []


async def test_limit_takes_the_newest(store: EpisodicStore, clock: Clock) -> None:
    records = corpus(clock)
    await store.record(records)
    newest = sorted(records, key=lambda r: r.ts, reverse=True)
    assert await store.query("u1", limit=3) == newest[:3]
    assert await store.query("u1", session_id="s1", kind="review", limit=2) == [
        r for r in newest if r.session_id == "s1" and r.kind == "review"][:2]
    assert await store.query("u1", limit=0) == []
    with pytest.raises(UsageError):
        await store.query("u1", limit=-1)


async def test_writing_an_id_again_replaces_the_record_and_its_indexes(store: EpisodicStore, clock: Clock) -> None:
    await store.record([rec(clock, id="x", stage="proposal", text="old")])
    await store.record([rec(clock, id="x", stage="synthesis", text="new", dt=1)])
    assert await store.query("u1", stage="proposal") == []
    assert [r.text for r in await store.query("u1", stage="synthesis")] == ["new"]
    assert len(await store.query("u1")) == 1


# -- TTL and pruning ----------------------------------------------------------------------


async def test_ttl_hides_expired_records_and_prune_removes_them(make_store: Callable[..., EpisodicStore], clock: Clock) -> None:
    store = make_store(ttl=DAY, prune_interval=None)
    await store.record([rec(clock, id="old", dt=-0.5 * DAY), rec(clock, id="new"), rec(clock, id="s2", session_id="s2")])
    assert await store.record([rec(clock, id="dead", dt=-2 * DAY)]) == []  # already past its TTL
    assert ids(await store.query("u1")) == ["s2", "new", "old"]
    clock.now += 0.6 * DAY
    assert ids(await store.query("u1")) == ["s2", "new"]  # expired, though not pruned yet
    assert ids(await store.query("u1", since=clock.now - 10 * DAY, session_id="s1")) == ["new"]
    assert await store.prune() == 1
    clock.now += DAY
    assert await store.query("u1") == []
    assert await store.prune() == 2
    assert await store.prune() == 0


async def test_record_prunes_on_its_own_every_interval(make_store: Callable[..., EpisodicStore], clock: Clock) -> None:
    store = make_store(ttl=100.0, prune_interval=50.0)
    await store.record([rec(clock, id="a")])
    clock.now += 101
    await store.record([rec(clock, id="b", user_id="u2")])  # the interval has passed: prunes u1's "a"
    store.ttl = None  # so a query would show "a" if it were still stored
    assert await store.query("u1") == []
    assert ids(await store.query("u2")) == ["b"]


async def test_per_session_cap_on_write_and_on_prune(make_store: Callable[..., EpisodicStore], clock: Clock) -> None:
    store = make_store(max_per_session=3)
    await store.record([rec(clock, id=f"a{i}", dt=i) for i in range(5)])
    await store.record([rec(clock, id=f"b{i}", dt=i, session_id="s2") for i in range(2)])
    assert ids(await store.query("u1", session_id="s1")) == ["a4", "a3", "a2"]
    assert ids(await store.query("u1", agent="optimistic")) == ["a4", "a3", "a2", "b1", "b0"]
    store.max_per_session = 1
    assert await store.prune() == 3
    assert ids(await store.query("u1")) == ["a4", "b1"]
    with pytest.raises(UsageError):
        make_store(max_per_session=0)


# -- isolation and forgetting --------------------------------------------------------------


async def test_users_never_see_each_other(store: EpisodicStore, clock: Clock) -> None:
    a = corpus(clock)
    b = [replace(r, user_id="u2", id=r.id) for r in a[:3]]  # same ids, sessions, runs, tasks
    colliding = [rec(clock, user_id="u1:s", id="z1"), rec(clock, user_id="u1%3As", id="z2"), rec(clock, user_id="{u1}", id="z3")]
    await store.record(a + b + colliding)
    filters = [{}, {"session_id": "s1"}, {"run_id": "s1-r1"}, {"task": "task s1"}, {"stage": "proposal"},
               {"agent": "optimistic", "kind": "proposal"}, {"round": 1, "since": 0}]
    for f in filters:
        assert {r.user_id for r in await store.query("u2", **f)} <= {"u2"}, f
        assert all(r.user_id == "u1" for r in await store.query("u1", **f)), f
    assert len(await store.query("u2")) == 3
    assert [ids(await store.query(u)) for u in ("u1:s", "u1%3As", "{u1}")] == [["z1"], ["z2"], ["z3"]]
    for bad in ("", None):
        with pytest.raises(UsageError, match="user_id"):
            await store.query(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="user_id"):
        await store.record([rec(clock, user_id="")])


async def test_delete_session_and_user(store: EpisodicStore, clock: Clock) -> None:
    a = corpus(clock)
    await store.record(a + [replace(r, user_id="u2") for r in a])
    assert await store.delete_session("u1", "s1") == 12
    assert {r.session_id for r in await store.query("u1")} == {"s2"}
    assert await store.query("u1", stage="proposal", session_id="s1") == []
    assert len(await store.query("u2", session_id="s1")) == 12  # the other user's s1 is untouched
    assert await store.delete_user("u1") == 12
    assert await store.query("u1") == []
    assert len(await store.query("u2")) == 24
    assert await store.delete_user("u1") == 0
    with pytest.raises(UsageError):
        await store.delete_session("u2", "")


# -- Redis specifics ---------------------------------------------------------------------


async def test_redis_keys_expire_with_the_records_and_nothing_is_left(redis_prefix: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis_prefix
    store = RedisEpisodic(client, prefix=prefix, ttl=0.3)
    now = time.time()
    await store.record([EpisodicRecord("u1", "s1", "r1", "trip", "proposal", "a", 1, "proposal", "t", now, id="x")])
    names = {k.decode() async for k in client.scan_iter(match=prefix + "*")}
    assert f"{prefix}ep:{{u1}}:rec:x" in names and f"{prefix}ep:{{u1}}:ix:session:=s1" in names
    assert f"{prefix}ep:users" in names
    for name in names - {f"{prefix}ep:users"}:
        assert 0 < await client.pttl(name) <= 300, name
    await asyncio.sleep(0.35)
    assert {k.decode() async for k in client.scan_iter(match=prefix + "*")} == {f"{prefix}ep:users"}
    assert await store.prune() == 0  # nothing to remove, and the user is forgotten
    assert [k async for k in client.scan_iter(match=prefix + "*")] == []


async def test_redis_delete_user_leaves_no_key_of_that_user(redis_prefix: tuple[aioredis.Redis, str], clock: Clock) -> None:
    client, prefix = redis_prefix
    store = RedisEpisodic(client, prefix=prefix, clock=clock)
    await store.record(corpus(clock) + [rec(clock, user_id="u2", id="keep")])
    await store.delete_user("u1")
    left = {k.decode() async for k in client.scan_iter(match=prefix + "*")}
    assert left and not any("{u1}" in k for k in left)
    assert await client.smembers(f"{prefix}ep:users") == {b"u2"}


async def test_redis_query_fills_its_limit_past_records_redis_expired_first(
    redis_prefix: tuple[aioredis.Redis, str], clock: Clock
) -> None:
    client, prefix = redis_prefix
    store = RedisEpisodic(client, prefix=prefix, clock=clock)
    await store.record([rec(clock, id=f"x{i}", dt=i) for i in range(6)])
    await client.delete(f"{prefix}ep:{{u1}}:rec:x5", f"{prefix}ep:{{u1}}:rec:x4")  # as the server's own expiry would
    assert ids(await store.query("u1", limit=3)) == ["x3", "x2", "x1"]
    assert ids(await store.query("u1", agent="optimistic", stage="proposal", limit=3)) == ["x3", "x2", "x1"]


# -- the recorder on a real run ------------------------------------------------------------


async def test_recorder_records_every_entry_of_a_demo_run(store: EpisodicStore, classic_script: dict[str, Any]) -> None:
    runtime, _ = scripted_runtime(classic_script)  # the classic fixture workspace: the demo's shape before issue 11
    bus = EventBus()
    recorder = EpisodicRecorder(store, user_id="u1")
    recorder.attach(bus)
    async with runtime.open_tools(MemoryLedger()):
        result = await runtime.orchestrator(bus=bus).run(TASK, user_id="u1", session_id="sess-1")
    await recorder.flush()
    history = result.state["history"]
    assert {e["type"] for e in history} >= {"proposal", "review", "decision", "tool_call", "tool_result"}

    records = list(reversed(await store.query("u1", run_id=result.run_id)))
    assert [(r.kind, r.agent, r.stage, r.round) for r in records] == [(e["type"], e["agent"], e["stage"], e["round"]) for e in history]
    assert [r.data for r in records] == [e["content"] for e in history]
    assert {(r.user_id, r.session_id, r.task) for r in records} == {("u1", "sess-1", TASK)}
    assert recorder.written == len(history) and recorder.failed == recorder.skipped == 0

    [decision] = await store.query("u1", session_id="sess-1", kind="decision")
    assert decision.agent == "synthesizer" and decision.text.startswith("[synthesis r1] synthesizer chose alfama-walks")
    reviews = await store.query("u1", stage="proposal", kind="review")
    assert {r.agent for r in reviews} == {"critic", "devils_advocate"}
    assert "Hilly streets" in next(r.text for r in reviews if r.agent == "critic")
    [proposal] = await store.query("u1", task=TASK, kind="proposal")
    assert "alfama-walks" in proposal.text and "sintra-cascais" in proposal.text
    results = await store.query("u1", agent="tool_runtime", kind="tool_result")
    assert [r.data["tool"] for r in results] == ["book", "search_hotels"]
    assert results[0].text.startswith("[booking r1] book returned") and "BK-" in results[0].text
    assert all(len(r.text) <= 600 for r in records)
    assert await store.query("u2", run_id=result.run_id) == []


async def test_recorder_takes_the_user_from_run_started_and_never_guesses(store: EpisodicStore, clock: Clock) -> None:
    recorder = EpisodicRecorder(store)  # no default user
    entry = {"type": "note", "agent": "critic", "stage": "proposal", "round": 2, "content": {"text": "too pricey"}}

    def patch(run_id: str, seq: int) -> Event:
        return Event(type="state_patch", run_id=run_id, session_id="s9", seq=seq, ts=clock.now + seq, agent="critic",
                     data={"node": "critic", "update": {"history": [entry], "rewards": {}}})

    recorder(Event(type="run_started", run_id="r-a", session_id="s9", data={"task": "T", "user_id": "alice"}))
    recorder(patch("r-a", 2))
    recorder(patch("r-unknown", 3))  # no run_started, no default user: not recorded
    recorder(Event(type="state_patch", run_id="r-a", session_id="s9", seq=4, data={"update": {"stage": "x"}}))
    await recorder.flush()
    [got] = await store.query("alice")
    assert (got.task, got.session_id, got.round, got.kind, got.text) == ("T", "s9", 2, "note", "[proposal r2] critic: too pricey")
    assert recorder.skipped == 1 and recorder.written == 1


class _CountingRecords:
    def __init__(self) -> None:
        self.batches: list[int] = []

    async def record(self, records: list[Any]) -> None:
        self.batches.append(len(records))


async def test_a_lingering_recorder_writes_a_run_in_few_batches_and_at_once_when_it_ends() -> None:
    sink = _CountingRecords()
    recorder = EpisodicRecorder(sink, user_id="u", linger_s=0.5)
    entry = {"type": "note", "agent": "critic", "content": {"text": "t"}}
    loop = asyncio.get_running_loop()

    def patch(seq: int) -> Event:
        return Event(type="state_patch", run_id="r", session_id="s", seq=seq, data={"update": {"history": [entry]}})

    for seq in range(4):
        recorder(patch(seq))
        await asyncio.sleep(0.005)
    assert sink.batches == []  # still gathering
    started = loop.time()
    recorder(Event(type="run_finished", run_id="r", session_id="s"))
    while not sink.batches and loop.time() - started < 1.0:
        await asyncio.sleep(0.005)
    assert loop.time() - started < 0.25 and sink.batches == [4]  # the run's end sends them at once
    recorder(patch(9))
    started = loop.time()
    await recorder.flush()  # a flush does not wait for the linger either
    assert loop.time() - started < 0.25 and sink.batches == [4, 1]


def test_render_and_records_from_entries_handle_any_shape() -> None:
    assert render({"type": "tool_call", "agent": "booking", "stage": "booking", "round": 1,
                   "content": {"tool": "book", "arguments": {"item_id": "H-1", "nights": 3}}}) == (
        "[booking r1] booking called book(item_id=H-1, nights=3)")
    assert render({"type": "tool_error", "agent": "tool_runtime", "stage": "b", "round": 1,
                   "content": {"tool": "book", "error": "sold out"}}) == "[b r1] book failed: sold out"
    odd = render({"type": "proposal", "agent": "x", "stage": "p", "round": 1, "content": {"weird": "y" * 2000}})
    assert odd.startswith('[p r1] x proposal: {"weird":') and len(odd) == 600
    [r] = records_from_entries([{"type": "custom", "content": "plain"}, "not a dict"], user_id="u", session_id="s",
                               run_id="r", task="t", ts=1.5, seq=7)
    assert (r.id, r.kind, r.data, r.round) == ("r:0000000001500.00007.000", "custom", {"value": "plain"}, 1)
