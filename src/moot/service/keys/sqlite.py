"""API keys in a SQLite file: the embedded service's and the CLI's default (`$MOOT_HOME/keys.db`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from moot.settings import moot_home
from moot.service.keys.base import KeyStore


class SqliteKeyStore(KeyStore):
    """Keys in a SQLite file (WAL; a busy timeout lets CLI calls and a server share it)."""

    def __init__(self, path: Path | str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.path = Path(path) if path else moot_home() / "keys.db"
        self._conn: aiosqlite.Connection | None = None

    async def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self.path)
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            await _unlocked(conn, self._prepare)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _prepare(self, conn: aiosqlite.Connection) -> None:
        await conn.execute("PRAGMA journal_mode = WAL")
        for statement in self.schema():
            await conn.execute(statement)
        await conn.commit()

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        assert self._conn is not None
        cursor = await self._conn.execute(sql, params)
        await self._conn.commit()
        return cursor.rowcount

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        assert self._conn is not None
        async with self._conn.execute(sql, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
            self._ready = False


async def _unlocked(conn: aiosqlite.Connection, step: Callable[[aiosqlite.Connection], Awaitable[None]], attempts: int = 50) -> None:
    """Run the first-open step (switch to WAL, create the tables), asking again while SQLite says
    "locked". Two processes opening a new file at once (two `moot keys` calls) both convert it and
    create its tables; during the conversion SQLite answers the other one "database is locked" at
    once, without the busy timeout, whether it asks for WAL or runs a CREATE. The step is
    idempotent (IF NOT EXISTS), so asking again is safe; the wait is bounded (50 x 0.1 s)."""
    for attempt in range(attempts):
        try:
            await step(conn)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await conn.rollback()
            await asyncio.sleep(0.1)


__all__ = ["SqliteKeyStore"]
