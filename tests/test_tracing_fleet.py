"""One trace across processes: `moot serve` → the arq job → `moot worker` → an MCP stdio server.

Real processes export over OTLP/HTTP to a receiver in this test, which decodes the bodies with
opentelemetry-proto. The API's request span is the root; the worker's `invoke_workflow` is its
child (the job carries `traceparent`); the travel server's FastMCP spans are children of the
worker's MCP client spans under `execute_tool` (FastMCP carries `traceparent` in `_meta`).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from otlptools import ReceivedSpan, Receiver, otlp_receiver
from servicetools import (
    POSTGRES_URL,
    drop_redis_keys,
    fleet_env,
    free_port,
    moot_process,
    processes,
    scripted_demo,
    sse_events,
    wait_http,
    wait_status,
)

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def _workspace(root: Path, reviewers_s: float = 0.0) -> Path:
    """The demo as `traced`: scripted models (the reviewers taking `reviewers_s` to answer), and
    its travel agency as an MCP stdio server."""
    latency = f"{{'*': 0, critic: {reviewers_s}, devils_advocate: {reviewers_s}}}"
    folder = scripted_demo(root, "traced", latency)
    text = (folder / "moot.yaml").read_text()
    command = [sys.executable, "-m", "moot.cli.main", "mcp", "travel", "--db", str(root / "travel.db")]
    text = text.replace("  travel:\n    builtin: travel\n", f"  travel:\n    command: {command!r}\n", 1)
    assert "command:" in text
    (folder / "moot.yaml").write_text(text)
    return folder


@pytest.fixture
def traced_fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Receiver, Path, dict[str, subprocess.Popen[bytes]]]]:
    """`moot serve` and workers (`request.param`: how many, and the reviewers' latency) exporting to a receiver."""
    workers_n, reviewers_s = getattr(request, "param", (1, 0.0))
    folder = _workspace(tmp_path, reviewers_s)
    tag = uuid.uuid4().hex[:10]
    with otlp_receiver() as receiver:
        env = fleet_env(
            tmp_path / "home", folder.parent, tag, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_BSP_SCHEDULE_DELAY="200"
        )
        logs = tmp_path / "logs"
        logs.mkdir()
        port = free_port()
        api = moot_process(["serve", "--port", str(port)], env, logs / "api.log")
        metrics_ports = {f"w{i}": free_port() for i in range(1, workers_n + 1)}
        workers = {
            name: moot_process(["worker", "--name", name, "--metrics-port", str(metrics_port)], env, logs / f"{name}.log")
            for name, metrics_port in metrics_ports.items()
        }
        request.node.metrics_ports = metrics_ports
        try:
            with processes(api, *workers.values()):
                url = f"http://127.0.0.1:{port}"
                wait_http(url, timeout=90)
                yield url, receiver, logs, workers
        finally:
            drop_redis_keys(f"moot-test-{tag}:")


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_id and span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


async def test_one_trace_from_the_api_through_the_worker_into_the_mcp_server(
    request: pytest.FixtureRequest, traced_fleet: tuple[str, Receiver, Path, dict[str, subprocess.Popen[bytes]]]
) -> None:
    url, receiver, logs, _ = traced_fleet
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        session = (await client.post("/v1/sessions", json={"user_id": "ana", "workspace": "traced"})).json()
        resp = await client.post(f"/v1/sessions/{session['session_id']}/runs", json={"task": TASK})
        assert resp.status_code == 202, resp.text
        run_id = resp.json()["run_id"]
        done = await wait_status(client, run_id, {"finished", "failed"}, timeout=90)
    assert done["status"] == "finished", (done, (logs / "w1.log").read_text()[-3000:])

    def complete(spans: list[ReceivedSpan]) -> bool:
        workflow = [s for s in spans if s.name.startswith("invoke_workflow") and s.attributes.get("moot.run_id") == run_id]
        if not workflow:
            return False
        trace = [s for s in spans if s.trace_id == workflow[0].trace_id]
        # the MCP server exports its spans on its own schedule: wait for its bookings too (the
        # worker's FastMCP client span has the same name, so the service is what tells them apart)
        return {"moot-api", "moot-worker"} <= {s.service for s in trace} and any(s.name == "tools/call book" and s.service == "moot-mcp" for s in trace)

    spans = receiver.wait_for(complete, timeout=30)
    [workflow] = [s for s in spans if s.name.startswith("invoke_workflow") and s.attributes.get("moot.run_id") == run_id]
    trace = [s for s in spans if s.trace_id == workflow.trace_id]
    by_id = {s.span_id: s for s in trace}
    services = {s.service for s in trace}
    assert {"moot-api", "moot-worker", "moot-mcp"} <= services, sorted(services)

    # the worker's run hangs under the API request that queued it
    assert workflow.service == "moot-worker" and workflow.attributes["moot.tenant"] == "local"
    parent = by_id[workflow.parent_id]
    assert parent.service == "moot-api" and "/runs" in parent.name
    assert _ancestors(workflow, by_id)[-1].parent_id == ""

    # every tool call the MCP server served descends from an execute_tool span of the worker
    # (its other spans, the session's discovery, hang under whatever opened the connection)
    served = [s for s in trace if s.service == "moot-mcp" and s.name.startswith("tools/call")]
    assert {s.name for s in served} >= {"tools/call book", "tools/call search_flights"}, sorted({s.name for s in trace if s.service == "moot-mcp"})
    for span in served:
        chain = _ancestors(span, by_id)
        tools = [a for a in chain if a.name.startswith("execute_tool ")]
        assert tools and tools[0].service == "moot-worker", (span.name, [a.name for a in chain])
    booked = [s for s in trace if s.name == "execute_tool book"]
    assert len(booked) == 3 and all(b.attributes["moot.ledger.hit"] is False for b in booked)

    # the worker counted the run it executed, on its loopback metrics port
    metrics = httpx.get(f"http://127.0.0.1:{request.node.metrics_ports['w1']}/metrics", timeout=10).text
    assert 'moot_runs_total{outcome="finished",workspace="traced"} 1.0' in metrics
    assert 'moot_tool_calls_total{outcome="ok",tool="book"} 3.0' in metrics


@pytest.mark.parametrize("traced_fleet", [(2, 2.0)], indirect=True)
async def test_a_run_resumed_after_sigkill_continues_the_same_trace(traced_fleet: tuple[str, Receiver, Path, dict[str, subprocess.Popen[bytes]]]) -> None:
    """The redelivered job carries the same `traceparent`, so the resumed drive is a second
    `invoke_workflow` in the request's trace (the killed worker's unexported spans are lost)."""
    url, receiver, logs, workers = traced_fleet
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        session = (await client.post("/v1/sessions", json={"user_id": "vic", "workspace": "traced"})).json()
        run = (await client.post(f"/v1/sessions/{session['session_id']}/runs", json={"task": TASK})).json()
        await sse_events(client, run["links"]["events"], until=lambda e: e["event"] == "agent_started" and e["data"].get("agent") == "critic")
        import psycopg

        async with await psycopg.AsyncConnection.connect(POSTGRES_URL) as conn:
            row = await (await conn.execute("SELECT worker FROM moot_runs WHERE run_id = %s", (run["run_id"],))).fetchone()
        victim = row[0]
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait(timeout=10)
        done = await wait_status(client, run["run_id"], {"finished", "failed"}, timeout=90)
    assert done["status"] == "finished" and done["attempts"] == 2, done

    def resumed(spans: list[ReceivedSpan]) -> bool:
        return any(s.name.startswith("invoke_workflow") and s.attributes.get("moot.run_id") == run["run_id"] for s in spans)

    spans = receiver.wait_for(resumed, timeout=30)
    workflows = [s for s in spans if s.name.startswith("invoke_workflow") and s.attributes.get("moot.run_id") == run["run_id"]]
    [survivor] = [s for s in workflows if s.attributes.get("moot.worker") != victim]
    posts = [s for s in spans if s.service == "moot-api" and s.name.startswith("POST /v1/sessions/{session_id}/runs") and s.trace_id == survivor.trace_id]
    assert posts, "the resumed drive continues the trace of the request that queued the run"
    assert survivor.parent_id == posts[0].span_id
