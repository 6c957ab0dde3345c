"""The run index, run compaction and the connection pool on PostgreSQL: the store of a fleet.

Every worker of a fleet opens one pool (psycopg_pool, autocommit, `prepare_threshold=0` as
LangGraph's Postgres saver asks, so the pool also works behind PgBouncer) and shares it between
the checkpointer, the run index and the tool ledger. Autocommit makes each of our statements
durable when it returns. Schema changes run under a PostgreSQL advisory lock, so workers that
start together do not race on `CREATE TABLE IF NOT EXISTS` (which is not safe concurrently).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from moot.errors import ConfigError
from moot.persistence.runs import RunIndex

try:
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row, tuple_row
    from psycopg_pool import AsyncConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - the `postgres` extra is not installed
    raise ConfigError(
        f"PostgreSQL persistence is not installed ({exc}); install it with "
        "`pip install 'moot[postgres]'` (langgraph-checkpoint-postgres, psycopg, psycopg-pool)"
    ) from exc

SETUP_LOCK = 0x6D6F6F74  # "moot": the advisory lock key of moot's schema changes
_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS moot_runs (
        run_id TEXT PRIMARY KEY,
        thread_id TEXT NOT NULL,
        workspace TEXT NOT NULL,
        workspace_path TEXT NOT NULL DEFAULT '',
        task TEXT NOT NULL,
        user_id TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
        tenant TEXT NOT NULL DEFAULT '',
        workspace_version TEXT NOT NULL DEFAULT '',
        result JSONB,
        error JSONB,
        attempts INTEGER NOT NULL DEFAULT 0,
        worker TEXT NOT NULL DEFAULT '',
        updated_at DOUBLE PRECISION NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX IF NOT EXISTS moot_runs_thread ON moot_runs (thread_id)",
    "CREATE INDEX IF NOT EXISTS moot_runs_tenant ON moot_runs (tenant, started_at DESC)",
    "CREATE INDEX IF NOT EXISTS moot_runs_status ON moot_runs (status, updated_at)",
)

def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


@asynccontextmanager
async def open_pool(url: str, *, size: int = 10, timeout: float = 10.0) -> AsyncIterator[AsyncConnectionPool]:
    """A pool of dict-row, autocommit connections (what `AsyncPostgresSaver` expects), opened
    now so that a server that is down or a wrong URL fails here, with the URL in the message."""
    if size < 1:
        raise ConfigError(f"the PostgreSQL pool size must be at least 1, not {size}")
    pool: AsyncConnectionPool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=size,
        open=False,
        timeout=timeout,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    try:
        try:
            await pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            raise ConfigError(
                f"cannot connect to PostgreSQL at {redact(url)} within {timeout:g} s; check that the server "
                f"runs and the URL ($MOOT_DATABASE_URL) is right"
            ) from exc
        yield pool
    finally:
        await pool.close()


async def run_ddl(pool: AsyncConnectionPool, statements: Iterable[str], *, also: Any = None) -> None:
    """Run schema statements under moot's advisory lock, on one connection; `also(conn)` too."""
    async with pool.connection() as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        try:
            if also is not None:
                await also(conn)
            for statement in statements:
                await conn.execute(statement)  # type: ignore[arg-type]
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))


async def setup_saver(pool: AsyncConnectionPool) -> None:
    """LangGraph's own migrations, on the locked connection (so pool size 1 cannot deadlock)."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async def migrate(conn: AsyncConnection[Any]) -> None:
        await AsyncPostgresSaver(conn).setup()  # type: ignore[arg-type]

    await run_ddl(pool, (), also=migrate)


class PostgresRunIndex(RunIndex):
    """`moot_runs` on a pool shared with the checkpointer; each statement autocommits."""

    def __init__(self, pool: AsyncConnectionPool, *, where: str = "") -> None:
        self.pool = pool
        self.where = where or "the PostgreSQL database"

    async def setup(self) -> None:
        await run_ddl(self.pool, _SCHEMA)

    def _decode_json(self, value: Any) -> Any:
        return value  # psycopg decodes JSONB itself; a JSON string comes back as a str

    async def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute(sql.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]
            return await cursor.fetchall() if cursor.description else []


_RUN_CHECKPOINTS = (
    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
    "AND metadata ->> 'moot_run_id' = %s ORDER BY checkpoint_id"
)
_DELETE_WRITES = "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = '' AND checkpoint_id = ANY(%s)"
_DELETE_CHECKPOINTS = """
WITH deleted AS (
    DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' AND checkpoint_id = ANY(%s)
    RETURNING checkpoint -> 'channel_versions' AS versions
)
SELECT DISTINCT v.key, v.value FROM deleted CROSS JOIN LATERAL jsonb_each_text(deleted.versions) AS v
"""
_REFERENCED = """
SELECT DISTINCT v.key, v.value FROM checkpoints c
CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v
WHERE c.thread_id = %s AND c.checkpoint_ns = ''
"""
_DELETE_BLOBS = (
    "DELETE FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = '' AND channel = %s AND version = ANY(%s)"
)


@asynccontextmanager
async def _connection(conn: Any) -> AsyncIterator[AsyncConnection[Any]]:
    if isinstance(conn, AsyncConnectionPool):
        async with conn.connection() as pooled:
            yield pooled
    else:
        yield conn


async def compact_postgres(saver: Any, thread_id: str, run_id: str) -> int:
    """Delete every checkpoint of `run_id` in `thread_id` but its last; how many went.

    `AsyncPostgresSaver` stores a channel's value once per version in `checkpoint_blobs`, and a
    checkpoint points at versions through its `channel_versions`; consecutive checkpoints share
    the versions of the channels they did not change. So the blobs that go are the ones the
    deleted checkpoints pointed at and no remaining checkpoint of the thread does (the kept
    one, earlier runs' last checkpoints). One transaction: a reader sees the run whole or
    compacted. A checkpoint written meanwhile descends from the thread's latest one, which is
    kept, so the versions it reuses are never among those deleted.
    """
    async with (
        saver.lock,
        _connection(saver.conn) as conn,
        conn.transaction(),
        conn.cursor(row_factory=tuple_row) as cursor,
    ):
        await cursor.execute(_RUN_CHECKPOINTS, (thread_id, run_id))
        stale = [row[0] for row in await cursor.fetchall()][:-1]
        if not stale:
            return 0
        await cursor.execute(_DELETE_WRITES, (thread_id, stale))
        await cursor.execute(_DELETE_CHECKPOINTS, (thread_id, stale))
        freed = set(await cursor.fetchall())
        await cursor.execute(_REFERENCED, (thread_id,))
        garbage: dict[str, list[str]] = {}
        for channel, version in freed - set(await cursor.fetchall()):
            garbage.setdefault(channel, []).append(version)
        for channel, versions in garbage.items():
            await cursor.execute(_DELETE_BLOBS, (thread_id, channel, versions))
    return len(stale)


__all__ = ["PostgresRunIndex", "compact_postgres", "open_pool", "redact", "run_ddl", "setup_saver"]
