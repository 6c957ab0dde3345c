"""The LangGraph store API over moot's semantic memory store, through `langgraph_sdk`, per tenant.

Items live where moot's semantic memory keeps a user's memories: what a client puts under
`["memories", <user>, "facts"]` in moot's own memory shape is what `GET /v1/users/<user>/memory`
lists. Two tenants with their own keys use the same namespaces and never see each other's items.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraphtools import Server, langgraph_server

from moot.service.langgraph_api.store import seen, stored

pytestmark = pytest.mark.usefixtures("fast_embedder")


def test_namespaces_fold_the_tenant_into_the_users_label_and_back() -> None:
    assert stored("acme", ["memories", "ana", "facts"]) == ("memories", "acme%3Aana", "facts")
    assert stored("acme", ["docs"]) == ("docs", "acme%3A")
    for ns in (["memories", "ana", "facts"], ["docs"], ["a", "b"]):
        assert seen("acme", stored("acme", ns)) == ns
        assert seen("acme:x", stored("acme", ns)) is None and seen("acm", stored("acme", ns)) is None
    assert seen("acme", ("procedural", "critic")) is None  # moot's own rules are no client's namespace
    assert seen("acme", stored("acme:x", ["a", "b"])) is None  # a tenant whose name extends another's


async def test_put_get_search_namespaces_delete(server: Server) -> None:
    c = get_client(url=server.url, api_key=server.keys["a"])
    await c.store.put_item(["docs", "ana"], "d1", {"title": "Lisbon", "text": "trams and tiles"})
    await c.store.put_item(["docs", "ana"], "d2", {"title": "Porto", "text": "port wine"})
    await c.store.put_item(["docs", "bob", "drafts"], "d3", {"title": "Faro"})
    await c.store.put_item(["notes"], "n1", {"text": "a note without a user"})
    item = await c.store.get_item(["docs", "ana"], "d1")
    assert item["namespace"] == ["docs", "ana"] and item["value"]["title"] == "Lisbon" and item["created_at"]

    got = await c.store.search_items(["docs", "ana"], filter={"title": "Porto"})
    assert [i["key"] for i in got["items"]] == ["d2"]
    across = await c.store.search_items(["docs"], limit=10)
    assert sorted(i["key"] for i in across["items"]) == ["d1", "d2", "d3"]
    assert len((await c.store.search_items(["docs"], limit=2, offset=1))["items"]) == 2
    everything = await c.store.search_items([], limit=100)
    assert sorted(i["key"] for i in everything["items"]) == ["d1", "d2", "d3", "n1"]

    spaces = (await c.store.list_namespaces())["namespaces"]
    assert spaces == [["docs", "ana"], ["docs", "bob", "drafts"], ["notes"]]
    assert (await c.store.list_namespaces(prefix=["docs"], max_depth=2))["namespaces"] == [["docs", "ana"], ["docs", "bob"]]
    assert (await c.store.list_namespaces(suffix=["drafts"]))["namespaces"] == [["docs", "bob", "drafts"]]
    assert (await c.store.list_namespaces(prefix=["docs", "*"], limit=1))["namespaces"] == [["docs", "ana"]]

    await c.store.delete_item(["docs", "ana"], "d1")
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.store.get_item(["docs", "ana"], "d1")
    assert err.value.response.status_code == 404 and "d1" in err.value.response.json()["detail"]


async def test_items_under_memories_are_the_users_semantic_memories(server: Server) -> None:
    c = get_client(url=server.url, api_key=server.keys["a"])
    value = {"kind": "Fact", "content": {"content": "Ana prefers trains to planes"}, "source": "langgraph"}
    await c.store.put_item(["memories", "ana", "facts"], "m1", value)
    async with server.http("a") as a, server.http("b") as b:
        listed = (await a.get("/v1/users/ana/memory")).json()["items"]
        assert [(m["id"], m["text"]) for m in listed if m["layer"] == "semantic"] == [("m1", "Ana prefers trains to planes")]
        assert [m for m in (await b.get("/v1/users/ana/memory")).json()["items"] if m["layer"] == "semantic"] == []
        await a.delete("/v1/users/ana/memory")  # forgetting the user on /v1 empties the store's namespace too
    assert (await c.store.search_items(["memories", "ana"]))["items"] == []


@pytest.fixture(params=["local", "fleet"])
async def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    async with langgraph_server(tmp_path, request.param) as s:
        yield s


async def test_another_tenant_never_sees_or_names_an_item(any_server: Server) -> None:
    """On the embedded store and on PostgreSQL's (the fleet's memory store)."""
    server = any_server
    a, b = get_client(url=server.url, api_key=server.keys["a"]), get_client(url=server.url, api_key=server.keys["b"])
    await a.store.put_item(["docs", "ana"], "secret", {"text": "tenant a's"})
    with pytest.raises(httpx.HTTPStatusError) as err:
        await b.store.get_item(["docs", "ana"], "secret")
    assert err.value.response.status_code == 404 and set(err.value.response.json()) == {"detail"}
    assert (await b.store.search_items(["docs"]))["items"] == [] and (await b.store.search_items([]))["items"] == []
    assert (await b.store.list_namespaces())["namespaces"] == []
    await b.store.delete_item(["docs", "ana"], "secret")  # deletes b's (absent) item, not a's
    await b.store.put_item(["docs", "ana"], "secret", {"text": "tenant b's"})
    assert (await a.store.get_item(["docs", "ana"], "secret"))["value"] == {"text": "tenant a's"}
    assert (await b.store.get_item(["docs", "ana"], "secret"))["value"] == {"text": "tenant b's"}


async def test_bad_namespaces_and_bodies_are_422(server: Server) -> None:
    async with server.http() as http:
        for method, path, body in (
            ("PUT", "/store/items", {"namespace": ["docs", "a:b"], "key": "k", "value": {}}),
            ("PUT", "/store/items", {"namespace": ["", "x"], "key": "k", "value": {}}),
            ("PUT", "/store/items", {"namespace": [], "key": "k", "value": {}}),
            ("PUT", "/store/items", {"namespace": ["docs"], "key": "k", "value": "not an object"}),
            ("POST", "/store/items/search", {"namespace_prefix": "docs"}),
            ("POST", "/store/namespaces", {"prefix": [""]}),
        ):
            resp = await http.request(method, path, json=body)
            assert resp.status_code == 422, (body, resp.text)
            assert isinstance(resp.json()["detail"], str)
        assert (await http.get("/store/items", params={"namespace": "docs", "key": "nope"})).status_code == 404
