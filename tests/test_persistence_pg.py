"""The classic fixture workspace's deliberation on PostgreSQL: it runs, compacts, exports and resumes; killed with
SIGKILL in the middle of a stage, it resumes without running or recording anything twice.

The kill -9 test is `test_resume.py`'s on PostgreSQL: the same scripted workspace (the critic
waits 30 s while the devil's advocate answers at once), the same checks, and its helpers
(reference run, comparison, travel bookings). The run is driven by `pgtools.py` as a script,
since `moot run` opens its store through `Runtime.open_store_and_tools`, which is SQLite-only.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import scripted_runtime
from pgtools import PG_URL, TASK, driver, driver_env, forget, pg_rows, run_driver, uid
from test_resume import comparable, json_events, reference_state, travel_bookings

from moot.orchestrator import Orchestrator
from moot.persistence import compact_run, open_persistence
from moot.state_io import export_state
from clitools import kill_after

SCRIPT = Path(__file__).parent / "data" / "classic_script.json"

_RUN_CHECKPOINTS = (
    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
    "AND metadata ->> 'moot_run_id' = %s ORDER BY checkpoint_id"
)
_ORPHAN_BLOBS = """
SELECT count(*) FROM checkpoint_blobs b WHERE b.thread_id = %s AND NOT EXISTS (
    SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns
    AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)
"""
# (channel, version) pairs with a blob that the last checkpoint of a run shares with its others
_SHARED_BLOBS = """
SELECT count(*) FROM checkpoint_blobs b
JOIN checkpoints kept ON kept.thread_id = b.thread_id AND kept.checkpoint_ns = '' AND kept.checkpoint_id = %s
    AND kept.checkpoint -> 'channel_versions' ->> b.channel = b.version
WHERE b.thread_id = %s AND EXISTS (
    SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id <> %s
    AND c.metadata ->> 'moot_run_id' = %s AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)
