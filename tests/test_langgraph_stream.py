"""LangGraph streaming on moot with the official `langgraph_sdk` client over real HTTP: each stream
mode, interrupts in `updates` and `values`, `Location` and the join stream, `Last-Event-ID`
reconnects (also in the middle of one log entry's frames), and a failed run's `error`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient
from lgruntools import TASK, Service, collect, langgraph_service

AGENTS = {"optimistic", "critic", "devils_advocate", "synthesizer", "booking"}

pytestmark = pytest.mark.usefixtures("fast_embedder")


async def _stream(client: LangGraphClient, mode: str | list[str], graph: str = "classic") -> tuple[str, list[tuple[str, Any, str | None]]]:
    thread = await client.threads.create()
    return thread["thread_id"], await collect(client.runs.stream(thread["thread_id"], graph, input={"task": TASK}, stream_mode=mode))


def _of(parts: list[tuple[str, Any, str | None]], event: str) -> list[Any]:
    return [d for e, d, _ in parts if e == event]


@pytest.mark.parametrize("mode", ["values", "updates", "custom", "messages-tuple", "messages", "events", "debug"])
async def test_each_stream_mode_streams_a_whole_deliberation(service: Service, mode: str) -> None:
    client, _ = service
    thread_id, parts = await _stream(client, mode)
    names = [e for e, _, _ in parts]
    assert names[0] == "metadata" and names[-1] == "end", names
    [run] = await client.runs.list(thread_id)
    assert parts[0][1]["run_id"] == run["run_id"] and parts[0][1]["attempt"] == 1
    ids = [i for _, _, i in parts]
    assert all(ids) and len(set(ids)) == len(ids), "every frame has an id of its own"
    expected = {"messages-tuple": "messages"}.get(mode, mode)
    assert set(names[1:-1]) == {expected}, names
    body = _of(parts, expected)
    if mode == "values":
        assert all("task" in v for v in body) and body[-1]["done"] is True and body[-1]["winner"]
        # each frame is the state LangGraph checkpointed after a step that changed it (LangGraph
        # streams no `values` for a step that wrote nothing), the last one the thread's state
        history = await client.threads.get_history(thread_id, limit=100)
        steps = [c["values"] for c in reversed(history) if c["metadata"].get("step", -1) >= 0]
        changed = [v for i, v in enumerate(steps) if i == 0 or v != steps[i - 1]]
        assert body == changed and body[-1] == (await client.threads.get_state(thread_id))["values"]
    elif mode == "updates":
        nodes = {n for u in body for n in u}
        assert AGENTS <= nodes and "stage_router" in nodes
    elif mode == "custom":
        kinds = [c["type"] for c in body]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and "agent_finished" in kinds
    elif mode in ("messages", "messages-tuple"):
        assert {m["type"] for m, _ in body} == {"ai"} and all(m["content"] for m, _ in body)
        assert {meta["langgraph_node"] for _, meta in body} >= {"optimistic", "critic", "synthesizer"}
    elif mode == "events":
        kinds = {(e["event"], e["name"]) for e in body}
        assert ("on_chain_start", "optimistic") in kinds and ("on_chain_end", "optimistic") in kinds
        assert ("on_custom_event", "run_finished") in kinds
    else:
        kinds = {d["type"] for d in body}
        assert kinds == {"checkpoint", "task_result"} and body[-1]["payload"]["values"]["done"] is True


async def test_several_modes_at_once_and_the_v2_parts(service: Service) -> None:
    client, _ = service
    thread = await client.threads.create()
    parts = [p async for p in client.runs.stream(thread["thread_id"], "gated", input={"task": TASK}, stream_mode=["values", "updates"], version="v2")]
    assert {p["type"] for p in parts} == {"metadata", "values", "updates"}
    paused = [p for p in parts if p["type"] == "values" and p["interrupts"]]
    assert len(paused) == 1 and paused[0]["interrupts"][0]["value"]["stage"] == "booking"
    assert paused[0]["data"]["stage"], "the interrupt's values frame carries the state"
    updates = [p["data"] for p in parts if p["type"] == "updates" and "__interrupt__" in p["data"]]
    assert updates[0]["__interrupt__"] == paused[0]["interrupts"]


async def test_location_and_the_join_stream_resume_after_last_event_id(classic_script: Any, tmp_path: Path) -> None:
    async with langgraph_service(classic_script, tmp_path / "spaces", latency=0.05) as (client, http):
        thread = await client.threads.create()
        thread_id = thread["thread_id"]
        body = {"assistant_id": "classic", "input": {"task": TASK}, "stream_mode": ["updates", "custom"]}
        head: list[tuple[str, str]] = []
        async with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as resp:
            assert resp.status_code == 200
            location = resp.headers["location"]
            run_id = resp.headers["content-location"].rsplit("/", 1)[1]
            assert location == f"/threads/{thread_id}/runs/{run_id}/stream?stream_mode=updates&stream_mode=custom"
            async for line in resp.aiter_lines():  # leave after a few frames, mid-run
                if line.startswith("id: "):
                    head.append(("", line[4:]))
                if len(head) == 6:
                    break
        last = head[-1][1]
        rest = await collect(client.runs.join_stream(thread_id, run_id, stream_mode=["updates", "custom"], last_event_id=last))
        assert rest[0][0] != "metadata" and rest[-1][0] == "end"
        whole = await collect(client.runs.join_stream(thread_id, run_id, stream_mode=["updates", "custom"]))
        ids = [i for _, _, i in whole]
        assert ids[: len(head)] == [i for _, i in head], "the join stream replays the same frames with the same ids"
        assert [i for _, _, i in rest] == ids[len(head):], "a reconnect neither loses nor repeats a frame"
        assert [d for _, d, _ in rest] == [d for _, d, _ in whole[len(head):]]


async def test_a_reconnect_between_two_frames_of_one_entry(service: Service) -> None:
    client, _ = service
    thread_id, parts = await _stream(client, ["updates", "values"], graph="gated")
    run_id = parts[0][1]["run_id"]
    split = next(i for _, _, i in parts if i and "~" in i and not i.endswith("~end"))  # the interrupt: updates, then values
    at = [i for _, _, i in parts].index(split)
    rest = await collect(client.runs.join_stream(thread_id, run_id, stream_mode=["updates", "values"], last_event_id=split))
    assert [(e, i) for e, _, i in rest] == [(e, i) for e, _, i in parts[at + 1:]]
    assert rest[0][0] == "values" and "__interrupt__" in rest[0][1] and rest[0][1]["task"] == TASK
    again = await collect(client.runs.join_stream(thread_id, run_id, last_event_id=parts[-1][2]))
    assert [e for e, _, _ in again] == ["end"], "after the last frame only `end` comes"


async def test_a_resume_streams_the_rest_of_the_run(service: Service) -> None:
    client, _ = service
    thread_id, first = await _stream(client, "custom", graph="gated")
    rest = await collect(client.runs.stream(thread_id, "gated", command={"resume": "approve"}, stream_mode="custom"))
    assert rest[0][1]["run_id"] == first[0][1]["run_id"], "the resumed run is the paused run"
    kinds = [d["type"] for e, d, _ in rest if e == "custom"]
    assert kinds[0] == "run_started" and "approval_given" not in kinds[:0] and kinds[-1] == "run_finished"
    assert "approval_requested" not in kinds and "tool_result" in kinds


async def test_a_failed_run_ends_with_an_error_frame(tmp_path: Path) -> None:
    async with langgraph_service({}, tmp_path / "spaces") as (client, _):
        thread_id, parts = await _stream(client, ["updates"])
        assert parts[-1][0] == "error" and set(parts[-1][1]) == {"error", "message"} and parts[-1][1]["message"]
        [run] = await client.runs.list(thread_id)
        assert run["status"] == "error"
        joined = await client.runs.join(thread_id, run["run_id"])
        assert joined["__error__"]["error"] == parts[-1][1]["error"]


async def test_a_bad_last_event_id_or_mode_is_refused_before_the_stream(service: Service) -> None:
    client, http = service
    thread_id, parts = await _stream(client, "updates")
    run_id = parts[0][1]["run_id"]
    resp = await http.get(f"/threads/{thread_id}/runs/{run_id}/stream", headers={"Last-Event-ID": "nonsense~x"})
    assert resp.status_code == 422 and "Last-Event-ID" in resp.json()["detail"]
    resp = await http.get(f"/threads/{thread_id}/runs/{run_id}/stream", params={"stream_mode": "checkpoints"})
    assert resp.status_code == 422 and "values, updates" in resp.json()["detail"]
    resp = await http.get(f"/threads/{thread_id}/runs/run-000000000000/stream")
    assert resp.status_code == 404 and json.loads(resp.text)["detail"].startswith("Run with ID")
