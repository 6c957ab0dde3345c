"""Tracing that cannot export never holds a run back; settings it cannot use get one clear line.

A collector that accepts connections and never answers: the SDK's export thread waits on it,
the bounded queue fills, runs still finish at their own pace, and the spans dropped are counted
at /metrics. A malformed `OTEL_*` variable: one line on standard error, and the command works.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servicetools import free_port, moot_process, processes, scripted_demo, wait_http, wait_status

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


@pytest.fixture
def silent_collector() -> Iterator[str]:
    """An address that accepts TCP connections and never answers a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def _sample(text: str, name: str) -> float:
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines() if line.split("{")[0].split(" ")[0] == name)


async def test_a_collector_that_never_answers_neither_slows_nor_fails_runs(tmp_path: Path, silent_collector: str) -> None:
    folder = scripted_demo(tmp_path, "stuck")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MOOT_DATABASE", "MOOT_REDIS"))},
        "MOOT_HOME": str(tmp_path / "home"), "MOOT_WORKSPACES": str(folder.parent), "MOOT_EMBEDDER": "wordllama",
        "OTEL_EXPORTER_OTLP_ENDPOINT": silent_collector, "OTEL_EXPORTER_OTLP_TIMEOUT": "60000",
        "OTEL_BSP_MAX_QUEUE_SIZE": "16", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4", "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    port = free_port()
    api = moot_process(["serve", "--port", str(port)], env, tmp_path / "api.log")
    with processes(api):
        url = f"http://127.0.0.1:{port}"
        wait_http(url, timeout=90)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            took = []
            for user in ("ana", "bo", "cy"):
                started = time.monotonic()
                session = (await client.post("/v1/sessions", json={"user_id": user, "workspace": "stuck"})).json()
                run = (await client.post(f"/v1/sessions/{session['session_id']}/runs", json={"task": TASK})).json()
                done = await wait_status(client, run["run_id"], {"finished", "failed"}, timeout=60)
                assert done["status"] == "finished", done
                took.append(time.monotonic() - started)
            metrics = (await client.get("/metrics")).text
    assert max(took) < 15, took  # a run of the scripted demo takes about a second; the export waits 60 s
    assert _sample(metrics, "moot_trace_spans_dropped_total") > 0, "the full queue's drops are counted"


def test_a_malformed_otel_variable_gets_one_line_and_the_command_works(tmp_path: Path) -> None:
    env = {**os.environ, "MOOT_HOME": str(tmp_path / "home"), "OTEL_BSP_MAX_QUEUE_SIZE": "lots", "OTEL_TRACES_EXPORTER": "otlp"}
    done = subprocess.run(
        [sys.executable, "-m", "moot.cli.main", "workspace", "validate", "demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "OTEL_" in line]
    assert lines == ["$OTEL_BSP_MAX_QUEUE_SIZE must be a whole number of spans or milliseconds, not 'lots': tracing is off"]
    assert "is valid" in done.stdout
