"""The run index and the tool ledger: one behaviour suite, run on SQLite and on the real PostgreSQL.

The PostgreSQL tables are shared with other tests running at the same time, so each test works
under its own tenant and ids, and looks only at its own rows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pgtools import PG_URL, forget
from pgtools import uid as _uid

from moot.errors import ConfigError, UsageError
from moot.persistence import (
    Persistence,
    RunIndex,
    RunNotClaimable,
    open_persistence,
    open_store,
    resolve,
)
from moot.persistence.ledger import SqliteLedger, ledger_for
from moot.tools.types import ToolOutcome


_prefix = ""


def uid(kind: str) -> str:
    """A unique id that starts with the test's own prefix (so the test can delete its rows)."""
    return _uid(f"{_prefix}{kind}")


@pytest.fixture(autouse=True)
def prefix() -> str:
    global _prefix
    _prefix = _uid("t") + "-"
    return _prefix


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> AsyncIterator[Persistence]:
    url = str(tmp_path / "moot.db") if request.param == "sqlite" else PG_URL
    async with open_persistence(url, pool_size=4) as persistence:
        assert persistence.backend == request.param
        try:
            yield persistence
        finally:
            if persistence.backend == "postgres":
                await forget(persistence, prefix)


@pytest.fixture
def tenant() -> str:
    return uid("tenant")


async def add(index: RunIndex, tenant: str, **kwargs: Any) -> str:
    run_id = kwargs.pop("run_id", None) or uid("run")
    session = kwargs.pop("session", None) or uid("session")
    await index.add(run_id, session, "demo", kwargs.pop("task", "a task"), kwargs.pop("user_id", "ana"), tenant=tenant, **kwargs)
    return run_id


async def test_a_new_run_is_recorded_with_every_field(store: Persistence, tenant: str) -> None:
    before = time.time()
    run_id, session = uid("run"), uid("session")
    await store.index.add(run_id, session, "demo", "Plan a trip", "ana", "/ws/demo", tenant=tenant, workspace_version="v7", status="queued")
    record = await store.index.get(run_id)
    assert (record.run_id, record.thread_id, record.session_id, record.workspace, record.workspace_path) == (run_id, session, session, "demo", "/ws/demo")
    assert (record.task, record.user_id, record.tenant, record.workspace_version) == ("Plan a trip", "ana", tenant, "v7")
    assert (record.status, record.attempts, record.worker, record.result, record.error) == ("queued", 0, "", None, None)
    assert before <= record.started_at == record.updated_at <= time.time() and record.finished_at is None
    assert record.active and record.as_dict()["tenant"] == tenant


async def test_the_original_calls_still_work(store: Persistence) -> None:
    run_id = uid("run")
    await store.index.add(run_id, uid("session"), "demo", "task", "ana", "")  # as the orchestrator calls it
    record = await store.index.get(run_id)
    assert (record.status, record.tenant, record.workspace_version) == ("running", "", "")
    await store.index.set_status(run_id, "finished")
    record = await store.index.get(run_id)
    assert record.status == "finished" and record.finished_at is not None and not record.active


async def test_a_run_id_is_recorded_once(store: Persistence, tenant: str) -> None:
    run_id = await add(store.index, tenant, task="first")
    with pytest.raises(UsageError, match="already recorded"):
        await add(store.index, tenant, run_id=run_id, task="second")
    assert (await store.index.get(run_id)).task == "first"


async def test_bad_input_is_refused_with_a_clear_error(store: Persistence, tenant: str) -> None:
    with pytest.raises(UsageError, match="unknown run status 'done'"):
        await add(store.index, tenant, status="done")
    with pytest.raises(UsageError, match="run_id must be a non-empty string"):
        await store.index.add("", "s", "demo", "task")
    run_id = await add(store.index, tenant)
    with pytest.raises(UsageError, match="unknown run status"):
        await store.index.set_status(run_id, "complete")
    with pytest.raises(UsageError, match="not JSON"):
        await store.index.set_status(run_id, "finished", result={"when": object()})
    with pytest.raises(UsageError, match="'error' and 'message'"):
        await store.index.set_status(run_id, "failed", error={"reason": "boom"})
    with pytest.raises(UsageError, match="limit must be an integer from 1 to 1000"):
        await store.index.list(tenant, limit=0)
    missing = uid("run")
    with pytest.raises(UsageError, match=f"unknown run '{missing}'"):
        await store.index.set_status(missing, "finished")
    assert (await store.index.get(run_id)).status == "running"  # nothing refused was written


