"""Where tool outcomes are recorded by idempotency key: in memory, or in the run's SQLite file.

The SQLite ledger shares the checkpointer's connection (and its lock), so the outcome of a
booking lives in the same file as the run that made it, and is committed before the tool node
returns: a process killed between the ledger write and the next checkpoint finds the outcome on
resume instead of booking again.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import fields
from typing import Any

import aiosqlite

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


__all__ = ["MemoryLedger", "SqliteLedger", "outcome_from_json", "outcome_to_json"]
