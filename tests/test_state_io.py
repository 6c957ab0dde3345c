"""State export to JSON and import back (issue 2): an imported run continues exactly as the original.

In process, through `moot.state_io`: a run is stopped at a mid-point (`interrupt_before`),
exported, imported into a fresh store, and both the original and the import are continued; the
final states must be the same, and the imported continuation must make the very same model
calls with the very same prompts. Through the CLI: `moot state export/import`, `--as-copy`, and
every refusal (malformed file, wrong format, unknown keys, a run id that exists, an unknown run).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import shutil
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from clitools import run_many
from conftest import CLASSIC

from moot.errors import UsageError
from moot.models.scripted import ScriptedChatModel
from moot.orchestrator import initial_state
from moot.persistence import open_store
from moot.workspace.runner import WorkspaceRunner
from moot.cli.main import main
from moot.state_io import FORMAT, export_state, import_state

DATA = Path(__file__).parent / "data"
SCRIPT = DATA / "classic_script.json"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
COMPARED = ("task", "stage", "done", "round", "history", "rewards", "winner", "decision", "executed_agents_per_stage")


# --- helpers -------------------------------------------------------------------------------------


def classic() -> dict[str, Any]:
    return json.loads(SCRIPT.read_text())


def revision_script() -> dict[str, Any]:
    """The synthesizer first asks for new proposals (round 2), then for booking."""
    script = classic()
    script["synthesizer"] = [
        {"rationale": "Both plans are too close to call; propose again.", "next_stage": "proposal"},
        *script["synthesizer"],
    ]
    return script


def comparable(values: dict[str, Any]) -> dict[str, Any]:
    """A final state without the run's identity and wall-clock timings (the models' and the tool calls')."""
    out = {key: values.get(key) for key in COMPARED}
    out["history"] = [_outcome_without_latency(e) for e in values.get("history") or []]
    out["usage"] = _without_latency(values.get("usage") or {})
    return out


def _outcome_without_latency(entry: dict[str, Any]) -> dict[str, Any]:
    if entry.get("type") not in ("tool_result", "tool_error"):
        return entry
    content = dict(entry["content"])
    content.pop("latency_s")
    return {**entry, "content": content}


def renamed(values: dict[str, Any], run_id: str, new_id: str) -> dict[str, Any]:
    """`values` with every occurrence of `run_id` (the tool calls' idempotency keys) made `new_id`."""
    return json.loads(json.dumps(values).replace(run_id, new_id))


def travel_bookings(home: Path) -> list[tuple[Any, ...]]:
    """The bookings in the travel server's database under MOOT_HOME `home`."""
    db = sqlite3.connect(home / "travel.db")
    try:
        return db.execute("SELECT kind, item_id, traveller, status, idempotency_key FROM bookings").fetchall()
    finally:
        db.close()


def _without_latency(usage: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_latency(v) if isinstance(v, dict) else v for k, v in usage.items() if k != "latency_s"}


def rest_of(script: dict[str, list[Any]], consumed: Counter[str]) -> dict[str, list[Any]]:
    """The script as a model that has already answered `consumed` calls per agent would go on."""
    return {agent: answers[min(consumed[agent], len(answers) - 1) :] for agent, answers in script.items()}


def calls(model: ScriptedChatModel, skip: int = 0) -> Counter[tuple[str, tuple[str, ...]]]:
    """The model calls (agent and prompt) made after the first `skip`."""
    return Counter((c["agent"], tuple(str(m.content) for m in c["messages"])) for c in model.calls[skip:])


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, "user_id": "ana"}, "recursion_limit": 100}


async def drain(graph: Any, value: Any, cfg: dict[str, Any], **kwargs: Any) -> None:
    async for _ in graph.astream(value, cfg, **kwargs):
        pass


# --- in process: mid-point round trips -----------------------------------------------------------

MIDPOINTS = [
    pytest.param(classic, ["critic", "devils_advocate"], 1, id="before-the-parallel-reviews"),
    pytest.param(classic, ["synthesizer"], 1, id="before-synthesis"),
    pytest.param(classic, ["booking"], 1, id="before-booking"),
    pytest.param(classic, ["stage_router"], 2, id="before-the-router-after-optimistic"),
    pytest.param(classic, ["stage_router"], 4, id="before-the-router-after-synthesis"),
    pytest.param(revision_script, ["critic", "devils_advocate"], 2, id="revision-round-2-reviews"),
    pytest.param(revision_script, ["synthesizer"], 2, id="revision-round-2-synthesis"),
]


