"""LangMem's memory managers running on moot's chat models, through LangMem's own code path.

`create_memory_manager` hands the model to trustcall, which asks only this of it: `bind_tools`
(OpenAI-format function dicts; `tool_choice` None for a first extraction, "any" when existing
memories may be patched or a validation error repaired), then `invoke`/`ainvoke` returning an
`AIMessage` whose `tool_calls` name a bound tool. trustcall validates each call's arguments
against the schema and turns them into the memory objects; an invalid call (e.g. one cut off at
`max_tokens`, which arrives as an `invalid_tool_call`) is dropped, never raised.

The scripted model plays the calls a capable provider would make, so the tests can assert the
extracted content. The embedded 135M model is weak: its tests assert structure, never truth.
Its strings are given a `max_length` because the decoder is constrained to the schema: a bounded
string always closes within `max_tokens`, an unbounded one can loop until it is cut off.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.outputs import LLMResult
from langgraph.store.memory import InMemoryStore
from langmem import create_memory_manager, create_memory_store_manager
from langmem.knowledge.extraction import ExtractedMemory, Memory
from pydantic import BaseModel, Field

from moot.models.local import LocalLLMChatModel
from moot.models.scripted import ScriptedChatModel

CONVERSATION = [
    {"role": "user", "content": "Hi! I'm Ana. I live in Porto and I am vegetarian."},
    {"role": "assistant", "content": "Nice to meet you, Ana!"},
]
MOVED = [
    {"role": "user", "content": "I moved from Porto to Lisbon last month."},
    {"role": "assistant", "content": "Welcome to Lisbon!"},
]
SHORT_INSTRUCTIONS = "Record what you learn about the user."


class UserFact(BaseModel):
    """Record one fact about the user."""

    content: str = Field(max_length=100, description="One short fact about the user")


class UserPreference(BaseModel):
    """Record one preference the user stated."""

    category: str = Field(max_length=20, description="food, travel, music, ...")
    preference: str = Field(max_length=60, description="What the user prefers")


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def calls(*tool_calls: dict[str, Any]) -> AIMessage:
    """A provider's answer made of tool calls (several at once, as a capable model does)."""
    return AIMessage(content="", tool_calls=list(tool_calls))


def tool_names(model_call: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in model_call["kwargs"]["tools"]]


class Answers(BaseCallbackHandler):
    """Keeps every answer the model gave, to compare with what LangMem made of it."""

    def __init__(self) -> None:
        self.messages: list[AIMessage] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        message = response.generations[0][0].message  # type: ignore[attr-defined]
        self.messages.append(message)


# -- the scripted model: the exact calls trustcall expects ------------------------------------


async def test_memory_manager_extracts_the_memories_the_model_calls_for() -> None:
    model = ScriptedChatModel(
        script=[
            calls(
                call("Memory", {"content": "The user is called Ana and lives in Porto."}, "call_1"),
                call("Memory", {"content": "Ana is vegetarian."}, "call_2"),
            )
        ]
    )
    manager = create_memory_manager(model)

    memories = await manager.ainvoke({"messages": CONVERSATION})

    assert all(isinstance(memory, ExtractedMemory) for memory in memories)
    assert [memory.content for memory in memories] == [
        Memory(content="The user is called Ana and lives in Porto."),
        Memory(content="Ana is vegetarian."),
    ]
    assert len({memory.id for memory in memories}) == 2
    (first,) = model.calls
    assert tool_names(first) == ["Memory"] and first["kwargs"]["tool_choice"] is None
    assert "I live in Porto and I am vegetarian" in first["messages"][-1].content


def test_memory_manager_with_a_pydantic_schema_returns_instances_of_it() -> None:
    answer = calls(call("UserPreference", {"category": "food", "preference": "vegetarian"}, "call_1"))
    model = ScriptedChatModel(script=[answer])
    manager = create_memory_manager(model, schemas=[UserPreference], instructions=SHORT_INSTRUCTIONS)

    memories = manager.invoke({"messages": CONVERSATION})

    assert [memory.content for memory in memories] == [UserPreference(category="food", preference="vegetarian")]
    assert tool_names(model.calls[0]) == ["UserPreference"]
    assert SHORT_INSTRUCTIONS in model.calls[0]["messages"][-1].content


