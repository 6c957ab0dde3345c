"""A fleet: one API process and two `moot worker` processes sharing PostgreSQL and Redis.

Runs are queued by the API and executed by the workers (arq); a client streaming from the API
sees events of runs executing in the workers (Redis fan-out). A worker killed with SIGKILL in
the middle of a run: the other worker resumes the run from its last checkpoint, with no history
entry lost or repeated and the booking made once.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from moot.workspace.loader import builtin_path
from servicetools import POSTGRES_URL, REDIS_URL, drop_redis_keys, free_port, moot_process, processes, sse_events, wait_http, wait_status

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


@dataclass
class Fleet:
    url: str
    home: Path
    api: subprocess.Popen[bytes]
    workers: dict[str, subprocess.Popen[bytes]]
    logs: Path


def _workspace(root: Path, latency: float, reviewers: float) -> Path:
    folder = root / "spaces" / "fleet"
    shutil.copytree(builtin_path("demo"), folder)
    text = (folder / "moot.yaml").read_text().replace("name: demo", "name: fleet", 1)
    start, end = text.index("models:"), text.index("max_repairs:")
    # the reviewers take longer, so a worker killed while they think is killed before any booking
    slow = f"{{'*': {latency}, critic: {reviewers}, devils_advocate: {reviewers}}}"
    models = f"models:\n  default:\n    provider: scripted\n    script: {DATA / 'demo_script.json'}\n    latency: {slow}\n"
    (folder / "moot.yaml").write_text(text[:start] + models + text[end:])
    return folder


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    folder = _workspace(tmp_path, latency=0.3, reviewers=2.0)
    tag = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "MOOT_HOME": str(tmp_path / "home"),
        "MOOT_DATABASE_URL": POSTGRES_URL,
        "MOOT_REDIS_URL": REDIS_URL,
        "MOOT_QUEUE": "arq",
        "MOOT_QUEUE_NAME": f"moot-test-{tag}:runs",
        "MOOT_KEY_PREFIX": f"moot-test-{tag}:",
        "MOOT_LEASE_S": "2",
        "MOOT_WORKSPACES": str(folder.parent),
        "MOOT_EMBEDDER": "wordllama",
        "PYTHONUNBUFFERED": "1",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    # no API key exists: asking for 0.0.0.0 must still bind loopback only, and say so
    api = moot_process(["serve", "--host", "0.0.0.0", "--port", str(port)], env, logs / "api.log")
    workers = {name: moot_process(["worker", "--name", name], env, logs / f"{name}.log") for name in ("w1", "w2")}
    try:
        with processes(api, *workers.values()):
            url = f"http://127.0.0.1:{port}"
            wait_http(url, timeout=90)
            yield Fleet(url, tmp_path / "home", api, workers, logs)
    finally:
        drop_redis_keys(f"moot-test-{tag}:")


@pytest.fixture
async def client(fleet: Fleet) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fleet.url, timeout=30) as http:
        yield http


async def _start(client: httpx.AsyncClient, user: str) -> dict[str, Any]:
    session = (await client.post("/v1/sessions", json={"user_id": user, "workspace": "fleet"})).json()
    resp = await client.post(f"/v1/sessions/{session['session_id']}/runs", json={"task": TASK})
    assert resp.status_code == 202, resp.text
    return dict(resp.json())


def _shape(history: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(h.get("agent"), h.get("type"), h.get("stage"), h.get("round")) for h in history]


async def test_api_queues_and_workers_execute_with_events_fanned_out(fleet: Fleet, client: httpx.AsyncClient) -> None:
    assert "binds to 127.0.0.1 only" in (fleet.logs / "api.log").read_text()
    ready = (await client.get("/readyz")).json()
    assert ready["checks"] == {"redis": "ok", "database": "ok"} and ready["mode"]["queue"] == "arq"
    runs = [await _start(client, f"user{i}") for i in range(4)]
    streams = await asyncio.gather(*(sse_events(client, r["links"]["events"]) for r in runs))
    for run, events in zip(runs, streams):
        types = [e["event"] for e in events]
        assert types[0] == "run_queued" and types[-1] == "run_finished", types
        assert "agent_finished" in types
    records = [await wait_status(client, r["run_id"], {"finished", "failed"}) for r in runs]
    assert [(r["status"], r["attempts"]) for r in records] == [("finished", 1)] * 4, _dump(fleet)
    rows = await _records(fleet, [r["run_id"] for r in runs])
    assert {row["worker"] for row in rows} <= {"w1", "w2"}
    api_log = (fleet.logs / "api.log").read_text()
    assert "run_started" not in api_log  # the API process queued, the workers ran


async def test_worker_killed_mid_run_is_resumed_by_the_other_without_loss_or_repeat(fleet: Fleet, client: httpx.AsyncClient) -> None:
    reference = await _start(client, "ref")
    await wait_status(client, reference["run_id"], {"finished"}, timeout=90)
    ref_state = (await client.get(f"/v1/sessions/{reference['session_id']}/state")).json()["values"]

    run = await _start(client, "victim")
    # killed while the critic thinks: well into the proposal stage, with the searches made
    head = await sse_events(client, run["links"]["events"], until=lambda e: e["event"] == "agent_started" and e["data"].get("agent") == "critic")
    assert "agent_finished" in [e["event"] for e in head] and head[-1]["event"] == "agent_started"
    (row,) = await _records(fleet, [run["run_id"]])
    victim = row["worker"]
    assert victim in fleet.workers
    fleet.workers[victim].send_signal(signal.SIGKILL)
    fleet.workers[victim].wait(timeout=10)

    done = await wait_status(client, run["run_id"], {"finished", "failed"}, timeout=90)
    assert done["status"] == "finished", _dump(fleet)
    assert done["attempts"] == 2, _dump(fleet)
    (row,) = await _records(fleet, [run["run_id"]])
    assert row["worker"] != victim
    state = (await client.get(f"/v1/sessions/{run['session_id']}/state")).json()["values"]
    assert _shape(state["history"]) == _shape(ref_state["history"])  # nothing lost, nothing twice
    assert state["winner"] == ref_state["winner"]
    events = await sse_events(client, run["links"]["events"], last_event_id=head[-1]["id"])
    types = [e["event"] for e in events]
    assert types.count("run_started") == 1 and types[-1] == "run_finished"  # the resumed attempt
    # each tool call went to its server once (the kill was before booking: nothing was in flight)
    whole = await sse_events(client, run["links"]["events"])
    calls = [e["data"]["data"] for e in whole if e["event"] == "tool_call" and "key" in e["data"]["data"]]
    assert calls and len({c["key"] for c in calls}) == len(calls), calls
    booked_keys = {c["key"] for c in calls if c["tool"] == "book"}
    with sqlite3.connect(fleet.home / "travel.db") as db:
        rows = db.execute("SELECT idempotency_key FROM bookings WHERE idempotency_key LIKE ?", (run["run_id"] + ":%",)).fetchall()
    assert sorted(r[0] for r in rows) == sorted(booked_keys)


async def _records(fleet: Fleet, run_ids: list[str]) -> list[dict[str, Any]]:
    """Run index rows (worker, attempts) straight from PostgreSQL."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(POSTGRES_URL) as conn:
        cur = await conn.execute("SELECT run_id, worker, attempts FROM moot_runs WHERE run_id = ANY(%s)", (run_ids,))
        return [{"run_id": r[0], "worker": r[1], "attempts": r[2]} for r in await cur.fetchall()]


def _dump(fleet: Fleet) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(fleet.logs.iterdir()))


__all__ = ["Fleet", "json"]
