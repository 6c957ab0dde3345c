"""Knowledge updates (issue 16): the newest value of a fact is recalled as current, the older ones
are kept as marked history, in the index, the in-process and Redis episodic stores, snapshots and
semantic memory; and bad input ends in a clean answer or a clear error."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from conftest import scripted_runtime
from redistools import redis_namespace
from langgraph.store.base import BaseStore
from test_memory_semantic import call, postgres_dsn, provider, store  # noqa: F401 (fixtures)
from memorytools import CHATTER, DAY, T0

from moot.errors import UsageError
from moot.memory.embedder import get_embedder
from moot.memory.episodic import EpisodicStore, InProcessEpisodic
from moot.memory.episodic.redis import RedisEpisodic
from moot.memory.facts import FACTS_HEADER, HISTORY_MARK, FactKey, Statement
from moot.memory.manager import EPISODIC_HEADER, SEMANTIC_HEADER, MemoryManager
from moot.memory.semantic import SemanticMemory
from moot.memory.stores import memory_store
from moot.memory.types import EpisodicRecord


@pytest.fixture(scope="module")
def embedder() -> Any:
    return get_embedder("wordllama")


@pytest_asyncio.fixture(params=["memory", "redis"])
async def episodic(request: pytest.FixtureRequest) -> AsyncIterator[EpisodicStore]:
    if request.param == "memory":
        yield InProcessEpisodic(ttl=None)
        return
    async with redis_namespace() as (client, prefix):
        store = RedisEpisodic(client, prefix=prefix, ttl=None)
        yield store


def turn(user: str, text: str, day: int, i: int, speaker: str = "Ana", **data: Any) -> EpisodicRecord:
    return EpisodicRecord(user_id=user, session_id=f"s{day}", run_id="", task="", stage="", agent=speaker, round=0,
                          kind="turn", text=f"{speaker}: {text}", ts=T0 + day * DAY + i, id=f"{user}-{day}-{i}", data=data)


def dialogue(user: str = "ana") -> list[EpisodicRecord]:
    lines = [(0, "I live in Lisbon."), (0, "My budget is 1500 EUR."), (3, "I moved to Porto last month."),
             (5, "My budget is now 1800 EUR."), (9, "I relocated to Oslo in the spring.")]
    out = [turn(user, text, day, i) for i, (day, text) in enumerate(lines)]
    out += [turn(user, text, day, 100 + i) for day in (0, 3, 5, 9) for i, text in enumerate(CHATTER)]
    return sorted(out, key=lambda r: r.ts)


def stale_free(text: str, *stale: str) -> bool:
    plain = HISTORY_MARK.sub("", text)
    return not any(value in plain for value in stale)


# -- the index (add_turn) ---------------------------------------------------------------------


async def test_a_new_value_supersedes_the_old_one_and_recall_shows_it_first_with_its_date(embedder: Any) -> None:
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s1", "Ana", "I live in Lisbon.", ts=T0, date="2023-05-07", turn_id="t1")
    for i, text in enumerate(CHATTER):
        manager.add_turn("ana", "s1", "Ana", text, ts=T0 + i + 1, date="2023-05-07")
    manager.add_turn("ana", "s2", "Ana", "I moved to Porto last month.", ts=T0 + 30 * DAY, date="2023-06-06", turn_id="t2")

    found = await manager.recall("s3", "ana", "Where does Ana live now?", 300)
    assert found.text.startswith(FACTS_HEADER)
    first = found.text.splitlines()[1]
    assert first == "- [2023-06-06] Ana: I moved to Porto last month. (was: Lisbon, until 2023-06-06)"
    assert stale_free(found.text, "Lisbon")
    (old,) = manager.history("ana")
    assert old.id == "t1" and old.meta["superseded_by"] == "t2" and old.meta["valid_until"] == "2023-06-06"
    # the old turn stays searchable, its value marked where it stands
    kept = manager.index.get("ana", "t1")
    assert kept is not None and kept.text == "Ana: I live in (was: Lisbon, until 2023-06-06)."
    assert kept.meta["superseded_by"] == "t2"


async def test_a_turn_that_says_more_keeps_the_rest_and_marks_only_the_stale_value(embedder: Any) -> None:
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s1", "Ana", "I live in Lisbon and my favourite airline is TAP.", ts=T0, turn_id="both")
    manager.add_turn("ana", "s2", "Ana", "My favourite airline is now KLM.", ts=T0 + DAY, date="2023-05-08", turn_id="klm")
    kept = manager.index.get("ana", "both")
    assert kept is not None and kept.text == "Ana: I live in Lisbon and my favourite airline is (was: TAP, until 2023-05-08)."
    assert "superseded_by" not in kept.meta and manager.history("ana") == []  # Lisbon is still current
    found = await manager.recall("s3", "ana", "Where does Ana live and which airline?", 300)
    assert "Lisbon" in found.text and "KLM" in found.text and stale_free(found.text, "TAP")


async def test_an_older_statement_arriving_late_does_not_become_current(embedder: Any) -> None:
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s2", "Ana", "My favourite airline is now KLM.", ts=T0 + DAY, turn_id="new")
    manager.add_turn("ana", "s1", "Ana", "My favourite airline is TAP.", ts=T0, turn_id="old")
    found = await manager.recall("s3", "ana", "Which airline does Ana prefer?", 200)
    assert "KLM" in found.text and stale_free(found.text, "TAP")
    assert [item.id for item in manager.history("ana")] == ["old"]


async def test_callers_who_know_the_key_say_so(embedder: Any) -> None:
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s1", "Ana", "Seat by the window please.", ts=T0, turn_id="a",
                     facts=[{"subject": "ana", "attribute": "seat", "value": "window"}])
    manager.add_turn("ana", "s2", "Ana", "Aisle from now on.", ts=T0 + DAY, turn_id="b",
                     facts=[Statement(FactKey("Ana", "Seat"), "aisle")])
    assert [item.id for item in manager.history("ana")] == ["a"]
    found = await manager.recall("s3", "ana", "which seat does Ana want?", 200)
    assert "(was: window, until" in found.text and stale_free(found.text, "window")
    with pytest.raises(ValueError, match="subject and an attribute"):
        manager.add_turn("ana", "s1", "Ana", "x", facts=[{"attribute": "seat"}])


async def test_the_task_as_query_moves_recalled_facts_first(embedder: Any) -> None:
    """A deliberation recalls with its task, which names no attribute: facts found still lead."""
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s1", "Ana", "My budget is 1500 EUR.", ts=T0, date="7 May 2023")
    manager.add_turn("ana", "s1", "Ana", "Lisbon trams are lovely.", ts=T0 + 1, date="7 May 2023")
    manager.add_turn("ana", "s2", "Ana", "My budget is now 1800 EUR for the Lisbon trip.", ts=T0 + DAY, date="8 May 2023")
    found = await manager.recall("s3", "ana", "Plan a 3-day trip to Lisbon", 400)
    assert found.text.startswith(f"{FACTS_HEADER}\n- [8 May 2023] Ana: My budget is now 1800 EUR")
    assert EPISODIC_HEADER in found.text and "Lisbon trams" in found.text
    assert stale_free(found.text, "1500 EUR") and found.tokens <= 400


async def test_a_snapshot_keeps_what_is_current_and_the_history(embedder: Any, tmp_path: Path) -> None:
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s1", "Ana", "I live in Lisbon.", ts=T0, turn_id="t1")
    manager.add_turn("ana", "s2", "Ana", "I moved to Porto.", ts=T0 + DAY, turn_id="t2")
    manager.save(tmp_path / "index.npz")

    restarted = MemoryManager(embedder=embedder)
    assert restarted.load(tmp_path / "index.npz")
    assert [item.id for item in restarted.history("ana")] == ["t1"]
    restarted.add_turn("ana", "s3", "Ana", "I relocated to Oslo.", ts=T0 + 2 * DAY, turn_id="t3")
    found = await restarted.recall("s4", "ana", "Where does Ana live?", 300)
    assert "Oslo" in found.text and stale_free(found.text, "Lisbon", "Porto")
    assert [item.id for item in restarted.history("ana")] == ["t1", "t2"]


async def test_agents_see_the_current_fact_first_with_its_date(embedder: Any, classic_script: dict[str, Any]) -> None:
    """`{memory}` in a deliberation prompt: the current budget first, dated, the old one marked."""
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s1", "Ana", "My budget is 1500 EUR.", ts=T0, date="2023-05-07")
    manager.add_turn("ana", "s2", "Ana", "My budget is now 1800 EUR for the Lisbon trip.", ts=T0 + DAY, date="2023-05-08")
    runtime, model = scripted_runtime(classic_script)
    runtime.memory = manager
    await runtime.orchestrator().run("Plan a 3-day trip to Lisbon", user_id="ana")
    prompt = next(c["messages"][-1].content for c in model.calls if c["agent"] == "optimistic")
    recalled = prompt[prompt.index(FACTS_HEADER):]
    assert recalled.splitlines()[1] == (
        "- [2023-05-08] Ana: My budget is now 1800 EUR for the Lisbon trip. (was: 1500 EUR, until 2023-05-08)")
    assert "My budget is 1500 EUR." not in prompt


# -- the episodic stores (record, rebuild) -----------------------------------------------------


async def test_records_supersede_in_the_store_and_a_rebuild_keeps_it(embedder: Any, episodic: EpisodicStore) -> None:
    manager = MemoryManager(embedder=embedder, episodic=episodic)
    records = dialogue()
    await manager.record(records[:6])
    await manager.record(records[6:])

    stored = {r.id: r for r in await episodic.query("ana", limit=100)}
    assert len(stored) == len(records)  # nothing leaves the store: history is kept
    marked = {i: (r.data["superseded_by"], r.data["valid_until"]) for i, r in stored.items() if "superseded_by" in r.data}
    assert marked == {"ana-0-0": ("ana-3-2", "2023-05-10"), "ana-0-1": ("ana-5-3", "2023-05-12"),
                      "ana-3-2": ("ana-9-4", "2023-05-16")}

    async def check(m: MemoryManager) -> None:
        home = await m.recall("s", "ana", "Where does Ana live now?", 300)
        budget = await m.recall("s", "ana", "What is Ana's budget?", 300)
        assert "Oslo" in home.text and stale_free(home.text, "Lisbon", "Porto")
        assert "1800 EUR" in budget.text and stale_free(budget.text, "1500 EUR")
        assert "(was: 1500 EUR, until 2023-05-12)" in budget.text

    await check(manager)
    restarted = MemoryManager(embedder=embedder, episodic=episodic)  # a new process, same store
    assert await restarted.rebuild("ana") == len(records)
    await check(restarted)
    assert {item.id for item in restarted.history("ana")} == set(marked)


async def test_a_record_can_carry_its_key(embedder: Any, episodic: EpisodicStore) -> None:
    manager = MemoryManager(embedder=embedder, episodic=episodic)
    key = {"subject": "ana", "attribute": "loyalty tier", "value": "silver"}
    await manager.record([turn("ana", "Silver, as before.", 0, 1, fact=key)])
    await manager.record([turn("ana", "They upgraded me.", 1, 1, fact={**key, "value": "gold"})])
    assert [item.id for item in manager.history("ana")] == ["ana-0-1"]
    found = await manager.recall("s", "ana", "What loyalty tier does Ana have?", 200)
    assert "They upgraded me" in found.text and "(was: silver" in found.text


async def test_run_entries_and_assistant_turns_state_nothing(embedder: Any) -> None:
    manager = MemoryManager(embedder=embedder, episodic=InProcessEpisodic())
    decision = EpisodicRecord(user_id="ana", session_id="s", run_id="r", task="t", stage="synthesis", agent="synthesizer",
                              round=1, kind="decision", text="I live in Lisbon says the plan", ts=T0, id="d")
    await manager.record([decision, turn("ana", "You live in Porto now.", 0, 2, speaker="assistant")])
    assert manager.facts.ledger.current("ana") == {}


# -- semantic memory ---------------------------------------------------------------------------


async def test_semantic_memory_updates_a_fact_with_the_same_key_instead_of_adding_one(embedder: Any) -> None:
    """A weak model inserts the new home beside the old one; the key makes it an update."""
    model = provider(lambda existing: [call("Fact", {"content": "Ana lives in Porto."})],
                     lambda existing: [call("Fact", {"content": "Ana moved to Lisbon."})])
    memory = SemanticMemory(memory_store(embedder=embedder), model, embedder=embedder)
    (first,) = await memory.extract("ana", "I'm Ana, I live in Porto.")
    (second,) = await memory.extract("ana", "Big news: I moved to Lisbon!")
    assert (second.action, second.key, second.text) == ("update", first.key, "Ana moved to Lisbon.")
    (item,) = await memory.items("ana")
    stored = await memory.store.aget(tuple(item.meta["namespace"]), item.id)
    assert stored is not None and stored.value["fact_key"] == "user|home"
    assert [p["text"] for p in stored.value["previous"]] == ["Ana lives in Porto."]


async def test_semantic_memories_in_recall_carry_the_date_they_were_last_updated(embedder: Any) -> None:
    memory = SemanticMemory(memory_store(embedder=embedder), None, embedder=embedder)
    await memory.remember("ana", "User lives in Porto.")
    await memory.remember("ana", "User moved to Lisbon.")
    manager = MemoryManager(embedder=embedder, semantic=memory)
    found = await manager.recall("s", "ana", "Where does the user live?", 300)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"{SEMANTIC_HEADER}\n[{today}] User moved to Lisbon." in found.text and "Porto" not in found.text


async def test_semantic_memory_finds_the_keyed_fact_even_when_search_does_not(embedder: Any, store: BaseStore) -> None:  # noqa: F811
    """On every store (in memory, SQLite, PostgreSQL): the stored key is found by a filter."""
    memory = SemanticMemory(store, None, embedder=embedder, existing_limit=1)
    await memory.remember("ana", "The user's budget is 1500 EUR.")
    for i in range(8):
        await memory.remember("ana", f"Ana collects stamps from country number {i}.")
    change = await memory.remember("ana", "Loves a good deal.", key=FactKey("user", "budget"))
    assert change is not None and change.action == "update"
    texts = [item.text for item in await memory.items("ana")]
    assert "Loves a good deal." in texts and not any("1500" in t for t in texts)
    other = await memory.remember("ana", "Rita lives in Porto.")
    assert other is not None and other.action == "insert"  # someone else's home is not the user's


# -- bad input ---------------------------------------------------------------------------------


async def test_bad_input_gets_a_clean_answer_or_a_clear_error(embedder: Any, episodic: EpisodicStore) -> None:
    manager = MemoryManager(embedder=embedder, episodic=episodic)
    await manager.record(dialogue())
    before = len(await episodic.query("ana", limit=1000))

    with pytest.raises(UsageError, match="empty"):
        manager.add_turn("ana", "s", "Ana", "   ")
    with pytest.raises(UsageError, match="budget_tokens must be >= 0"):
        await manager.recall("s", "ana", "where?", -1)
    with pytest.raises(UsageError, match="user_id"):
        await manager.recall("s", "", "where?", 100)

    # non-UTF-8: bytes and surrogate-escaped text become U+FFFD, in the index and in Redis
    raw = b"I live in Bergen \xff\xfe."
    manager.add_turn("ana", "s9", "Ana", raw, ts=T0 + 20 * DAY, turn_id="bytes")
    escaped = raw.decode("utf-8", errors="surrogateescape")
    await manager.record([turn("ana", escaped + " Lone \ud800 too.", 21, 1)])
    (stored,) = [r for r in await episodic.query("ana", limit=1000) if r.id == "ana-21-1"]
    assert "\ufffd" in stored.text and "\ud800" not in stored.text

    # a huge turn is kept; it never fits a small budget, and recall stays within it
    huge = "I love long stories. " + "and then " * 20_000
    started = time.perf_counter()
    manager.add_turn("ana", "s9", "Ana", huge, ts=T0 + 22 * DAY, turn_id="huge")
    found = await manager.recall("s", "ana", "long stories", 200)
    assert found.tokens <= 200 and time.perf_counter() - started < 20
    assert manager.index.get("ana", "huge") is not None

    # a user with no memory, a budget below one item
    nobody = await manager.recall("s", "nobody", "Where does nobody live?", 1000)
    assert (nobody.text, nobody.tokens, nobody.items) == ("", 0, [])
    tiny = await manager.recall("s", "ana", "Where does Ana live now?", 3)
    assert tiny.tokens <= 3 and tiny.text == ""
    zero = await manager.recall("s", "ana", "Where does Ana live now?", 0)
    assert (zero.text, zero.tokens) == ("", 0)

    # nothing was lost: every record is still stored, the current home is the newest
    assert len(await episodic.query("ana", limit=1000)) == before + 1
    home = await manager.recall("s", "ana", "Where does Ana live now?", 400)
    assert "Bergen" in home.text and stale_free(home.text, "Lisbon", "Porto", "Oslo")
