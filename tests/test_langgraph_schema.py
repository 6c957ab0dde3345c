"""Assistants and the LangGraph face's HTTP contract: `langgraph_sdk` reads every workspace as an
assistant (graph, schemas), and schemathesis fuzzes every LangGraph route from the OpenAPI schema.

Fuzzing: generated requests, valid and invalid, over real HTTP to a keyed server on 127.0.0.1
(served in a thread, as in test_service_contract.py); whatever arrives, never a 5xx, only statuses
the schema documents, and every refusal in LangGraph's shape (`{"detail": ...}`), never /v1's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from langgraph_sdk import get_client
from langgraphtools import GATED, Server, v1_run, workspaces
from test_service_contract import CHECKS, CONFIG, TIMEOUT_S, served_in_thread

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.keys import key_store
from moot.service.settings import ServiceSettings
from moot.state import STATE_KEYS

DATA = Path(__file__).parent / "data"

pytestmark = pytest.mark.usefixtures("fast_embedder")


async def test_every_workspace_is_an_assistant(server: Server) -> None:
    c = get_client(url=server.url, api_key=server.keys["a"])
    found = await c.assistants.search(limit=100)
    names = {a["assistant_id"] for a in found}
    assert {"demo", GATED} <= names and all(a["graph_id"] == a["assistant_id"] == a["name"] for a in found)
    assert await c.assistants.count() == len(found)
    assert [a["assistant_id"] for a in await c.assistants.search(graph_id=GATED)] == [GATED]
    assert [a["assistant_id"] for a in await c.assistants.search(limit=1, offset=1, sort_by="name", sort_order="asc")] == [sorted(names)[1]]
    paged = await c.assistants.search(limit=1, response_format="object")
    assert len(paged["assistants"]) == 1 and paged["next"] == "1"
    demo = await c.assistants.get("demo")
    assert demo["description"] and demo["metadata"]["version_hash"] and demo["version"] == 1
    with pytest.raises(httpx.HTTPStatusError) as err:
        await c.assistants.get("no_such_workspace")
    assert err.value.response.status_code == 404 and "not found" in err.value.response.json()["detail"]


async def test_graph_and_schemas_come_from_the_compiled_graph(server: Server) -> None:
    c = get_client(url=server.url, api_key=server.keys["a"])
    graph = await c.assistants.get_graph("demo")
    ids = {n["id"] for n in graph["nodes"]}
    assert {"__start__", "stage_router", "synthesizer"} <= ids
    assert all({"source", "target"} <= set(e) for e in graph["edges"])
    assert {n["id"] for n in (await c.assistants.get_graph("demo", xray=True))["nodes"]} >= ids
    schemas = await c.assistants.get_schemas("demo")
    assert schemas["graph_id"] == "demo"
    assert set(schemas["input_schema"]["properties"]) == set(STATE_KEYS) == set(schemas["state_schema"]["properties"])
    assert schemas["output_schema"]["title"] == "MootState" and schemas["config_schema"]["type"] == "object"
    assert await c.assistants.get_subgraphs("demo") == {}
    async with server.http() as http:
        assert (await http.get("/assistants/demo/graph", params={"xray": "lots"})).status_code == 422
        assert (await http.get("/info")).json()["flags"]["assistants"] is True
        assert (await httpx.AsyncClient(base_url=server.url).get("/ok")).json() == {"ok": True}


# -- the contract, fuzzed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    url: str
    key: str
    thread_id: str


async def _seed(url: str, key: str) -> str:
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=30) as http:
        sid, _ = await v1_run(http)
        return sid


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    home = tmp_path_factory.mktemp("lg-contract-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOOT_HOME", str(home / "home"))
        patch.setenv("MOOT_EMBEDDER", "wordllama")

        async def make_key() -> str:
            async with key_store(None) as store:
                return (await store.create("acme", label="langgraph contract"))[1]

        key = asyncio.run(make_key())
        script = json.loads((DATA / "demo_script.json").read_text())
        settings = ServiceSettings(workspaces=[str(workspaces(home / "workspaces"))])
        with served_in_thread(create_app(settings, models={"default": ScriptedChatModel(script=script)})) as url:
            yield Seeded(url, key, asyncio.run(_seed(url, key)))


LANGGRAPH = r"^/(?!v1/|healthz|readyz|docs|openapi|redoc)"
schema = schemathesis.openapi.from_dict(create_app(ServiceSettings()).openapi(), config=CONFIG).include(path_regex=LANGGRAPH)


def _check(response: Any) -> None:
    if response.status_code >= 400:
        body = response.json()
        assert "detail" in body and "error" not in body, response.text


@schema.parametrize()
def test_generated_requests_never_get_a_server_error(case: Any, seeded: Seeded) -> None:
    _check(case.call_and_validate(base_url=seeded.url, headers={"X-API-Key": seeded.key}, checks=CHECKS, timeout=TIMEOUT_S))


@schema.parametrize()
def test_generated_requests_on_a_real_thread_never_get_a_server_error(case: Any, seeded: Seeded) -> None:
    path = case.path_parameters or {}
    if "thread_id" in path:
        path["thread_id"] = seeded.thread_id
        if case.method.upper() == "DELETE" and case.path == "/threads/{thread_id}":
            # a thread of its own: deleting the shared one would turn the other cases into unknown ids
            made = httpx.post(f"{seeded.url}/threads", json={}, headers={"X-API-Key": seeded.key}, timeout=TIMEOUT_S)
            path["thread_id"] = made.json()["thread_id"]
    if "assistant_id" in path:
        path["assistant_id"] = "demo"
    _check(case.call_and_validate(base_url=seeded.url, headers={"X-API-Key": seeded.key}, checks=CHECKS, timeout=TIMEOUT_S))
