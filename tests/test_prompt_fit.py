"""Prompts that fit the model's context: sections trimmed in a fixed order, newest lines kept,
instructions and task never; a prompt that cannot fit fails naming the agent.

The scripted model counts tokens by whitespace (`custom_get_token_ids=str.split`, LangChain's own
hook), so every budget below is exact; the embedded model's count is checked against llama.cpp's.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from moot.agents.base import AgentContext
from moot.agents.prompt_fit import MARGIN, TRIM_ORDER, count, fit
from moot.agents.skill import SkillAgent
from moot.errors import ModelError
from moot.models.scripted import ScriptedChatModel

ROOM = 20


class Capped(ScriptedChatModel):
    """A scripted model with an answer limit, as a provider's chat model has (`max_tokens`)."""

    max_tokens: int = ROOM


def model(limit: int | None) -> Capped:
    return Capped(script=[{"note": "ok"}], profile={"max_input_tokens": limit} if limit else None, custom_get_token_ids=str.split)


def lines(name: str, n: int) -> str:
    return "\n".join(f"{name} line {i} of {n}" for i in range(1, n + 1))


VALUES = {
    "instructions": "Weigh the options and answer briefly.",
    "task": "Plan a 3-day trip to Lisbon under 1500 EUR",
    "memory": lines("memory", 8),
    "results": lines("result", 8),
    "reviews": lines("review", 8),
    "candidates": lines("candidate", 4),
    "decision": "winner plan-1: cheapest",
}
SECTIONS = ("memory", "task", "results", "reviews", "candidates", "decision")


def build(values: dict[str, str]) -> list[BaseMessage]:
    brief = "\n".join(f"{key}:\n{values[key]}" for key in SECTIONS if values.get(key))
    return [SystemMessage(content=values["instructions"]), HumanMessage(content=brief)]


def tokens(values: dict[str, str]) -> int:
    return count(model(None), build(values))


def limit_for(budget: int) -> int:
    """The smallest context whose prompt budget (after the margin and the answer's room) is `budget`."""
    limit = budget
    while int(limit * (1 - MARGIN)) - ROOM < budget:
        limit += 1
    return limit


def newest(section: str, n: int, keep: int) -> str:
    return "\n".join(lines(section, n).split("\n")[-keep:]) if keep else ""


def test_the_trim_order_is_memory_results_reviews_candidates_decision() -> None:
    assert TRIM_ORDER == ("memory", "results", "reviews", "candidates", "decision")


def test_a_prompt_that_fits_is_sent_as_it_is() -> None:
    messages, trimmed = fit(model(limit_for(tokens(VALUES))), build, dict(VALUES))
    assert trimmed == [] and messages == build(VALUES)


def test_a_model_without_a_context_is_not_budgeted() -> None:
    messages, trimmed = fit(model(None), build, dict(VALUES))
    assert trimmed == [] and messages == build(VALUES)


def test_memory_goes_first_and_its_newest_lines_stay() -> None:
    target = {**VALUES, "memory": newest("memory", 8, 4)}
    messages, trimmed = fit(model(limit_for(tokens(target))), build, dict(VALUES))
    assert trimmed == ["memory"]
    assert messages == build(target)
    assert "memory line 8 of 8" in messages[1].content and "memory line 4 of 8" not in messages[1].content


def test_sections_are_trimmed_in_order_until_the_prompt_fits() -> None:
    target = {**VALUES, "memory": "", "results": "", "reviews": newest("review", 8, 2)}
    messages, trimmed = fit(model(limit_for(tokens(target))), build, dict(VALUES))
    assert trimmed == ["memory", "results", "reviews"]
    assert messages == build(target)
    text = messages[1].content
    assert lines("candidate", 4) in text and "winner plan-1: cheapest" in text  # later sections untouched
    assert messages[0].content == VALUES["instructions"] and VALUES["task"] in text


def test_the_output_schema_takes_its_share_of_the_context() -> None:
    schema = {"type": "object", "properties": {"note": {"type": "string", "description": " ".join(["word"] * 30)}}}
    limit = limit_for(tokens(VALUES))
    assert fit(model(limit), build, dict(VALUES))[1] == []
    _, trimmed = fit(model(limit), build, dict(VALUES), schema=schema)
    assert trimmed[:1] == ["memory"]


def test_instructions_and_task_are_never_trimmed_so_a_prompt_too_long_fails() -> None:
    floor = {**VALUES, **{s: "" for s in TRIM_ORDER}}
    with pytest.raises(ModelError) as info:
        fit(model(limit_for(tokens(floor) - 1)), build, dict(VALUES), agent="critic")
    message = str(info.value)
    assert message.startswith(f"agent 'critic': its prompt needs {tokens(floor)} tokens, but the model's context of ")
    assert f"after the answer's {ROOM}" in message and "shorten the agent's prompt or the task" in message
    # one token more and everything trimmable is gone, the instructions and the task still whole
    messages, trimmed = fit(model(limit_for(tokens(floor))), build, dict(VALUES))
    assert trimmed == list(TRIM_ORDER) and messages == build(floor)


async def test_an_agents_prompt_is_trimmed_before_it_reaches_the_model() -> None:
    """A note agent with a long recalled memory: the oldest memories are cut, the task is sent."""
    agent = SkillAgent("scribe", prompt="Write one note about the task.")
    memory = lines("remembered", 40)
    snapshot: dict[str, Any] = {"task": "Plan a 3-day trip to Lisbon under 1500 EUR"}

    def ctx(m: Capped) -> AgentContext:
        return AgentContext(agent="scribe", stage="s", round=1, run_id="r", session_id="s", model=m, memory=memory)

    roomy = model(None)
    await agent(snapshot, ctx(roomy))
    full = roomy.calls[0]["messages"]
    assert "remembered line 1 of 40" in full[1].content
    tight = model(limit_for(count(roomy, full) - 60))
    await agent(snapshot, ctx(tight))
    sent = tight.calls[0]["messages"]
    assert sent[0].content == full[0].content
    assert "Plan a 3-day trip to Lisbon under 1500 EUR" in sent[1].content
    assert "remembered line 40 of 40" in sent[1].content and "remembered line 1 of 40" not in sent[1].content


async def test_an_agent_whose_prompt_cannot_fit_fails_naming_itself() -> None:
    agent = SkillAgent("scribe", prompt="Write one note about the task.")
    ctx = AgentContext(agent="scribe", stage="s", round=1, run_id="r", session_id="s", model=model(limit_for(10)))
    with pytest.raises(ModelError, match="agent 'scribe': its prompt needs"):
        await agent({"task": "Plan a 3-day trip to Lisbon under 1500 EUR " * 5}, ctx)


@pytest.mark.local_model
def test_the_embedded_models_count_matches_llama_cpps() -> None:
    from moot.models.local import LocalLLMChatModel

    local = LocalLLMChatModel(max_tokens=1)
    messages = [
        SystemMessage(content="You are the critic in a debate about a trip. Name the main risk of each plan in one sentence."),
        HumanMessage(content="Task:\nPlan a 3-day trip to Lisbon under 1500 EUR\n\nCandidates:\n- plan-1: Casa do Fado, 2 night(s) + TP1363/TP1350"),
    ]
    counted = local.get_num_tokens_from_messages(messages)
    answer = local.invoke(messages)
    assert answer.usage_metadata is not None
    assert abs(counted - answer.usage_metadata["input_tokens"]) <= 4, (counted, answer.usage_metadata)
    assert local.profile is not None and local.profile["max_input_tokens"] > counted
