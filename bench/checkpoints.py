"""Checkpoint growth of one long session: 200 successive deliberations in one LangGraph thread.

Prints the SQLite checkpoint database size after 10, 50, 100 and 200 runs and the time per run
around run 10 and run 200. Target (issue 2): linear growth, at most 10 MB after 200 runs, flat
per-run time. With `--raw N`, also runs N deliberations of the same graph where the session's
history is *not* reset between runs (what a plain Topic channel does), to show the quadratic
growth moot avoids (see `moot.state`'s module docstring).

    python bench/checkpoints.py [--runs 200] [--raw 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from moot.models.scripted import ScriptedChatModel
from moot.orchestrator import Orchestrator, initial_state
from moot.persistence import open_store
from moot.workspace.runner import WorkspaceRunner

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = json.loads((ROOT / "tests" / "data" / "classic_script.json").read_text())
CLASSIC = ROOT / "tests" / "data" / "workspaces" / "classic"
"""The classic deliberation (free proposals, critic and devil's advocate, synthesizer, booking): the
machinery's workload; the built-in demo adds an intake and searches, which these benches do not measure."""
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
MARKS = (10, 50, 100, 200)


def db_size(path: Path) -> int:
    """Bytes on disk of the database with its WAL (what the session really costs)."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


async def session(runs: int, *, keep_history: bool, label: str) -> None:
    runtime = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=SCRIPT)})
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "moot.db"
        async with open_store(db) as (saver, index):
            orch = runtime.orchestrator(saver, index=index, durability="sync")
            times: list[float] = []
            for i in range(1, runs + 1):
                t0 = time.perf_counter()
                if keep_history:
                    await _run_keeping_history(orch, i)
                else:
                    await orch.run(TASK, session_id="one-session", run_id=f"run-{i}")
                times.append(time.perf_counter() - t0)
                if i in MARKS or i == runs:
                    await saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    window = times[max(0, i - 5) : i]
                    print(
                        f"{label:5} after {i:3} runs: {db_size(db) / 1e6:8.2f} MB   "
                        f"per-run time around run {i}: {1000 * sum(window) / len(window):7.1f} ms"
                    )


async def _run_keeping_history(orch: Orchestrator, i: int) -> None:
    """One run whose input does not reset `history` (the session's history rides in the state)."""
    start = initial_state(TASK, run_id=f"raw-{i}", session_id="one-session", user_id="")
    del start["history"]
    config = orch.config("one-session")
    async for _ in orch.graph.astream(start, config, durability="sync"):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--raw", type=int, default=0, help="also run N deliberations that keep the session history in state")
    args = ap.parse_args()
    print(f"one session (one thread), SQLite checkpointer, durability=sync, pid {os.getpid()}")
    asyncio.run(session(args.runs, keep_history=False, label="moot"))
    if args.raw:
        asyncio.run(session(args.raw, keep_history=True, label="raw"))


if __name__ == "__main__":
    main()
