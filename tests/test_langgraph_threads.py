"""Threads, their state and history through LangGraph's own client (`langgraph_sdk`), over real HTTP.

The server is moot's (`create_app`) on uvicorn at 127.0.0.1, with two tenants' API keys; runs are
started through /v1 with the scripted demo model, and what LangGraph's client reads of the thread
is compared with moot's own state export (`GET /v1/sessions/{id}/state`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient
from langgraphtools import GATED, Server, langgraph_server, v1_run

from moot.state import STATE_KEYS

pytestmark = pytest.mark.usefixtures("fast_embedder")


def lg(server: Server, tenant: str = "a") -> LangGraphClient:
    return get_client(url=server.url, api_key=server.keys[tenant])


async def test_threads_create_get_patch_search_count_delete(server: Server) -> None:
    c = lg(server)
    bound = await c.threads.create(metadata={"graph_id": "demo", "channel": "web", "user_id": "ana"})
    assert bound["metadata"] == {"channel": "web", "user_id": "ana", "graph_id": "demo", "assistant_id": "demo"}
    assert bound["status"] == "idle" and bound["thread_id"].startswith("session-")
    unbound = await c.threads.create(thread_id="my-thread-1")
    assert unbound["thread_id"] == "my-thread-1" and "graph_id" not in unbound["metadata"]
    assert (await c.threads.create(thread_id="my-thread-1", if_exists="do_nothing"))["thread_id"] == "my-thread-1"
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.threads.create(thread_id="my-thread-1")
    assert err.value.response.status_code == 409 and "already exists" in err.value.response.json()["detail"]

    got = await c.threads.get(bound["thread_id"])
    assert got["metadata"]["graph_id"] == "demo" and got["values"] == {} and got["status"] == "idle"
    patched = await c.threads.update(unbound["thread_id"], metadata={"graph_id": GATED, "n": 1})
    assert patched["metadata"]["graph_id"] == GATED and patched["metadata"]["n"] == 1
    with pytest.raises(httpx.HTTPStatusError) as err:  # a bound thread never changes its graph
        await c.threads.update(unbound["thread_id"], metadata={"graph_id": "demo"})
    assert err.value.response.status_code == 409
    assert (await c.threads.get(unbound["thread_id"]))["metadata"]["graph_id"] == GATED

    found = await c.threads.search(metadata={"graph_id": "demo"})
    assert [t["thread_id"] for t in found] == [bound["thread_id"]]
    assert {t["thread_id"] for t in await c.threads.search()} == {bound["thread_id"], "my-thread-1"}
    assert await c.threads.count(metadata={"graph_id": GATED}) == 1
    assert await c.threads.search(metadata={"channel": "web"}, status="busy") == []
    assert [t["thread_id"] for t in await c.threads.search(limit=1, offset=1)] == [bound["thread_id"]]  # newest first

    await c.threads.delete(bound["thread_id"])
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.threads.get(bound["thread_id"])
    assert err.value.response.status_code == 404
    assert err.value.response.json() == {"detail": f"Thread with ID {bound['thread_id']!r} not found"}


async def test_state_and_history_equal_moots_own_export(server: Server) -> None:
    async with server.http() as http:
        sid, _ = await v1_run(http)
        exported = (await http.get(f"/v1/sessions/{sid}/state")).json()
    c = lg(server)
    thread = await c.threads.get(sid)
    assert thread["status"] == "idle" and thread["metadata"]["graph_id"] == "demo"
    state = await c.threads.get_state(sid)
    assert {k: v for k, v in state["values"].items() if k in STATE_KEYS} == exported["values"]
    assert state["next"] == exported["next"] and state["values"]["winner"] == "plan-1"
    assert state["checkpoint"]["thread_id"] == sid and state["checkpoint"]["checkpoint_id"]
    assert thread["values"] == state["values"]

    history = await c.threads.get_history(sid, limit=50)
    assert history and history[0]["checkpoint"] == state["checkpoint"] and history[0]["values"] == state["values"]
    at = await c.threads.get_state(sid, checkpoint_id=state["checkpoint"]["checkpoint_id"])
    assert at["values"] == state["values"]
    posted = await c.threads.get_state(sid, checkpoint={"checkpoint_id": state["checkpoint"]["checkpoint_id"]})
    assert posted["checkpoint"] == state["checkpoint"]
    assert await c.threads.get_history(sid, metadata={"moot_run_id": "run-none"}) == []
    async with server.http() as http:
        got = await http.get(f"/threads/{sid}/history", params={"limit": 1})
    assert got.status_code == 200 and got.json()[0]["checkpoint"] == state["checkpoint"]


async def test_an_interrupted_run_shows_as_an_interrupted_thread(server: Server) -> None:
    async with server.http() as http:
        sid, _ = await v1_run(http, GATED, until={"awaiting_approval"})
    c = lg(server)
    thread = await c.threads.get(sid)
    assert thread["status"] == "interrupted"
    (pending,) = [i for found in thread["interrupts"].values() for i in found]
    assert pending["value"]["kind"] == "approval" and pending["value"]["stage"] == "booking"
    state = await c.threads.get_state(sid)
    assert state["next"] and state["interrupts"][0]["id"] == pending["id"]
    assert [t["thread_id"] for t in await c.threads.search(status="interrupted")] == [sid]


async def test_update_state_follows_the_write_policy(server: Server) -> None:
    async with server.http() as http:
        sid, _ = await v1_run(http)
    c = lg(server)
    before = await c.threads.get_state(sid)
    decision = {"plan": "edited by a person", "total_eur": 1200}
    written = await c.threads.update_state(sid, {"decision": decision})  # `human` may write `decision`
    after = await c.threads.get_state(sid)
    assert after["values"]["decision"] == decision and after["checkpoint"] == written["checkpoint"]
    assert after["checkpoint"]["checkpoint_id"] != before["checkpoint"]["checkpoint_id"]

    for values, as_node, key in (
        ({"winner": "plan-2"}, None, "winner"),  # only the synthesizer writes `winner`
        ({"decision": {"x": 1}, "stage": "booking"}, None, "stage"),  # refused whole, not key by key
        ({"decision": {"x": 1}}, "critic", "decision"),  # as_node: a writer the policy does not allow
    ):
        with pytest.raises(httpx.HTTPStatusError) as err:
            await c.threads.update_state(sid, values, as_node=as_node)
        body = err.value.response.json()
        assert err.value.response.status_code == 403, body
        assert body["key"] == key and key in body["detail"] and body["writers"]
        assert all(w in body["detail"] for w in body["writers"])
        assert (await c.threads.get_state(sid))["checkpoint"] == after["checkpoint"]  # nothing written

    allowed = await c.threads.update_state(sid, {"winner": "plan-1"}, as_node="synthesizer")
    assert (await c.threads.get_state(sid))["checkpoint"] == allowed["checkpoint"]
    for values, as_node in (({"nonsense": 1}, None), ({"decision": {}}, "no_such_node")):
        with pytest.raises(httpx.HTTPStatusError) as err:
            await c.threads.update_state(sid, values, as_node=as_node)
        assert err.value.response.status_code == 422 and err.value.response.json()["detail"]
    unbound = await c.threads.create()
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.threads.update_state(unbound["thread_id"], {"decision": decision})
    assert err.value.response.status_code == 409


@pytest.fixture(params=["local", "fleet"])
async def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    async with langgraph_server(tmp_path, request.param) as s:
        yield s


async def test_copy_takes_every_checkpoint(any_server: Server) -> None:
    """On SQLite and on PostgreSQL's saver (with Redis sessions): copying goes through the saver's API."""
    server = any_server
    async with server.http() as http:
        sid, _ = await v1_run(http)
        exported = (await http.get(f"/v1/sessions/{sid}/state")).json()
    c = lg(server)
    assert {k: v for k, v in (await c.threads.get_state(sid))["values"].items() if k in STATE_KEYS} == exported["values"]
    await c.threads.update(sid, metadata={"topic": "lisbon"})
    copy = await c.threads.copy(sid)
    assert copy["thread_id"] != sid and copy["metadata"]["topic"] == "lisbon" and copy["metadata"]["graph_id"] == "demo"
    original, copied = await c.threads.get_history(sid, limit=100), await c.threads.get_history(copy["thread_id"], limit=100)
    assert [s["values"] for s in copied] == [s["values"] for s in original] and copied
    assert [s["checkpoint"]["checkpoint_id"] for s in copied] == [s["checkpoint"]["checkpoint_id"] for s in original]
    assert all(s["checkpoint"]["thread_id"] == copy["thread_id"] for s in copied)
    await c.threads.update_state(copy["thread_id"], {"decision": {"copy": True}})
    assert (await c.threads.get_state(sid))["values"]["decision"] != {"copy": True}  # the copy is its own


async def test_the_sync_client_reads_the_same_thread(server: Server) -> None:
    def sync_calls() -> tuple[dict[str, Any], dict[str, Any]]:  # in a thread: the server runs on this loop
        c = get_sync_client(url=server.url, api_key=server.keys["a"])
        made = c.threads.create(metadata={"graph_id": "demo"})
        return made, c.threads.get_state(made["thread_id"])

    made, state = await asyncio.to_thread(sync_calls)
    assert (await lg(server).threads.get(made["thread_id"]))["metadata"]["graph_id"] == "demo"
    assert state["values"] == {} and state["checkpoint"]["thread_id"] == made["thread_id"]


async def test_another_tenant_gets_404_on_every_thread_route(any_server: Server) -> None:
    server = any_server
    async with server.http() as http:
        sid, _ = await v1_run(http)
    a, b = lg(server, "a"), lg(server, "b")
    checkpoint = (await a.threads.get_state(sid))["checkpoint"]
    calls = [
        b.threads.get(sid), b.threads.update(sid, metadata={"x": 1}), b.threads.delete(sid), b.threads.copy(sid),
        b.threads.get_state(sid), b.threads.get_state(sid, checkpoint_id=checkpoint["checkpoint_id"]),
        b.threads.get_state(sid, checkpoint=checkpoint), b.threads.update_state(sid, {"decision": {"x": 1}}),
        b.threads.get_history(sid),
    ]
    for call in calls:
        with pytest.raises(httpx.HTTPStatusError) as err:
            await call
        assert err.value.response.status_code == 404 and set(err.value.response.json()) == {"detail"}
    assert await b.threads.search() == [] and await b.threads.count() == 0
    with pytest.raises(httpx.HTTPStatusError) as err:  # a's id is free for b: ids are per tenant
        await a.threads.create(thread_id=sid)
    assert err.value.response.status_code == 409
    assert (await b.threads.create(thread_id=sid))["thread_id"] == sid
    assert (await a.threads.get_state(sid))["checkpoint"] == checkpoint  # a's thread is untouched


async def test_bad_input_is_a_422_and_unknown_ids_a_404_in_langgraphs_shape(server: Server) -> None:
    async with server.http() as http:
        for method, path, body, status in (
            ("GET", "/threads/nope", None, 404),
            ("GET", "/threads/nope/state", None, 404),
            ("POST", "/threads/nope/history", {}, 404),
            ("GET", "/assistants/nope", None, 404),
            ("POST", "/threads", {"metadata": "not a dict"}, 422),
            ("POST", "/threads", {"metadata": {"graph_id": "nope"}}, 404),
            ("POST", "/threads/search", {"limit": -1}, 422),
            ("POST", "/threads/search", [1, 2], 422),
            ("POST", "/assistants/search", {"limit": "x"}, 422),
        ):
            resp = await http.request(method, path, json=body)
            assert resp.status_code == status, (path, resp.text)
            assert isinstance(resp.json()["detail"], str) and "error" not in resp.json()
        no_key = await httpx.AsyncClient(base_url=server.url).get("/threads/nope")
        assert no_key.status_code == 401 and "detail" in no_key.json()
        assert (await http.get("/v1/sessions/nope")).json()["error"]["type"] == "not_found"  # /v1 keeps its shape
