"""Records past their TTL are recalled by no process that indexed them (`moot.memory.expiry`).

Before, a long-running process went on recalling what it had indexed until a deletion elsewhere
made it load the user anew, long after the store had stopped returning those records. Redis
tests use a real TTL of two seconds and sleep past it; in-process ones move the store's clock.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from redistools import redis_namespace

from moot.memory.embedder import get_embedder
from moot.memory.episodic import InProcessEpisodic
from moot.memory.episodic.redis import RedisEpisodic
from moot.memory.manager import MemoryManager
from moot.memory.retrieval import Retriever
from moot.memory.retrieval.index import HybridIndex
from moot.memory.types import EXPIRES_AT, EpisodicRecord, MemoryItem
from moot.models.scripted import ScriptedChatModel

DAY = 86_400.0
TTL = 2.0
"""seconds: the Redis tests' real TTL (short, with room for a loaded machine between the steps)"""
GUESTHOUSE = "Ana prefers the Alfama guesthouse with a river view."
TRAIN = "Ana booked the night train to Porto for Friday."


@pytest.fixture(scope="module")
def embedder() -> Any:
    return get_embedder("wordllama")


class Clock:
    """The store's clock, moved by hand (starts now)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def entry(user: str, text: str, n: int, ts: float, *, kind: str = "proposal", agent: str = "optimistic") -> EpisodicRecord:
    return EpisodicRecord(user_id=user, session_id="s1", run_id="r1", task="trip", stage="proposal", agent=agent,
                          round=1, kind=kind, text=text, ts=ts, id=f"{user}-{n}")


async def until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.time()))


async def recalled(manager: MemoryManager, query: str = "What did Ana choose for the guesthouse and the train?") -> str:
    return (await manager.recall("s", "ana", query, 300)).text


async def test_redis_records_past_their_ttl_leave_every_process_that_indexed_them(embedder: Any) -> None:
    async with redis_namespace() as (client, prefix):
        store = RedisEpisodic(client, prefix=prefix, ttl=TTL)
        writer = MemoryManager(embedder=embedder, episodic=store)  # indexes what it records
        reader = MemoryManager(embedder=embedder, episodic=store)  # catches up from Redis
        now = time.time()
        await writer.record([entry("ana", GUESTHOUSE, 1, now - TTL / 2), entry("ana", TRAIN, 2, now)])
        for manager in (writer, reader):
            text = await recalled(manager)
            assert "Alfama" in text and "night train" in text
        await until(now + TTL / 2 + 0.2)  # the guesthouse record has expired in Redis
        assert await store.query("ana") != [] and "ana-1" not in await store.live_ids("ana")
        for manager in (writer, reader):
            text = await recalled(manager)
            assert "Alfama" not in text and "night train" in text
            assert manager.index.count("ana") == 1 and manager.index.get("ana", "ana-1") is None
        # an expiry is no deletion: a deletion elsewhere does not make the reader load ana anew
        await store.delete_user("bob")
        await writer.record([entry("ana", "Ana asked for a vegetarian dinner.", 3, time.time())])
        assert "vegetarian" in await recalled(reader, "What dinner did Ana ask for?")
        shard = reader.index.shard("ana")
        assert shard is not None and shard.dead == 1  # the same shard, the expired row removed
        await until(now + TTL + 0.2)
        for manager in (writer, reader):
            text = await recalled(manager)
            assert "night train" not in text and "Alfama" not in text


async def test_a_rebuilt_index_lets_records_expire_as_the_store_does(embedder: Any) -> None:
    async with redis_namespace() as (client, prefix):
        store = RedisEpisodic(client, prefix=prefix, ttl=TTL)
        now = time.time()
        await store.record([entry("ana", GUESTHOUSE, 1, now - TTL / 2), entry("ana", TRAIN, 2, now)])
        restarted = MemoryManager(embedder=embedder, episodic=store)
        assert await restarted.rebuild("ana") == 2
        assert restarted.index.get("ana", "ana-2").meta[EXPIRES_AT] == pytest.approx(now + TTL)  # type: ignore[union-attr]
        await until(now + TTL / 2 + 0.2)
        text = await recalled(restarted)
        assert "Alfama" not in text and "night train" in text


async def test_facts_of_expired_turns_are_neither_current_nor_history(embedder: Any) -> None:
    clock = Clock()
    manager = MemoryManager(embedder=embedder, episodic=InProcessEpisodic(ttl=DAY, clock=clock))
    t = clock.now
    await manager.record([entry("ana", "Ana: I live in Lisbon.", 1, t - DAY / 2, kind="turn", agent="Ana"),
                          entry("ana", "Ana: I moved to Porto last month.", 2, t, kind="turn", agent="Ana"),
                          entry("ana", "Ana: I love fado.", 3, t - 2 * DAY, kind="turn", agent="Ana")])
    found = await manager.recall("s", "ana", "Where does Ana live?", 300)
    assert "Porto" in found.text and "(was: Lisbon" in found.text and [i.id for i in manager.history("ana")] == ["ana-1"]
    assert "fado" not in (await manager.recall("s", "ana", "What music does Ana love?", 300)).text  # expired on arrival
    clock.now = t + DAY * 0.6
    found = await manager.recall("s", "ana", "Where does Ana live?", 300)
    assert "Porto" in found.text and "Lisbon" not in found.text and manager.history("ana") == []
    assert all(item.id == "ana-2" for item in found.items)
    clock.now = t + DAY * 1.1
    found = await manager.recall("s", "ana", "Where does Ana live?", 300)
    assert found.text == "" and manager.index.count("ana") == 0 and manager.facts.ledger.current("ana") == {}


async def test_a_snapshot_keeps_each_items_expiry(embedder: Any, tmp_path: Path) -> None:
    clock = Clock()
    t = clock.now
    manager = MemoryManager(embedder=embedder, episodic=InProcessEpisodic(ttl=DAY, clock=clock))
    await manager.record([entry("ana", GUESTHOUSE, 1, t - DAY / 2), entry("ana", TRAIN, 2, t)])
    manager.save(tmp_path / "index.npz")
    clock.now = t + DAY * 0.6
    loaded = MemoryManager(embedder=embedder, episodic=InProcessEpisodic(ttl=DAY, clock=clock))
    assert loaded.load(tmp_path / "index.npz")
    text = await recalled(loaded)
    assert "Alfama" not in text and "night train" in text
    loaded.save(tmp_path / "later.npz")  # what has expired is not written again
    assert np.load(tmp_path / "later.npz")["ids"].tolist() == ["ana-2"]
    clock.now = t + DAY * 1.1
    assert await recalled(loaded) == ""


async def test_a_summary_expires_with_its_record(embedder: Any) -> None:
    clock = Clock()
    manager = MemoryManager(embedder=embedder, episodic=InProcessEpisodic(ttl=DAY, clock=clock))
    for i in range(6):
        manager.add_turn("ana", "long", "Ana", f"Small talk number {i} about the weather.", ts=clock.now + i, turn_id=f"L{i}")
    summary = await manager.compact("ana", "long", ScriptedChatModel(script=["Ana talked about the weather."]), keep_recent=2)
    assert summary is not None and summary.meta[EXPIRES_AT] == pytest.approx(clock.now + DAY)
    assert "Ana talked about the weather" in await recalled(manager, "What did Ana talk about?")
    clock.now += DAY
    text = await recalled(manager, "What did Ana talk about?")
    assert "Ana talked about the weather" not in text and "Small talk number 5" in text  # turns without a record stay


def test_the_retriever_masks_expired_items_without_being_told(embedder: Any) -> None:
    """Any reader of the index (the bench's, with no MemoryManager) leaves expired items out,
    before `expire` has removed them."""
    clock = Clock()
    index = HybridIndex(embedder, clock=clock)
    t = clock.now
    index.add([MemoryItem(id="old", layer="episodic", text=GUESTHOUSE, user_id="ana", ts=t, meta={EXPIRES_AT: t + 10}),
               MemoryItem(id="new", layer="episodic", text=TRAIN, user_id="ana", ts=t, meta={EXPIRES_AT: t + 20}),
               MemoryItem(id="kept", layer="episodic", text="Ana likes Alfama at night.", user_id="ana", ts=t)])
    retriever = Retriever(index)
    assert {i.id for i in retriever.recall("ana", "Alfama guesthouse train", 500).items} == {"old", "new", "kept"}
    clock.now = t + 10
    assert {i.id for i in retriever.recall("ana", "Alfama guesthouse train", 500).items} == {"new", "kept"}
    assert {i.id for i in index.search("ana", "Alfama guesthouse", k=5)} == {"new", "kept"}
    assert {i.id for i in index.items("ana")} == {"new", "kept"} and index.get("ana", "old") is None
    assert index.count("ana") == 3  # masked, not yet removed
    assert [i.id for i in index.expire("ana")] == ["old"] and index.count("ana") == 2
    assert index.expire("ana") == []  # nothing more until the next expiry
    clock.now = t + 25
    assert [i.id for i in index.expire("ana")] == ["new"]
    assert [i.id for i in retriever.recall("ana", "Alfama guesthouse train", 500).items] == ["kept"]


async def test_a_value_stated_without_a_ttl_is_current_again_once_its_successor_expires(embedder: Any) -> None:
    """A turn indexed directly (`add_turn`: no record, no TTL) outlives a later recorded one."""
    clock = Clock()
    manager = MemoryManager(embedder=embedder, episodic=InProcessEpisodic(ttl=DAY, clock=clock))
    manager.add_turn("ana", "s0", "Ana", "I live in Lisbon.", ts=clock.now - 60, turn_id="kept")
    await manager.record([entry("ana", "Ana: I moved to Porto last month.", 1, clock.now, kind="turn", agent="Ana")])
    assert [item.id for item in manager.history("ana")] == ["kept"]
    clock.now += DAY
    found = await manager.recall("s", "ana", "Where does Ana live?", 300)
    assert "I live in Lisbon." in found.text and "(was:" not in found.text and "Porto" not in found.text
    assert manager.history("ana") == [] and "superseded_by" not in manager.index.get("ana", "kept").meta  # type: ignore[union-attr]
    [version] = manager.facts.ledger.current("ana").values()
    assert version.item.id == "kept" and version.value == "Lisbon"
