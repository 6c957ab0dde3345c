"""API keys: one behaviour suite on a SQLite file and on the real PostgreSQL, plus the `moot keys` CLI.

PostgreSQL tests use a table (or, for the CLI, a schema) of their own, dropped afterwards; a server
that is down fails these tests, it never skips them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from clitools import cli_env, moot_cmd

from moot.cli.main import main
from moot.errors import UsageError
from moot.service.keys import (
    ApiKeyInfo,
    ApiKeyNotFound,
    KeyStore,
    PostgresKeyStore,
    SqliteKeyStore,
    key_store,
)

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """Makes stores on one database, and reads its table raw (as an attacker with a dump would)."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.table = f"keys_{uuid.uuid4().hex[:12]}"
        self.path = tmp_path / "keys.db"
        self.made: list[KeyStore] = []

    def make(self, **options: Any) -> KeyStore:
        options.setdefault("table", self.table)
        store = PostgresKeyStore(PG_URL, **options) if self.kind == "postgres" else SqliteKeyStore(self.path, **options)
        self.made.append(store)
        return store

    async def raw_rows(self) -> list[tuple[Any, ...]]:
        if self.kind == "postgres":
            async with await psycopg.AsyncConnection.connect(PG_URL) as conn:
                return await (await conn.execute(f"SELECT * FROM {self.table}")).fetchall()
        with sqlite3.connect(self.path) as conn:
            return conn.execute(f"SELECT * FROM {self.table}").fetchall()

    async def close(self) -> None:
        for store in self.made:
            await store.aclose()
        if self.kind == "postgres":
            async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
                await conn.execute(f"DROP TABLE IF EXISTS {self.table}")


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = Backend(request.param, tmp_path)
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend: Backend, clock: Clock) -> KeyStore:
    return backend.make(clock=clock)


async def test_create_then_verify(store: KeyStore, clock: Clock) -> None:
    info, key = await store.create("acme", label="ci bot")
    assert key.startswith(f"moot_{info.key_id}_") and len(key) == 5 + 16 + 1 + 64
    assert (info.tenant, info.label, info.created_at, info.revoked_at, info.last_used_at) == ("acme", "ci bot", clock.now, None, None)
    clock.now += 5
    seen = await store.verify(key)
    assert seen == info.model_copy(update={"last_used_at": clock.now})
    assert await store.list() == [seen]
    assert set(ApiKeyInfo.model_fields) == {"key_id", "tenant", "label", "created_at", "revoked_at", "last_used_at"}


async def test_the_plaintext_is_never_stored(backend: Backend, store: KeyStore) -> None:
    made = [await store.create("acme", label=f"k{i}") for i in range(3)]
    rows = await backend.raw_rows()
    dump = repr(rows)
    assert len(rows) == 3
    for info, key in made:
        secret = key.rsplit("_", 1)[1]
        assert secret not in dump and key not in dump
        assert hashlib.sha256(secret.encode()).hexdigest() in dump  # what is kept instead
    if backend.kind == "sqlite":  # nor anywhere in the database files (WAL included)
        raw = b"".join(p.read_bytes() for p in backend.path.parent.glob("keys.db*"))
        assert all(key.rsplit("_", 1)[1].encode() not in raw for _, key in made)


async def test_wrong_unknown_or_malformed_keys_do_not_verify(store: KeyStore) -> None:
    info, key = await store.create("acme")
    flipped = key[:-1] + ("0" if key[-1] != "0" else "1")
    other_id = key.replace(info.key_id, "0" * 16)
    for bad in (flipped, other_id, "", "moot_", key + "0", key.upper(), key[:-1], " " + key, "x" * 10_000, None, 42):
        assert await store.verify(bad) is None, bad  # type: ignore[arg-type]
    assert (await store.list())[0].last_used_at is None  # failed attempts leave no trace on the key
    assert await store.verify(key) is not None


async def test_revoked_key_fails_and_revoke_is_final(store: KeyStore, clock: Clock) -> None:
    info, key = await store.create("acme")
    _, other = await store.create("acme")
    clock.now += 1
    await store.revoke(info.key_id)
    revoked_at = clock.now
    assert await store.verify(key) is None
    assert await store.verify(other) is not None  # only that key
    clock.now += 1
    await store.revoke(info.key_id)  # again: no error, the first time stays
    listed = {i.key_id: i for i in await store.list()}
    assert listed[info.key_id].revoked_at == revoked_at and not listed[info.key_id].active


