"""Where tool outcomes are recorded by idempotency key: in memory, or beside the run's checkpoints.

The `Ledger` interface is the tool layer's (`moot.tools.types`: the ToolRuntime reads it before
every call); its storage is here, with the rest of what a run writes, so persistence depends on
tools and never the reverse.

The SQLite ledger shares the checkpointer's connection (and its lock), so the outcome of a
booking lives in the same file as the run that made it, and is committed before the tool node
returns: a process killed between the ledger write and the next checkpoint finds the outcome on
resume instead of booking again. The PostgreSQL ledger does the same on the fleet's database
(the pool the checkpointer uses; autocommit), so a run resumed by another worker finds it too.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import fields
from typing import Any

import aiosqlite

from moot.errors import UsageError
from moot.persistence.postgres import run_ddl
from moot.tools.types import Ledger, ToolOutcome

_SCHEMA = """
CREATE TABLE IF NOT EXISTS moot_tool_ledger (
    key TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_FIELDS = tuple(f.name for f in fields(ToolOutcome))


def outcome_to_json(outcome: ToolOutcome) -> str:
    # Not `as_dict()`: its deep copy of the content costs more than the dump itself.
    data = {name: getattr(outcome, name) for name in _FIELDS if name != "replayed"}
    return json.dumps(data, ensure_ascii=False, default=str)


def outcome_from_json(text: str) -> ToolOutcome:
    """The recorded outcome, marked replayed; fields unknown to this version are ignored."""
    data: dict[str, Any] = {k: v for k, v in json.loads(text).items() if k in _FIELDS}
    data["replayed"] = True
    return ToolOutcome(**data)


class MemoryLedger(Ledger):
    """Outcomes in a dict: for tests, benchmarks and runs that are not checkpointed to disk."""

    def __init__(self) -> None:
        self._outcomes: dict[str, str] = {}

    async def get(self, key: str) -> ToolOutcome | None:
        text = self._outcomes.get(key)
        return outcome_from_json(text) if text is not None else None

    async def put(self, outcome: ToolOutcome) -> None:
        self._outcomes.setdefault(outcome.key, outcome_to_json(outcome))

    def __len__(self) -> int:
        return len(self._outcomes)


class SqliteLedger(Ledger):
    """The `moot_tool_ledger` table on an aiosqlite connection, committed on every `put`.

    Pass the checkpointer's lock when the connection is the checkpointer's
    (`SqliteLedger.from_saver(saver)`): a commit of ours must not land in the middle of one of its
    transactions. A key's outcome is written once; a second `put` of the same key is ignored.
    """

    def __init__(self, conn: aiosqlite.Connection, *, lock: asyncio.Lock | None = None) -> None:
        self.conn = conn
        self.lock = lock

    @classmethod
    def from_saver(cls, saver: Any) -> SqliteLedger:
        """A ledger on an `AsyncSqliteSaver`'s connection, under its lock."""
        if not isinstance(getattr(saver, "conn", None), aiosqlite.Connection):
            raise UsageError(
                f"SqliteLedger needs an AsyncSqliteSaver, got {type(saver).__name__}; "
                "use ledger_for(saver), or the ledger of moot.persistence.open_persistence()"
            )
        return cls(saver.conn, lock=saver.lock)

    def _locked(self) -> AbstractAsyncContextManager[Any]:
        return self.lock if self.lock is not None else nullcontext()

    async def setup(self) -> None:
        async with self._locked():
            await self.conn.execute(_SCHEMA)
            await self.conn.commit()

    async def get(self, key: str) -> ToolOutcome | None:
        async with self._locked():
            async with self.conn.execute("SELECT outcome FROM moot_tool_ledger WHERE key = ?", (key,)) as cursor:
                row = await cursor.fetchone()
        return outcome_from_json(row[0]) if row is not None else None

    async def put(self, outcome: ToolOutcome) -> None:
        async with self._locked():
            await self.conn.execute(
                "INSERT OR IGNORE INTO moot_tool_ledger (key, tool, outcome, created_at) VALUES (?, ?, ?, ?)",
                (outcome.key, outcome.tool, outcome_to_json(outcome), time.time()),
            )
            await self.conn.commit()


class PostgresLedger(Ledger):
    """The `moot_tool_ledger` table on a psycopg `AsyncConnectionPool` (the checkpointer's, as
    `moot.persistence.open_persistence` makes it): `put` commits its own transaction before it
    returns. A key's outcome is written once; a second `put` of the same key is ignored."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def setup(self) -> None:
        await run_ddl(self.pool, [_SCHEMA.replace("REAL", "DOUBLE PRECISION")])

    async def get(self, key: str) -> ToolOutcome | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute("SELECT outcome FROM moot_tool_ledger WHERE key = %s", (key,))
            row = await cursor.fetchone()
        if row is None:
            return None
        return outcome_from_json(row["outcome"] if isinstance(row, dict) else row[0])

    async def put(self, outcome: ToolOutcome) -> None:
        # an explicit transaction: committed on return even on a pool that is not autocommit
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO moot_tool_ledger (key, tool, outcome, created_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (key) DO NOTHING",
                (outcome.key, outcome.tool, outcome_to_json(outcome), time.time()),
            )


def ledger_for(saver: Any) -> Ledger:
    """The ledger that lives beside `saver`'s checkpoints (its SQLite connection, its PostgreSQL
    pool); call `setup()` on it once. For a store opened with `open_persistence`, use its ledger."""
    if isinstance(getattr(saver, "conn", None), aiosqlite.Connection):
        return SqliteLedger.from_saver(saver)
    if type(saver).__module__.startswith("langgraph.checkpoint.postgres"):
        from psycopg_pool import AsyncConnectionPool

        if isinstance(saver.conn, AsyncConnectionPool):
            return PostgresLedger(saver.conn)
    raise UsageError(
        f"no durable ledger beside checkpointer {type(saver).__name__}: use AsyncSqliteSaver, or AsyncPostgresSaver on an "
        "AsyncConnectionPool (as moot.persistence.open_persistence makes it)"
    )


__all__ = ["MemoryLedger", "PostgresLedger", "SqliteLedger", "ledger_for", "outcome_from_json", "outcome_to_json"]
