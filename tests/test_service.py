"""The moot service over real HTTP (uvicorn on loopback), embedded backends: the run lifecycle,
SSE with reconnection, human approval, cancel and resume, state export/import, and limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.settings import Limits, ServiceSettings
from moot.workspace.loader import builtin_path
from servicetools import serving, sse_events, wait_status

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")


def gated_workspace(folder: Path, source: Path, name: str = "gated") -> Path:
    """A copy of the demo whose booking stage asks for approval, under another name."""
    import shutil

    shutil.copytree(source, folder)
    (folder / "moot.yaml").write_text((folder / "moot.yaml").read_text().replace("name: demo", f"name: {name}", 1))
    stages = folder / "stages.yaml"
    stages.write_text(stages.read_text().replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    return folder


@pytest.fixture
async def client(request: pytest.FixtureRequest, demo_script: Any, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    marker = request.node.get_closest_marker("service")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    latency = options.pop("latency", 0.0)
    folder = gated_workspace(tmp_path / "spaces" / "gated", builtin_path("demo"))
    settings = ServiceSettings(workspaces=[str(folder.parent)], **options)
    app = create_app(settings, models={"default": ScriptedChatModel(script=demo_script, latency=latency)})
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield http


async def _session(client: httpx.AsyncClient, workspace: str = "demo", user: str = "ana") -> str:
    resp = await client.post("/v1/sessions", json={"user_id": user, "workspace": workspace})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["session_id"])


async def _start(client: httpx.AsyncClient, session_id: str, task: str = TASK) -> dict[str, Any]:
    resp = await client.post(f"/v1/sessions/{session_id}/runs", json={"task": task})
    assert resp.status_code == 202, resp.text
    assert resp.headers["location"] == f"/v1/runs/{resp.json()['run_id']}"
    return dict(resp.json())


async def test_run_lifecycle_from_session_to_result(client: httpx.AsyncClient) -> None:
    sid = await _session(client)
    run = await _start(client, sid)
    assert run["status"] == "queued" and run["workspace_version"]
    events = await sse_events(client, run["links"]["events"])
    types = [e["event"] for e in events]
    assert types[0] == "run_queued" and types[1] == "run_started" and types[-1] == "run_finished"
    assert {"stage_entered", "agent_started", "agent_finished", "state_patch", "tool_call"} <= set(types)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(e["data"]["run_id"] == run["run_id"] for e in events)

    done = await wait_status(client, run["run_id"], {"finished", "failed"})
    assert done["status"] == "finished", done
    assert done["result"]["winner"] == "plan-1"
    assert done["result"]["tokens"]["prompt"] > 0 and done["attempts"] == 1
    listed = (await client.get("/v1/runs", params={"session_id": sid})).json()["runs"]
    assert [r["run_id"] for r in listed] == [run["run_id"]]

    exported = (await client.get(f"/v1/sessions/{sid}/state")).json()
    assert exported["format"] == "moot.state/1" and exported["values"]["winner"] == "plan-1"
    # a second run in the same session continues the thread
    second = await _start(client, sid, "And a weekend in Porto?")
    assert (await wait_status(client, second["run_id"], {"finished", "failed"}))["status"] == "finished"
    assert (await client.delete(f"/v1/sessions/{sid}")).status_code == 204
    assert (await client.get(f"/v1/sessions/{sid}")).status_code == 404


async def test_sse_reconnects_with_last_event_id_without_loss_or_repeats(client: httpx.AsyncClient) -> None:
    run = await _start(client, await _session(client))
    await wait_status(client, run["run_id"], {"finished"})
    whole = await sse_events(client, run["links"]["events"])
    first = await sse_events(client, run["links"]["events"], limit=7)
    rest = await sse_events(client, run["links"]["events"], last_event_id=first[-1]["id"])
    assert [e["id"] for e in first + rest] == [e["id"] for e in whole]
    via_query = await sse_events(client, f"{run['links']['events']}?after={first[2]['id']}")
    assert [e["id"] for e in via_query] == [e["id"] for e in whole[3:]]
    bad = await client.get(run["links"]["events"], headers={"Last-Event-ID": "not-an-id"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_event_id"


@pytest.mark.service(latency=0.05)
async def test_sse_follows_a_live_run_and_a_reconnect_mid_run_continues(client: httpx.AsyncClient) -> None:
    run = await _start(client, await _session(client))
    head = await sse_events(client, run["links"]["events"], limit=4)  # disconnects while the run goes on
    tail = await sse_events(client, run["links"]["events"], last_event_id=head[-1]["id"])
    assert tail[-1]["event"] == "run_finished"
    whole = await sse_events(client, run["links"]["events"])
    assert [e["id"] for e in head + tail] == [e["id"] for e in whole]


async def test_approval_flow_approve_edit_reject(client: httpx.AsyncClient) -> None:
    sid = await _session(client, "gated")
    run = await _start(client, sid)
    paused = await wait_status(client, run["run_id"], {"awaiting_approval", "finished", "failed"})
    assert paused["status"] == "awaiting_approval" and "approval" in paused["links"]
    ask = (await client.get(f"/v1/runs/{run['run_id']}/approval")).json()
    assert ask["stage"] == "booking" and ask["decision"]["winner"] == "plan-1"
    # bad answers are refused and the run stays paused
    for bad in ({"action": "maybe"}, {"action": "edit"}, {"action": "approve", "decision": {"x": 1}}):
        resp = await client.post(f"/v1/runs/{run['run_id']}/approval", json=bad)
        assert resp.status_code == 422, resp.text
    assert (await client.get(f"/v1/runs/{run['run_id']}")).json()["status"] == "awaiting_approval"

    edited = {**ask["decision"], "summary": "edited by a human"}
    resp = await client.post(f"/v1/runs/{run['run_id']}/approval", json={"action": "edit", "decision": edited, "reason": "tweak"})
    assert resp.status_code == 202, resp.text
    done = await wait_status(client, run["run_id"], {"finished", "failed"})
    assert done["status"] == "finished" and done["result"]["decision"]["summary"] == "edited by a human"
    types = [e["event"] for e in await sse_events(client, run["links"]["events"])]
    assert types.index("approval_requested") < types.index("approval_given") < types.index("run_finished")
    again = await client.post(f"/v1/runs/{run['run_id']}/approval", json={"action": "approve"})
    assert again.status_code == 409 and again.json()["error"]["type"] == "not_awaiting_approval"

    # (no flight links London, the demo's default origin, with Porto: from Lisbon, there is a trip to approve)
    second = await _start(client, sid, "A weekend in Porto from Lisbon")
    await wait_status(client, second["run_id"], {"awaiting_approval"})
    assert (await client.post(f"/v1/runs/{second['run_id']}/approval", json={"action": "reject", "reason": "no"})).status_code == 202
    ended = await wait_status(client, second["run_id"], {"finished", "failed"})
    assert ended["status"] == "finished"
    state = (await client.get(f"/v1/sessions/{sid}/state")).json()["values"]
    assert not [h for h in state["history"] if h.get("agent") == "booking"]


@pytest.mark.service(latency=0.2)
async def test_cancel_then_resume(client: httpx.AsyncClient) -> None:
    run = await _start(client, await _session(client))
    await wait_status(client, run["run_id"], {"running"})
    await asyncio.sleep(0.5)
    resp = await client.post(f"/v1/runs/{run['run_id']}/cancel")
    assert resp.status_code == 202 and resp.json()["status"] == "cancelled"
    types = [e["event"] for e in await sse_events(client, run["links"]["events"])]
    assert types[-1] == "run_cancelled" and types.count("run_cancelled") == 1 and "run_finished" not in types
    assert (await client.post(f"/v1/runs/{run['run_id']}/cancel")).status_code == 409
    resumed = await client.post(f"/v1/runs/{run['run_id']}/resume")
    assert resumed.status_code == 202
    done = await wait_status(client, run["run_id"], {"finished", "failed"}, timeout=60)
    assert done["status"] == "finished" and done["attempts"] == 2
    state = (await client.get(f"/v1/sessions/{run['session_id']}/state")).json()["values"]
    proposals = [h for h in state["history"] if h.get("agent") == "optimistic" and h.get("round") == 1]
    assert len(proposals) == 1  # resumed from the checkpoint: nothing ran twice


async def test_state_export_imports_into_a_new_session(client: httpx.AsyncClient) -> None:
    sid = await _session(client)
    run = await _start(client, sid)
    await wait_status(client, run["run_id"], {"finished"})
    exported = (await client.get(f"/v1/sessions/{sid}/state", params={"run_id": run["run_id"]})).json()
    target = await _session(client)
    imported = await client.post(f"/v1/sessions/{target}/state", json=exported)
    assert imported.status_code == 201, imported.text
    assert imported.json()["status"] == "finished" and imported.json()["run_id"] != run["run_id"]
    copy = (await client.get(f"/v1/sessions/{target}/state")).json()["values"]
    assert copy["decision"] == exported["values"]["decision"] and copy["session_id"] == target
    again = await client.post(f"/v1/sessions/{target}/state", json=exported)
    assert again.status_code == 409
    bad = await client.post(f"/v1/sessions/{target}/state", json={"format": "nope", "values": {}})
    assert bad.status_code == 422


@pytest.mark.service(limits=Limits(max_body_bytes=4096, max_active_runs=1, max_task_chars=200), latency=0.2)
async def test_limits_answer_4xx_with_json_errors(client: httpx.AsyncClient) -> None:
    sid = await _session(client)
    big = await client.post(f"/v1/sessions/{sid}/runs", content=json.dumps({"task": "x" * 10_000}), headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["type"] == "request_too_large"
    long = await client.post(f"/v1/sessions/{sid}/runs", json={"task": "y" * 300})
    assert long.status_code == 422 and long.json()["error"]["type"] == "task_too_long"
    blank = await client.post(f"/v1/sessions/{sid}/runs", json={"task": "   "})
    assert blank.status_code == 422
    run = await _start(client, sid)
    busy = await client.post(f"/v1/sessions/{sid}/runs", json={"task": TASK})
    assert busy.status_code in (409, 429)
    other = await _session(client, user="bo")
    over = await client.post(f"/v1/sessions/{other}/runs", json={"task": TASK})
    assert over.status_code == 429 and over.headers["retry-after"] and over.json()["error"]["type"] == "too_many_runs"
    await wait_status(client, run["run_id"], {"finished"}, timeout=60)
    assert (await client.post(f"/v1/sessions/{other}/runs", json={"task": TASK})).status_code == 202
    for path in ("/v1/runs/run-000000000000", "/v1/sessions/session-nope", "/v1/runs/run-x/events", "/v1/workspaces/nope"):
        resp = await client.get(path)
        assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found", (path, resp.text)
    for workspace in ("nope", str(builtin_path("demo")), "../demo"):
        unknown_ws = await client.post("/v1/sessions", json={"workspace": workspace})
        assert unknown_ws.status_code == 404, unknown_ws.text  # names only, never a server path
    extra = await client.post("/v1/sessions", json={"user_id": "ana", "color": "red"})
    assert extra.status_code == 422 and "color" in extra.json()["error"]["message"]


async def test_workspaces_memory_and_health(client: httpx.AsyncClient) -> None:
    names = (await client.get("/v1/workspaces")).json()["workspaces"]
    assert {"demo", "gated"} <= set(names)
    gated = (await client.get("/v1/workspaces/gated")).json()
    assert gated["approval_stages"] == ["booking"] and "synthesizer" in gated["agents"]
    graph = (await client.get("/v1/workspaces/demo/graph")).json()
    assert graph["mermaid"].startswith("---") or "graph" in graph["mermaid"]
    assert "stage_router" in graph["mermaid"] and "synthesizer" in graph["mermaid"]

    run = await _start(client, await _session(client, user="mia"))
    await wait_status(client, run["run_id"], {"finished"})
    memory = (await client.get("/v1/users/mia/memory")).json()
    assert memory["items"] and all(i["session_id"] == run["session_id"] for i in memory["items"])
    found = (await client.get("/v1/users/mia/memory/search", params={"q": "Lisbon trip", "budget_tokens": 200})).json()
    assert found["items"] and found["tokens"] <= 200
    assert (await client.get("/v1/users/nobody/memory")).json()["items"] == []
    deleted = (await client.delete("/v1/users/mia/memory")).json()
    assert deleted["deleted"] > 0
    assert (await client.get("/v1/users/mia/memory")).json()["items"] == []

    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ok" and ready["checks"]["database"] == "ok" and ready["mode"]["keys_required"] is False
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/runs/{run_id}/events" in schema["paths"] and "/v1/runs/{run_id}/approval" in schema["paths"]


@pytest.mark.service(limits=Limits(run_timeout_s=0.6), latency=0.2)
async def test_a_run_over_its_time_limit_fails_cleanly_and_can_resume(client: httpx.AsyncClient) -> None:
    run = await _start(client, await _session(client))
    failed = await wait_status(client, run["run_id"], {"finished", "failed"})
    assert failed["status"] == "failed" and failed["error"]["error"] == "RunTimeout"
    assert "0.6 s" in failed["error"]["message"]
    types = [e["event"] for e in await sse_events(client, run["links"]["events"])]
    assert types[-1] == "run_failed"
    state = (await client.get(f"/v1/sessions/{run['session_id']}/state")).json()
    assert state["values"]["run_id"] == run["run_id"] and state["next"]  # the checkpoint is intact


@pytest.mark.service(reload=True)
async def test_serve_reload_serves_an_edit_to_new_runs(client: httpx.AsyncClient, tmp_path: Path) -> None:
    before = (await client.get("/v1/workspaces/gated")).json()["version"]
    run = await _start(client, await _session(client, "gated"))
    await wait_status(client, run["run_id"], {"awaiting_approval"})
    critic = tmp_path / "spaces" / "gated" / "agents" / "critic.yaml"
    critic.write_text(critic.read_text().replace("prompt: |", "prompt: |\n  Be brief.", 1))
    for _ in range(200):
        after = (await client.get("/v1/workspaces/gated")).json()["version"]
        if after != before:
            break
        await asyncio.sleep(0.05)
    assert after != before, "the edit was not picked up"
    fresh = await _start(client, await _session(client, "gated"))
    assert fresh["workspace_version"] == after
    # the paused run continues on the version it started with
    await client.post(f"/v1/runs/{run['run_id']}/approval", json={"action": "approve"})
    done = await wait_status(client, run["run_id"], {"finished", "failed"})
    assert done["status"] == "finished" and done["workspace_version"] == before


async def test_an_inline_server_stopped_mid_run_resumes_the_run_at_restart(demo_script: Any, tmp_path: Path) -> None:
    """Embedded default: runs live in the API process; their checkpoints outlive it."""

    def app() -> Any:
        latency = {"*": 0.15, "critic": 2.0, "devils_advocate": 2.0}  # stopped while the reviewers think
        return create_app(ServiceSettings(), models={"default": ScriptedChatModel(script=demo_script, latency=latency)})

    async with serving(app()) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        run = await _start(http, await _session(http))
        head = await sse_events(http, run["links"]["events"], until=lambda e: e["event"] == "agent_started" and e["data"].get("agent") == "critic")
        assert "agent_finished" in [e["event"] for e in head]
    # the server stopped in the middle of the run: it is still marked running, not cancelled
    async with serving(app()) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        done = await wait_status(http, run["run_id"], {"finished", "failed", "cancelled"}, timeout=60)
        assert done["status"] == "finished" and done["attempts"] == 2, done
        exported = (await http.get(f"/v1/sessions/{run['session_id']}/state")).json()
        assert "values" in exported, exported
        state = exported["values"]
        assert len([h for h in state["history"] if h.get("agent") == "optimistic" and h.get("round") == 1]) == 1
        tail = await sse_events(http, run["links"]["events"], last_event_id=head[-1]["id"])
        assert tail[-1]["event"] == "run_finished"


async def test_a_finished_run_teaches_semantic_memory_listed_per_user(demo_script: Any) -> None:
    """With an extraction model, a run's outcome becomes semantic memories of its user (LangMem)."""
    import uuid

    from langchain_core.messages import AIMessage

    def extract(messages: Any, info: dict[str, Any]) -> AIMessage:
        call = {"name": "Preference", "args": {"category": "travel", "preference": "walking tours in old towns"},
                "id": f"call_{uuid.uuid4().hex[:8]}", "type": "tool_call"}
        return AIMessage(content="", tool_calls=[call])

    app = create_app(
        ServiceSettings(),
        models={"default": ScriptedChatModel(script=demo_script)},
        memory_model=ScriptedChatModel(script=extract),
    )
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        run = await _start(client, await _session(client, user="lea"))
        await wait_status(client, run["run_id"], {"finished"})
        for _ in range(100):  # extraction runs in the background after the run
            items = (await client.get("/v1/users/lea/memory")).json()["items"]
            semantic = [i for i in items if i["layer"] == "semantic"]
            if semantic:
                break
            await asyncio.sleep(0.05)
        assert [i["text"] for i in semantic] == ["travel preference: walking tours in old towns"]
        found = (await client.get("/v1/users/lea/memory/search", params={"q": "what tours does she like"})).json()
        assert any(i["layer"] == "semantic" for i in found["items"])
        assert (await client.get("/v1/users/someone_else/memory")).json()["items"] == []
        await client.delete("/v1/users/lea/memory")
        assert (await client.get("/v1/users/lea/memory")).json()["items"] == []