@pytest.mark.parametrize(("make_script", "interrupt", "hops"), MIDPOINTS)
async def test_imported_run_continues_exactly_like_the_original(
    tmp_path: Path, make_script: Any, interrupt: list[str], hops: int
) -> None:
    script = make_script()
    original_model = ScriptedChatModel(script=script)
    original = WorkspaceRunner.load(CLASSIC, models={"default": original_model})
    async with open_store(tmp_path / "a.db") as (saver_a, _):
        graph_a = original.graph(saver_a)
        cfg_a = config("session-a")
        start: Any = initial_state(TASK, run_id="run-a", session_id="session-a", user_id="ana")
        for _ in range(hops):
            await drain(graph_a, start, cfg_a, interrupt_before=interrupt)
            start = None
        paused = await graph_a.aget_state(cfg_a)
        assert paused.next and not paused.values.get("done"), "the mid-point must be in the middle of the run"
        doc = await export_state(graph_a, cfg_a, workspace="classic")
        assert doc["format"] == FORMAT and doc["run_id"] == "run-a" and doc["session_id"] == "session-a"
        assert doc["next"] == list(paused.next)
        doc = json.loads(json.dumps(doc))  # what a file holds
        exported_calls = len(original_model.calls)
        consumed = Counter(c["agent"] for c in original_model.calls)

        await drain(graph_a, None, cfg_a)
        final_a = (await graph_a.aget_state(cfg_a)).values

    imported_model = ScriptedChatModel(script=rest_of(script, consumed))
    imported = WorkspaceRunner.load(CLASSIC, models={"default": imported_model})
    async with open_store(tmp_path / "b.db") as (saver_b, _):
        graph_b = imported.graph(saver_b)
        cfg_b = config("session-b")
        await import_state(graph_b, doc, cfg_b)
        restored = await graph_b.aget_state(cfg_b)
        assert restored.next == paused.next
        again = await export_state(graph_b, cfg_b, workspace="classic")
        assert again["values"] == doc["values"]
        await drain(graph_b, None, cfg_b)
        final_b = (await graph_b.aget_state(cfg_b)).values

    assert final_a.get("done") is True and final_b.get("done") is True
    assert comparable(final_b) == comparable(final_a)
    assert final_b["run_id"] == "run-a"  # the import carries the run's identity
    # the continuation asked the model the same questions, no more and no fewer
    assert calls(imported_model) == calls(original_model, exported_calls)


async def test_revision_round_trip_keeps_the_round(tmp_path: Path) -> None:
    model = ScriptedChatModel(script=revision_script())
    runtime = WorkspaceRunner.load(CLASSIC, models={"default": model})
    async with open_store(tmp_path / "a.db") as (saver, _):
        graph = runtime.graph(saver)
        start: Any = initial_state(TASK, run_id="run-a", session_id="s", user_id="")
        for _ in range(2):
            await drain(graph, start, config("s"), interrupt_before=["synthesizer"])
            start = None
        doc = await export_state(graph, config("s"), workspace="classic")
    assert doc["values"]["round"] == 2
    assert [(e["type"], e["round"]) for e in doc["values"]["history"]].count(("proposal", 2)) == 1


async def test_finished_run_exports_and_imports_with_the_same_values(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    runtime = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=classic_script)})
    async with open_store(tmp_path / "a.db") as (saver, index):
        orch = runtime.orchestrator(saver, index=index)
        result = await orch.run(TASK, user_id="ana")
        doc = json.loads(json.dumps(await export_state(orch.graph, orch.config(result.session_id, "ana"), workspace="classic")))
    assert doc["values"]["done"] is True and doc["next"] == []
    assert comparable(doc["values"]) == comparable(result.state)

    model_b = ScriptedChatModel(script=classic_script)
    runtime_b = WorkspaceRunner.load(CLASSIC, models={"default": model_b})
    async with open_store(tmp_path / "b.db") as (saver, index):
        orch = runtime_b.orchestrator(saver, index=index)
        cfg = orch.config(result.session_id, "ana")
        await import_state(orch.graph, doc, cfg)
        again = await export_state(orch.graph, cfg, workspace="classic")
        assert again["values"] == doc["values"]
        # resuming an imported finished run changes nothing and calls no model
        await index.add(result.run_id, result.session_id, "classic", TASK, "ana")
        resumed = await orch.resume(result.run_id)
        assert resumed.status == "finished"
        assert comparable(resumed.state) == comparable(result.state)
        assert model_b.calls == []
        with pytest.raises(UsageError, match="already has state"):
            await import_state(orch.graph, doc, cfg)


