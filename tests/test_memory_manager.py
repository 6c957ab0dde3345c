"""The MemoryManager: recall over the layers within a budget, isolation, and recall in agents' prompts."""

from __future__ import annotations

import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from conftest import scripted_runtime

from moot.errors import PolicyViolation, UsageError
from moot.events import EventBus
from moot.memory.embedder import get_embedder
from moot.memory.episodic import InProcessEpisodic
from moot.memory.facts.section import FACTS_HEADER
from moot.memory.manager import EPISODIC_HEADER, SEMANTIC_HEADER, MemoryManager
from moot.memory.semantic import SemanticMemory
from moot.memory.stores import memory_store
from moot.memory.semantic.tools import MemoryTools
from moot.memory.types import EpisodicRecord
from moot.models.scripted import ScriptedChatModel

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
DIALOGUE = [
    ("Ana", "I am vegetarian, so no seafood dinners please."),
    ("Bot", "Noted, vegetarian restaurants only."),
    ("Ana", "My sister Rita lives in Porto and might join for a day."),
    ("Bot", "Then a day trip to Porto could work."),
    ("Ana", "I hate early flights; anything before 9 am is out."),
    ("Bot", "Understood, late morning departures."),
] + [("Ana", f"Small talk number {i} about the weather and football.") for i in range(30)]


@pytest.fixture(scope="module")
def embedder() -> Any:
    return get_embedder("wordllama")


def _manager(embedder: Any, **kwargs: Any) -> MemoryManager:
    manager = MemoryManager(embedder=embedder, **kwargs)
    for i, (speaker, text) in enumerate(DIALOGUE):
        manager.add_turn("ana", f"s{i // 6}", speaker, text, ts=1_700_000_000 + i * 60, turn_id=f"t{i}")
    return manager


async def test_recall_finds_what_matters_within_the_budget(embedder: Any) -> None:
    manager = _manager(embedder)
    for budget in (40, 120, 400):
        found = await manager.recall("s9", "ana", "Which flight times does Ana refuse?", budget)
        assert found.tokens <= budget
        assert embedder.count_tokens(found.text) <= budget
    found = await manager.recall("s9", "ana", "Which flight times does Ana refuse?", 400)
    assert "early flights" in found.text and found.text.startswith(EPISODIC_HEADER)
    assert found.sources == {"episodic": len(found.items)}
    assert "t4" in [item.id for item in found.items]


async def test_no_call_path_returns_another_users_memory(embedder: Any) -> None:
    manager = _manager(embedder)
    manager.add_turn("bob", "b1", "Bob", "I love seafood and early flights.", turn_id="b-t1")
    for query in ("early flights", "seafood", "vegetarian", "Ana"):
        found = await manager.recall("b1", "bob", query, 500)
        assert {item.user_id for item in found.items} <= {"bob"}
        assert "vegetarian" not in found.text and "Porto" not in found.text
    with pytest.raises(UsageError):
        await manager.recall("s", "", "anything", 100)
    assert manager.forget_user("bob") == 1
    assert (await manager.recall("b1", "bob", "seafood", 500)).items == []


async def test_semantic_memories_come_first_in_a_bounded_share(embedder: Any) -> None:
    semantic = SemanticMemory(memory_store(embedder=embedder), None, embedder=embedder)
    await semantic.remember("ana", "Ana is vegetarian")
    await semantic.remember("ana", "Ana refuses flights before 9 am")
    await semantic.remember("zoe", "Zoe only flies business class")
    manager = _manager(embedder, semantic=semantic, semantic_share=0.3)
    found = await manager.recall("s9", "ana", "What does Ana eat and when does she fly?", 300)
    # current facts the query names come first (issue 16), then the semantic share, then episodes
    assert found.text.startswith(FACTS_HEADER) and "Ana is vegetarian" in found.text
    assert found.text.index(FACTS_HEADER) < found.text.index(SEMANTIC_HEADER) < found.text.index(EPISODIC_HEADER)
    assert "business class" not in found.text
    assert found.sources.get("semantic", 0) >= 1 and found.sources.get("episodic", 0) >= 1
    assert found.tokens <= 300


