"""`GET /metrics` of `moot serve` after real runs (uvicorn on loopback, scripted demo model):
the counters move by what the runs did, and the scrape is protected like the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.settings import ServiceSettings
from servicetools import serving, wait_status

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")


@pytest.fixture
async def client(demo_script: Any, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ServiceSettings(), models={"default": ScriptedChatModel(script=demo_script)})
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield http


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0.0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if head.split("{")[0] == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


def total(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples over the labels not given."""
    out = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if line.startswith("#") or head.split("{")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if all(found.get(k) == v for k, v in labels.items()):
            out += float(value)
    return out


async def test_runs_tokens_tools_and_turns_are_counted(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    made = await client.post("/v1/sessions", json={"user_id": "ana", "workspace": "demo"})
    assert made.status_code == 201, made.text
    sid = made.json()["session_id"]
    run = (await client.post(f"/v1/sessions/{sid}/runs", json={"task": TASK})).json()
    done = await wait_status(client, run["run_id"], {"finished", "failed"})
    assert done["status"] == "finished"
    resp = await client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    after = resp.text

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("moot_runs_total", workspace="demo", outcome="finished") == 1
    assert delta("moot_runs_started_total", workspace="demo") == 1
    assert delta("moot_run_duration_seconds_count", workspace="demo") == 1
    tokens = done["result"]["tokens"]
    assert total(after, "moot_tokens_total", direction="input") - total(before, "moot_tokens_total", direction="input") == tokens["prompt"]
    assert total(after, "moot_tokens_total", direction="output") - total(before, "moot_tokens_total", direction="output") == tokens["completion"]
    assert delta("moot_agent_turn_seconds_count", role="synthesizer") >= 1
    assert delta("moot_tool_calls_total", tool="book", outcome="ok") == 3  # the demo books outbound, hotel, inbound
    assert delta("moot_tool_calls_total", tool="search_flights", outcome="ok") >= 1
    assert delta("moot_memory_recall_seconds_count") >= 1
    assert sample(after, "moot_queue_depth") == 0 and sample(after, "moot_approvals_waiting") == 0


async def test_with_keys_configured_a_scrape_needs_one(demo_script: Any) -> None:
    app = create_app(ServiceSettings(), models={"default": ScriptedChatModel(script=demo_script)})
    async with serving(app) as url:
        ctx = app.state.ctx
        _, secret = await ctx.keys.create("ops")
        app.state.keys_required = True
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            assert (await http.get("/metrics")).status_code == 401
            resp = await http.get("/metrics", headers={"Authorization": f"Bearer {secret}"})
            assert resp.status_code == 200 and "moot_runs_total" in resp.text


async def test_approvals_waiting_and_reloads_are_counted(tmp_path: Path) -> None:
    import asyncio

    from servicetools import scripted_demo

    folder = scripted_demo(tmp_path, "metered")  # a name of its own: counters live as long as the process
    stages = folder / "stages.yaml"
    stages.write_text(stages.read_text().replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    app = create_app(ServiceSettings(workspaces=[str(folder.parent)], reload=True))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        before = (await client.get("/metrics")).text
        sid = (await client.post("/v1/sessions", json={"user_id": "ana", "workspace": "metered"})).json()["session_id"]
        run = (await client.post(f"/v1/sessions/{sid}/runs", json={"task": TASK})).json()
        await wait_status(client, run["run_id"], {"awaiting_approval"})
        text = (await client.get("/metrics")).text
        assert sample(text, "moot_approvals_waiting") == 1  # read from this server's run index
        paused = {"workspace": "metered", "outcome": "awaiting_approval"}
        assert sample(text, "moot_runs_total", **paused) - sample(before, "moot_runs_total", **paused) == 1

        async def reloads(outcome: str, at_least: float) -> float:
            for _ in range(200):
                value = sample((await client.get("/metrics")).text, "moot_workspace_reloads_total", workspace="metered", outcome=outcome)
                if value >= at_least:
                    return value
                await asyncio.sleep(0.05)
            return value

        critic = folder / "agents" / "critic.yaml"
        critic.write_text(critic.read_text().replace("prompt: |", "prompt: |\n  Be brief.", 1))
        assert await reloads("ok", 1) >= 1
        critic.write_text("name: [unclosed\n")
        assert await reloads("failed", 1) >= 1
        await client.post(f"/v1/runs/{run['run_id']}/approval", json={"action": "approve"})
        assert (await wait_status(client, run["run_id"], {"finished", "failed"}))["status"] == "finished"
        assert sample((await client.get("/metrics")).text, "moot_approvals_waiting") == 0


async def test_two_api_processes_report_their_sum(tmp_path: Path) -> None:
    """`moot serve --workers 2`: whichever process answers /metrics, the SSE subscribers of both
    are counted (prometheus-client's multiprocess mode, set up by moot serve)."""
    import asyncio
    import uuid

    from servicetools import drop_redis_keys, fleet_env, free_port, moot_process, processes, scripted_demo, wait_http

    folder = scripted_demo(tmp_path, "multi")
    tag = uuid.uuid4().hex[:10]
    port = free_port()
    api = moot_process(["serve", "--workers", "2", "--port", str(port)], fleet_env(tmp_path / "home", folder.parent, tag), tmp_path / "api.log")
    url = f"http://127.0.0.1:{port}"
    try:
        with processes(api):
            wait_http(url, timeout=90)
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                sid = (await client.post("/v1/sessions", json={"user_id": "ana", "workspace": "multi"})).json()["session_id"]
                run = (await client.post(f"/v1/sessions/{sid}/runs", json={"task": TASK})).json()  # no worker: it stays queued

            async def follow(opened: asyncio.Event, stop: asyncio.Event) -> None:
                async with httpx.AsyncClient(base_url=url, timeout=30) as own, own.stream("GET", run["links"]["events"]) as resp:
                    assert resp.status_code == 200
                    opened.set()
                    await stop.wait()

            stop = asyncio.Event()
            opened = [asyncio.Event() for _ in range(4)]
            streams = [asyncio.create_task(follow(o, stop)) for o in opened]
            await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 30)
            seen = set()
            for _ in range(8):  # new connections: the kernel hands them to either process
                async with httpx.AsyncClient(base_url=url, timeout=30) as scraper:
                    text = (await scraper.get("/metrics")).text
                seen.add(sample(text, "moot_sse_subscribers"))
                assert sample(text, "moot_queue_depth") == 1
            assert seen == {4.0}, seen
            stop.set()
            await asyncio.gather(*streams)
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:  # leave no run queued in the shared database
                assert (await client.post(f"/v1/runs/{run['run_id']}/cancel")).status_code == 202
    finally:
        drop_redis_keys(f"moot-test-{tag}:")
