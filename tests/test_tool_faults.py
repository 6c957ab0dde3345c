"""Faults, with a real FastMCP server that misbehaves on purpose (tests/mcp_fixtures/faulty.py,
over stdio): a crash mid-call, a hang past the timeout, a frozen process, a "try again", malformed
content, the tool's own error, and servers that are not installed or die at start-up.

Transient faults are retried (bounded), with one tool_error event per failed attempt; the others
are the call's outcome at once. Every outcome, failed or not, is recorded under its key.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from mcp_fixtures import faulty_spec, journal

from moot.errors import ConfigError
from moot.tools.errors import ServerStartError
from moot.persistence.ledger import MemoryLedger
from moot.tools.runtime import ToolRuntime
from moot.tools.types import ServerSpec

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Served:
    """A ToolRuntime over one faulty server process, shared by the tests of this module (a
    Python MCP server takes about a second to start); each test uses keys of its own."""

    tr: ToolRuntime
    state: Path
    ledger: MemoryLedger

    def journal(self, key: str) -> list[dict[str, Any]]:
        return [c for c in journal(self.state) if c["key"] == key]


async def _serve(state: Path, **limits: Any) -> AsyncIterator[Served]:
    ledger = MemoryLedger()
    async with ToolRuntime({"faulty": faulty_spec(state, backoff_s=0.01, **limits)}, ledger=ledger) as tr:
        yield Served(tr, state, ledger)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def steady(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """For faults after which the process lives on: timeouts, 'try again', errors."""
    async for served in _serve(tmp_path_factory.mktemp("steady"), timeout_s=0.3, max_attempts=3):
        yield served


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def crashing(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """For faults that end the process: crashes, a frozen event loop."""
    async for served in _serve(tmp_path_factory.mktemp("crashing"), timeout_s=0.5, max_attempts=2):
        yield served


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(e["type"], e["data"].get("attempt")) for e in events]


async def test_one_process_serves_every_call(steady: Served) -> None:
    counts = [(await steady.tr.call("counter", {}, key=f"session:{i}")).content for i in range(3)]
    assert counts[1:] == [counts[0] + 1, counts[0] + 2]  # a per-process counter: one session
    calls = [steady.journal(f"session:{i}")[0] for i in range(3)]
    assert len({c["pid"] for c in calls}) == 1


async def test_a_crash_mid_call_restarts_the_server_and_retries(crashing: Served) -> None:
    events: list[dict[str, Any]] = []
    outcome = await crashing.tr.call("crash", {"times": 1}, key="crash-once", on_event=events.append)
    after = await crashing.tr.call("counter", {}, key="crash-once:after")
    assert outcome.ok and outcome.attempts == 2 and outcome.content == {"calls": 2}
    assert kinds(events) == [("tool_call", 1), ("tool_error", 1), ("tool_call", 2), ("tool_result", None)]
    error = events[1]["data"]
    assert error["transient"] is True and error["final"] is False and "lost" in error["error"]
    crashes = crashing.journal("crash-once")
    assert len(crashes) == 2  # the key travels with every attempt
    assert crashes[0]["pid"] != crashes[1]["pid"]  # a new process
    assert after.ok and after.content == 1 and crashing.journal("crash-once:after")[0]["pid"] == crashes[1]["pid"]


async def test_a_server_that_keeps_crashing_gives_up_after_max_attempts(crashing: Served) -> None:
    events: list[dict[str, Any]] = []
    outcome = await crashing.tr.call("crash", {"times": 99}, key="crash-always", on_event=events.append)
    assert not outcome.ok and outcome.error_kind == "transient" and outcome.attempts == 2
    assert "gave up after 2 attempts" in (outcome.error or "")
    assert kinds(events) == [("tool_call", 1), ("tool_error", 1), ("tool_call", 2), ("tool_error", 2)]
    assert [e["data"]["final"] for e in events if e["type"] == "tool_error"] == [False, True]
    assert len(crashing.journal("crash-always")) == 2  # bounded

    recorded = await crashing.tr.call("crash", {"times": 99}, key="crash-always")  # the failure is its outcome
    assert recorded.replayed and not recorded.ok and len(crashing.journal("crash-always")) == 2
    later = await crashing.tr.call("counter", {}, key="crash-always:after")  # the lost session is reopened first
    assert later.ok and later.attempts == 1


async def test_a_frozen_server_is_restarted_after_a_timeout(crashing: Served) -> None:
    outcome = await crashing.tr.call("freeze", {"times": 1, "seconds": 30}, key="freeze")
    assert outcome.ok and outcome.attempts == 2
    frozen, thawed = crashing.journal("freeze")
    assert frozen["pid"] != thawed["pid"] and outcome.content == thawed["pid"]


async def test_a_hang_past_the_timeout_is_retried_then_fails(steady: Served) -> None:
    events: list[dict[str, Any]] = []
    outcome = await steady.tr.call("hang", {"seconds": 30}, key="hang", on_event=events.append)
    alive = await steady.tr.call("counter", {}, key="hang:after")
    assert not outcome.ok and outcome.error_kind == "transient" and outcome.attempts == 3
    assert "did not answer within 0.3 s" in (outcome.error or "")
    assert kinds(events) == [("tool_call", 1), ("tool_error", 1), ("tool_call", 2), ("tool_error", 2), ("tool_call", 3), ("tool_error", 3)]
    assert all(0.25 < e["data"]["latency_s"] < 2 for e in events if e["type"] == "tool_error")
    hangs = steady.journal("hang")
    assert len(hangs) == 3 and len({h["pid"] for h in hangs}) == 1  # it still answers: same session
    assert alive.ok and steady.journal("hang:after")[0]["pid"] == hangs[0]["pid"]


async def test_a_server_saying_retry_is_retried(steady: Served) -> None:
    events: list[dict[str, Any]] = []
    outcome = await steady.tr.call("busy", {"times": 2}, key="busy", on_event=events.append)
    assert outcome.ok and outcome.attempts == 3 and outcome.content == "done after 3 calls"
    errors = [e["data"] for e in events if e["type"] == "tool_error"]
    assert [e["attempt"] for e in errors] == [1, 2] and all(e["transient"] for e in errors)
    assert "retry: busy" in errors[0]["error"]


async def test_the_tools_own_error_and_malformed_content_are_not_retried(steady: Served) -> None:
    events: list[dict[str, Any]] = []
    refused = await steady.tr.call("fail", {}, key="fail", on_event=events.append)
    assert not refused.ok and refused.error_kind == "tool" and refused.attempts == 1
    assert refused.error == "no seats left on that flight"
    assert kinds(events) == [("tool_call", 1), ("tool_error", 1)]
    assert events[1]["data"]["transient"] is False

    events.clear()
    malformed = await steady.tr.call("malformed", {}, key="malformed", on_event=events.append)
    assert not malformed.ok and malformed.error_kind == "malformed" and malformed.attempts == 1
    assert "malformed" in (malformed.error or "") and "'not a number' is not of type 'integer'" in (malformed.error or "")
    assert kinds(events) == [("tool_call", 1), ("tool_error", 1)]

    still = await steady.tr.call("counter", {}, key="fail:after")  # the session survived both
    assert still.ok
    assert len(steady.journal("fail")) == 1 and len(steady.journal("malformed")) == 1
    assert {c["pid"] for c in steady.journal("fail") + steady.journal("malformed") + steady.journal("fail:after")} == {
        steady.journal("fail")[0]["pid"]
    }
    recorded = [await steady.ledger.get(k) for k in ("fail", "malformed")]
    assert [(r.ok, r.error_kind) for r in recorded if r] == [(False, "tool"), (False, "malformed")]


async def test_a_server_that_is_not_installed_fails_at_start_up() -> None:
    spec = ServerSpec(command=["moot-no-such-mcp-server", "--stdio"])
    with pytest.raises(ServerStartError) as error:
        async with ToolRuntime({"flights": spec, "t": ServerSpec(builtin="x")}, ledger=MemoryLedger(), builtins={}):
            pass
    message = str(error.value)
    assert error.value.server == "flights" and isinstance(error.value, ConfigError)
    assert "'flights'" in message and "`moot-no-such-mcp-server --stdio`" in message and "not installed" in message
    assert "mcp_servers.flights.command" in message


async def test_a_server_that_dies_at_start_up_says_why(tmp_path: Path) -> None:
    script = "import sys; print('fatal: TRAVEL_DB is not set', file=sys.stderr); sys.exit(2)"
    spec = ServerSpec(command=[sys.executable, "-c", script])
    with pytest.raises(ServerStartError) as error:
        async with ToolRuntime({"travel": spec}, ledger=MemoryLedger(), log_dir=tmp_path):
            pass
    assert "'travel'" in str(error.value) and "fatal: TRAVEL_DB is not set" in str(error.value)
    assert "fatal: TRAVEL_DB is not set" in (tmp_path / "travel.log").read_text()


async def test_an_unreachable_url_fails_at_start_up() -> None:
    with pytest.raises(ServerStartError, match=r"'remote'.*http://127\.0\.0\.1:9/mcp"):
        async with ToolRuntime({"remote": ServerSpec(url="http://127.0.0.1:9/mcp")}, ledger=MemoryLedger()):
            pass