async def test_another_tenants_run_is_as_unknown_as_a_missing_one(store: Persistence, tenant: str) -> None:
    run_id = await add(store.index, tenant)
    assert (await store.index.get(run_id, tenant=tenant)).run_id == run_id
    with pytest.raises(UsageError) as other:
        await store.index.get(run_id, tenant=uid("tenant"))
    missing = uid("run")
    with pytest.raises(UsageError) as absent:
        await store.index.get(missing, tenant=tenant)
    assert str(other.value).replace(run_id, "X") == str(absent.value).replace(missing, "X")
    with pytest.raises(UsageError):
        await store.index.get(run_id, tenant="")  # the empty tenant is a tenant too


async def test_result_and_error_follow_the_status(store: Persistence, tenant: str) -> None:
    index, run_id = store.index, await add(store.index, tenant)
    await index.set_status(run_id, "failed", error=ValueError("the critic's answer was not JSON"))
    failed = await index.get(run_id)
    assert failed.error == {"error": "ValueError", "message": "the critic's answer was not JSON"}
    assert failed.finished_at is not None and failed.result is None
    await index.set_status(run_id, "failed")  # a second report keeps the error
    assert (await index.get(run_id)).error == failed.error

    await index.set_status(run_id, "running")  # resumed: no outcome yet
    running = await index.get(run_id)
    assert (running.error, running.result, running.finished_at) == (None, None, None)
    result = {"winner": "alfama-walks", "tokens": {"prompt": 10, "completion": 5}, "note": "ção"}
    await index.set_status(run_id, "finished", result=result)
    await index.set_status(run_id, "finished")  # the orchestrator's own report keeps the result
    finished = await index.get(run_id)
    assert finished.result == result and finished.error is None and finished.updated_at >= running.updated_at

    paused = await add(index, tenant)
    await index.set_status(paused, "awaiting_approval")  # as the orchestrator reports it
    await index.set_status(paused, "awaiting_approval", result={"pending": {"winner": "x"}})
    await index.set_status(paused, "awaiting_approval")  # a second report keeps what is asked
    assert (await index.get(paused)).result == {"pending": {"winner": "x"}}
    await index.set_status(paused, "queued", result={"pending": {"winner": "x"}})  # kept on purpose
    assert (await index.get(paused)).result == {"pending": {"winner": "x"}}
    claimed = await index.claim(paused, "worker-a")
    assert (claimed.result, claimed.error) == (None, None)

    other = await add(index, tenant)
    await index.set_status(other, "cancelled", error={"error": "Cancelled", "message": "by ana"})
    await index.set_status(other, "finished", result="a plain string result")
    record = await index.get(other)
    assert (record.result, record.error) == ("a plain string result", None)


async def test_list_filters_a_tenants_runs_newest_first(store: Persistence, tenant: str) -> None:
    index = store.index
    session = uid("session")
    ids = []
    for user, status in [("ana", "finished"), ("bob", "running"), ("ana", "queued"), ("ana", "failed")]:
        ids.append(await add(index, tenant, user_id=user, session=session if user == "ana" else None))
        await index.set_status(ids[-1], status)
        await asyncio.sleep(0.002)  # distinct start times
    await add(index, uid("tenant"), user_id="ana", session=session)  # another tenant's run in the same session id
    newest_first = ids[::-1]
    assert [r.run_id for r in await index.list(tenant)] == newest_first
    assert [r.run_id for r in await index.list(tenant, user_id="ana")] == [ids[3], ids[2], ids[0]]
    assert [r.run_id for r in await index.list(tenant, session_id=session)] == [ids[3], ids[2], ids[0]]
    assert [r.run_id for r in await index.list(tenant, status="running")] == [ids[1]]
    assert [r.run_id for r in await index.list(tenant, status=["queued", "failed"])] == [ids[3], ids[2]]
    assert await index.list(tenant, status=[]) == []
    assert [r.run_id for r in await index.list(tenant, limit=2)] == newest_first[:2]
    assert await index.list(uid("tenant")) == []
    with pytest.raises(UsageError, match="unknown run status"):
        await index.list(tenant, status="stopped")


async def test_count_active_counts_queued_running_and_awaiting_approval(store: Persistence, tenant: str) -> None:
    index = store.index
    assert await index.count_active(tenant) == 0
    for status in ("queued", "running", "awaiting_approval", "finished", "failed", "cancelled"):
        run_id = await add(index, tenant)
        await index.set_status(run_id, status)
    await add(index, uid("tenant"))
    assert await index.count_active(tenant) == 3
    await index.set_status(run_id, "queued")  # the cancelled one, queued again
    assert await index.count_active(tenant) == 4


