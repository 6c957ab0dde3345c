"""Resume after a kill in the middle of a stage (issue 2), through the real `moot` CLI.

A subprocess `moot run --json` runs a copy of the classic fixture workspace whose scripted model makes the
critic wait 30 s while the devil's advocate answers at once (both run in the parallel step of the
proposal stage). Once the optimistic agent and the devil's advocate have finished, and the devil's
advocate's writes are in the checkpoint database, the process gets SIGKILL. `moot resume` (with
the delay removed from the workspace) must then finish the run without running the devil's
advocate or the optimistic agent again, and without losing or duplicating anything. The classic
workspace has an MCP server (the built-in travel agency): the resumed run executes the booking agent's two
intents (search, then book) through the tool node, and the travel database holds one booking.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from clitools import moot_cmd, cli_env, kill_after
from conftest import CLASSIC
import yaml

from moot.models.scripted import ScriptedChatModel
from moot.persistence import open_store
from moot.workspace.runner import WorkspaceRunner

DATA = Path(__file__).parent / "data"
SCRIPT = DATA / "classic_script.json"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
NODES = {"stage_router", "optimistic", "critic", "devils_advocate", "synthesizer", "booking", "tools"}
COMPARED = ("task", "stage", "done", "round", "history", "rewards", "winner", "decision", "executed_agents_per_stage")






def run_cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(moot_cmd(*args), env=cli_env(home), capture_output=True, text=True, timeout=timeout)


def json_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def set_models(ws: Path, default: dict[str, Any]) -> None:
    path = ws / "moot.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["models"] = {"default": default}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def copy_classic(target: Path) -> Path:
    shutil.copytree(CLASSIC, target)
    shutil.copy(SCRIPT, target / "script.json")
    return target


def pending_write_saved(db: Path, agent: str) -> bool:
    """Has LangGraph saved `agent`'s writes of the current superstep (as pending writes)?"""
    if not db.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            (count,) = conn.execute(
                "SELECT count(*) FROM writes WHERE channel = 'executed_agents_per_stage' AND instr(value, ?) > 0",
                (agent.encode(),),
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return count > 0


def reference_state(script: dict[str, Any], home: Path) -> dict[str, Any]:
    """The final state of the same deliberation, run in process without interruption, with the
    workspace's MCP servers as the CLI runs it (the travel server's database goes under `home`)."""
    runtime = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=script)})

    async def run() -> Any:
        async with runtime.open_tools():
            return await runtime.orchestrator().run(TASK)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOOT_HOME", str(home))
        result = asyncio.run(run())
    assert result.status == "finished"
    return result.state


def comparable(values: dict[str, Any]) -> dict[str, Any]:
    """The compared keys, without the run's identity (in the tool calls' idempotency keys) and the
    tool calls' wall-clock latency."""
    run_id = values["run_id"]
    out = json.loads(json.dumps({key: values.get(key) for key in COMPARED}).replace(run_id, "<run>"))
    for entry in out["history"]:
        if entry["type"] in ("tool_result", "tool_error"):
            entry["content"].pop("latency_s")
    return out


