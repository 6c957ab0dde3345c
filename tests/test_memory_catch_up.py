"""Processes that share a Redis episodic store recall what the others recorded (`moot.memory.catch_up`).

Each manager stands for one process (a worker of a fleet): its own recall index, one Redis store.
Without catching up, a worker recalled only the runs it had recorded itself, and a restarted one
nothing at all until something called `rebuild`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from redistools import redis_namespace

from moot.memory.embedder import get_embedder
from moot.memory.episodic import InProcessEpisodic
from moot.memory.episodic.redis import RedisEpisodic
from moot.memory.manager import MemoryManager
from moot.memory.types import EpisodicRecord


@pytest.fixture(scope="module")
def embedder() -> Any:
    return get_embedder("wordllama")


@pytest_asyncio.fixture
async def shared() -> AsyncIterator[RedisEpisodic]:
    async with redis_namespace() as (client, prefix):
        yield RedisEpisodic(client, prefix=prefix)


def entry(user: str, text: str, n: int, *, ts: float | None = None, kind: str = "proposal", agent: str = "optimistic",
          **data: Any) -> EpisodicRecord:
    return EpisodicRecord(user_id=user, session_id="s1", run_id="r1", task="trip", stage="proposal", agent=agent,
                          round=1, kind=kind, text=text, ts=ts if ts is not None else time.time() + n * 1e-3,
                          id=f"{user}-{n}", data=data)


async def test_a_second_worker_and_a_restarted_one_recall_what_the_first_recorded(embedder: Any, shared: RedisEpisodic) -> None:
    first = MemoryManager(embedder=embedder, episodic=shared)
    await first.record([entry("ana", "Ana prefers the Alfama guesthouse with a river view.", 1)])
    second = MemoryManager(embedder=embedder, episodic=shared)
    found = await second.recall("s2", "ana", "Which guesthouse does Ana like?", 200)
    assert "Alfama guesthouse" in found.text
    # and back: what the second records, the first sees at its next recall
    await second.record([entry("ana", "Ana booked the night train to Porto for Friday.", 2)])
    found = await first.recall("s3", "ana", "What did Ana book to Porto?", 200)
    assert "night train to Porto" in found.text
    restarted = MemoryManager(embedder=embedder, episodic=shared)
    found = await restarted.recall("s4", "ana", "What did Ana book to Porto?", 400)
    assert "night train to Porto" in found.text and restarted.index.count("ana") == 2
    assert first.index.count("ana") == second.index.count("ana") == 2  # each record indexed once


async def test_an_in_process_store_is_this_process_alone(embedder: Any) -> None:
    """The control: a store that is not shared is never read back at recall (its records are
    already in this process's index), so the mechanism above is what did the work."""
    store = InProcessEpisodic()
    first = MemoryManager(embedder=embedder, episodic=store)
    await first.record([entry("ana", "Ana prefers the Alfama guesthouse with a river view.", 1)])
    other = MemoryManager(embedder=embedder, episodic=store)
    found = await other.recall("s2", "ana", "Which guesthouse does Ana like?", 200)
    assert found.text == "" and other.index.count("ana") == 0


async def test_a_record_stored_late_with_an_earlier_time_is_still_indexed(embedder: Any, shared: RedisEpisodic) -> None:
    reader = MemoryManager(embedder=embedder, episodic=shared)
    writer = MemoryManager(embedder=embedder, episodic=shared)
    await writer.record([entry("ana", "Ana's passport expires in March.", 1)])
    assert "passport" in (await reader.recall("s", "ana", "When does the passport expire?", 200)).text
    # another worker's recorder gathered this entry before writing it: stamped 2 s before the newest seen
    await writer.record([entry("ana", "Ana is allergic to peanuts.", 2, ts=time.time() - 2)])
    assert "peanuts" in (await reader.recall("s", "ana", "What is Ana allergic to?", 200)).text


async def test_superseded_facts_and_summaries_from_another_worker(embedder: Any, shared: RedisEpisodic) -> None:
    writer = MemoryManager(embedder=embedder, episodic=shared)
    now = time.time()
    await writer.record([entry("ana", "Ana: I live in Lisbon.", 1, ts=now - 60, kind="turn", agent="Ana")])
    await writer.record([entry("ana", "Ana: I moved to Porto last month.", 2, ts=now - 30, kind="turn", agent="Ana")])
    reader = MemoryManager(embedder=embedder, episodic=shared)
    found = await reader.recall("s", "ana", "Where does Ana live?", 300)
    assert "Porto" in found.text and "(was: Lisbon" in found.text
    # a summary written elsewhere replaces the turns it folded
    await shared.record([entry("ana", "Summary of earlier turns: Ana lives in Porto, moved from Lisbon.", 3,
                               kind="summary", replaces=["ana-1", "ana-2"])])
    found = await reader.recall("s", "ana", "Where does Ana live?", 300)
    episodes = found.text.split("From earlier conversations and runs:")[1]
    assert "Summary of earlier turns" in episodes and "I moved to Porto" not in episodes
    assert reader.index.get("ana", "ana-1") is None and reader.index.get("ana", "ana-2") is None
    # as after a compaction in this process: the fact ledger keeps the current value
    assert "I moved to Porto" in found.text.split("From earlier")[0]


async def test_concurrent_recalls_index_each_record_once(embedder: Any, shared: RedisEpisodic) -> None:
    writer = MemoryManager(embedder=embedder, episodic=shared)
    await writer.record([entry("ana", f"Ana noted item number {n} for the trip.", n) for n in range(30)])
    reader = MemoryManager(embedder=embedder, episodic=shared)
    await asyncio.gather(*(reader.recall("s", "ana", "What did Ana note?", 200) for _ in range(8)))
    assert reader.index.count("ana") == 30


async def test_a_user_deleted_elsewhere_is_recalled_by_no_worker(embedder: Any, shared: RedisEpisodic) -> None:
    """The API process deletes a user's memory; workers that had indexed it recall none of it."""
    worker = MemoryManager(embedder=embedder, episodic=shared)
    other = MemoryManager(embedder=embedder, episodic=shared)
    await worker.record([entry("ana", "Ana prefers aisle seats.", 1)])  # recorded here, never read back
    assert "aisle" in (await other.recall("s", "ana", "Which seat?", 200)).text  # caught up there
    api = MemoryManager(embedder=embedder, episodic=shared)
    assert await shared.delete_user("ana") == 1
    api.forget_user("ana")
    for manager in (worker, other):
        assert (await manager.recall("s", "ana", "Which seat?", 200)).text == ""
        assert manager.index.count("ana") == 0
    # memory written after the deletion is recalled again, everywhere
    await worker.record([entry("ana", "Ana now prefers window seats.", 2)])
    assert "window" in (await other.recall("s", "ana", "Which seat?", 200)).text


async def test_a_session_deleted_elsewhere_leaves_the_others(embedder: Any, shared: RedisEpisodic) -> None:
    worker = MemoryManager(embedder=embedder, episodic=shared)
    await worker.record([entry("ana", "Ana prefers aisle seats.", 1),
                         replace(entry("ana", "Ana is allergic to peanuts.", 2), session_id="s2")])
    assert await shared.delete_session("ana", "s1") == 1
    found = await worker.recall("s", "ana", "What about seats and allergies?", 300)
    assert "peanuts" in found.text and "aisle" not in found.text and worker.index.count("ana") == 1


async def test_forgetting_a_user_forgets_what_was_caught_up(embedder: Any, shared: RedisEpisodic) -> None:
    writer = MemoryManager(embedder=embedder, episodic=shared)
    await writer.record([entry("ana", "Ana prefers aisle seats.", 1)])
    reader = MemoryManager(embedder=embedder, episodic=shared)
    assert "aisle" in (await reader.recall("s", "ana", "Which seat?", 200)).text
    await shared.delete_user("ana")
    reader.forget_user("ana")
    assert (await reader.recall("s", "ana", "Which seat?", 200)).text == ""


async def test_the_store_counts_deletions_and_lists_live_ids(shared: RedisEpisodic) -> None:
    now = time.time()
    await shared.record([entry("ana", "old", 1, ts=now - 8 * 86400), entry("ana", "new", 2, ts=now),
                         replace(entry("ana", "other session", 3, ts=now), session_id="s2")])
    assert await shared.live_ids("ana") == {"ana-2", "ana-3"}  # past the 7-day TTL: not live
    before = await shared.deletions()
    await shared.delete_session("ana", "s2")
    await shared.delete_user("bob")
    assert await shared.deletions() == before + 2 and await shared.live_ids("ana") == {"ana-2"}
    assert await InProcessEpisodic().deletions() == 0  # no other process to tell
