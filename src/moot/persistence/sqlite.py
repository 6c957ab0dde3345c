"""The run index and run compaction on SQLite: the default store, one file beside the checkpoints.

The index shares `AsyncSqliteSaver`'s connection and takes its lock for each statement, so a
commit of ours never lands in the middle of one of the saver's transactions. A file written by
an older moot (a `moot_runs` table without the service's columns) is brought up to date in
place by `setup()`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import aiosqlite

from moot.persistence.runs import RunIndex

_TABLE = """
CREATE TABLE IF NOT EXISTS moot_runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    workspace TEXT NOT NULL,
    workspace_path TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL,
    user_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL
)
"""
# Columns added for the service (issue 6). Each is also how an older file gains it: SQLite's
# ALTER TABLE ADD COLUMN takes the same definition (a NOT NULL column needs its default).
_ADDED = {
    "tenant": "TEXT NOT NULL DEFAULT ''",
    "workspace_version": "TEXT NOT NULL DEFAULT ''",
    "result": "TEXT",
    "error": "TEXT",
    "attempts": "INTEGER NOT NULL DEFAULT 0",
    "worker": "TEXT NOT NULL DEFAULT ''",
    "updated_at": "REAL NOT NULL DEFAULT 0",
}
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS moot_runs_thread ON moot_runs(thread_id)",
    "CREATE INDEX IF NOT EXISTS moot_runs_tenant ON moot_runs(tenant, started_at)",
    "CREATE INDEX IF NOT EXISTS moot_runs_status ON moot_runs(status, updated_at)",
)


class SqliteRunIndex(RunIndex):
    """`moot_runs` on an aiosqlite connection (pass the saver's lock when it is the saver's)."""

    def __init__(self, conn: aiosqlite.Connection, *, lock: asyncio.Lock | None = None, where: str = "") -> None:
        self.conn = conn
        self.lock = lock
        self.where = where or "the SQLite database"

    @classmethod
    def from_saver(cls, saver: Any, *, where: str = "") -> SqliteRunIndex:
        """The index on an `AsyncSqliteSaver`'s connection, under its lock."""
        return cls(saver.conn, lock=saver.lock, where=where)

    def _locked(self) -> AbstractAsyncContextManager[Any]:
        return self.lock if self.lock is not None else nullcontext()

    async def setup(self) -> None:
        async with self._locked():
            await self.conn.execute(_TABLE)
            async with self.conn.execute("PRAGMA table_info(moot_runs)") as cursor:
                present = {row[1] for row in await cursor.fetchall()}
            for name, definition in _ADDED.items():
                if name in present:
                    continue
                try:
                    await self.conn.execute(f"ALTER TABLE moot_runs ADD COLUMN {name} {definition}")
                except sqlite3.OperationalError as exc:  # another process migrated it meanwhile
                    if "duplicate column" not in str(exc):
                        raise
            await self.conn.execute(
                "UPDATE moot_runs SET updated_at = COALESCE(finished_at, started_at) WHERE updated_at = 0"
            )
            for statement in _INDEXES:
                await self.conn.execute(statement)
            await self.conn.commit()

    async def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._locked():
            async with self.conn.execute(sql, tuple(params)) as cursor:
                rows = await cursor.fetchall()
            await self.conn.commit()
        return [tuple(row) for row in rows]


async def compact_sqlite(saver: Any, thread_id: str, run_id: str) -> int:
    """Delete every checkpoint of `run_id` in `thread_id` but its last; how many went.

    LangGraph's SQLite saver keeps a checkpoint's channel values inline, so a checkpoint and its
    pending writes are all there is to delete.
    """
    async with saver.lock:
        async with saver.conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
            "AND json_extract(CAST(metadata AS TEXT), '$.moot_run_id') = ? ORDER BY checkpoint_id",
            (thread_id, run_id),
        ) as cursor:
            ids = [row[0] for row in await cursor.fetchall()]
        stale = ids[:-1]
        for i in range(0, len(stale), 500):
            chunk = stale[i : i + 500]
            marks = ",".join("?" * len(chunk))
            await saver.conn.execute(
                f"DELETE FROM writes WHERE thread_id = ? AND checkpoint_id IN ({marks})", (thread_id, *chunk)
            )
            await saver.conn.execute(
                f"DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id IN ({marks})", (thread_id, *chunk)
            )
        await saver.conn.commit()
    return len(stale)


__all__ = ["SqliteRunIndex", "compact_sqlite"]