async def test_run_records_go_to_the_episodic_store_and_to_recall(embedder: Any) -> None:
    episodic = InProcessEpisodic()
    manager = MemoryManager(embedder=embedder, episodic=episodic)
    record = EpisodicRecord(
        user_id="ana", session_id="s1", run_id="r1", task=TASK, stage="synthesis", agent="synthesizer", round=1,
        kind="decision", text="synthesizer chose alfama-walks: walkable, cheap, low risk", ts=time.time(), id="r1-d",
    )
    await manager.record([record])
    assert [r.id for r in await episodic.query("ana", kind="decision")] == ["r1-d"]
    found = await manager.recall("s2", "ana", "which plan did the synthesizer choose last time?", 200)
    assert "alfama-walks" in found.text


async def test_agents_receive_recall_in_their_prompt(embedder: Any, classic_script: dict[str, Any]) -> None:
    manager = _manager(embedder)
    runtime, model = scripted_runtime(classic_script)
    runtime.memory = manager
    await runtime.orchestrator().run(TASK, user_id="ana")
    prompts = {c["agent"]: c["messages"][-1].content for c in model.calls}
    assert "What you remember:" in prompts["optimistic"]
    assert any(t in prompts["optimistic"] for t in ("vegetarian", "early flights", "Porto"))

    stranger, model2 = scripted_runtime(classic_script)
    stranger.memory = manager
    await stranger.orchestrator().run(TASK, user_id="someone-else")
    assert all("What you remember" not in c["messages"][-1].content for c in model2.calls)


async def test_compaction_keeps_the_facts_that_later_turns_ask_about(embedder: Any) -> None:
    """A long scripted dialogue: the old turns become one summary; recall of a fact the summary
    kept still finds it, and the recalled context no longer grows with the dialogue."""
    manager = MemoryManager(embedder=embedder, episodic=InProcessEpisodic())
    for i, (speaker, text) in enumerate(DIALOGUE):
        manager.add_turn("ana", "long", speaker, text, ts=time.time() + i, turn_id=f"L{i}")
    summary = "Ana is vegetarian. Her sister Rita lives in Porto and may join for a day. Ana refuses flights before 9 am."
    model = ScriptedChatModel(script=[summary])
    before = manager.index.count("ana")
    made = await manager.compact("ana", "long", model, keep_recent=10)
    assert made is not None and manager.index.count("ana") == before - (len(DIALOGUE) - 10) + 1
    assert "Keep every fact" in model.calls[0]["messages"][0].content
    assert "vegetarian, so no seafood" in model.calls[0]["messages"][1].content  # the old turns were summarised
    found = await manager.recall("long", "ana", "Where does Ana's sister live?", 150)
    assert "Rita lives in Porto" in found.text and found.tokens <= 150
    stored = await manager.episodic.query("ana", kind="summary")
    assert stored and stored[0].data["replaces"][0] == "L0"
    assert await manager.compact("ana", "long", model, keep_recent=10) is None  # nothing old enough is left


async def test_observed_runs_are_recorded_and_recalled_by_their_user(embedder: Any, classic_script: dict[str, Any]) -> None:
    episodic = InProcessEpisodic()
    extractor = ScriptedChatModel(script=[AIMessage(content="")])  # extracts nothing; we check what it was given
    semantic = SemanticMemory(memory_store(embedder=embedder), extractor, embedder=embedder)
    manager = MemoryManager(embedder=embedder, episodic=episodic, semantic=semantic)
    runtime, _ = scripted_runtime(classic_script)
    bus = EventBus()
    recorder = manager.observe(bus)
    await runtime.orchestrator(bus=bus).run(TASK, user_id="ana", session_id="trip")
    await recorder.flush()
    kinds = {r.kind for r in await episodic.query("ana", session_id="trip")}
    assert {"proposal", "review", "decision"} <= kinds
    found = await manager.recall("next", "ana", "Which Lisbon plan was chosen last time?", 300)
    assert "alfama-walks" in found.text
    assert (await manager.recall("next", "bob", "Which Lisbon plan was chosen last time?", 300)).items == []
    await semantic.flush()  # extraction ran in the background, after the run had finished
    seen = " ".join(str(m.content) for call in extractor.calls for m in call["messages"])
    assert "The moot chose alfama-walks" in seen and TASK in seen


