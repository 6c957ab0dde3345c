"""ToolRuntime against real MCP servers: mcp-server-time and server-everything (reference servers
we did not write, over stdio), an in-memory FastMCP server, and one over streamable HTTP.

No mocks: every call goes through a real MCP session. The fault cases are in test_tool_faults.py.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp_fixtures import EVERYTHING, FAULTY, TIME_SERVER, Tally, journal, tally_server

from moot.errors import ConfigError, MootError, RunError
from moot.persistence import open_store
from moot.tools.errors import DuplicateToolError, ToolArgumentsError, UnknownToolError
from moot.persistence.ledger import MemoryLedger, SqliteLedger
from moot.tools.runtime import ToolRuntime
from moot.tools.types import ServerSpec, ToolOutcome


def events_of(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(e["type"], e["data"].get("attempt")) for e in events]


# -- servers we did not write -------------------------------------------------------------------


async def test_time_server_lists_calls_and_returns_its_error_unretried() -> None:
    spec = ServerSpec(command=[str(TIME_SERVER)], max_attempts=3, backoff_s=0.01)
    async with ToolRuntime({"time": spec}, ledger=MemoryLedger()) as tr:
        tools = {t.name: t for t in tr.tools()}
        assert {"get_current_time", "convert_time"} <= set(tools)
        assert tools["get_current_time"].server == "time"
        assert tools["get_current_time"].input_schema["required"] == ["timezone"]

        now = await tr.call("get_current_time", {"timezone": "Europe/Lisbon"}, key="run1:0")
        assert now.ok and now.attempts == 1 and not now.replayed
        assert now.content["timezone"] == "Europe/Lisbon" and "datetime" in now.content

        converted = await tr.call(
            "convert_time",
            {"source_timezone": "Europe/Lisbon", "time": "12:00", "target_timezone": "Asia/Tokyo"},
            key="run1:1",
        )
        assert converted.ok and converted.content["target"]["timezone"] == "Asia/Tokyo"

        events: list[dict[str, Any]] = []
        bad = await tr.call("get_current_time", {"timezone": "Mars/Olympus_Mons"}, key="run1:2", on_event=events.append)
        assert not bad.ok and bad.error_kind == "tool" and bad.attempts == 1
        assert "Mars/Olympus_Mons" in (bad.error or "")
        assert events_of(events) == [("tool_call", 1), ("tool_error", 1)]  # a tool's answer: never retried
        assert events[1]["data"]["transient"] is False and events[1]["data"]["final"] is True


async def test_everything_server_over_node() -> None:
    assert EVERYTHING.is_file(), (
        f"@modelcontextprotocol/server-everything is not installed ({EVERYTHING} is missing): run scripts/npm-tools"
    )
    spec = ServerSpec(command=["node", str(EVERYTHING), "stdio"])
    async with ToolRuntime({"everything": spec}, ledger=MemoryLedger()) as tr:
        tools = {t.name: t for t in tr.tools()}
        assert {"echo", "get-sum"} <= set(tools)
        assert tools["get-sum"].input_schema["required"] == ["a", "b"]

        echo = await tr.call("echo", {"message": "hello moot"}, key="e:0")
        assert echo.ok and echo.content == "Echo: hello moot"
        total = await tr.call("get-sum", {"a": 2, "b": 3.5}, key="e:1")
        assert total.ok and "5.5" in str(total.content)

        with pytest.raises(ToolArgumentsError, match=r"arguments\.b"):
            await tr.call("get-sum", {"a": 2, "b": "three"}, key="e:2")
        with pytest.raises(ToolArgumentsError, match="'message' is a required property"):
            await tr.call("echo", {}, key="e:3")


# -- in memory: sessions, the key on the wire, schemas ----------------------------------------


async def test_builtin_session_is_kept_and_the_key_reaches_the_server() -> None:
    tally = Tally()
    async with ToolRuntime({"t": ServerSpec(builtin="tally")}, ledger=MemoryLedger(), builtins={"tally": lambda: tally_server(tally)}) as tr:
        counts = [(await tr.call("increment", {}, key=f"r:{i}")).content for i in range(3)]
        assert counts == [1, 2, 3]  # one server instance, one session, for every call
        assert tally.calls == [("increment", "r:0"), ("increment", "r:1"), ("increment", "r:2")]
        assert tr.tool("book").input_schema["required"] == ["item", "nights"]


async def test_events_of_a_successful_call() -> None:
    events: list[dict[str, Any]] = []
    async with ToolRuntime({"t": ServerSpec(builtin="tally")}, ledger=MemoryLedger(), builtins={"tally": tally_server}) as tr:
        outcome = await tr.call("book", {"item": "hotel", "nights": 2}, key="r:0", on_event=events.append)
    assert outcome.ok and outcome.content == {"id": "B1", "item": "hotel", "nights": 2}
    assert events_of(events) == [("tool_call", 1), ("tool_result", None)]
    assert events[0]["data"] == {"tool": "book", "arguments": {"item": "hotel", "nights": 2}, "key": "r:0", "attempt": 1}
    result = events[1]["data"]
    assert result["attempts"] == 1 and result["replayed"] is False and result["ok"] is True and result["latency_s"] > 0


async def test_arguments_that_do_not_match_the_schema_are_refused_before_sending() -> None:
    tally = Tally()
    ledger = MemoryLedger()
    async with ToolRuntime({"t": ServerSpec(builtin="tally")}, ledger=ledger, builtins={"tally": lambda: tally_server(tally)}) as tr:
        events: list[dict[str, Any]] = []
        with pytest.raises(ToolArgumentsError) as refused:
            await tr.call("book", {"item": "hotel", "nights": "two"}, key="r:0", on_event=events.append)
        assert refused.value.tool == "book" and refused.value.path == "arguments.nights"
        assert "'two' is not of type 'integer'" in str(refused.value)
        assert isinstance(refused.value, RunError)  # the model must act: the agent repairs its call
        with pytest.raises(ToolArgumentsError, match="'nights' is a required property"):
            await tr.call("book", {"item": "hotel"}, key="r:0")
        with pytest.raises(ToolArgumentsError, match="Additional properties"):
            await tr.call("book", {"item": "hotel", "nights": 1, "smoking": True}, key="r:0")
        with pytest.raises(ToolArgumentsError, match="JSON object"):
            await tr.call("book", ["hotel", 1], key="r:0")  # type: ignore[arg-type]
        with pytest.raises(UnknownToolError, match="unknown tool 'fly'.*book, increment"):
            await tr.call("fly", {}, key="r:0")
        assert tally.calls == [] and events == [] and len(ledger) == 0  # nothing sent, nothing recorded

        fixed = await tr.call("book", {"item": "hotel", "nights": 2}, key="r:0")
        assert fixed.ok and tally.calls == [("book", "r:0")]


async def test_tool_names_must_be_unique_across_servers() -> None:
    servers = {"first": ServerSpec(builtin="a"), "second": ServerSpec(builtin="b")}
    builtins = {"a": lambda: tally_server(name="a"), "b": lambda: tally_server(name="b")}
    with pytest.raises(DuplicateToolError) as duplicate:
        async with ToolRuntime(servers, ledger=MemoryLedger(), builtins=builtins):
            pass
    assert duplicate.value.servers == ("first", "second")
    assert "'first'" in str(duplicate.value) and "'second'" in str(duplicate.value)
    assert isinstance(duplicate.value, ConfigError)


async def test_an_unknown_builtin_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown builtin server 'travle'.*built-in servers: tally"):
        async with ToolRuntime({"t": ServerSpec(builtin="travle")}, ledger=MemoryLedger(), builtins={"tally": tally_server}):
            pass


# -- the ledger: exactly once ------------------------------------------------------------------


async def test_a_recorded_key_is_replayed_without_calling() -> None:
    tally = Tally()
    ledger = MemoryLedger()
    builtins = {"tally": lambda: tally_server(tally)}
    async with ToolRuntime({"t": ServerSpec(builtin="tally")}, ledger=ledger, builtins=builtins) as tr:
        first = await tr.call("book", {"item": "hotel", "nights": 2}, key="run:3")
        events: list[dict[str, Any]] = []
        again = await tr.call("book", {"item": "hotel", "nights": 2}, key="run:3", on_event=events.append)
    assert again.replayed and not first.replayed
    assert again.content == first.content and again.attempts == first.attempts
    assert tally.calls == [("book", "run:3")]  # the server saw one call
    assert events_of(events) == [("tool_result", None)] and events[0]["data"]["replayed"] is True


async def test_a_recorded_outcome_stands_even_if_the_tool_is_gone() -> None:
    ledger = MemoryLedger()
    await ledger.put(ToolOutcome(key="run:0", tool="book_train", ok=True, content={"id": "T1"}))
    async with ToolRuntime({"t": ServerSpec(builtin="tally")}, ledger=ledger, builtins={"tally": tally_server}) as tr:
        replayed = await tr.call("book_train", {"to": "Porto"}, key="run:0")
        assert replayed.replayed and replayed.content == {"id": "T1"}
        with pytest.raises(UnknownToolError):
            await tr.call("book_train", {"to": "Porto"}, key="run:1")


async def test_the_same_key_in_flight_twice_calls_once() -> None:
    tally = Tally()
    async with ToolRuntime({"t": ServerSpec(builtin="tally")}, ledger=MemoryLedger(), builtins={"tally": lambda: tally_server(tally)}) as tr:
        a, b = await asyncio.gather(
            tr.call("book", {"item": "hotel", "nights": 2}, key="run:0"),
            tr.call("book", {"item": "hotel", "nights": 2}, key="run:0"),
        )
    assert tally.calls == [("book", "run:0")]
    assert a.content == b.content and sorted([a.replayed, b.replayed]) == [False, True]


async def test_sqlite_ledger_replays_across_runtimes_and_reopened_stores(tmp_path: Path) -> None:
    tally = Tally()
    builtins = {"tally": lambda: tally_server(tally)}
    servers = {"t": ServerSpec(builtin="tally")}
    db = tmp_path / "moot.db"
    async with open_store(db) as (saver, _index):
        ledger = SqliteLedger.from_saver(saver)
        await ledger.setup()
        async with ToolRuntime(servers, ledger=ledger, builtins=builtins) as tr:
            first = await tr.call("book", {"item": "hotel", "nights": 2}, key="run:0")
            second = await tr.call("book", {"item": "hotel", "nights": 2}, key="run:1")
        async with ToolRuntime(servers, ledger=ledger, builtins=builtins) as fresh:
            again = await fresh.call("book", {"item": "hotel", "nights": 2}, key="run:0")
        assert again.replayed and again.content == first.content
    assert tally.calls == [("book", "run:0"), ("book", "run:1")]
    assert second.ok and second.content["id"] == "B2"  # another key is another call

    async with open_store(db) as (saver, _index):  # a new process would see this: a new connection
        ledger = SqliteLedger.from_saver(saver)
        await ledger.setup()
        async with ToolRuntime(servers, ledger=ledger, builtins=builtins) as tr:
            replayed = await tr.call("book", {"item": "hotel", "nights": 2}, key="run:0")
        assert replayed.replayed and replayed.content == first.content
        async with saver.conn.execute("SELECT key, tool FROM moot_tool_ledger ORDER BY key") as cursor:
            assert await cursor.fetchall() == [("run:0", "book"), ("run:1", "book")]
    assert len(tally.calls) == 2


async def test_ledgers_keep_the_first_outcome_of_a_key(tmp_path: Path) -> None:
    first = ToolOutcome(key="k", tool="book", ok=True, content={"id": "B1"}, latency_s=0.5)
    second = ToolOutcome(key="k", tool="book", ok=False, error="late")
    async with open_store(tmp_path / "moot.db") as (saver, _index):
        sqlite = SqliteLedger.from_saver(saver)
        await sqlite.setup()
        for ledger in (MemoryLedger(), sqlite):
            assert await ledger.get("k") is None
            await ledger.put(first)
            await ledger.put(second)
            got = await ledger.get("k")
            assert got is not None and got.replayed and got.content == {"id": "B1"} and got.latency_s == 0.5


# -- stdio and streamable HTTP sessions ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_streamable_http_server(tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "http.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(FAULTY), "--http", str(port)], env={"MOOT_FIXTURE_STATE": str(tmp_path)}, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "http.log").read_text()
                await asyncio.sleep(0.05)
        spec = ServerSpec(url=f"http://127.0.0.1:{port}/mcp")
        async with ToolRuntime({"remote": spec}, ledger=MemoryLedger()) as tr:
            assert "counter" in {t.name for t in tr.tools()}
            counts = [(await tr.call("counter", {}, key=f"h:{i}")).content for i in range(2)]
            refused = await tr.call("fail", {}, key="h:2")
        assert counts == [1, 2]
        assert not refused.ok and refused.error == "no seats left on that flight" and refused.attempts == 1
        assert [c["key"] for c in journal(tmp_path)] == ["h:0", "h:1", "h:2"]
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_errors_are_moot_errors() -> None:
    assert issubclass(ToolArgumentsError, MootError) and issubclass(UnknownToolError, ToolArgumentsError)