async def test_revoking_an_unknown_key_is_a_clear_error(store: KeyStore) -> None:
    for key_id in ("0123456789abcdef", "not-an-id", ""):
        with pytest.raises(ApiKeyNotFound, match="no API key with id .*`moot keys list` shows the key ids") as err:
            await store.revoke(key_id)
        assert isinstance(err.value, UsageError)


async def test_list_per_tenant_newest_first(store: KeyStore, clock: Clock) -> None:
    made = []
    for tenant in ("acme", "globex", "acme"):
        clock.now += 1
        made.append((await store.create(tenant))[0])
    assert await store.list("acme") == [made[2], made[0]]
    assert await store.list("globex") == [made[1]]
    assert await store.list() == made[::-1]
    assert await store.list("initech") == []


async def test_last_used_is_refreshed_at_most_once_a_minute(store: KeyStore, clock: Clock) -> None:
    _, key = await store.create("acme")
    first = await store.verify(key)
    clock.now += 30
    assert (await store.verify(key)) == first and (await store.list())[0].last_used_at == first.last_used_at  # type: ignore[union-attr]
    clock.now += 31
    later = await store.verify(key)
    assert later is not None and later.last_used_at == clock.now == (await store.list())[0].last_used_at


async def test_bad_input_to_create(store: KeyStore) -> None:
    for tenant in ("", "a b", "x" * 129, None):
        with pytest.raises(UsageError, match="tenant"):
            await store.create(tenant)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="label must be printable text of at most 200"):
        await store.create("acme", label="x" * 201)
    with pytest.raises(UsageError, match="tenant"):
        await store.list("a b")
    assert await store.list() == []


async def test_keys_outlive_the_store_and_are_shared(backend: Backend) -> None:
    first = backend.make()
    _, key = await first.create("acme")
    await first.aclose()
    second, third = backend.make(), backend.make()
    assert (await second.verify(key)) is not None
    await third.revoke(key.split("_")[1])
    assert await second.verify(key) is None


async def test_concurrent_creates_and_verifies(store: KeyStore) -> None:
    made = await asyncio.gather(*(store.create(f"t{i % 5}") for i in range(50)))
    assert len({info.key_id for info, _ in made}) == 50
    seen = await asyncio.gather(*(store.verify(key) for _, key in made))
    assert [s.tenant for s in seen if s is not None] == [info.tenant for info, _ in made]


def test_bad_table_name() -> None:
    with pytest.raises(UsageError, match="table name"):
        SqliteKeyStore("x.db", table="keys; DROP TABLE x")