async def test_claim_takes_a_run_for_a_worker(store: Persistence, tenant: str) -> None:
    index = store.index
    run_id = await add(index, tenant, status="queued")
    first = await index.claim(run_id, "worker-a")
    assert (first.status, first.attempts, first.worker) == ("running", 1, "worker-a")
    assert first.updated_at >= first.started_at
    assert await index.get(run_id) == first
    again = await index.claim(run_id, "worker-b")  # worker-a died; the job came back
    assert (again.status, again.attempts, again.worker) == ("running", 2, "worker-b")
    await index.set_status(run_id, "awaiting_approval")
    assert (await index.claim(run_id, "worker-c")).attempts == 3  # approved: a worker goes on
    with pytest.raises(UsageError, match="worker must be a non-empty string"):
        await index.claim(run_id, "")
    with pytest.raises(UsageError, match="unknown run"):
        await index.claim(uid("run"), "worker-a")


async def test_an_ended_or_cancelled_run_is_not_claimed(store: Persistence, tenant: str) -> None:
    index = store.index
    run_id = await add(index, tenant, status="queued")
    await index.set_status(run_id, "cancelled", error={"error": "Cancelled", "message": "by the user"})
    with pytest.raises(RunNotClaimable, match="is cancelled") as refused:
        await index.claim(run_id, "worker-a")
    assert refused.value.record.status == "cancelled"
    record = await index.get(run_id)
    assert (record.status, record.attempts, record.worker) == ("cancelled", 0, "")

    failed = await add(index, tenant)
    await index.set_status(failed, "failed", error=RuntimeError("model down"))
    with pytest.raises(RunNotClaimable):
        await index.claim(failed, "worker-a")
    retried = await index.claim(failed, "worker-a", allow=("failed",))  # an explicit retry
    assert (retried.status, retried.attempts, retried.finished_at, retried.error) == ("running", 1, None, None)


async def test_concurrent_claims_count_every_attempt_once(store: Persistence, tenant: str) -> None:
    index = store.index
    run_id = await add(index, tenant, status="queued")
    claims = await asyncio.gather(*(index.claim(run_id, f"worker-{i}") for i in range(8)))
    assert sorted(c.attempts for c in claims) == list(range(1, 9))
    last = max(claims, key=lambda c: c.attempts)
    assert await index.get(run_id) == last


async def test_heartbeat_tells_a_worker_whether_the_run_is_still_its_own(store: Persistence, tenant: str) -> None:
    index = store.index
    run_id = await add(index, tenant, status="queued")
    claimed = await index.claim(run_id, "worker-a")
    await asyncio.sleep(0.01)
    assert await index.heartbeat(run_id, "worker-a") is True
    assert (await index.get(run_id)).updated_at > claimed.updated_at
    assert await index.heartbeat(run_id, "worker-b") is False
    await index.set_status(run_id, "cancelled")
    assert await index.heartbeat(run_id, "worker-a") is False
    assert await index.heartbeat(uid("run"), "worker-a") is False


async def test_stale_running_finds_runs_without_news(store: Persistence, tenant: str) -> None:
    index = store.index
    quiet = await add(index, tenant, status="queued")
    await index.claim(quiet, "worker-a")
    queued = await add(index, tenant, status="queued")
    await asyncio.sleep(0.05)
    fresh = await add(index, tenant, status="queued")
    await index.claim(fresh, "worker-b")
    stale = {r.run_id for r in await index.stale_running(0.03, limit=1000)}
    assert quiet in stale and fresh not in stale and queued not in stale
    assert quiet not in {r.run_id for r in await index.stale_running(3600, limit=1000)}
    with pytest.raises(UsageError, match="older_than_s"):
        await index.stale_running(-1)


async def test_latest_lists_the_newest_runs_first(store: Persistence, tenant: str) -> None:
    ids = []
    for _ in range(3):
        ids.append(await add(store.index, tenant))
        await asyncio.sleep(0.002)
    latest = [r.run_id for r in await store.index.latest(1000) if r.run_id in ids]
    assert latest == ids[::-1]


async def test_the_ledger_records_an_outcome_once_and_durably(store: Persistence, tmp_path: Path) -> None:
    key = uid("run") + ":0"
    assert await store.ledger.get(key) is None
    outcome = ToolOutcome(key=key, tool="book", ok=True, content={"booking": "B-1", "city": "Lisboa ção"}, latency_s=0.2)
    await store.ledger.put(outcome)
    await store.ledger.put(ToolOutcome(key=key, tool="book", ok=False, error="second"))  # ignored
    got = await store.ledger.get(key)
    assert got is not None and got.replayed and got.content == outcome.content and got.ok
    # another process would see it: a store opened anew, with connections of its own
    url = str(tmp_path / "moot.db") if store.backend == "sqlite" else PG_URL
    async with open_persistence(url) as other:
        seen = await other.ledger.get(key)
    assert seen is not None and seen.content == outcome.content and seen.error is None


