"""An answer cut off at the token limit is asked again with more room (or a smaller ask), without
spending one of the agent's repairs.

The cut-off answer is scripted as a provider sends it: invalid JSON with
`response_metadata={"finish_reason": "length"}`; each call's bound kwargs are in
`ScriptedChatModel.calls[i]["kwargs"]`.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel, Field

from moot.agents.schemas import NoteOutput
from moot.agents.structured import Room, ainvoke_structured, cut_off
from moot.errors import AgentOutputError
from moot.models.scripted import ScriptedChatModel

ASK = [HumanMessage(content="Name the options.")]


class Options(BaseModel):
    items: list[str] = Field(min_length=1, max_length=8)


class Capped(ScriptedChatModel):
    """A scripted model with an answer limit, as a provider's chat model has (`max_tokens`)."""

    max_tokens: int = 100


def cut(text: str = '{"note": "The first option is the cheapest and the') -> AIMessage:
    return AIMessage(content=text, response_metadata={"finish_reason": "length"})


def sent_schema(call: dict[str, Any]) -> dict[str, Any]:
    return call["kwargs"]["response_format"]["json_schema"]["schema"]


def test_cut_off_reads_each_providers_stop_reason() -> None:
    assert cut_off(AIMessage(content="", response_metadata={"finish_reason": "length"}))  # OpenAI, llama.cpp
    assert cut_off(AIMessage(content="", response_metadata={"stop_reason": "max_tokens"}))  # Anthropic
    assert cut_off(AIMessage(content="", response_metadata={"done_reason": "length"}))  # Ollama
    assert not cut_off(AIMessage(content="", response_metadata={"finish_reason": "stop"}))
    assert not cut_off(AIMessage(content=""))


def test_a_scripted_answer_keeps_its_response_metadata() -> None:
    """What the cut-off tests below rest on: the scripted model hands the answer's own metadata
    (its finish_reason) to the caller, as a provider does, beside its own model name."""
    answer = ScriptedChatModel(script=[cut()]).invoke(ASK)
    assert answer.response_metadata.get("finish_reason") == "length"


async def test_a_cut_off_answer_is_asked_again_with_twice_the_room() -> None:
    model = Capped(script=[cut(), {"note": "The first option is the cheapest."}])
    output, usage = await ainvoke_structured(model, ASK, NoteOutput, agent="scribe", max_repairs=0)
    assert output.note == "The first option is the cheapest."
    assert usage.calls == 2
    assert "max_tokens" not in model.calls[0]["kwargs"]  # the model's own limit, 100
    assert model.calls[1]["kwargs"]["max_tokens"] == 200
    assert model.calls[1]["messages"] == ASK  # the same question, not a repair prompt


async def test_without_a_token_limit_to_grow_the_ask_gets_smaller() -> None:
    model = ScriptedChatModel(script=[cut('{"items": ["a", "b", "c", "d", "e", "f", "g'), {"items": ["a", "b", "c"]}])
    output, _ = await ainvoke_structured(model, ASK, Options, agent="lister", max_repairs=0)
    assert output.items == ["a", "b", "c"]
    assert sent_schema(model.calls[0])["properties"]["items"]["maxItems"] == 8
    assert sent_schema(model.calls[1])["properties"]["items"]["maxItems"] == 4
    assert model.calls[1]["messages"] == ASK


async def test_cut_off_retries_are_bounded_and_then_repairs_count() -> None:
    model = Capped(script=[cut()])
    with pytest.raises(AgentOutputError) as info:
        await ainvoke_structured(model, ASK, NoteOutput, agent="scribe", max_repairs=1)
    assert info.value.attempts == 2
    assert len(model.calls) == 2 + Room.LIMIT  # two cut-off retries on top of the answer and its repair


# --- Room on its own --------------------------------------------------------------------------

def test_room_doubles_up_to_four_times_the_models_limit_then_halves_the_lists() -> None:
    schema = Options.model_json_schema()
    room = Room(Capped(script=[]), schema)
    assert room.base == room.max_tokens == 100
    assert room.grow() and room.max_tokens == 200 and room.schema == schema
    assert room.grow() and room.max_tokens == 400
    assert not room.grow()  # Room.LIMIT retries


def test_room_never_grows_past_half_the_context() -> None:
    room = Room(Capped(script=[], profile={"max_input_tokens": 300}), Options.model_json_schema())
    assert room.grow()  # 200 would exceed 150: the lists are halved instead
    assert room.max_tokens == 100 and room.schema["properties"]["items"]["maxItems"] == 4


def test_room_binds_the_grown_limit_to_the_model() -> None:
    model = Capped(script=[])
    room = Room(model, Options.model_json_schema())
    assert room.model() is model
    room.grow()
    assert room.model().kwargs == {"max_tokens": 200}  # type: ignore[attr-defined]


def test_a_schema_without_lists_cannot_be_made_smaller() -> None:
    room = Room(ScriptedChatModel(script=[]), NoteOutput.model_json_schema())
    assert room.base is None
    assert not room.grow()


def test_halving_keeps_at_least_the_minimum_items() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "array", "minItems": 3, "maxItems": 4}, "b": {"type": "array", "maxItems": 1}}}
    room = Room(ScriptedChatModel(script=[]), schema)
    assert room.grow()
    assert room.schema["properties"]["a"]["maxItems"] == 3 and room.schema["properties"]["b"]["maxItems"] == 1
    assert schema["properties"]["a"]["maxItems"] == 4  # the caller's schema is not changed