async def test_key_store_picks_the_backend(monkeypatch: pytest.MonkeyPatch, moot_home: Path, tmp_path: Path) -> None:
    monkeypatch.delenv("MOOT_DATABASE_URL", raising=False)
    default = key_store()
    assert isinstance(default, SqliteKeyStore) and default.path == moot_home / "keys.db"
    assert isinstance(key_store(PG_URL), PostgresKeyStore)
    assert key_store("sqlite:////tmp/k.db").path == Path("/tmp/k.db")  # type: ignore[attr-defined]
    assert key_store(str(tmp_path / "k.db")).path == tmp_path / "k.db"  # type: ignore[attr-defined]
    monkeypatch.setenv("MOOT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    assert isinstance(key_store(), PostgresKeyStore)
    for url in ("mysql://x/y", "sqlite://k.db"):
        with pytest.raises(UsageError, match="sqlite|unsupported"):
            key_store(url)


async def test_an_unreachable_postgres_is_a_clear_error() -> None:
    async with key_store("postgresql://postgres:hunter2@127.0.0.1:1/test") as store:
        with pytest.raises(UsageError, match=r"cannot use the key database postgresql://postgres:\*\*\*@127.0.0.1:1/test") as err:
            await store.list()
    assert "hunter2" not in str(err.value)


# -- the CLI ---------------------------------------------------------------------------------------


def moot(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return together(home, [args], env)[0]


def together(home: Path, calls: list[tuple[str, ...]], env: dict[str, str] | None = None) -> list[subprocess.CompletedProcess[str]]:
    """Run `moot keys ...` calls at the same time (each a fresh process on the same database)."""
    procs = [
        subprocess.Popen(moot_cmd("keys", *args), env={**cli_env(home), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in calls
    ]
    out = []
    for args, proc in zip(calls, procs, strict=True):
        stdout, stderr = proc.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return out


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A PostgreSQL URL whose tables land in a fresh schema (dropped afterwards)."""
    schema = f"keys_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.parametrize("db", ["default", "postgres"])
def test_cli_create_list_revoke(
    tmp_path: Path, db: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    env = {"MOOT_DATABASE_URL": request.getfixturevalue("pg_schema") if db == "postgres" else ""}
    made, as_json = together(home, [("create", "--tenant", "acme", "--label", "ci bot"), ("create", "--tenant", "globex", "--json")], env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("moot_") and "\n" not in key and "cannot be shown again" in made.stderr
    second = json.loads(as_json.stdout)
    assert second["tenant"] == "globex" and second["key"].startswith(f"moot_{second['key_id']}_")

    listed, only, gone = together(home, [("list",), ("list", "--tenant", "globex", "--json"), ("revoke", key.split("_")[1])], env)
    assert listed.returncode == 0 and "ci bot" in listed.stdout and second["key_id"] in listed.stdout
    assert key.split("_")[2] not in listed.stdout and second["key"] not in listed.stdout
    assert [k["key_id"] for k in json.loads(only.stdout)] == [second["key_id"]] and "key" not in json.loads(only.stdout)[0]
    assert gone.returncode == 0 and "revoked API key" in gone.stdout

    # the rest in-process (the same `main`, without paying a Python start-up per call)
    monkeypatch.setenv("MOOT_HOME", str(home))
    monkeypatch.setenv("MOOT_DATABASE_URL", env["MOOT_DATABASE_URL"])
    capsys.readouterr()
    assert main(["keys", "list", "--tenant", "acme", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after[0]["key_id"] == key.split("_")[1] and after[0]["revoked_at"] is not None
    assert main(["keys", "revoke", "0123456789abcdef"]) == 2
    assert "moot: error: no API key with id '0123456789abcdef'" in capsys.readouterr().err
    assert main(["keys", "create", "--tenant", "a b"]) == 2
    assert "tenant 'a b' is invalid" in capsys.readouterr().err
    if db == "default":
        rows = sqlite3.connect(home / "keys.db").execute("SELECT * FROM moot_api_keys").fetchall()
        assert len(rows) == 2 and key.split("_")[2] not in repr(rows)
    else:
        assert not (home / "keys.db").exists()


def test_cli_db_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    db = tmp_path / "elsewhere.db"
    assert main(["keys", "create", "--tenant", "acme", "--db", str(db)]) == 0
    assert db.is_file() and not (moot_home / "keys.db").exists()
    capsys.readouterr()
    assert main(["keys", "list", "--json", "--db", f"sqlite:///{db}"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 1 and listed[0]["tenant"] == "acme"
    assert main(["keys", "list", "--db", "mysql://h/db"]) == 2
    assert "unsupported key database" in capsys.readouterr().err


async def test_a_new_key_file_opened_while_another_process_holds_it_waits_instead_of_failing(tmp_path: Path) -> None:
    """Two `moot keys` calls on a new file (fresh-ci saw it): while one has begun writing, the
    other's switch to WAL is answered "database is locked" at once, without the busy timeout's
    wait; the store asks again until the first is done."""
    import asyncio
    import threading

    from moot.service.keys.sqlite import SqliteKeyStore

    path = tmp_path / "keys.db"
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN IMMEDIATE")  # a write the first process has begun on the new file
    threading.Timer(0.5, lambda: (holder.commit(), holder.close())).start()
    store = SqliteKeyStore(path)
    try:
        info, secret = await asyncio.wait_for(store.create("acme"), 10)
    finally:
        await store.aclose()
    assert info.tenant == "acme" and secret.startswith("moot_")


async def test_stores_opening_one_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Six stores open the same new file together, twenty times (fresh-ci saw two `moot keys`
    calls fail): whichever converts it to WAL, the others' CREATE statements are answered
    "database is locked" at once, without the busy timeout; the first-open step is asked again.
    Before the retry covered the CREATEs as well as the WAL switch, 12 or more of 20 rounds failed."""
    from moot.service.keys.sqlite import SqliteKeyStore

    async def one(path: Path, tenant: str) -> str:
        store = SqliteKeyStore(path)
        try:
            return (await store.create(tenant))[0].tenant
        finally:
            await store.aclose()

    for round_ in range(20):
        path = tmp_path / f"keys{round_}.db"
        made = await asyncio.wait_for(asyncio.gather(*(one(path, f"t{i}") for i in range(6))), 30)
        assert sorted(made) == [f"t{i}" for i in range(6)]
        assert len(sqlite3.connect(path).execute("SELECT * FROM moot_api_keys").fetchall()) == 6