async def test_memory_tools_follow_the_write_policy_and_stay_in_the_users_namespace(embedder: Any) -> None:
    semantic = SemanticMemory(memory_store(embedder=embedder), None, embedder=embedder)
    tools = MemoryTools(semantic, writers=["synthesizer"])
    with pytest.raises(PolicyViolation, match="'critic' may not write 'memory'; allowed writers: synthesizer"):
        tools.for_agent("critic", "ana", write=True)
    search, manage = tools.for_agent("synthesizer", "ana", write=True)
    assert (search.name, manage.name) == ("search_memory", "manage_memory")
    await manage.ainvoke({"action": "create", "content": "Ana prefers trains to planes"})
    (bob_search,) = tools.for_agent("critic", "bob")
    assert "trains" not in str(await bob_search.ainvoke({"query": "trains"}))
    assert "trains" in str(await search.ainvoke({"query": "how does Ana like to travel?"}))
    assert [m.text for m in await semantic.search("ana", "travel", 5) if "trains" in m.text]


def test_memory_writers_come_from_the_policy_file(workspace_copy: Any) -> None:
    from moot.errors import WorkspaceError
    from moot.workspace.loader import load_workspace

    policy = workspace_copy / "policy.yaml"
    policy.write_text(policy.read_text() + "memory_writers: [synthesizer]\n")
    assert load_workspace(workspace_copy).policy.memory_writers == {"synthesizer"}
    policy.write_text(policy.read_text().replace("memory_writers: [synthesizer]", "memory_writers: [nobody]"))
    with pytest.raises(WorkspaceError, match="memory writer 'nobody'") as info:
        load_workspace(workspace_copy)
    assert info.value.line == len(policy.read_text().splitlines())


def test_moot_run_with_a_user_remembers_across_processes(tmp_path: Any) -> None:
    """`moot run --user` records the run in the embedded memory under $MOOT_HOME; the next
    process loads it (the recall index snapshot) and recalls it for that user only."""
    import subprocess

    import numpy as np
    from clitools import cli_env, moot_cmd
    from conftest import CLASSIC, CLASSIC_SCRIPT

    home = tmp_path / "home"
    script = f"scripted:{CLASSIC_SCRIPT}"
    for user in ("ana", "ana"):
        done = subprocess.run(moot_cmd("run", TASK, "-w", str(CLASSIC), "--model", script, "--user", user, "--json"), env=cli_env(home),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    snapshot = np.load(home / "memory" / "index.npz", allow_pickle=False)
    assert set(snapshot["user_ids"].tolist()) == {"ana"}
    texts = snapshot["texts"].tolist()
    assert any("alfama-walks" in t for t in texts) and len(texts) >= 2 * 8  # both runs' entries
    anon = subprocess.run(moot_cmd("run", TASK, "-w", str(CLASSIC), "--model", script, "--user", "bob", "--no-memory"), env=cli_env(home),
                          capture_output=True, text=True, timeout=120)
    assert anon.returncode == 0
    assert set(np.load(home / "memory" / "index.npz")["user_ids"].tolist()) == {"ana"}


async def test_an_agents_prompt_is_built_from_its_procedural_rules(embedder: Any, classic_script: dict[str, Any]) -> None:
    from moot.memory.procedural import RULES_HEADING, ProceduralMemory

    procedural = ProceduralMemory(memory_store(embedder=embedder))
    await procedural.set("critic", "Always check the total against the stated budget.", "budget misses in past runs")
    await procedural.set("critic", "Always check the total against the budget; flag hidden fees.", "feedback: fees")
    manager = MemoryManager(embedder=embedder, procedural=procedural)
    runtime, model = scripted_runtime(classic_script)
    runtime.memory = manager
    await runtime.orchestrator().run(TASK, user_id="ana")
    systems = {c["agent"]: c["messages"][0].content for c in model.calls}
    assert systems["critic"].endswith(f"{RULES_HEADING}\nAlways check the total against the budget; flag hidden fees.")
    assert RULES_HEADING not in systems["optimistic"]  # only the critic has rules
    assert len(await procedural.history("critic")) == 2
