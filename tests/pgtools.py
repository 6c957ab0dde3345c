"""Helpers for tests against the real PostgreSQL, and a one-run driver for the kill -9 test.

Other engineers' tests use the same database at the same time: LangGraph's tables and
`moot_runs`/`moot_tool_ledger` are shared, so every test uses ids (run, session, tenant, key)
made unique with `uid()`, and asserts only about its own rows.

As a script, `python pgtools.py URL run|resume RUN_ID SESSION_ID [CRITIC_DELAY_S]` runs (or
resumes) the classic fixture workspace's deliberation with its recorded script on PostgreSQL and prints its events as
JSON lines, as `moot run --json` does: the test kills it with SIGKILL in the middle.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("MOOT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLASSIC = Path(__file__).parent / "data" / "workspaces" / "classic"
SCRIPT = Path(__file__).parent / "data" / "classic_script.json"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def pg_rows(pool: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one query on a pool from `open_persistence` (as tuples, not its dict rows)."""
    from psycopg.rows import tuple_row

    async with pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchall()


async def forget(store: Any, *run_ids: str, sessions: tuple[str, ...] = ()) -> None:
    """Delete a test's rows from the shared tables: its runs, their ledger entries, its threads."""
    for session in sessions:
        await store.checkpointer.adelete_thread(session)
    pool = store.checkpointer.conn
    async with pool.connection() as conn:
        for run_id in run_ids:
            await conn.execute("DELETE FROM moot_runs WHERE run_id LIKE %s", (f"{run_id}%",))
            await conn.execute("DELETE FROM moot_tool_ledger WHERE key LIKE %s", (f"{run_id}%",))


def driver(*args: str) -> list[str]:
    """The command line of this module as a script."""
    return [sys.executable, str(Path(__file__).resolve()), PG_URL, *args]


def driver_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MOOT_MODEL", None)
    env.pop("MOOT_DATABASE_URL", None)
    env.update(MOOT_HOME=str(home), PYTHONIOENCODING="utf-8")
    return env


def run_driver(home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(driver(*args), env=driver_env(home), capture_output=True, text=True, timeout=timeout)


async def _drive(url: str, command: str, run_id: str, session_id: str, critic_delay: float) -> None:
    from moot.cli.live import JsonLines
    from moot.events import EventBus
    from moot.models.scripted import ScriptedChatModel
    from moot.persistence import open_persistence
    from moot.workspace.runner import WorkspaceRunner

    script = json.loads(SCRIPT.read_text())
    model = ScriptedChatModel(script=script, latency={"critic": critic_delay} if critic_delay else 0.0)
    runtime = WorkspaceRunner.load(CLASSIC, models={"default": model})
    bus = EventBus()
    bus.add_handler(JsonLines(sys.stdout))
    async with open_persistence(url) as store, runtime.open_tools(store.ledger):
        orch = runtime.orchestrator(store.checkpointer, index=store.index, bus=bus)
        if command == "run":
            await orch.run(TASK, run_id=run_id, session_id=session_id)
        else:
            await orch.resume(run_id)


if __name__ == "__main__":
    url, command, run_id, session_id, *rest = sys.argv[1:]
    asyncio.run(_drive(url, command, run_id, session_id, float(rest[0]) if rest else 0.0))
