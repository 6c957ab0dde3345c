"""One trace across processes: `moot serve` → the arq job → `moot worker` → an MCP stdio server.

Real processes export over OTLP/HTTP to a receiver in this test, which decodes the bodies with
opentelemetry-proto. The API's request span is the root; the worker's `invoke_workflow` is its
child (the job carries `traceparent`); the travel server's FastMCP spans are children of the
worker's MCP client spans under `execute_tool` (FastMCP carries `traceparent` in `_meta`).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from moot.workspace.loader import builtin_path
from otlptools import ReceivedSpan, Receiver, otlp_receiver
from servicetools import POSTGRES_URL, REDIS_URL, free_port, moot_process, processes, wait_http, wait_status

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def _workspace(root: Path) -> Path:
    """The demo as `traced`: scripted models, and its travel agency as an MCP stdio server."""
    folder = root / "spaces" / "traced"
    shutil.copytree(builtin_path("demo"), folder)
    text = (folder / "moot.yaml").read_text().replace("name: demo", "name: traced", 1)
    start, end = text.index("models:"), text.index("max_repairs:")
    text = text[:start] + f"models:\n  default:\n    provider: scripted\n    script: {DATA / 'demo_script.json'}\n" + text[end:]
    command = [sys.executable, "-m", "moot.cli.main", "mcp", "travel", "--db", str(root / "travel.db")]
    text = text.replace("  travel:\n    builtin: travel\n", f"  travel:\n    command: {command!r}\n", 1)
    assert "command:" in text
    (folder / "moot.yaml").write_text(text)
    return folder


@pytest.fixture
def traced_fleet(tmp_path: Path) -> Iterator[tuple[str, Receiver, Path]]:
    folder = _workspace(tmp_path)
    tag = uuid.uuid4().hex[:10]
    with otlp_receiver() as receiver:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
            "MOOT_HOME": str(tmp_path / "home"),
            "MOOT_DATABASE_URL": POSTGRES_URL,
            "MOOT_REDIS_URL": REDIS_URL,
            "MOOT_QUEUE": "arq",
            "MOOT_QUEUE_NAME": f"moot-test-{tag}:runs",
            "MOOT_KEY_PREFIX": f"moot-test-{tag}:",
            "MOOT_WORKSPACES": str(folder.parent),
            "MOOT_EMBEDDER": "wordllama",
            "PYTHONUNBUFFERED": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        logs = tmp_path / "logs"
        logs.mkdir()
        port = free_port()
        api = moot_process(["serve", "--port", str(port)], env, logs / "api.log")
        worker = moot_process(["worker", "--name", "w1"], env, logs / "w1.log")
        try:
            with processes(api, worker):
                url = f"http://127.0.0.1:{port}"
                wait_http(url, timeout=90)
                yield url, receiver, logs
        finally:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"moot-test-{tag}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_id and span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


async def test_one_trace_from_the_api_through_the_worker_into_the_mcp_server(traced_fleet: tuple[str, Receiver, Path]) -> None:
    url, receiver, logs = traced_fleet
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
        trace = workflow[0].trace_id
        return {"moot-api", "moot-worker", "moot-mcp"} <= {s.service for s in spans if s.trace_id == trace}

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
