"""API keys in PostgreSQL: one table shared by every API worker of a fleet (psycopg is an extra)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moot.errors import UsageError
from moot.service.keys.base import KeyStore, redact_url


class PostgresKeyStore(KeyStore):
    """Keys in PostgreSQL, through a small psycopg connection pool (every API worker shares the table)."""

    def __init__(self, url: str, *, max_connections: int = 4, **options: Any) -> None:
        super().__init__(**options)
        self.url = url
        self.max_connections = max_connections
        self._pool: Any = None

    async def _open(self) -> None:
        try:
            import psycopg
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("API keys in PostgreSQL need psycopg: pip install 'moot[postgres]'") from exc
        try:  # connect once first: a wrong URL fails now, clearly, not after the pool's timeout
            async with await psycopg.AsyncConnection.connect(self.url, connect_timeout=10) as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))  # concurrent first starts
                for statement in self.schema():
                    await conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.Error as exc:  # unreachable, refused, bad URL, no right to create the table
            raise UsageError(f"cannot use the key database {redact_url(self.url)}: {str(exc).strip()}") from None
        pool = AsyncConnectionPool(self.url, min_size=1, max_size=self.max_connections, kwargs={"autocommit": True}, open=False)
        await pool.open()
        self._pool = pool

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql.replace("?", "%s"), params)
            return int(cursor.rowcount)

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql.replace("?", "%s"), params)
            return [tuple(row) for row in await cursor.fetchall()]

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
            self._ready = False


__all__ = ["PostgresKeyStore"]
