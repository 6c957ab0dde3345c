"""SessionControl: one behaviour suite against the in-process store and a real Redis.

The Redis backend runs against the server on 127.0.0.1:6379 under a fresh prefix per test, whose
keys are removed afterwards; a Redis that is down fails these tests, it never skips them. TTL tests
use real time (1 s TTLs), because Redis expires keys on its own clock.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from moot.errors import UsageError
from moot.service.sessions import (
    InProcessSessions,
    RedisSessions,
    Session,
    SessionControl,
    SessionNotFound,
    session_control,
)
from moot.service.sessions.sqlite import SqliteSessions
from redistools import REDIS_URL, redis_namespace

Make = Callable[..., SessionControl]


class Ticker:
    """Wall-clock time that never repeats (1 ms apart at least), so 'newest first' is well defined."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> float:
        self.last = max(time.time(), self.last + 0.001)
        return self.last


@pytest_asyncio.fixture
async def redis_ns() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    async with redis_namespace() as ns:
        yield ns


@pytest_asyncio.fixture(params=["memory", "sqlite", "redis"])
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Make]:
    """A factory of stores of one backend (Redis: all on one fresh prefix, like several API workers)."""
    made: list[SessionControl] = []
    async with AsyncExitStack() as stack:
        if request.param == "redis":
            client, prefix = await stack.enter_async_context(redis_namespace())

            def factory(**options: Any) -> SessionControl:
                made.append(RedisSessions(client, prefix=prefix, **options))
                return made[-1]
        elif request.param == "sqlite":

            def factory(**options: Any) -> SessionControl:  # one file: like a restarted process
                made.append(SqliteSessions(tmp_path / "sessions.db", **options))
                return made[-1]
        else:
            shared = InProcessSessions()

            def factory(**options: Any) -> SessionControl:
                made.append(InProcessSessions(**options) if options else shared)
                return made[-1]

        yield factory
        for store in made:
            await store.aclose()


@pytest.fixture
def store(make: Make) -> SessionControl:
    return make(clock=Ticker())


async def new(store: SessionControl, tenant: str = "acme", user_id: str = "u1", **kw: Any) -> Session:
    return await store.create(tenant=tenant, user_id=user_id, workspace="demo", **kw)


async def test_create_get_round_trip(store: SessionControl) -> None:
    s = await new(store, title="Lisbon trip", metadata={"channel": "web", "tags": ["a", 1, None]}, ttl_s=600)
    assert re.fullmatch(r"session-[0-9a-f]{32}", s.session_id) and s.thread_id == s.session_id
    assert (s.tenant, s.user_id, s.workspace, s.title, s.ttl_s) == ("acme", "u1", "demo", "Lisbon trip", 600)
    assert s.created_at == s.last_active and s.expires_at == pytest.approx(s.created_at + 600)
    assert abs(s.created_at - time.time()) < 5
    assert await store.get("acme", s.session_id) == s
    assert (await new(store)).ttl_s == 7 * 24 * 3600  # the default


async def test_unknown_session_is_not_found(store: SessionControl) -> None:
    for bad in ("session-" + "0" * 32, "x", "a" * 500, ""):
        with pytest.raises(SessionNotFound) as err:
            await store.get("acme", bad)
        assert isinstance(err.value, UsageError) and "does not exist or has expired" in str(err.value)
    with pytest.raises(SessionNotFound):
        await store.touch("acme", "session-nope")
    with pytest.raises(SessionNotFound):
        await store.delete("acme", "session-nope")


async def test_another_tenants_session_looks_exactly_like_an_unknown_one(store: SessionControl) -> None:
    mine = await new(store, tenant="acme")
    unknown = "session-" + uuid.uuid4().hex
    for call in (store.get, store.touch, store.delete):
        with pytest.raises(SessionNotFound) as theirs:
            await call("globex", mine.session_id)
        with pytest.raises(SessionNotFound) as nobody:
            await call("globex", unknown)
        assert str(theirs.value).replace(mine.session_id, "ID") == str(nobody.value).replace(unknown, "ID")
    assert await store.list("globex") == [] and await store.list("globex", "u1") == []
    assert await store.get("acme", mine.session_id) == mine  # untouched by the other tenant's attempts


