"""moot as an MCP server (issue 4): `deliberate` runs a whole deliberation, `search_runs` finds it.

The official `mcp` SDK client drives `moot mcp serve demo` over stdio with the recorded demo
script (`MOOT_MODEL=scripted:...`, as `moot run` honours it), and the run lands in the persistent
store like any other. The search's rules are checked in-process through FastMCP's client.
"""

from __future__ import annotations

import argparse
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from clitools import cli_env
from conftest import scripted_runtime
from fastmcp import Client
from mcptools import data, error_text, stdio_session

from moot.cli.mcp import add_mcp_parser, run_mcp
from moot.persistence import open_store
from moot.mcp import make_moot_server

SCRIPT = (Path(__file__).parent / "data" / "demo_script.json").resolve()
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


async def test_sdk_client_deliberates_and_finds_the_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**cli_env(home), "MOOT_MODEL": f"scripted:{SCRIPT}"}
    async with stdio_session(["serve", "demo"], env, tmp_path / "server.log") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) == {"deliberate", "search_runs"}
        assert tools["deliberate"].input_schema["required"] == ["task"]
        assert "memory" in (tools["search_runs"].description or "")

        heard: list[str] = []

        async def progress(done: float, total: float | None, message: str | None) -> None:
            heard.append(message or "")

        run = data(await s.call_tool("deliberate", {"task": TASK}, progress_callback=progress))
        assert "stage entered proposal" in heard and "agent finished synthesis synthesizer" in heard
        assert run["winner"] == "plan-1"
        assert run["decision"]["winner"] == "plan-1" and run["decision"]["rationale"].startswith("plan-1 keeps the budget")
        assert run["history_len"] > 0 and run["tokens"]["prompt"] > 0 and run["tokens"]["completion"] > 0

        found = data(await s.call_tool("search_runs", {"query": "Lisbon"}))
        assert [(m["run_id"], m["winner"], m["task"]) for m in found] == [(run["run_id"], "plan-1", TASK)]
        assert data(await s.call_tool("search_runs", {"query": "Tokyo"})) == []
        assert "the task is empty" in error_text(await s.call_tool("deliberate", {"task": "  "}))

    async with open_store(home / "moot.db") as (_, index):  # recorded like a `moot run`
        record = await index.get(run["run_id"])
    assert (record.status, record.workspace, record.task, record.thread_id) == ("finished", "demo", TASK, run["session_id"])
    # and its booking stage acted through the workspace's travel server, once, under the run's key:
    # the winner's flight out, hotel and flight back
    with closing(sqlite3.connect(home / "travel.db")) as db:
        booked = db.execute("SELECT kind, item_id, idempotency_key FROM bookings ORDER BY seq").fetchall()
    assert [(kind, key.split(":")[0]) for kind, _, key in booked] == [("flight", run["run_id"]), ("hotel", run["run_id"]), ("flight", run["run_id"])]
    assert booked[1][1] == "H-LIS-ALFAMA"


async def deliberate(client: Client, task: str, **kw: Any) -> dict[str, Any]:
    return dict((await client.call_tool("deliberate", {"task": task, **kw})).structured_content or {})


async def search(client: Client, query: str, **kw: Any) -> list[dict[str, Any]]:
    result = await client.call_tool("search_runs", {"query": query, **kw})
    return list((result.structured_content or {})["result"])


async def test_search_ranks_by_matching_words_newest_first(classic_script: dict[str, Any]) -> None:
    runtime, _ = scripted_runtime(classic_script)
    async with Client(make_moot_server(runtime=runtime)) as c:
        lisbon = await deliberate(c, TASK)
        porto = await deliberate(c, "A weekend in Porto under 600 EUR")
        again = await deliberate(c, "Now two more days in Porto", session_id=porto["session_id"])
        assert again["session_id"] == porto["session_id"]

        assert [m["run_id"] for m in await search(c, "porto")] == [again["run_id"], porto["run_id"]]
        assert [m["run_id"] for m in await search(c, "Lisbon trip 1500")] == [lisbon["run_id"]]
        # the decision's rationale is searched too; equal scores come newest first
        assert [m["run_id"] for m in await search(c, "Alfama", limit=2)] == [again["run_id"], porto["run_id"]]
        ranked = await search(c, "Porto weekend")
        assert [(m["run_id"], m["score"]) for m in ranked] == [(porto["run_id"], 2), (again["run_id"], 1)]
        assert "the query is empty" in str(await c.call_tool("search_runs", {"query": "?!"}, raise_on_error=False))
        assert "limit must be between 1 and 50" in str(await c.call_tool("search_runs", {"query": "x", "limit": 0}, raise_on_error=False))


async def test_search_sees_only_this_workspace(classic_script: dict[str, Any], workspace_copy: Path) -> None:
    """A copy of the classic workspace keeps the name `classic` but is another folder: its runs are its own."""
    copy_runtime, _ = scripted_runtime(classic_script, workspace_copy)
    async with Client(make_moot_server(runtime=copy_runtime)) as c:
        theirs = await deliberate(c, "Three days in Lisbon, cheaply")
        assert [m["run_id"] for m in await search(c, "Lisbon")] == [theirs["run_id"]]
    runtime, _ = scripted_runtime(classic_script)
    async with Client(make_moot_server(runtime=runtime)) as c:
        assert await search(c, "Lisbon") == []


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="moot")
    add_mcp_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["mcp", *argv])


def test_a_bad_workspace_is_refused_before_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_mcp(parse("serve", str(tmp_path / "nowhere"))) == 2
    assert capsys.readouterr().err.startswith("moot: error: ")
    args = parse("travel", "--http", "8765", "--db", "x.db")
    assert (args.mcp_command, args.http, args.host, args.db) == ("travel", 8765, "127.0.0.1", "x.db")
