"""The SQLite backend of SessionControl: the embedded service's sessions outlive its process.

`moot serve` with no Redis keeps runs and checkpoints in SQLite under `$MOOT_HOME`; its sessions
belong there too, or a restart would orphan every run (its checkpoints would survive, its
session would not). One table, one row per session, the session's JSON beside the columns the
queries need; expired rows are swept as new sessions arrive. One process only: several API
processes share sessions through Redis.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import aiosqlite

from moot.service.sessions.base import DEFAULT_TTL_S, Session, SessionControl, SessionExists

_SCHEMA = """
CREATE TABLE IF NOT EXISTS moot_sessions (
    tenant TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id)
);
CREATE INDEX IF NOT EXISTS moot_sessions_user ON moot_sessions(tenant, user_id, created_at);
CREATE INDEX IF NOT EXISTS moot_sessions_tenant ON moot_sessions(tenant, created_at);
CREATE INDEX IF NOT EXISTS moot_sessions_expiry ON moot_sessions(expires_at);
"""


class SqliteSessions(SessionControl):
    """Sessions in a SQLite file (default `$MOOT_HOME/sessions.db`)."""

    def __init__(
        self, path: str | Path | None = None, *, default_ttl_s: int = DEFAULT_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(default_ttl_s=default_ttl_s, clock=clock)
        if path is None:
            from moot.settings import moot_home

            path = moot_home() / "sessions.db"
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()
        self._writing = asyncio.Lock()
        """Read-modify-write (touch) and sweeps in one order: aiosqlite runs one statement at a time,
        but two coroutines could interleave between a read and its write."""

    async def _db(self) -> aiosqlite.Connection:
        async with self._opening:
            if self._conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = await aiosqlite.connect(self.path)
                await conn.execute("PRAGMA journal_mode=WAL")
                await conn.executescript(_SCHEMA)
                await conn.commit()
                self._conn = conn
            return self._conn

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _insert(self, session: Session, now: float) -> None:
        db = await self._db()
        async with self._writing:
            await db.execute("DELETE FROM moot_sessions WHERE expires_at <= ?", (now,))
            try:
                await db.execute(
                    "INSERT INTO moot_sessions (tenant, session_id, user_id, created_at, expires_at, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (session.tenant, session.session_id, session.user_id, session.created_at, session.expires_at, session.model_dump_json()),
                )
            except sqlite3.IntegrityError:  # a caller's own id, created by another request meanwhile
                await db.rollback()
                raise SessionExists(session.tenant, session.session_id) from None
            await db.commit()

    async def _load(self, tenant: str, session_id: str) -> Session | None:
        db = await self._db()
        async with db.execute(
            "SELECT data FROM moot_sessions WHERE tenant = ? AND session_id = ?", (tenant, session_id)
        ) as cursor:
            row = await cursor.fetchone()
        return Session.model_validate_json(row[0]) if row else None

    async def _touch(self, tenant: str, session_id: str) -> Session | None:
        db = await self._db()
        async with self._writing:
            session = await self._load(tenant, session_id)
            resumed = self.touched(session, self.clock()) if session is not None else None
            if resumed is not None:
                await db.execute(
                    "UPDATE moot_sessions SET expires_at = ?, data = ? WHERE tenant = ? AND session_id = ?",
                    (resumed.expires_at, resumed.model_dump_json(), tenant, session_id),
                )
                await db.commit()
            return resumed

    async def _update(
        self, tenant: str, session_id: str, change: Callable[[Session], Session], now: float
    ) -> Session | None:
        db = await self._db()
        async with self._writing:
            session = await self._load(tenant, session_id)
            if session is None or session.expires_at <= now:
                return None
            changed = change(session)
            await db.execute(
                "UPDATE moot_sessions SET data = ? WHERE tenant = ? AND session_id = ?",
                (changed.model_dump_json(), tenant, session_id),
            )
            await db.commit()
            return changed

    async def _list(self, tenant: str, user_id: str | None, limit: int, now: float) -> list[Session]:
        db = await self._db()
        where, params = ("tenant = ? AND expires_at > ?", [tenant, now])
        if user_id is not None:
            where, params = (f"{where} AND user_id = ?", [*params, user_id])
        async with db.execute(
            f"SELECT data FROM moot_sessions WHERE {where} ORDER BY created_at DESC, session_id DESC LIMIT ?",
            (*params, limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [Session.model_validate_json(row[0]) for row in rows]

    async def _delete(self, tenant: str, session_id: str, now: float) -> bool:
        db = await self._db()
        async with self._writing:
            cursor = await db.execute(
                "DELETE FROM moot_sessions WHERE tenant = ? AND session_id = ? RETURNING expires_at", (tenant, session_id)
            )
            row = await cursor.fetchone()
            await cursor.close()
            await db.commit()
        return row is not None and row[0] > now


__all__ = ["SqliteSessions"]