async def test_tenant_names_with_key_syntax_do_not_collide(store: SessionControl) -> None:
    a = await new(store, tenant="t:{x}", user_id="u:1")
    b = await new(store, tenant="t", user_id="{x}:u:u:1")
    assert [s.session_id for s in await store.list("t:{x}")] == [a.session_id]
    assert [s.session_id for s in await store.list("t")] == [b.session_id]
    assert await store.list("t:{x}", "{x}:u:u:1") == [] and await store.list("t", "u:1") == []
    with pytest.raises(SessionNotFound):
        await store.get("t", a.session_id)


async def test_list_per_user_newest_first_with_limit(store: SessionControl) -> None:
    made = [await new(store, user_id=u) for u in ("u1", "u2", "u1", "u3", "u1")]
    await new(store, tenant="other", user_id="u1")
    u1 = [s for s in made if s.user_id == "u1"]
    assert await store.list("acme", "u1") == u1[::-1]
    assert await store.list("acme") == made[::-1]
    assert await store.list("acme", "u1", limit=2) == u1[::-1][:2]
    assert await store.list("acme", "nobody") == []


async def test_ttl_expiry_hides_the_session_everywhere(make: Make) -> None:
    store = make(clock=Ticker())
    short = await new(store, ttl_s=1)
    long = await new(store, ttl_s=60)
    assert [s.session_id for s in await store.list("acme", "u1")] == [long.session_id, short.session_id]
    await asyncio.sleep(1.15)
    with pytest.raises(SessionNotFound):
        await store.get("acme", short.session_id)
    with pytest.raises(SessionNotFound):
        await store.touch("acme", short.session_id)  # an expired session cannot be revived
    with pytest.raises(SessionNotFound):
        await store.delete("acme", short.session_id)
    assert [s.session_id for s in await store.list("acme", "u1")] == [long.session_id]
    assert [s.session_id for s in await store.list("acme")] == [long.session_id]
    assert await store.get("acme", long.session_id) == long


async def test_touch_slides_the_ttl(make: Make) -> None:
    store = make(clock=Ticker())
    s = await new(store, ttl_s=1)
    await asyncio.sleep(0.6)
    resumed = await store.touch("acme", s.session_id)
    assert resumed.last_active > s.last_active + 0.5 and resumed.expires_at == pytest.approx(resumed.last_active + 1)
    assert resumed.created_at == s.created_at and resumed.session_id == s.session_id
    await asyncio.sleep(0.6)  # 1.2 s after creation: alive only because it was resumed
    assert await store.get("acme", s.session_id) == resumed
    assert await store.list("acme", "u1") == [resumed]
    await asyncio.sleep(0.6)
    with pytest.raises(SessionNotFound):
        await store.get("acme", s.session_id)


async def test_delete(store: SessionControl) -> None:
    keep, gone = await new(store), await new(store)
    assert await store.delete("acme", gone.session_id) is None
    with pytest.raises(SessionNotFound):
        await store.get("acme", gone.session_id)
    with pytest.raises(SessionNotFound):
        await store.delete("acme", gone.session_id)
    assert await store.list("acme", "u1") == [keep] and await store.list("acme") == [keep]


async def test_hundred_concurrent_creates(make: Make) -> None:
    store = make()
    made = await asyncio.gather(*(new(store, user_id=f"u{i % 4}") for i in range(100)))
    assert len({s.session_id for s in made}) == 100
    listed = await store.list("acme", limit=1000)
    assert {s.session_id for s in listed} == {s.session_id for s in made}
    assert listed == sorted(made, key=lambda s: (s.created_at, s.session_id), reverse=True)
    for u in range(4):
        assert len(await store.list("acme", f"u{u}")) == 25
    touched = await asyncio.gather(*(store.touch("acme", s.session_id) for s in made))
    assert all(t.last_active >= s.last_active for t, s in zip(touched, made, strict=True))
    await asyncio.gather(*(store.delete("acme", s.session_id) for s in made[:50]))
    assert len(await store.list("acme", limit=1000)) == 50


