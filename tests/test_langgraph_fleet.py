"""The LangGraph API through real processes: `moot serve` queues on arq, a `moot worker` executes,
PostgreSQL holds checkpoints and runs, Redis the sessions and the event log. The run job carries
what the LangGraph run asked (the `values` mode) across the queue, and the interrupt / resume
round trip works when the API and the executor are different processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from lgruntools import TASK, collect, workspaces
from servicetools import (
    POSTGRES_URL,
    REDIS_URL,
    drop_redis_keys,
    free_port,
    moot_process,
    processes,
    wait_http,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def fleet_url(tmp_path: Path) -> Iterator[str]:
    root = workspaces(tmp_path / "spaces")
    gated = root / "gated" / "moot.yaml"
    text = gated.read_text()
    start, end = text.index("models:"), text.index("max_repairs:")
    models = f"models:\n  default:\n    provider: scripted\n    script: {DATA / 'classic_script.json'}\n"
    gated.write_text(text[:start] + models + text[end:])
    tag = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "MOOT_HOME": str(tmp_path / "home"),
        "MOOT_DATABASE_URL": POSTGRES_URL,
        "MOOT_REDIS_URL": REDIS_URL,
        "MOOT_QUEUE": "arq",
        "MOOT_QUEUE_NAME": f"moot-test-{tag}:runs",
        "MOOT_KEY_PREFIX": f"moot-test-{tag}:",
        "MOOT_WORKSPACES": str(root),
        "MOOT_EMBEDDER": "wordllama",
        "PYTHONUNBUFFERED": "1",
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
            yield url
    finally:
        drop_redis_keys(f"moot-test-{tag}:")


async def test_stream_interrupt_and_resume_through_serve_and_worker(fleet_url: str) -> None:
    client = get_client(url=fleet_url, timeout=60)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    first = await collect(client.runs.stream(thread_id, "gated", input={"task": TASK}, stream_mode=["values", "updates"]))
    assert first[0][0] == "metadata" and first[-1][0] == "end"
    values = [d for e, d, _ in first if e == "values"]
    assert len(values) > 3 and values[0]["task"] == TASK, "the worker recorded the values the API streams"
    assert "__interrupt__" in values[-1] and values[-1]["__interrupt__"][0]["value"]["stage"] == "booking"
    assert (await client.runs.list(thread_id))[0]["status"] == "interrupted"
    rest = await collect(client.runs.stream(thread_id, "gated", command={"resume": "approve"}, stream_mode="values"))
    final = [d for e, d, _ in rest if e == "values"][-1]
    assert final["done"] is True and any(h["type"] == "approval" for h in final["history"])
    assert (await client.runs.list(thread_id))[0]["status"] == "success"
