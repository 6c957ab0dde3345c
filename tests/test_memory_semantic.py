"""Semantic memory through LangMem's memory manager, on the three stores, with real servers.

The scripted model answers exactly as trustcall expects from a capable provider: new memories as
calls of the bound schemas, a changed fact as a `PatchDoc` of the existing memory's id (the ids
reach the model in trustcall's `<instance id=...>` blocks; the script reads them from there, as a
provider would). The behaviour tests run against the in-memory store, SQLite and a real
PostgreSQL on 127.0.0.1:5432 (a server that is down fails the tests: they never skip).
"""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langgraph.store.base import BaseStore
from langmem import create_search_memory_tool

from moot.errors import ModelError, UsageError
from moot.memory.embedder import get_embedder
from moot.memory.semantic import Fact, Preference, SemanticMemory, user_key
from moot.memory.stores import ScanIndexStore, SnapshotStore, make_store, memory_store
from moot.memory.types import Embedder
from moot.models.scripted import ScriptedChatModel

POSTGRES = os.environ.get("MOOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
INSTANCE = re.compile(r'<instance id=(\S+) schema_type="(\w+)">\n(.*?)\n</instance>', re.DOTALL)

FIRST_TRIP = [
    {"role": "user", "content": "I'm Ana, I live in Porto. For trips I always fly."},
    {"role": "assistant", "content": "Noted, Ana: flights it is."},
]
CHANGED = [
    {"role": "user", "content": "I now prefer trains over flights, for the climate."},
    {"role": "assistant", "content": "Understood, trains from now on."},
]


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}", "type": "tool_call"}