async def test_concurrent_touches_of_one_session_all_succeed(store: SessionControl) -> None:
    s = await new(store)
    resumed = await asyncio.gather(*(store.touch("acme", s.session_id) for _ in range(20)))
    latest = await store.get("acme", s.session_id)
    assert latest.last_active == max(r.last_active for r in resumed)


async def test_a_second_store_on_the_same_backend_sees_the_sessions(make: Make) -> None:
    first, second = make(), make()
    s = await new(first)
    assert await second.get("acme", s.session_id) == s
    await second.delete("acme", s.session_id)
    with pytest.raises(SessionNotFound):
        await first.get("acme", s.session_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tenant": ""}, "tenant must be a non-empty string"),
        ({"tenant": "ac me"}, "printable characters without spaces"),
        ({"tenant": "x" * 129}, "1-128 printable"),
        ({"tenant": 7}, "tenant must be a non-empty string"),
        ({"user_id": "u\n1"}, "user_id 'u\\n1' is invalid"),
        ({"workspace": " "}, "workspace must name a workspace"),
        ({"ttl_s": 0}, "ttl_s must be a whole number of seconds from 1"),
        ({"ttl_s": 366 * 24 * 3600}, "365 days"),
        ({"ttl_s": 1.5}, "ttl_s must be a whole number"),
        ({"ttl_s": True}, "ttl_s must be a whole number"),
        ({"title": "x" * 201}, "title must be printable text of at most 200"),
        ({"metadata": {"f": object()}}, "metadata must be JSON-serialisable"),
        ({"metadata": ["x"]}, "metadata must be a JSON object"),
        ({"metadata": {"big": "x" * 20000}}, "the limit is 16384"),
    ],
)
async def test_bad_input_is_refused_with_a_clear_error(store: SessionControl, kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"tenant": "acme", "user_id": "u1", "workspace": "demo", **kwargs}
    with pytest.raises(UsageError, match=re.escape(message)):
        await store.create(**args)
    assert await store.list("acme", limit=1000) == []


async def test_bad_list_arguments(store: SessionControl) -> None:
    for limit in (0, 1001, True):
        with pytest.raises(UsageError, match="limit must be a whole number from 1 to 1000"):
            await store.list("acme", limit=limit)
    with pytest.raises(UsageError, match="user_id"):
        await store.list("acme", "bad user")
    with pytest.raises(UsageError, match="default_ttl_s"):
        InProcessSessions(default_ttl_s=0)


