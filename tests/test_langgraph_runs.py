"""LangGraph runs on moot, driven by the official `langgraph_sdk` client over real HTTP: wait,
interrupt at the approval stage and resume (approve, edit by update_state, reject), a fork from
an earlier checkpoint, cancel and join, thread-less runs, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError
from lgruntools import TASK, Service, collect, langgraph_service

pytestmark = pytest.mark.usefixtures("fast_embedder")


def _approvals(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [h["content"] for h in values["history"] if h["type"] == "approval"]


def _booked(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in values["history"] if h["type"] == "tool_result"]


async def _interrupted(client: LangGraphClient) -> tuple[str, list[tuple[str, Any, str | None]]]:
    """A gated thread whose first run paused before booking; its stream's parts."""
    thread = await client.threads.create()
    parts = await collect(client.runs.stream(thread["thread_id"], "gated", input={"task": TASK}, stream_mode="updates"))
    return thread["thread_id"], parts


async def test_wait_runs_a_whole_deliberation_and_the_run_reads_success(service: Service) -> None:
    client, _ = service
    thread = await client.threads.create()
    values = await client.runs.wait(thread["thread_id"], "classic", input={"task": TASK})
    assert values["done"] is True and values["winner"] and values["task"] == TASK
    assert _booked(values), "the classic workspace books its winner"
    [run] = await client.runs.list(thread["thread_id"])
    assert run["status"] == "success" and run["assistant_id"] == "classic"
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["run_id"] == run["run_id"]
    assert (await client.threads.get(thread["thread_id"]))["metadata"]["graph_id"] == "classic"


async def test_interrupt_before_booking_then_approve_by_command_resume(service: Service) -> None:
    client, _ = service
    thread_id, parts = await _interrupted(client)
    assert parts[0][0] == "metadata" and parts[-1][0] == "end"
    interrupts = [d["__interrupt__"] for e, d, _ in parts if e == "updates" and "__interrupt__" in d]
    assert len(interrupts) == 1 and interrupts[0][0]["value"]["stage"] == "booking"
    [run] = await client.runs.list(thread_id)
    assert run["status"] == "interrupted"
    state = await client.threads.get_state(thread_id)
    assert state["next"] and state["tasks"] and state["tasks"][0]["interrupts"], state
    values = await client.runs.wait(thread_id, "gated", command={"resume": {"action": "approve"}})
    assert values["done"] is True and _approvals(values) == [{"action": "approve", "reason": ""}]
    assert _booked(values)
    with pytest.raises(httpx.HTTPStatusError) as refused:  # nothing waits for an answer any more
        await client.runs.wait(thread_id, "gated", command={"resume": "approve"})
    assert refused.value.response.status_code == 409


async def test_edit_by_update_state_then_resume_books_the_edited_decision(service: Service) -> None:
    client, _ = service
    thread_id, _ = await _interrupted(client)
    state = await client.threads.get_state(thread_id)
    edited = {**state["values"]["decision"], "rationale": "edited by a human"}
    await client.threads.update_state(thread_id, {"decision": edited})
    values = await client.runs.wait(thread_id, "gated", command={"resume": True})
    assert values["decision"]["rationale"] == "edited by a human"
    assert values["done"] is True and _approvals(values)[0]["action"] == "approve"


async def test_reject_ends_the_run_without_booking(service: Service) -> None:
    client, _ = service
    thread_id, _ = await _interrupted(client)
    values = await client.runs.wait(thread_id, "gated", command={"resume": "reject"})
    assert values["done"] is True and _approvals(values)[0]["action"] == "reject"
    assert not _booked(values)
    [run] = await client.runs.list(thread_id)
    assert run["status"] == "success"


async def test_an_edit_as_resume_value_replaces_the_decision(service: Service) -> None:
    client, _ = service
    thread_id, _ = await _interrupted(client)
    state = await client.threads.get_state(thread_id)
    edited = {**state["values"]["decision"], "rationale": "as the resume value"}
    values = await client.runs.wait(thread_id, "gated", command={"resume": {"type": "edit", "args": {"args": edited}}})
    assert values["decision"]["rationale"] == "as the resume value" and _approvals(values)[0]["action"] == "edit"


