"""Procedural memory: versioned rules per agent, prompts built from them, LangMem's optimizer.

The scripted model answers LangMem's metaprompt optimizer as a capable provider does: one call
of the `OptimizedPromptOutput` tool that trustcall binds, carrying the complete new rules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from moot.errors import ModelError, UsageError
from moot.memory.embedder import get_embedder
from moot.memory.procedural import (
    RULES_HEADING,
    ProceduralMemory,
    build_prompt,
    is_capable,
)
from moot.memory.stores import make_store, memory_store
from moot.models.local import LocalLLMChatModel
from moot.models.scripted import ScriptedChatModel

POSTGRES = os.environ.get("MOOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BASE = "You are the planner. Plan trips within the budget."
SESSION = [
    {"role": "user", "content": "Plan 3 days in Lisbon under 1500 EUR."},
    {"role": "assistant", "content": "Day 1: flights from Porto, 240 USD ..."},
]


def optimizer_answer(rules: str) -> ScriptedChatModel:
    def script(messages: list[BaseMessage], info: dict[str, Any]) -> AIMessage:
        args = {"analysis": "Prices were given in USD; the user pays in EUR.", "improved_prompt": rules}
        return AIMessage(content="", tool_calls=[{"name": "OptimizedPromptOutput", "args": args, "id": "call_1", "type": "tool_call"}])

    return ScriptedChatModel(script=script)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BaseStore]:
    """The same three stores as semantic memory (PostgreSQL: the real server, a fresh schema)."""
    embedder = get_embedder("wordllama")
    if request.param != "postgres":
        path = tmp_path / ("memory.json" if request.param == "memory" else "memory.sqlite")
        async with make_store(request.param, embedder=embedder, path=path) as opened:
            yield opened
        return
    schema = f"moot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        async with make_store("postgres", embedder=embedder, dsn=f"{POSTGRES}?options=-csearch_path%3D{schema}") as opened:
            yield opened
    finally:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def test_every_change_is_a_new_version_and_none_is_overwritten(store: BaseStore) -> None:
    memory = ProceduralMemory(store)

    first = await memory.set("planner", "- Quote prices in EUR.", "the user pays in EUR")
    await asyncio.gather(*(memory.set("planner", f"- Rule {n}.", f"change {n}") for n in range(4)))
    await memory.set("critic.v2", "- Check the budget first.", "a dotted agent name")

    history = await memory.history("planner")
    assert [p.version for p in history] == [1, 2, 3, 4, 5]
    assert history[0] == first and first.text == "- Quote prices in EUR." and first.reason == "the user pays in EUR"
    assert sorted(p.text for p in history[1:]) == [f"- Rule {n}." for n in range(4)]
    assert await memory.get("planner") == history[-1]
    assert [p.text for p in await memory.history("critic.v2")] == ["- Check the budget first."]
    assert await memory.get("nobody") is None and await memory.history("nobody") == []


async def test_an_agents_prompt_is_its_base_prompt_and_its_latest_rules() -> None:
    memory = ProceduralMemory(InMemoryStore())
    assert await memory.prompt("planner", BASE) == BASE  # no rules yet: the base prompt as it is

    await memory.set("planner", "- Quote prices in EUR.", "first rules")
    await memory.set("planner", "- Quote prices in EUR.\n- Prefer trains under 4 hours.", "user prefers trains")

    assert await memory.prompt("planner", BASE) == (
        f"{BASE}\n\n{RULES_HEADING}\n- Quote prices in EUR.\n- Prefer trains under 4 hours."
    )
    assert await memory.prompt("critic", BASE) == BASE  # rules belong to one agent
    assert build_prompt(BASE, "") == BASE and build_prompt(BASE, None) == BASE


async def test_feedback_goes_through_langmems_prompt_optimizer_with_a_capable_model() -> None:
    memory = ProceduralMemory(InMemoryStore())
    before = await memory.set("planner", "- Be brief.", "initial rules")
    model = optimizer_answer("- Be brief.\n- Quote every price in EUR.")

    after = await memory.improve("planner", "Prices were in USD.", model, base_prompt=BASE, sessions=[SESSION])

    assert (after.version, after.source, after.text) == (2, "optimizer", "- Be brief.\n- Quote every price in EUR.")
    assert after.reason == "feedback: Prices were in USD."
    assert await memory.history("planner") == [before, after]
    (request,) = model.calls  # one call: the metaprompt optimizer's final step
    assert request["kwargs"]["tool_choice"] == "OptimizedPromptOutput"
    prompt = request["messages"][-1].content
    for seen in ("- Be brief.", "Prices were in USD.", BASE, "240 USD"):
        assert seen in prompt


async def test_without_a_capable_model_the_feedback_becomes_a_rule(caplog: pytest.LogCaptureFixture) -> None:
    memory = ProceduralMemory(InMemoryStore())

    first = await memory.improve("planner", "Quote prices in EUR.")  # no model at all
    local = LocalLLMChatModel()  # the embedded 135M model is not trusted to rewrite rules
    second = await memory.improve("planner", "Prefer trains.", local)
    with caplog.at_level(logging.WARNING, logger="moot.memory.procedural"):
        third = await memory.improve("planner", "Stay under budget.", ScriptedChatModel(script=[ModelError("down")]))

    assert not is_capable(None) and not is_capable(local) and is_capable(ScriptedChatModel())
    assert [p.source for p in (first, second, third)] == ["feedback"] * 3
    assert third.text == "- Quote prices in EUR.\n- Prefer trains.\n- Stay under budget."
    assert "prompt optimizer failed for 'planner'" in caplog.text


async def test_versions_survive_a_restart(tmp_path: Path) -> None:
    embedder = get_embedder("wordllama")
    path = tmp_path / "memory.json"
    await ProceduralMemory(memory_store(path, embedder=embedder)).set("planner", "- Quote prices in EUR.", "initial")

    reopened = ProceduralMemory(memory_store(path, embedder=embedder))

    assert (await reopened.get("planner")).text == "- Quote prices in EUR."  # type: ignore[union-attr]
    assert (await reopened.set("planner", "- Be brief.", "next")).version == 2


async def test_mistakes_are_reported_with_the_fix() -> None:
    memory = ProceduralMemory(InMemoryStore())
    with pytest.raises(UsageError, match="give a reason"):
        await memory.set("planner", "- Rule.", " ")
    with pytest.raises(UsageError, match="non-empty agent name"):
        await memory.get("")
    with pytest.raises(UsageError, match="feedback for 'planner' is empty"):
        await memory.improve("planner", "")