async def test_redis_layout_every_key_expires_and_indexes_are_pruned(redis_ns: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis_ns
    store = RedisSessions(client, prefix=prefix, default_ttl_s=1)
    s = await new(store, tenant="acme", user_id="u/1")
    base = f"{prefix}sess:{{acme}}:"
    names = {k.decode() async for k in client.scan_iter(match=prefix + "*")}
    assert names == {base + "s:" + s.session_id, base + "created", base + "expiry", base + "u:u%2F1:created", base + "u:u%2F1:expiry"}
    for name in names:
        assert 0 < await client.pttl(name) <= 1000  # nothing lives forever
    await asyncio.sleep(1.2)
    assert [k async for k in client.scan_iter(match=prefix + "*")] == []
    # a busy tenant: the indexes live on with a newer session, and drop the expired ids
    keeper = await new(store, ttl_s=60)
    old = await new(store)
    await asyncio.sleep(1.1)
    fresh = await new(store, ttl_s=60)
    for index in ("created", "expiry", "u:u1:created", "u:u1:expiry"):
        members = {m.decode() for m in await client.zrange(base + index, 0, -1)}
        assert members == {keeper.session_id, fresh.session_id}, index
    assert old.session_id not in {x.session_id for x in await store.list("acme")}


async def test_redis_list_skips_and_prunes_sessions_gone_before_their_index_entry(redis_ns: tuple[aioredis.Redis, str]) -> None:
    client, prefix = redis_ns
    store = RedisSessions(client, prefix=prefix, clock=Ticker())
    made = [await new(store) for _ in range(5)]
    await client.delete(f"{prefix}sess:{{acme}}:s:{made[3].session_id}")  # as if evicted by Redis
    listed = await store.list("acme", "u1", limit=3)
    assert listed == [made[4], made[2], made[1]]  # the limit is still filled
    assert await client.zscore(f"{prefix}sess:{{acme}}:u:u1:created", made[3].session_id) is None


async def test_session_control_chooses_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOOT_REDIS_URL", raising=False)
    async with session_control() as store:
        assert isinstance(store, SqliteSessions) and store.path.name == "sessions.db"  # under $MOOT_HOME
    async with session_control(durable=False) as store:
        assert isinstance(store, InProcessSessions)
    async with session_control(REDIS_URL, prefix="p:", default_ttl_s=5) as store:
        assert isinstance(store, RedisSessions) and store.prefix == "p:" and store.default_ttl_s == 5
    monkeypatch.setenv("MOOT_REDIS_URL", REDIS_URL)
    async with session_control() as store:
        assert isinstance(store, RedisSessions)


async def test_unbound_session_binds_once_at_its_first_run(store: SessionControl) -> None:
    from moot.service.sessions import WorkspaceMismatch

    s = await store.create(tenant="acme", user_id="u1", workspace=None)
    assert s.workspace == "" and (await store.get("acme", s.session_id)).workspace == ""
    bound = await store.bind("acme", s.session_id, "demo")
    assert bound.workspace == "demo" and (await store.get("acme", s.session_id)) == bound
    assert await store.bind("acme", s.session_id, "demo") == bound  # binding again to the same one is a no-op
    with pytest.raises(WorkspaceMismatch, match="belongs to workspace 'demo', not 'classic'"):
        await store.bind("acme", s.session_id, "classic")
    assert (await store.get("acme", s.session_id)).workspace == "demo"  # a refused bind wrote nothing
    with pytest.raises(SessionNotFound):
        await store.bind("other", s.session_id, "demo")  # another tenant's session is unknown
    with pytest.raises(UsageError):
        await store.create(tenant="acme", user_id="u1", workspace="")  # "" is no workspace; None is unbound


async def test_metadata_merges_key_by_key_and_keeps_expiry(store: SessionControl) -> None:
    s = await new(store, metadata={"a": 1, "b": 2})
    changed = await store.set_metadata("acme", s.session_id, {"b": 3, "c": None})
    assert changed.metadata == {"a": 1, "b": 3, "c": None}
    assert (await store.get("acme", s.session_id)).metadata == {"a": 1, "b": 3, "c": None}
    assert changed.expires_at == s.expires_at  # an update is not a use
    with pytest.raises(UsageError):
        await store.set_metadata("acme", s.session_id, {"x": "y" * 20000})
    assert (await store.get("acme", s.session_id)).metadata == {"a": 1, "b": 3, "c": None}
    with pytest.raises(SessionNotFound):
        await store.set_metadata("other", s.session_id, {"a": 2})


async def test_a_session_with_the_callers_own_id(store: SessionControl) -> None:
    from moot.service.sessions import SessionExists

    s = await new(store, session_id="thread-1")
    assert s.session_id == "thread-1" and (await store.get("acme", "thread-1")) == s
    with pytest.raises(SessionExists):
        await new(store, session_id="thread-1")
    other = await new(store, tenant="other", session_id="thread-1")  # ids are per tenant
    assert other.tenant == "other" and (await store.get("acme", "thread-1")) == s


async def test_two_creations_of_one_own_id_at_once_make_one_session(store: SessionControl) -> None:
    from moot.service.sessions import SessionExists

    outcomes = await asyncio.gather(*(new(store, session_id="race-1", user_id=f"u{i}") for i in range(5)), return_exceptions=True)
    made = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(made) == 1 and all(isinstance(o, SessionExists) for o in outcomes if o not in made)
    assert (await store.get("acme", "race-1")) == made[0]
    assert [x.session_id for x in await store.list("acme") if x.session_id == "race-1"] == ["race-1"]