async def test_a_bad_resume_value_is_refused_and_the_run_stays_interrupted(service: Service) -> None:
    client, http = service
    thread_id, _ = await _interrupted(client)
    resp = await http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "gated", "command": {"resume": "perhaps"}})
    assert resp.status_code == 422 and "approve" in resp.json()["detail"]
    resp = await http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "gated", "command": {"resume": "yes", "goto": "booking"}})
    assert resp.status_code == 422 and "goto" in resp.json()["detail"]
    [run] = await client.runs.list(thread_id)
    assert run["status"] == "interrupted"


async def test_a_fork_from_an_earlier_checkpoint_runs_on_and_leaves_the_original_alone(service: Service) -> None:
    client, _ = service
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    first = await client.runs.wait(thread_id, "classic", input={"task": TASK})
    before = await client.threads.get_history(thread_id, limit=100)
    # the checkpoint where the synthesis stage is about to start
    earlier = next(s for s in before if s["values"].get("stage") == "synthesis" and s["next"])
    forked = await client.runs.wait(thread_id, "classic", checkpoint_id=earlier["checkpoint"]["checkpoint_id"])
    assert forked["done"] is True and forked["run_id"] != first["run_id"]
    assert forked["winner"] == first["winner"]
    proposals = [h for h in forked["history"] if h["type"] == "proposal"]
    assert proposals == [h for h in first["history"] if h["type"] == "proposal"], "the fork kept the proposals before it"
    after = await client.threads.get_history(thread_id, limit=200)
    old = {s["checkpoint"]["checkpoint_id"]: s["values"] for s in before}
    kept = {s["checkpoint"]["checkpoint_id"]: s["values"] for s in after if s["checkpoint"]["checkpoint_id"] in old}
    assert kept == old, "every checkpoint of the original thread is still there, unchanged"
    assert len(after) > len(before)
    runs = await client.runs.list(thread_id)
    assert [r["status"] for r in runs] == ["success", "success"]


async def test_cancel_and_join(classic_script: Any, tmp_path: Path) -> None:
    async with langgraph_service(classic_script, tmp_path / "spaces", latency=0.2) as (client, _):
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "classic", input={"task": TASK})
        assert run["status"] == "pending"
        await client.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
        got = await client.runs.get(thread["thread_id"], run["run_id"])
        assert got["status"] == "interrupted" and got["cancel_reason"]
        with pytest.raises(ConflictError):
            await client.runs.cancel(thread["thread_id"], run["run_id"])
        second = await client.runs.create(thread["thread_id"], "classic", input={"task": TASK})
        joined = await client.runs.join(thread["thread_id"], second["run_id"])
        assert joined["done"] is True and joined["run_id"] == second["run_id"]
        assert (await client.runs.get(thread["thread_id"], second["run_id"]))["status"] == "success"


async def test_a_busy_thread_refuses_a_second_run_unless_told_to_interrupt(classic_script: Any, tmp_path: Path) -> None:
    async with langgraph_service(classic_script, tmp_path / "spaces", latency=0.2) as (client, _):
        thread = await client.threads.create()
        first = await client.runs.create(thread["thread_id"], "classic", input={"task": TASK})
        with pytest.raises(ConflictError):
            await client.runs.create(thread["thread_id"], "classic", input={"task": TASK})
        second = await client.runs.create(thread["thread_id"], "classic", input={"task": TASK}, multitask_strategy="interrupt")
        assert (await client.runs.get(thread["thread_id"], first["run_id"]))["status"] == "interrupted"
        assert (await client.runs.join(thread["thread_id"], second["run_id"]))["done"] is True


