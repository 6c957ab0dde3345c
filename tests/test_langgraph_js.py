"""LangGraph's JS client (@langchain/langgraph-sdk, from npm) streams a deliberation from `moot serve`.

The real processes of a fleet: `moot serve` and a `moot worker` on arq (Redis), PostgreSQL for
checkpoints and runs, the classic workspace on its recorded script (`MOOT_MODEL=scripted:...`).
`node tests/js/stream_deliberation.mjs` creates a thread, streams a run (updates, values, custom)
and prints each event as a JSON line, then a summary; the test reads them back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servicetools import POSTGRES_URL, REDIS_URL, free_port, moot_process, processes, wait_http

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "js" / "stream_deliberation.mjs"
SDK = ROOT / ".npm-tools" / "node_modules" / "@langchain" / "langgraph-sdk" / "dist" / "index.cjs"
DATA = ROOT / "tests" / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


@pytest.fixture
def moot_fleet(tmp_path: Path) -> Iterator[str]:
    """`moot serve` and one `moot worker` (arq) on loopback; yields the API's URL."""
    shutil.copytree(DATA / "workspaces" / "classic", tmp_path / "ws" / "classic")
    tag = uuid.uuid4().hex[:10]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
    env.update(
        MOOT_HOME=str(tmp_path / "home"),
        MOOT_DATABASE_URL=POSTGRES_URL,
        MOOT_REDIS_URL=REDIS_URL,
        MOOT_QUEUE="arq",
        MOOT_QUEUE_NAME=f"moot-test-{tag}:runs",
        MOOT_KEY_PREFIX=f"moot-test-{tag}:",
        MOOT_WORKSPACES=str(tmp_path / "ws"),
        MOOT_MODEL=f"scripted:{DATA / 'classic_script.json'}",
        MOOT_EMBEDDER="wordllama",
        # the limit counts the tenant's runs in the shared test database, where other tests (and
        # suites run beside this one) may hold paused or running runs of tenant `local`
        MOOT_MAX_ACTIVE_RUNS="1000",
        PYTHONUNBUFFERED="1",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    api = moot_process(["serve", "--port", str(port)], env, logs / "api.log")
    worker = moot_process(["worker", "--name", "w1"], env, logs / "w1.log")
    with processes(api, worker):
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url)
        except TimeoutError:
            pytest.fail(f"moot serve did not start:\n{(logs / 'api.log').read_text()[-3000:]}")
        yield url


def run_node(url: str) -> list[dict[str, Any]]:
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH; install Node.js 18+ (scripts/npm-tools says how)")
    if not SDK.exists():
        pytest.fail(f"@langchain/langgraph-sdk is not installed ({SDK} is missing): run scripts/npm-tools")
    done = subprocess.run(["node", str(SCRIPT), url, "classic", TASK], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_js_client_streams_a_deliberation_from_moot_serve(moot_fleet: str) -> None:
    lines = run_node(moot_fleet)
    summary = lines[-1]["summary"]
    events = lines[:-1]
    assert summary["events"] == len(events)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "metadata" and events[0]["data"]["run_id"] == summary["run_id"]
    assert "error" not in kinds
    updated = [node for e in events if e["event"] == "updates" for node in e["data"]]
    assert {"optimistic", "critic", "devils_advocate", "synthesizer", "booking"} <= set(updated)
    assert any(e["data"].get("type") == "agent_started" for e in events if e["event"] == "custom")
    assert summary["winner"] == "alfama-walks" and summary["done"] is True and summary["stage"] == "final"
    assert summary["state_winner"] == "alfama-walks"  # the thread's state, read back with getState