# --- through the CLI ----------------------------------------------------------------------------








def main_in_process(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The `moot` entry point in this process (the console script calls exactly this `main`)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def read_final(home: Path, run_id: str) -> dict[str, Any]:
    """A run's state as `moot state export` sees it (read in process, after the CLI is done)."""

    async def read() -> dict[str, Any]:
        async with open_store(home / "moot.db") as (saver, index):
            record = await index.get(run_id)
            orch = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=[])}).orchestrator(saver, index=index)
            cfg = orch.config(record.thread_id, record.user_id)
            doc = await export_state(orch.graph, cfg, workspace=record.workspace, run_id=run_id)
            return doc["values"]

    return asyncio.run(read())


def read_record(home: Path, run_id: str) -> Any:
    async def read() -> Any:
        async with open_store(home / "moot.db") as (_, index):
            return await index.get(run_id)

    return asyncio.run(read())


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("state-io")
    homes = {name: root / name for name in ("a", "b", "c", "d", "e")}
    # the in-process `moot` calls below open the workspace's MCP servers, whose travel database
    # lives under MOOT_HOME: keep it here (the autouse `moot_home` fixture is per test, not per module)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOOT_HOME", str(root / "in-process-home"))
        mp.delenv("MOOT_MODEL", raising=False)
        return _cli(root, homes)


def _cli(root: Path, homes: dict[str, Path]) -> dict[str, Any]:
    script = classic()
    failing = dict(script, critic=["I'd rather not answer in JSON."])

    # in process: in home a, a run that fails in the middle of the proposal stage (the critic
    # never answers validly; the devil's advocate has answered) and a finished run; both exported
    async def setup() -> dict[str, Any]:
        async with open_store(homes["a"] / "moot.db") as (saver, index):
            orch = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=failing)}).orchestrator(saver, index=index)
            with pytest.raises(Exception, match="critic"):
                await orch.run(TASK, user_id="ana")
            (mid,) = await index.latest()
            mid_doc = await export_state(orch.graph, orch.config(mid.thread_id, "ana"), workspace="classic", run_id=mid.run_id)
            orch = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=script)}).orchestrator(saver, index=index)
            fin = await orch.run(TASK)
            fin_doc = await export_state(orch.graph, orch.config(fin.session_id), workspace="classic", run_id=fin.run_id)
        return {"mid": mid.run_id, "mid_doc": mid_doc, "fin": fin.run_id, "fin_doc": fin_doc}

    ids = asyncio.run(setup())
    files = {
        "mid_cli": root / "mid-cli.json",
        "mid": root / "mid.json",
        "fin": root / "fin.json",
    }
    files["mid"].write_text(json.dumps(ids["mid_doc"], indent=2))
    files["fin"].write_text(json.dumps(ids["fin_doc"], indent=2))
    model = ("--model", f"scripted:{SCRIPT}")
    classic_ws = ("-w", str(CLASSIC))  # the exports name workspace 'classic', a test fixture: imports are told where it is

    # the imports run the `moot` entry point in process (`--db` names each store); the resumes
    # and exports below are real processes
    first = {
        "import_b": main_in_process(["state", "import", str(files["mid"]), "--db", str(homes["b"] / "moot.db"), *classic_ws, *model]),
        "import_copy": main_in_process(["state", "import", str(files["mid"]), "--as-copy", "--db", str(homes["d"] / "moot.db"), *classic_ws, *model]),
        "import_fin": main_in_process(["state", "import", str(files["fin"]), "--db", str(homes["c"] / "moot.db"), *classic_ws, *model]),
    }
    copy_id = first["import_copy"].stdout.split("imported run ", 1)[-1].split()[0] if first["import_copy"].returncode == 0 else ""
    # `moot state export` of the mid run reads a copy of store a, which resume_a changes meanwhile
    homes["e"].mkdir()
    for db_file in homes["a"].glob("moot.db*"):
        shutil.copy(db_file, homes["e"] / db_file.name)
    second = run_many(
        {
            "resume_a": (homes["a"], ("resume", ids["mid"], "--json", *model)),
            "resume_b": (homes["b"], ("resume", ids["mid"], "--json", *model)),
            "resume_copy": (homes["d"], ("resume", copy_id, "--json", *model)),
            "export_fin_imported": (homes["c"], ("state", "export", ids["fin"])),
            "export_mid": (homes["e"], ("state", "export", ids["mid"], "-o", str(files["mid_cli"]))),
        }
    )
    finals = {
        "final_a": read_final(homes["a"], ids["mid"]),
        "final_b": read_final(homes["b"], ids["mid"]),
        "final_copy": read_final(homes["d"], copy_id) if copy_id else None,
        "record_fin_c": read_record(homes["c"], ids["fin"]),
        "bookings": {name: travel_bookings(homes[name]) for name in ("a", "b", "d")},
    }
    return {"homes": homes, "files": files, "ids": ids, "copy_id": copy_id, **first, **second, **finals}