def travel_bookings(home: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(home / "travel.db")
    try:
        return db.execute("SELECT kind, item_id, traveller, status, idempotency_key FROM bookings").fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("resume")
    home = root / "home"
    ws = copy_classic(root / "ws")
    set_models(ws, {"provider": "scripted", "script": "script.json", "latency": {"critic": 30}})

    started = time.monotonic()
    proc = subprocess.Popen(
        moot_cmd("run", TASK, "-w", str(ws), "--json"),
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kill = kill_after(proc, {"optimistic", "devils_advocate"}, lambda: pending_write_saved(home / "moot.db", "devils_advocate"))
    killed_events, saved_before_kill, alive_at_kill = kill.events, kill.saved_before_kill, kill.alive_at_kill
    killed_after = time.monotonic() - started
    run_id = killed_events[0]["run_id"]

    # remove the delay: the same workspace, the critic now answers at once
    set_models(ws, {"provider": "scripted", "script": "script.json"})
    resumed = run_cli(home, "resume", run_id, "--json", "-w", str(ws))
    export = run_cli(home, "state", "export", run_id, "-w", str(ws))

    async def record() -> Any:
        async with open_store(home / "moot.db") as (_, index):
            return await index.get(run_id)

    return {
        "home": home,
        "run_id": run_id,
        "killed_events": killed_events,
        "alive_at_kill": alive_at_kill,
        "saved_before_kill": saved_before_kill,
        "killed_after": killed_after,
        "returncode": proc.returncode,
        "resumed": resumed,
        "export": export,
        "record": asyncio.run(record()),
        "reference": reference_state(json.loads(SCRIPT.read_text()), root / "reference-home"),
    }


def test_the_run_was_killed_in_the_middle_of_the_proposal_stage(killed_and_resumed: dict[str, Any]) -> None:
    r = killed_and_resumed
    assert r["alive_at_kill"], "the run ended by itself before the kill"
    assert r["returncode"] == -signal.SIGKILL
    assert r["killed_after"] < 25, "the critic's 30 s delay must still have been running at the kill"
    started = [e["agent"] for e in r["killed_events"] if e["type"] == "agent_started"]
    finished = [e["agent"] for e in r["killed_events"] if e["type"] == "agent_finished"]
    assert started[0] == "optimistic" and sorted(started[1:]) == ["critic", "devils_advocate"]
    assert "critic" not in finished
    assert not any(e["type"] in ("run_finished", "run_failed") for e in r["killed_events"])
    assert r["saved_before_kill"], "the devil's advocate's writes were not in the checkpoint database at the kill"


def test_resume_finishes_with_exit_0(killed_and_resumed: dict[str, Any]) -> None:
    resumed = killed_and_resumed["resumed"]
    assert resumed.returncode == 0, resumed.stderr
    events = json_events(resumed.stdout)
    assert events[0]["type"] == "run_started" and events[0]["data"]["resumed"] is True
    assert events[-1]["type"] == "run_finished"
    assert events[-1]["data"]["winner"] == "alfama-walks"
    assert {e["run_id"] for e in events} == {killed_and_resumed["run_id"]}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_resume_runs_only_what_had_not_finished(killed_and_resumed: dict[str, Any]) -> None:
    events = json_events(killed_and_resumed["resumed"].stdout)
    started = Counter(e["agent"] for e in events if e["type"] == "agent_started")
    assert "devils_advocate" not in started, "the devil's advocate had finished before the kill and ran again"
    assert "optimistic" not in started, "the optimistic agent had finished before the kill and ran again"
    assert started == Counter({"critic": 1, "synthesizer": 1, "booking": 2})  # booking: search, then book
    stages = [e["stage"] for e in events if e["type"] == "stage_entered"]
    assert stages == ["synthesis", "booking", "final"]
    run_id = killed_and_resumed["run_id"]
    executed = [(e["data"]["tool"], e["data"]["key"]) for e in events if e["type"] == "tool_result"]
    assert executed == [("search_hotels", f"{run_id}:0"), ("book", f"{run_id}:1")]
    assert not [e for e in events if e["type"] == "tool_error"]


def test_resumed_state_has_each_contribution_exactly_once(killed_and_resumed: dict[str, Any]) -> None:
    export = killed_and_resumed["export"]
    assert export.returncode == 0, export.stderr
    doc = json.loads(export.stdout)
    values = doc["values"]
    assert doc["run_id"] == killed_and_resumed["run_id"] and values["run_id"] == killed_and_resumed["run_id"]
    assert values["done"] is True and values["stage"] == "final" and doc["next"] == []
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
    run_id = killed_and_resumed["run_id"]
    outcomes = [e["content"] for e in values["history"] if e["type"] == "tool_result"]
    assert [(o["call"], o["key"], o["tool"], o["ok"], o["replayed"]) for o in outcomes] == [
        (0, f"{run_id}:0", "search_hotels", True, False),
        (1, f"{run_id}:1", "book", True, False),
    ]
    # the travel database holds exactly one booking, made with the run's key
    assert travel_bookings(killed_and_resumed["home"]) == [("hotel", "H-LIS-ALFAMA", "Ana Silva", "confirmed", f"{run_id}:1")]
    assert values["winner"] == "alfama-walks" and values["decision"]["winner"] == "alfama-walks"
    # each evaluator's scores were added to the rewards once (a replayed write would double them)
    assert set(values["rewards"]["by_agent"]) == {"optimistic", "critic", "devils_advocate"}
    assert {agent: u["calls"] for agent, u in values["usage"].items()} == {
        "optimistic": 1,
        "critic": 1,
        "devils_advocate": 1,
        "synthesizer": 1,
        "booking": 2,
    }
    assert values["executed_agents_per_stage"]["proposal"].count("devils_advocate") == 1


def test_resumed_state_equals_an_uninterrupted_run(killed_and_resumed: dict[str, Any]) -> None:
    values = json.loads(killed_and_resumed["export"].stdout)["values"]
    assert comparable(values) == comparable(killed_and_resumed["reference"])


def test_resumed_run_is_recorded_as_finished(killed_and_resumed: dict[str, Any]) -> None:
    assert killed_and_resumed["record"].status == "finished"


def test_resume_events_name_only_nodes_of_the_graph(killed_and_resumed: dict[str, Any]) -> None:
    """A `state_patch` is a node's update; LangGraph's `__metadata__` marker is not a node.

    On resume LangGraph replays the pending writes of the killed superstep in its `updates`
    stream as `{"devils_advocate": {...}, "__metadata__": {"cached": True}}`; the orchestrator
    must not publish the marker as a patch of a node called `__metadata__`.
    """
    events = json_events(killed_and_resumed["resumed"].stdout)
    patches = [e for e in events if e["type"] == "state_patch"]
    assert patches
    assert {e["agent"] for e in patches} <= NODES, sorted({e["agent"] for e in patches} - NODES)


def test_a_failed_run_resumes_in_its_own_workspace(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    """`moot resume RUN_ID` must continue a run on the graph of the workspace it ran in.

    The run below belongs to the workspace `trip` (a folder), whose stages go from synthesis
    straight to final (no booking stage). It fails in the proposal stage and is resumed as the
    issue says, `moot resume RUN_ID`. Resuming it on another workspace's graph (the built-in
    demo, which books) would silently produce a run that `trip` can never produce: resume must
    either use the run's workspace or refuse with exit 2 naming it.
    """
    ws = copy_classic(tmp_path / "trip")
    main = yaml.safe_load((ws / "moot.yaml").read_text())
    main["name"] = "trip"
    (ws / "moot.yaml").write_text(yaml.safe_dump(main, sort_keys=False))
    stages = yaml.safe_load((ws / "stages.yaml").read_text())
    del stages["stages"]["booking"]
    stages["stages"]["synthesis"]["transitions"] = [t for t in stages["stages"]["synthesis"]["transitions"] if t["to"] != "booking"]
    stages["stages"]["synthesis"]["transitions"][-1].pop("when", None)
    (ws / "stages.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))

    home = tmp_path / "home"
    failing = dict(classic_script, critic=["not JSON at all"])
    runtime = WorkspaceRunner.load(ws, models={"default": ScriptedChatModel(script=failing)})
    assert "booking" not in runtime.workspace.plan.stages

    async def fail_once() -> str:
        async with open_store(home / "moot.db") as (saver, index):
            orch = runtime.orchestrator(saver, index=index)
            with pytest.raises(Exception, match="critic"):
                await orch.run(TASK)
            (record,) = await index.latest()
            assert record.status == "failed" and record.workspace == "trip"
            return record.run_id

    run_id = asyncio.run(fail_once())
    resumed = run_cli(home, "resume", run_id, "--json", "--model", f"scripted:{SCRIPT}")
    if resumed.returncode == 2:
        assert "trip" in resumed.stderr and len(resumed.stderr.strip().splitlines()) == 1
        return
    assert resumed.returncode == 0, resumed.stderr
    events = json_events(resumed.stdout)
    assert events[0]["workspace"] == "trip", f"run of workspace 'trip' resumed on workspace {events[0]['workspace']!r}"
    assert not [e for e in events if e["stage"] == "booking"], "resumed on a graph with a booking stage"