async def test_ledger_for_finds_the_ledger_beside_a_savers_checkpoints(store: Persistence) -> None:
    ledger = ledger_for(store.checkpointer)
    assert type(ledger) is type(store.ledger)
    key = uid("run") + ":3"
    await store.ledger.put(ToolOutcome(key=key, tool="search_hotels", ok=True, content=[1, 2]))
    seen = await ledger.get(key)
    assert seen is not None and seen.content == [1, 2]
    if store.backend == "postgres":
        with pytest.raises(UsageError, match="SqliteLedger needs an AsyncSqliteSaver, got AsyncPostgresSaver"):
            SqliteLedger.from_saver(store.checkpointer)
    with pytest.raises(UsageError, match="no durable ledger beside checkpointer InMemorySaver"):
        ledger_for(InMemorySaver())


OLD_SCHEMA = """
CREATE TABLE moot_runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    workspace TEXT NOT NULL,
    workspace_path TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL,
    user_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX moot_runs_thread ON moot_runs(thread_id);
"""


async def test_a_file_of_the_previous_version_gains_the_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO moot_runs VALUES ('run-old', 'session-1', 'demo', '', 'old task', 'ana', 'finished', 100.0, 160.0)")
    conn.execute("INSERT INTO moot_runs VALUES ('run-cut', 'session-1', 'demo', '', 'cut task', 'ana', 'running', 200.0, NULL)")
    conn.commit()
    conn.close()

    async with open_store(db) as (_, index):  # the old entry point, as `moot runs` opens it
        old = await index.get("run-old")
        assert (old.task, old.status, old.started_at, old.finished_at) == ("old task", "finished", 100.0, 160.0)
        assert (old.tenant, old.workspace_version, old.attempts, old.worker, old.result, old.error) == ("", "", 0, "", None, None)
        assert old.updated_at == 160.0 and (await index.get("run-cut")).updated_at == 200.0
        assert [r.run_id for r in await index.list("")] == ["run-cut", "run-old"]
        assert (await index.claim("run-cut", "worker-a")).attempts == 1  # the interrupted run goes on
        await index.add("run-new", "session-2", "demo", "new task", tenant="acme", status="queued")
        assert await index.count_active("acme") == 1
    columns = [row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(moot_runs)")]
    assert columns[:9] == ["run_id", "thread_id", "workspace", "workspace_path", "task", "user_id", "status", "started_at", "finished_at"]
    assert set(columns[9:]) == {"tenant", "workspace_version", "result", "error", "attempts", "worker", "updated_at"}
    async with open_persistence(f"sqlite:///{db}") as again:  # a second opening changes nothing
        assert (await again.index.get("run-cut")).attempts == 1


def test_resolve_names_the_backend(tmp_path: Path, moot_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOOT_DATABASE_URL", raising=False)
    assert resolve(None) == ("sqlite", str(moot_home / "moot.db"))
    assert resolve(tmp_path / "a.db") == ("sqlite", str(tmp_path / "a.db"))
    assert resolve("runs/a.db") == ("sqlite", "runs/a.db")
    assert resolve("sqlite:///runs/a.db") == ("sqlite", "runs/a.db")
    assert resolve("sqlite:////var/lib/moot.db") == ("sqlite", "/var/lib/moot.db")
    assert resolve("postgresql://moot@db:5432/moot") == ("postgres", "postgresql://moot@db:5432/moot")
    assert resolve("postgres://moot@db/moot")[0] == "postgres"
    monkeypatch.setenv("MOOT_DATABASE_URL", "postgresql://moot@db/fleet")
    assert resolve(None) == ("postgres", "postgresql://moot@db/fleet")
    with pytest.raises(UsageError, match="unknown database scheme 'mysql'"):
        resolve("mysql://root@db/moot")
    with pytest.raises(UsageError, match="names no file"):
        resolve("sqlite:///")
    with pytest.raises(UsageError, match="empty"):
        resolve("  ")


async def test_an_unreachable_server_fails_with_the_url_and_no_password() -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"cannot connect to PostgreSQL at postgresql://moot:\*\*\*@127\.0\.0\.1:1/x") as failed:
        async with open_persistence("postgresql://moot:s3cret@127.0.0.1:1/x", connect_timeout_s=1):
            pass
    assert "s3cret" not in str(failed.value)
    assert time.monotonic() - started < 10


async def test_a_bad_pool_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="pool size must be at least 1"):
        async with open_persistence(PG_URL, pool_size=0):
            pass
    monkeypatch.setenv("MOOT_DATABASE_POOL_SIZE", "many")
    with pytest.raises(UsageError, match="MOOT_DATABASE_POOL_SIZE must be an integer"):
        async with open_persistence(PG_URL):
            pass