def instances(messages: list[BaseMessage]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The existing memories trustcall showed the model: id → (schema, content)."""
    system = messages[0]
    if not isinstance(system, SystemMessage):
        return {}
    return {m[1]: (m[2], ast.literal_eval(m[3])) for m in INSTANCE.finditer(str(system.content))}


Turn = Callable[[dict[str, tuple[str, dict[str, Any]]]], list[dict[str, Any]]]


def provider(*turns: Turn) -> ScriptedChatModel:
    """A model that answers the n-th extraction with `turns[n](existing memories)`."""

    def script(messages: list[BaseMessage], info: dict[str, Any]) -> AIMessage:
        return AIMessage(content="", tool_calls=turns[min(info["index"], len(turns) - 1)](instances(messages)))

    return ScriptedChatModel(script=script)


def learns_flights(existing: dict[str, tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        call("Preference", {"category": "travel", "preference": "flights"}),
        call("Fact", {"content": "Ana lives in Porto."}),
    ]


def switches_to_trains(existing: dict[str, tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    (flights,) = [key for key, (kind, content) in existing.items() if content.get("preference") == "flights"]
    patch = [{"op": "replace", "path": "/preference", "value": "trains over flights"}]
    return [call("PatchDoc", {"json_doc_id": flights, "planned_edits": "She switched to trains.", "patches": patch})]


# -- stores -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder("wordllama")


@pytest.fixture
def postgres_dsn() -> Any:
    """A fresh schema in the real server's `test` database, dropped afterwards."""
    schema = f"moot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, embedder: Embedder, tmp_path: Path) -> AsyncIterator[BaseStore]:
    kind = request.param
    if kind == "memory":
        options: dict[str, Any] = {"path": tmp_path / "memory.json"}
    elif kind == "sqlite":
        options = {"path": tmp_path / "memory.sqlite"}
    else:
        options = {"dsn": request.getfixturevalue("postgres_dsn")}
    async with make_store(kind, embedder=embedder, **options) as opened:
        yield opened


# -- behaviour, on every store ------------------------------------------------------------------


async def test_a_changed_preference_updates_the_memory_instead_of_adding_one(store: BaseStore, embedder: Embedder) -> None:
    model = provider(learns_flights, switches_to_trains)
    memory = SemanticMemory(store, model, embedder=embedder)

    first = await memory.extract("ana", FIRST_TRIP, session_id="s1")
    second = await memory.extract("ana", CHANGED, session_id="s2")

    (preference,) = [c for c in first if c.kind == "Preference"]
    assert [(c.action, c.key, c.text) for c in second] == [("update", preference.key, "travel preference: trains over flights")]
    texts = sorted(item.text for item in await memory.items("ana"))
    assert texts == ["Ana lives in Porto.", "travel preference: trains over flights"]
    # the second extraction saw the stored memory under its id and was made to patch or insert
    patching = model.calls[1]
    assert patching["kwargs"]["tool_choice"] == "any"
    assert f"<instance id={preference.key} " in patching["messages"][0].content
    best = (await memory.search("ana", "which transport does Ana like for travel", limit=1))[0]
    assert best.id == preference.key and best.session_id == "s2" and best.layer == "semantic"


async def test_no_call_path_returns_another_users_memory(store: BaseStore, embedder: Embedder) -> None:
    memory = SemanticMemory(store, provider(learns_flights), embedder=embedder)
    await memory.extract("ana", FIRST_TRIP)
    bob = await memory.remember("bob", Preference(category="food", preference="vegan dishes"))
    assert bob is not None
    (ana_fact,) = [item for item in await memory.items("ana") if item.meta["kind"] == "Fact"]

    for query in ("Porto", "travel preference: flights", "Ana lives in Porto."):
        found = await memory.search("bob", query, limit=10)
        assert [item.text for item in found] == ["food preference: vegan dishes"]
    # LangMem's own search tool, configured the way moot configures it for bob
    tool = create_search_memory_tool(namespace=("memories", "{langgraph_user_id}"), store=store)
    answer = await tool.ainvoke({"query": "Ana lives in Porto", "limit": 10}, config=memory.langmem_config("bob"))
    assert "Porto" not in answer and "flights" not in answer and "vegan dishes" in answer
    # forget and delete only ever touch the caller's own namespace
    assert await memory.forget("bob", ana_fact.id) is False
    assert await memory.delete_user("bob") == 1
    assert sorted(item.id for item in await memory.items("ana")) != [] and await memory.items("bob") == []
    assert await memory.forget("ana", ana_fact.id) is True
    assert [item.meta["kind"] for item in await memory.items("ana")] == ["Preference"]


async def test_a_repeated_fact_from_a_weak_model_is_not_stored_twice(store: BaseStore, embedder: Embedder) -> None:
    """A weak model re-inserts what it was shown instead of leaving it: the twin is updated."""
    repeat = lambda existing: [call("Fact", {"content": "Ana lives in Porto."})]
    memory = SemanticMemory(store, provider(repeat), embedder=embedder)

    await memory.extract("ana", FIRST_TRIP)
    again = await memory.extract("ana", [{"role": "user", "content": "As I said, I live in Porto."}])

    assert again == [] and [item.text for item in await memory.items("ana")] == ["Ana lives in Porto."]


# -- the rest, on the default store -------------------------------------------------------------


async def test_extraction_runs_in_the_background_and_flush_waits_for_it(embedder: Embedder) -> None:
    model = provider(learns_flights)
    model.latency = 0.4
    memory = SemanticMemory(memory_store(embedder=embedder), model, embedder=embedder)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(ticker())
    started = time.perf_counter()
    task = memory.schedule("ana", FIRST_TRIP, session_id="s1")
    returned = time.perf_counter() - started
    await asyncio.sleep(0.1)
    assert returned < 0.05 and not task.done() and await memory.items("ana") == []
    await memory.flush()
    beat.cancel()
    assert task.done() and len(await memory.items("ana")) == 2
    assert ticks >= 20  # the event loop kept running while the model "thought"


async def test_a_failed_extraction_is_logged_and_never_raised(embedder: Embedder, caplog: pytest.LogCaptureFixture) -> None:
    model = ScriptedChatModel(script=[ModelError("provider down")])
    memory = SemanticMemory(memory_store(embedder=embedder), model, embedder=embedder)

    with caplog.at_level(logging.WARNING, logger="moot.memory.semantic"):
        memory.schedule("ana", FIRST_TRIP)
        memory.schedule("", FIRST_TRIP)  # a bad call is reported the same way
        await memory.flush()

    assert sorted((user, type(error)) for user, error in memory.failures) == [("", UsageError), ("ana", ModelError)]
    assert "extraction for user 'ana' failed" in caplog.text


async def test_a_run_outcome_is_extracted_too(embedder: Embedder) -> None:
    booked = lambda existing: [call("Fact", {"content": "Ana booked a train to Lisbon for 12 May."})]
    model = provider(booked)
    memory = SemanticMemory(memory_store(embedder=embedder), model, embedder=embedder)

    memory.schedule("ana", [], outcome="Booked train Porto-Lisbon, 12 May, for Ana.")
    await memory.flush()

    assert "Outcome of the run: Booked train" in model.calls[0]["messages"][-1].content
    (item,) = await memory.items("ana")
    assert item.meta["source"] == "outcome" and "train to Lisbon" in item.text


async def test_the_profile_is_one_document_that_new_details_merge_into(embedder: Embedder) -> None:
    named = lambda existing: [call("Profile", {"name": "Ana", "home": "Porto"})]
    moved = lambda existing: [call("Profile", {"home": "Lisbon", "language": "Portuguese"})]
    memory = SemanticMemory(memory_store(embedder=embedder), provider(named, moved), embedder=embedder)

    await memory.extract("ana", FIRST_TRIP)
    await memory.extract("ana", [{"role": "user", "content": "I moved to Lisbon. I speak Portuguese."}])

    assert await memory.profile("ana") == {"name": "Ana", "home": "Lisbon", "language": "Portuguese", "notes": None}
    (item,) = await memory.items("ana")
    assert item.id == "profile" and "home: Lisbon" in item.text


async def test_memory_survives_a_restart_through_the_snapshot_file(embedder: Embedder, tmp_path: Path) -> None:
    path = tmp_path / "memory.json"
    memory = SemanticMemory(memory_store(path, embedder=embedder), provider(learns_flights), embedder=embedder)
    await memory.extract("ana", FIRST_TRIP)
    before = await memory.search("ana", "where does Ana live", limit=2)
    assert path.exists()  # saved after the write, without asking

    reopened = memory_store(path, embedder=embedder)  # a new process would do this
    after = await SemanticMemory(reopened, None, embedder=embedder).search("ana", "where does Ana live", limit=2)

    assert [(i.id, i.text, round(i.score, 5)) for i in after] == [(i.id, i.text, round(i.score, 5)) for i in before]
    assert after[0].text == "Ana lives in Porto."


async def test_a_snapshot_restored_under_another_embedder_is_embedded_again(embedder: Embedder, tmp_path: Path) -> None:
    class Halved:
        """A different embedder (other dims): the snapshot's vectors cannot be reused."""

        dim = embedder.dim // 2

        def embed(self, texts: list[str]) -> Any:
            return embedder.embed(texts)[:, : self.dim]

        def count_tokens(self, text: str) -> int:
            return embedder.count_tokens(text)

    path = tmp_path / "memory.json"
    await SemanticMemory(memory_store(path, embedder=embedder), None).remember("ana", "Ana lives in Porto.")
    store = memory_store(path, embedder=Halved())

    found = await SemanticMemory(store, None).search("ana", "Porto", limit=1)
    assert isinstance(store, SnapshotStore) and found[0].text == "Ana lives in Porto." and found[0].score > 0


def test_user_keys_keep_every_user_apart() -> None:
    assert user_key("ana") == "ana" and user_key("user-1_x") == "user-1_x"
    assert user_key("ana.b@x.org") != user_key("ana_b@x_org")
    assert "." not in user_key("ana.b@x.org")
    with pytest.raises(UsageError, match="non-empty user_id"):
        user_key("")


async def test_postgres_without_pgvector_ranks_on_the_client(embedder: Embedder, postgres_dsn: str) -> None:
    """This server has no `vector` extension: `auto` picks the scan and still ranks by meaning."""
    async with make_store("postgres", embedder=embedder, dsn=postgres_dsn) as store:
        async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
            has_pgvector = await (await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).fetchone()
        assert isinstance(store, ScanIndexStore) is (has_pgvector is None)
        memory = SemanticMemory(store, None, embedder=embedder)
        for text in ("Ana lives in Porto.", "Ana is vegetarian.", "Ana plays the cello."):
            await memory.remember("ana", Fact(content=text))
        found = await memory.search("ana", "vegetarian food", limit=3)
        assert found[0].text == "Ana is vegetarian." and found[0].score > found[-1].score