"""


async def exported(orch: Orchestrator, session: str, run_id: str) -> dict[str, Any]:
    doc = await export_state(orch.graph, orch.config(session, "ana"), workspace="classic", run_id=run_id)
    doc.pop("exported_at")
    return doc


async def test_a_deliberation_on_postgres_compacts_and_stays_whole(classic_script: dict[str, Any]) -> None:
    runtime, _ = scripted_runtime(classic_script)
    session, first, second = uid("session"), uid("run"), uid("run")
    async with open_persistence(PG_URL, pool_size=4) as store, runtime.open_tools(store.ledger):
        pool = store.checkpointer.conn  # type: ignore[attr-defined]
        orch = runtime.orchestrator(store.checkpointer, index=store.index)
        orch.compact = False  # compacted by hand below, to compare before and after
        result = await orch.run(TASK, session_id=session, user_id="ana", run_id=first)
        assert result.status == "finished" and result.winner == "alfama-walks"
        ids = [row[0] for row in await pg_rows(pool, _RUN_CHECKPOINTS, session, first)]
        assert len(ids) > 10
        shared = (await pg_rows(pool, _SHARED_BLOBS, ids[-1], session, ids[-1], first))[0][0]
        assert shared > 0, "the last checkpoint shares no blob with the run's others: the test would prove nothing"
        blobs_before = (await pg_rows(pool, "SELECT count(*) FROM checkpoint_blobs WHERE thread_id = %s", session))[0][0]
        before = await exported(orch, session, first)
        assert comparable(before["values"]) == comparable(result.state)

        assert await compact_run(store.checkpointer, session, first) == len(ids) - 1
        assert [row[0] for row in await pg_rows(pool, _RUN_CHECKPOINTS, session, first)] == ids[-1:]
        assert await pg_rows(pool, "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_id <> ALL(%s)", session, ids[-1:]) == [(0,)]
        blobs_after = (await pg_rows(pool, "SELECT count(*) FROM checkpoint_blobs WHERE thread_id = %s", session))[0][0]
        assert 0 < blobs_after < blobs_before
        assert await pg_rows(pool, _ORPHAN_BLOBS, session) == [(0,)]
        assert await exported(orch, session, first) == before
        assert await compact_run(store.checkpointer, session, first) == 0  # nothing more to drop

        resumed = await orch.resume(first)  # a finished run is returned from its last checkpoint
        assert resumed.status == "finished" and comparable(resumed.state) == comparable(result.state)

        # a second run in the same session, compacted by the orchestrator: the first run's kept
        # checkpoint shares versions with the second run's first checkpoints, and must survive
        orch.compact = True
        again = await orch.run(TASK, session_id=session, user_id="ana", run_id=second)
        assert again.status == "finished"
        assert len(await pg_rows(pool, _RUN_CHECKPOINTS, session, second)) == 1
        assert await pg_rows(pool, _ORPHAN_BLOBS, session) == [(0,)]
        assert await exported(orch, session, first) == before
        latest = await exported(orch, session, second)
        assert latest["run_id"] == second and comparable(latest["values"]) == comparable(again.state)
        records = {r.run_id: r for r in await store.index.list("", session_id=session)}
        assert records[first].status == records[second].status == "finished"

    async with open_persistence(PG_URL, pool_size=2) as store:  # another process, later
        try:
            orch = runtime.orchestrator(store.checkpointer, index=store.index)
            assert await exported(orch, session, first) == before
        finally:
            await forget(store, first, second, sessions=(session,))


def _writes_saved(session: str, agent: str) -> bool:
    """Has LangGraph saved `agent`'s writes of the current superstep (as pending writes)?"""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s "
            "AND channel = 'executed_agents_per_stage' AND position(%s::bytea in blob) > 0",
            (session, agent.encode()),
        ).fetchone()
    return row is not None and row[0] > 0


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("pg-resume")
    home = root / "home"
    run_id, session = uid("run"), uid("session")
    started = time.monotonic()
    proc = subprocess.Popen(
        driver("run", run_id, session, "30"), env=driver_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    kill = kill_after(proc, {"optimistic", "devils_advocate"}, lambda: _writes_saved(session, "devils_advocate"))
    killed_events, saved_before_kill, alive_at_kill = kill.events, kill.saved_before_kill, kill.alive_at_kill
    killed_after = time.monotonic() - started

    resumed = run_driver(home, "resume", run_id, session)

    async def inspect() -> tuple[Any, dict[str, Any]]:
        runtime, _ = scripted_runtime(json.loads(SCRIPT.read_text()))
        async with open_persistence(PG_URL, pool_size=2) as store:
            orch = runtime.orchestrator(store.checkpointer, index=store.index)
            record = await store.index.get(run_id)
            doc = await export_state(orch.graph, orch.config(session), workspace="classic", run_id=run_id)
            return record, doc

    record, export = asyncio.run(inspect())
    yield {
        "home": home,
        "run_id": run_id,
        "killed_events": killed_events,
        "alive_at_kill": alive_at_kill,
        "saved_before_kill": saved_before_kill,
        "killed_after": killed_after,
        "returncode": proc.returncode,
        "resumed": resumed,
        "export": export,
        "record": record,
        "reference": reference_state(json.loads(SCRIPT.read_text()), root / "reference-home"),
    }

    async def cleanup() -> None:
        async with open_persistence(PG_URL, pool_size=1) as store:
            await forget(store, run_id, sessions=(session,))

    asyncio.run(cleanup())


def test_the_run_was_killed_in_the_middle_of_the_proposal_stage(killed_and_resumed: dict[str, Any]) -> None:
    r = killed_and_resumed
    assert r["alive_at_kill"], "the run ended by itself before the kill"
    assert r["returncode"] == -signal.SIGKILL
    assert r["killed_after"] < 25, "the critic's 30 s delay must still have been running at the kill"
    finished = [e["agent"] for e in r["killed_events"] if e["type"] == "agent_finished"]
    assert "critic" not in finished and {"optimistic", "devils_advocate"} <= set(finished)
    assert r["saved_before_kill"], "the devil's advocate's writes were not in PostgreSQL at the kill"


def test_the_resumed_run_did_only_what_had_not_been_done(killed_and_resumed: dict[str, Any]) -> None:
    resumed, run_id = killed_and_resumed["resumed"], killed_and_resumed["run_id"]
    assert resumed.returncode == 0, resumed.stderr
    events = json_events(resumed.stdout)
    assert events[0]["type"] == "run_started" and events[0]["data"]["resumed"] is True
    assert events[-1]["type"] == "run_finished" and events[-1]["data"]["winner"] == "alfama-walks"
    started = Counter(e["agent"] for e in events if e["type"] == "agent_started")
    assert started == Counter({"critic": 1, "synthesizer": 1, "booking": 2})
    executed = [(e["data"]["tool"], e["data"]["key"]) for e in events if e["type"] == "tool_result"]
    assert executed == [("search_hotels", f"{run_id}:0"), ("book", f"{run_id}:1")]


def test_the_resumed_state_has_each_contribution_once(killed_and_resumed: dict[str, Any]) -> None:
    r = killed_and_resumed
    values = r["export"]["values"]
    assert values["done"] is True and r["export"]["next"] == []
    kinds = Counter((entry["type"], entry["agent"]) for entry in values["history"])
    assert kinds == Counter(
        {
            ("proposal", "optimistic"): 1,
            ("review", "critic"): 1,
            ("review", "devils_advocate"): 1,
            ("decision", "synthesizer"): 1,
            ("tool_call", "booking"): 2,
            ("tool_result", "tool_runtime"): 2,
        }
    )
    assert {agent: u["calls"] for agent, u in values["usage"].items()} == {
        "optimistic": 1, "critic": 1, "devils_advocate": 1, "synthesizer": 1, "booking": 2,
    }  # fmt: skip
    assert travel_bookings(r["home"]) == [("hotel", "H-LIS-ALFAMA", "Ana Silva", "confirmed", f"{r['run_id']}:1")]
    assert comparable(values) == comparable(r["reference"])


def test_the_resumed_run_is_recorded_finished_and_compacted(killed_and_resumed: dict[str, Any]) -> None:
    record = killed_and_resumed["record"]
    assert record.status == "finished" and record.finished_at is not None and record.tenant == ""

    async def checkpoints() -> int:
        async with open_persistence(PG_URL, pool_size=1) as store:
            rows = await pg_rows(store.checkpointer.conn, _RUN_CHECKPOINTS, record.thread_id, record.run_id)  # type: ignore[attr-defined]
        return len(rows)

    assert asyncio.run(checkpoints()) == 1