async def test_an_existing_memory_is_patched_in_place() -> None:
    patch = {
        "json_doc_id": "mem-1",
        "planned_edits": "Replace the city: the user moved.",
        "patches": [{"op": "replace", "path": "/content", "value": "Ana lives in Lisbon."}],
    }
    model = ScriptedChatModel(script=[calls(call("PatchDoc", patch, "call_1"))])
    manager = create_memory_manager(model)

    memories = await manager.ainvoke(
        {"messages": MOVED, "existing": [("mem-1", Memory(content="Ana lives in Porto."))]}
    )

    assert memories == [ExtractedMemory(id="mem-1", content=Memory(content="Ana lives in Lisbon."))]
    (first,) = model.calls
    assert first["kwargs"]["tool_choice"] == "any"
    assert set(tool_names(first)) == {"PatchDoc", "Memory"}
    assert "<instance id=mem-1" in first["messages"][0].content


def test_an_invalid_call_is_repaired_by_asking_the_model_for_a_patch() -> None:
    """trustcall's repair loop: a validation error goes back to the model as a tool message."""
    incomplete = calls(call("UserPreference", {"category": "food"}, "call_1"))
    fix = {
        "json_doc_id": "call_1",
        "planned_edits": "Add the missing preference.",
        "patches": [{"op": "add", "path": "/preference", "value": "vegetarian"}],
    }
    model = ScriptedChatModel(script=[incomplete, calls(call("PatchFunctionErrors", fix, "call_2"))], strict=True)
    manager = create_memory_manager(model, schemas=[UserPreference])

    memories = manager.invoke({"messages": CONVERSATION})

    assert [memory.content for memory in memories] == [UserPreference(category="food", preference="vegetarian")]
    extract, repair = model.calls
    assert repair["kwargs"]["tool_choice"] == "any"
    assert "PatchFunctionErrors" in tool_names(repair)
    error = repair["messages"][-1]
    assert isinstance(error, ToolMessage) and error.status == "error" and "preference" in error.content


async def test_memory_store_manager_keeps_memories_per_user_and_updates_them() -> None:
    """Two sessions of one user: the second patches the memory the first stored."""

    def script(messages: list[BaseMessage], info: dict[str, Any]) -> AIMessage:
        system = messages[0]
        found = re.search(r"<instance id=(\S+)", str(system.content)) if isinstance(system, SystemMessage) else None
        if found is None:
            return calls(call("Memory", {"content": "Ana lives in Porto."}, "call_1"))
        patch = [{"op": "replace", "path": "/content", "value": "Ana lives in Lisbon."}]
        args = {"json_doc_id": found.group(1), "planned_edits": "She moved.", "patches": patch}
        return calls(call("PatchDoc", args, "call_2"))

    store = InMemoryStore()
    manager = create_memory_store_manager(
        ScriptedChatModel(script=script), namespace=("memories", "{langgraph_user_id}"), store=store
    )
    ana = {"configurable": {"langgraph_user_id": "ana"}}

    first = await manager.ainvoke({"messages": CONVERSATION}, config=ana)
    second = await manager.ainvoke({"messages": MOVED}, config=ana)

    (item,) = await store.asearch(("memories", "ana"))
    assert item.value == {"kind": "Memory", "content": {"content": "Ana lives in Lisbon."}}
    assert first[0]["key"] == second[0]["key"] == item.key
    assert await store.asearch(("memories", "bob")) == []


# -- the embedded model: LangMem end to end on SmolLM2-135M ----------------------------------


@pytest.fixture(scope="module")
def local() -> LocalLLMChatModel:
    """Room for one bounded memory call even if every character is a token (the schemas' strings
    hold at most 100); the engine is shared with the other tests."""
    chat = LocalLLMChatModel(max_tokens=160)
    chat.engine()
    return chat