def test_mid_run_export_names_what_runs_next(cli: dict[str, Any]) -> None:
    doc = cli["ids"]["mid_doc"]
    assert doc["run_id"] == cli["ids"]["mid"]
    assert doc["values"]["stage"] == "proposal" and not doc["values"]["done"]
    assert sorted(doc["next"]) == ["critic", "devils_advocate"]
    assert [(e["type"], e["agent"]) for e in doc["values"]["history"]] == [("proposal", "optimistic")]


def test_cli_export_of_a_mid_run_equals_the_api_export(cli: dict[str, Any]) -> None:
    assert cli["export_mid"].returncode == 0, cli["export_mid"].stderr
    assert cli["export_mid"].stdout == ""  # written to the file given with -o
    doc = json.loads(cli["files"]["mid_cli"].read_text())
    api = cli["ids"]["mid_doc"]
    assert doc["format"] == FORMAT
    assert {k: doc[k] for k in ("workspace", "run_id", "session_id", "next", "values")} == {
        k: api[k] for k in ("workspace", "run_id", "session_id", "next", "values")
    }


def test_import_into_a_fresh_store_then_resume_finishes_like_the_original(cli: dict[str, Any]) -> None:
    for name in ("import_b", "resume_a", "resume_b"):
        assert cli[name].returncode == 0, (name, cli[name].stderr)
    assert f"moot resume {cli['ids']['mid']}" in cli["import_b"].stdout
    a, b = cli["final_a"], cli["final_b"]
    assert a["done"] is True and a["winner"] == "alfama-walks"
    assert comparable(b) == comparable(a)
    assert (b["run_id"], b["session_id"]) == (a["run_id"], a["session_id"])
    kinds = Counter((e["type"], e["agent"]) for e in b["history"])
    assert kinds[("review", "devils_advocate")] == 1 and kinds[("review", "critic")] == 1 and kinds[("proposal", "optimistic")] == 1
    started = {}
    for name in ("resume_a", "resume_b"):
        events = [json.loads(line) for line in cli[name].stdout.splitlines()]
        assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
        started[name] = Counter(e["agent"] for e in events if e["type"] == "agent_started")
        assert "optimistic" not in started[name]
    # the original keeps the devil's advocate's answer from the failed step; only the critic reruns
    # (the booking agent runs twice: it searches, then books)
    assert started["resume_a"] == Counter({"critic": 1, "synthesizer": 1, "booking": 2})
    # both continuations executed the two intents through the travel server, with the run's keys
    mid = cli["ids"]["mid"]
    for values in (a, b):
        outcomes = [e["content"] for e in values["history"] if e["type"] in ("tool_result", "tool_error")]
        assert [(o["call"], o["key"], o["tool"], o["ok"]) for o in outcomes] == [
            (0, f"{mid}:0", "search_hotels", True),
            (1, f"{mid}:1", "book", True),
        ]
    # each store's travel database holds the one booking
    booked = [("hotel", "H-LIS-ALFAMA", "Ana Silva", "confirmed", f"{mid}:1")]
    assert cli["bookings"]["a"] == booked and cli["bookings"]["b"] == booked


def test_import_as_copy_gets_new_ids_and_the_same_continuation(cli: dict[str, Any]) -> None:
    assert cli["import_copy"].returncode == 0, cli["import_copy"].stderr
    copy_id = cli["copy_id"]
    assert copy_id.startswith("run-") and copy_id != cli["ids"]["mid"]
    assert cli["resume_copy"].returncode == 0, cli["resume_copy"].stderr
    a, c = cli["final_a"], cli["final_copy"]
    assert c["run_id"] == copy_id and c["session_id"] != a["session_id"]
    # the copy's tool calls have the copy's idempotency keys; otherwise it continued the same way
    outcomes = [e["content"] for e in c["history"] if e["type"] in ("tool_result", "tool_error")]
    assert [(o["call"], o["key"], o["tool"], o["ok"]) for o in outcomes] == [
        (0, f"{copy_id}:0", "search_hotels", True),
        (1, f"{copy_id}:1", "book", True),
    ]
    assert outcomes[1]["content"]["idempotency_key"] == f"{copy_id}:1"
    assert comparable(c) == renamed(comparable(a), cli["ids"]["mid"], copy_id)
    assert cli["bookings"]["d"] == [("hotel", "H-LIS-ALFAMA", "Ana Silva", "confirmed", f"{copy_id}:1")]


