"""Where runs live on disk: `$MOOT_HOME` (default `~/.moot`), a SQLite checkpointer, a run index.

Checkpoints are LangGraph's own (`AsyncSqliteSaver`). Beside them, in the same database file,
moot keeps a small index of runs (`moot_runs`: run id → thread, workspace, task, status), so
that `moot resume RUN_ID` and `moot state export RUN_ID` can find a run's thread: a session is a
thread and may hold many runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from moot.errors import UsageError

_SCHEMA = """
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
);
CREATE INDEX IF NOT EXISTS moot_runs_thread ON moot_runs(thread_id);
"""


def moot_home() -> Path:
    """`$MOOT_HOME`, else `~/.moot` (created only when a store is opened)."""
    return Path(os.environ.get("MOOT_HOME") or Path.home() / ".moot").expanduser()


def default_db() -> Path:
    return moot_home() / "moot.db"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    thread_id: str
    workspace: str
    workspace_path: str
    task: str
    user_id: str
    status: str
    started_at: float
    finished_at: float | None


class RunIndex:
    """The `moot_runs` table: which thread holds a run, and how the run ended."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def setup(self) -> None:
        await self.conn.executescript(_SCHEMA)
        await self.conn.commit()

    async def add(
        self, run_id: str, thread_id: str, workspace: str, task: str, user_id: str = "", workspace_path: str = ""
    ) -> None:
        await self.conn.execute(
            "INSERT INTO moot_runs (run_id, thread_id, workspace, workspace_path, task, user_id, status, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
            (run_id, thread_id, workspace, workspace_path, task, user_id, time.time()),
        )
        await self.conn.commit()

    async def set_status(self, run_id: str, status: str) -> None:
        finished = time.time() if status in ("finished", "failed") else None
        await self.conn.execute(
            "UPDATE moot_runs SET status = ?, finished_at = ? WHERE run_id = ?", (status, finished, run_id)
        )
        await self.conn.commit()

    async def get(self, run_id: str) -> RunRecord:
        async with self.conn.execute(
            "SELECT run_id, thread_id, workspace, workspace_path, task, user_id, status, started_at, finished_at "
            "FROM moot_runs WHERE run_id = ?",
            (run_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise UsageError(f"unknown run {run_id!r}; `moot runs` lists the runs under {moot_home()}")
        return RunRecord(*row)

    async def latest(self, limit: int = 20) -> list[RunRecord]:
        async with self.conn.execute(
            "SELECT run_id, thread_id, workspace, workspace_path, task, user_id, status, started_at, finished_at "
            "FROM moot_runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ) as cursor:
            return [RunRecord(*row) for row in await cursor.fetchall()]


async def compact_run(saver: Any, thread_id: str, run_id: str) -> int:
    """Keep only the last checkpoint of a *finished* run; return how many checkpoints went.

    Intermediate checkpoints matter while a run can still resume; once it has finished, its last
    checkpoint holds everything the run produced (exportable with `moot state export`), and the
    session's memory lives in episodic memory. Without this, a long session stores every
    superstep of every run: about 75 kB a run on the demo, 15 MB after 200 runs. LangGraph's
    SQLite saver has no `prune`, so this deletes the rows of its documented tables directly;
    other savers keep everything (the in-memory saver lives only as long as its process).
    """
    if not isinstance(saver, AsyncSqliteSaver):
        return 0
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


@asynccontextmanager
async def open_store(path: Path | str | None = None) -> AsyncIterator[tuple[AsyncSqliteSaver, RunIndex]]:
    """The checkpointer and the run index over one SQLite file (WAL, so readers never block)."""
    db = Path(path) if path else default_db()
    db.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
        await saver.setup()
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        index = RunIndex(saver.conn)
        await index.setup()
        yield saver, index


__all__ = ["RunIndex", "RunRecord", "compact_run", "default_db", "moot_home", "open_store"]