def assert_memories_match_answers(
    memories: list[ExtractedMemory], answers: Answers, schema: type[BaseModel]
) -> None:
    """Each valid call of `schema` the model made is one memory of that type; nothing else is."""
    made = [c for m in answers.messages for c in m.tool_calls if c["name"] == schema.__name__]
    new = [memory for memory in memories if not memory.id.startswith("mem-")]
    assert len(new) == len(made)
    for memory, tool_call in zip(new, made, strict=True):
        assert isinstance(memory, ExtractedMemory) and isinstance(memory.content, schema)
        assert memory.content.model_dump() == tool_call["args"]


@pytest.mark.local_model
async def test_local_model_runs_langmem_default_memory_manager(local: LocalLLMChatModel) -> None:
    """LangMem as shipped: its long prompt and its `Memory` schema, whose string is unbounded.

    A 135M model often writes past `max_tokens` there; trustcall then drops the cut-off call,
    so the result may be empty, but it is always a list of `Memory` records.
    """
    answers = Answers()
    manager = create_memory_manager(local.model_copy(update={"max_tokens": 96}))  # same engine

    memories = await manager.ainvoke({"messages": CONVERSATION}, config={"callbacks": [answers]})

    (answer,) = answers.messages
    assert [c["name"] for c in answer.tool_calls] in (["Memory"], [])  # one call at most
    assert len(answer.tool_calls) + len(answer.invalid_tool_calls) <= 1  # a cut-off call is unnamed
    assert answer.usage_metadata and answer.usage_metadata["input_tokens"] > 300
    assert_memories_match_answers(memories, answers, Memory)
    assert all(isinstance(memory.content.content, str) for memory in memories)


@pytest.mark.local_model
@pytest.mark.parametrize("schema", [UserFact, UserPreference])
def test_local_model_extracts_memories_of_a_bounded_schema(local: LocalLLMChatModel, schema: type[BaseModel]) -> None:
    answers = Answers()
    manager = create_memory_manager(local, schemas=[schema], instructions=SHORT_INSTRUCTIONS)

    memories = manager.invoke({"messages": CONVERSATION}, config={"callbacks": [answers]})

    (answer,) = answers.messages
    assert answer.invalid_tool_calls == []  # bounded strings: the call always closes in time
    assert_memories_match_answers(memories, answers, schema)


@pytest.mark.local_model
async def test_local_model_adds_memories_beside_existing_ones(local: LocalLLMChatModel) -> None:
    """With existing memories trustcall forces a call (`tool_choice="any"`).

    Inserts only: with updates on, the 135M model picks `PatchDoc`, whose unbounded strings run
    past `max_tokens` on a ~1,400-token prompt (several seconds), so nothing is ever patched.
    """
    answers = Answers()
    manager = create_memory_manager(
        local, schemas=[UserFact], instructions=SHORT_INSTRUCTIONS, enable_updates=False
    )
    existing = ExtractedMemory(id="mem-1", content=UserFact(content="Ana lives in Porto."))

    memories = await manager.ainvoke(
        {"messages": MOVED, "existing": [existing]}, config={"callbacks": [answers]}
    )

    assert existing in memories
    (answer,) = answers.messages
    assert answer.invalid_tool_calls == [] and len(answer.tool_calls) == 1  # forced: no text answer
    assert_memories_match_answers(memories, answers, UserFact)


@pytest.mark.local_model
async def test_local_model_fills_a_langgraph_store_per_user(local: LocalLLMChatModel) -> None:
    store = InMemoryStore()
    manager = create_memory_store_manager(
        local,
        schemas=[UserFact],
        instructions=SHORT_INSTRUCTIONS,
        namespace=("memories", "{langgraph_user_id}"),
        store=store,
    )

    puts = await manager.ainvoke({"messages": CONVERSATION}, config={"configurable": {"langgraph_user_id": "ana"}})

    stored = await store.asearch(("memories", "ana"))
    assert sorted(item.key for item in stored) == sorted(put["key"] for put in puts)
    for item in stored:
        assert item.value["kind"] == "UserFact"
        UserFact.model_validate(item.value["content"])
    assert await store.asearch(("memories", "bob")) == []