def in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The `moot` entry point in process (the console script calls exactly this `main`)."""
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_of_an_existing_run_id_is_refused_with_the_hint(cli: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    db = cli["homes"]["a"] / "moot.db"
    before = read_record(cli["homes"]["a"], cli["ids"]["mid"])
    code, out, err = in_process(["state", "import", str(cli["files"]["mid"]), "--db", str(db), "-w", str(CLASSIC)], capsys)
    assert code == 2 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and cli["ids"]["mid"] in lines[0] and "--as-copy" in lines[0], err
    assert read_record(cli["homes"]["a"], cli["ids"]["mid"]) == before


def test_export_right_after_import_gives_the_imported_values(cli: dict[str, Any]) -> None:
    """`moot state import FILE` then `moot state export RUN_ID` must give back the same values.

    (An imported run's checkpoint is written by `import_state`, outside any orchestrator run; the
    export must still find it.)
    """
    assert cli["import_fin"].returncode == 0, cli["import_fin"].stderr
    exported = cli["export_fin_imported"]
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["values"] == cli["ids"]["fin_doc"]["values"]


def test_imported_finished_run_is_listed_as_finished(cli: dict[str, Any]) -> None:
    assert cli["record_fin_c"].status == "finished"


def cli_refusal(argv: list[str], capsys: pytest.CaptureFixture[str], home: Path) -> str:
    """The `moot` entry point in process (the console script calls exactly this `main`)."""
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (code, captured.out, captured.err)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("moot: error: "), captured.err
    assert captured.out == ""
    assert not home.exists(), "a refused command must not create the store"
    return lines[0]


BAD_EXPORTS = {
    "malformed": ('{\n  "format": "moot.state/1",\n  "values": {"run_id": "run-x",\n', "not valid JSON"),
    "wrong_format": (json.dumps({"format": "langgraph.checkpoint/9", "values": {"run_id": "run-x"}}), FORMAT),
    "not_an_object": ("[1, 2, 3]", FORMAT),
    "no_values": (json.dumps({"format": FORMAT}), "run_id"),
    "no_run_id": (json.dumps({"format": FORMAT, "values": {"task": "t"}}), "run_id"),
    "unknown_keys": (json.dumps({"format": FORMAT, "values": {"run_id": "run-x", "session_id": "s", "mood": "cheerful"}}), "mood"),
    "empty_file": ("", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_EXPORTS))
@pytest.mark.parametrize("as_copy", [False, True])
def test_bad_import_file_is_refused_with_one_line_and_nothing_written(
    case: str, as_copy: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str], moot_home: Path
) -> None:
    text, needle = BAD_EXPORTS[case]
    path = tmp_path / f"{case}.json"
    path.write_text(text)
    line = cli_refusal(["state", "import", str(path), *(["--as-copy"] if as_copy else [])], capsys, moot_home)
    assert str(path) in line and needle in line, line
    if case == "malformed":
        assert re.search(rf"{re.escape(str(path))}:\d+: ", line), "a JSON error names the line"


def test_import_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    line = cli_refusal(["state", "import", str(tmp_path / "nowhere.json")], capsys, moot_home)
    assert "nowhere.json" in line and "no such file" in line


@pytest.mark.parametrize("argv", [["resume", "run-000000000000"], ["state", "export", "run-000000000000"]])
def test_resume_or_export_with_no_store_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    cli_refusal([*argv, "--model", f"scripted:{SCRIPT}"], capsys, moot_home)


@pytest.mark.parametrize("command", ["resume", "export"])
def test_resume_or_export_of_an_unknown_run_exits_2(cli: dict[str, Any], command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["resume"] if command == "resume" else ["state", "export"]
    db = cli["homes"]["a"] / "moot.db"
    code, out, err = in_process([*argv, "run-000000000000", "--db", str(db), "--model", f"scripted:{SCRIPT}"], capsys)
    assert code == 2 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "run-000000000000" in lines[0] and "unknown run" in lines[0], err