async def test_thread_less_runs_take_the_task_from_the_last_human_message(service: Service) -> None:
    client, _ = service
    chat = {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}, {"role": "user", "content": TASK}]}
    parts = await collect(client.runs.stream(None, "classic", input=chat, stream_mode="values"))
    assert parts[0][0] == "metadata" and parts[-1][0] == "end"
    last = [d for e, d, _ in parts if e == "values"][-1]
    assert last["task"] == TASK and last["done"] is True
    values = await client.runs.wait(None, "classic", input={"task": TASK})
    assert values["done"] is True and values["session_id"] != last["session_id"]


async def test_bad_input_answers_langgraph_errors_and_writes_nothing(service: Service) -> None:
    client, http = service
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as unknown:
        await client.runs.wait("session-" + "0" * 32, "classic", input={"task": TASK})
    assert unknown.value.response.status_code == 404
    with pytest.raises(NotFoundError):
        await client.runs.get(thread_id, "run-000000000000")
    resp = await http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "nope", "input": {"task": TASK}})
    assert resp.status_code == 404 and resp.json() == {"detail": "Assistant with ID 'nope' not found"}
    resp = await http.post(f"/threads/{thread_id}/runs/stream", json={"assistant_id": "classic", "input": {"task": TASK}, "stream_mode": ["values", "tasks"]})
    assert resp.status_code == 422 and "'tasks'" in resp.json()["detail"] and "values, updates, custom" in resp.json()["detail"]
    resp = await http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "classic", "input": {"task": TASK}, "interrupt_before": ["booking"]})
    assert resp.status_code == 422 and "approval: true" in resp.json()["detail"]
    resp = await http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "classic", "input": {"messages": []}})
    assert resp.status_code == 422 and "human message" in resp.json()["detail"]
    resp = await http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "classic", "input": {"task": " "}})
    assert resp.status_code == 422 and "empty" in resp.json()["detail"]
    with pytest.raises(httpx.HTTPStatusError) as not_interrupted:
        await client.runs.wait(thread_id, "classic", command={"resume": "approve"})
    assert not_interrupted.value.response.status_code == 409 and "not interrupted" in not_interrupted.value.response.text
    resp = await http.post("/runs", json={"assistant_id": "classic", "input": {}})
    assert resp.status_code == 422
    assert await client.runs.list(thread_id) == [], "no refusal left a run behind"
    assert (await client.threads.get(thread_id))["metadata"].get("graph_id") is None, "nor bound the thread"
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(thread_id, "classic", input={"task": TASK}, checkpoint_id="1f0-nope")


async def test_another_tenants_runs_are_404_on_every_run_route(tmp_path: Path) -> None:
    from langgraphtools import langgraph_server

    async with langgraph_server(tmp_path) as server, server.http("a") as a, server.http("b") as b:
        thread_id = (await a.post("/threads", json={})).json()["thread_id"]
        resp = await a.post(f"/threads/{thread_id}/runs/wait", json={"assistant_id": "demo", "input": {"task": TASK}})
        assert resp.status_code == 200 and resp.json()["done"] is True, resp.text
        run_id = (await a.get(f"/threads/{thread_id}/runs")).json()[0]["run_id"]
        run = f"/threads/{thread_id}/runs/{run_id}"
        for method, path, body in [
            ("GET", f"/threads/{thread_id}/runs", None), ("GET", run, None), ("GET", f"{run}/join", None),
            ("GET", f"{run}/stream", None), ("POST", f"{run}/cancel", None), ("DELETE", run, None),
            ("POST", f"/threads/{thread_id}/runs", {"assistant_id": "demo", "input": {"task": TASK}}),
            ("POST", f"/threads/{thread_id}/runs/stream", {"assistant_id": "demo", "input": {"task": TASK}}),
            ("POST", f"/threads/{thread_id}/runs/wait", {"assistant_id": "demo", "command": {"resume": "approve"}}),
        ]:
            resp = await b.request(method, path, json=body)
            assert resp.status_code == 404 and "detail" in resp.json(), (method, path, resp.status_code, resp.text)
        assert len((await a.get(f"/threads/{thread_id}/runs")).json()) == 1, "tenant b started nothing in a's thread"
        assert (await a.get(run)).json()["status"] == "success"
