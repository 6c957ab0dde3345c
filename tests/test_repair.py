"""Repair of malformed model outputs: each kind of bad answer is sent back with its validation
error and repaired by a later valid answer; after `max_repairs + 1` bad answers the agent fails
with `AgentOutputError` and nothing of its update reaches the state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import scripted_runtime
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from moot.agents.structured import MAX_ANSWER_CHARS
from moot.errors import AgentOutputError
from moot.events import Event, EventBus

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def _critic_answer(classic_script: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(classic_script["critic"][0]))


def _bad_answers(good: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """name → (bad answer, a fragment of the validation error it must produce)."""

    def changed(fn: Any) -> dict[str, Any]:
        answer = json.loads(json.dumps(good))
        fn(answer)
        return answer

    huge = changed(lambda a: a["reviews"][0].update(comment="very " * 15_000))
    return {
        "malformed-json": ('{"reviews": [{"candidate": "alfama-walks", "comment": "ok",', "not valid JSON"),
        "prose": ("I think the Alfama plan is best, honestly.", "not valid JSON"),
        "wrong-type": (changed(lambda a: a["reviews"][0].update(confidence="high")), "reviews.0.confidence"),
        "missing-field": (changed(lambda a: a["reviews"][1].pop("comment")), "reviews.1.comment: Field required"),
        "out-of-range": (changed(lambda a: a["reviews"][0].update(risk=1.5)), "less than or equal to 1"),
        "extra-field": (changed(lambda a: a.update(verdict="alfama")), "verdict: Extra inputs are not permitted"),
        "list-not-object": (json.dumps(good["reviews"]), "valid dictionary"),
        "empty": ("", "the answer is empty"),
        "blank": ("  \n\t ", "the answer is empty"),
        "huge": (json.dumps(huge), f"at most {MAX_ANSWER_CHARS} are accepted"),
        "wrong-candidate": (changed(lambda a: a["reviews"][0].update(candidate="nowhere-plan")), "unknown candidate 'nowhere-plan'"),
    }


async def _run(script: Any, workspace: Path | None = None, session: str = "s"):
    runtime, model = scripted_runtime(script, workspace)
    bus = EventBus()
    events: list[Event] = []
    bus.add_handler(events.append)
    orch = runtime.orchestrator(InMemorySaver(), bus=bus)
    return orch, model, events


def _calls(model: Any, agent: str) -> list[dict[str, Any]]:
    return [c for c in model.calls if c["agent"] == agent]


CASES = list(_bad_answers({"reviews": [{"candidate": "x", "comment": "c"}, {"candidate": "y", "comment": "c"}]}))


@pytest.mark.parametrize("case", CASES)
async def test_a_bad_answer_is_repaired_by_a_later_valid_one(classic_script: dict[str, Any], case: str) -> None:
    good = _critic_answer(classic_script)
    bad, fragment = _bad_answers(good)[case]
    script = {**classic_script, "critic": [bad, good]}
    orch, model, _ = await _run(script)
    result = await orch.run(TASK)
    assert result.status == "finished"

    calls = _calls(model, "critic")
    assert len(calls) == 2, "the model was asked again"
    first, second = calls[0]["messages"], calls[1]["messages"]
    assert second[: len(first)] == first  # the repair continues the same conversation
    echoed, repair = second[len(first)], second[len(first) + 1]
    assert isinstance(echoed, AIMessage) and isinstance(repair, HumanMessage)
    assert "That answer was not valid" in repair.content
    assert fragment in repair.content, repair.content[:600]
    assert '"reviews"' in repair.content  # the schema is restated
    # a huge answer is not echoed back whole
    assert len(echoed.content) < 10_000

    # the repaired answer is what reached the state, and the usage counts both calls
    reviews = [e for e in result.state["history"] if e["type"] == "review" and e["agent"] == "critic"]
    assert len(reviews) == 1 and reviews[0]["content"]["reviews"] == good["reviews"]
    assert result.state["usage"]["critic"]["calls"] == 2
    assert result.state["rewards"]["by_agent"]["critic"]["alfama-walks"]["confidence"] == pytest.approx(0.8)


async def test_json_in_a_code_fence_is_accepted_first_time(classic_script: dict[str, Any]) -> None:
    good = _critic_answer(classic_script)
    fenced = "```json\n" + json.dumps(good, indent=2) + "\n```"
    wrapped = "Here is my review:\n" + json.dumps(classic_script["devils_advocate"][0]) + "\nThanks."
    script = {**classic_script, "critic": [fenced], "devils_advocate": [wrapped]}
    orch, model, _ = await _run(script)
    result = await orch.run(TASK)
    assert len(_calls(model, "critic")) == 1 and len(_calls(model, "devils_advocate")) == 1
    assert result.state["usage"]["critic"]["calls"] == 1
    critic = next(e for e in result.state["history"] if e["agent"] == "critic")
    assert critic["content"]["reviews"] == good["reviews"]


async def test_several_different_bad_answers_then_a_good_one(workspace_copy: Path, classic_script: dict[str, Any]) -> None:
    (workspace_copy / "moot.yaml").write_text((workspace_copy / "moot.yaml").read_text().replace("max_repairs: 2", "max_repairs: 3"))
    good = _critic_answer(classic_script)
    bads = _bad_answers(good)
    sequence = [bads["empty"][0], bads["wrong-type"][0], bads["wrong-candidate"][0], good]
    orch, model, _ = await _run({**classic_script, "critic": sequence}, workspace_copy)
    result = await orch.run(TASK)
    calls = _calls(model, "critic")
    assert len(calls) == 4
    last_prompt = calls[3]["messages"][-1].content
    assert bads["wrong-candidate"][1] in last_prompt
    assert result.state["usage"]["critic"]["calls"] == 4


@pytest.mark.parametrize("agent", ["optimistic", "synthesizer", "booking"])
async def test_other_roles_are_repaired_too(classic_script: dict[str, Any], agent: str) -> None:
    bad = {
        "optimistic": {"candidates": [{"id": "Alfama Walks!", "title": "t", "summary": "s", "novelty": 1, "confidence": 1, "quality": 1, "risk": 0}]},
        "synthesizer": {"rationale": "Because.", "next_stage": "maybe"},
        "booking": {"tool_calls": [{"tool": "teleport", "arguments": {"to": "Lisbon"}}]},  # not a tool of the workspace
    }[agent]
    # every recorded answer of the agent after the bad one (the booking agent runs twice: search, then book)
    answers = [bad, *classic_script[agent]]
    orch, model, _ = await _run({**classic_script, agent: answers})
    result = await orch.run(TASK)
    assert result.status == "finished"
    calls = _calls(model, agent)
    assert len(calls) == len(answers)  # one repair, then each of the agent's runs answered validly
    assert "That answer was not valid" in calls[1]["messages"][-1].content
    assert calls[1]["messages"][: len(calls[0]["messages"])] == calls[0]["messages"]  # the repair continued the first run
    assert result.state["usage"][agent]["calls"] == len(answers)
    assert result.winner == "alfama-walks"
    if agent == "booking":
        assert len(answers) == 3
        assert "That answer was not valid" not in calls[2]["messages"][-1].content  # the second run was not a repair
        intents = [e["content"]["tool"] for e in result.state["history"] if e["type"] == "tool_call"]
        assert intents == ["search_hotels", "book"]  # the repaired answer, then the second run's; nothing of the bad one


@pytest.mark.parametrize("case", ["malformed-json", "wrong-type", "empty", "huge", "wrong-candidate"])
async def test_after_max_repairs_the_agent_fails_cleanly(classic_script: dict[str, Any], case: str) -> None:
    good = _critic_answer(classic_script)
    bad, fragment = _bad_answers(good)[case]
    orch, model, events = await _run({**classic_script, "critic": [bad, bad, bad, good]})  # max_repairs: 2 in the classic workspace
    with pytest.raises(AgentOutputError) as info:
        await orch.run(TASK, session_id="s-fail")
    err = info.value
    assert err.agent == "critic" and err.attempts == 3
    assert "'critic'" in str(err) and fragment in err.last_error
    assert len(_calls(model, "critic")) == 3  # 1 + max_repairs, and not one more
    assert "synthesizer" not in [c["agent"] for c in model.calls]

    assert events[-1].type == "run_failed" and events[-1].data["error"] == "AgentOutputError"
    assert not any(e.type == "agent_finished" and e.agent == "critic" for e in events)

    state = (await orch.graph.aget_state({"configurable": {"thread_id": "s-fail"}})).values
    assert not any(e["agent"] == "critic" for e in state.get("history", []))
    assert "critic" not in state["rewards"].get("by_agent", {})
    assert "critic" not in state["executed_agents_per_stage"].get("proposal", [])
    assert "critic" not in state.get("usage", {})
    assert state["stage"] == "proposal" and not state["done"]


@pytest.mark.parametrize(("max_repairs", "attempts"), [(0, 1), (1, 2), (4, 5)])
async def test_max_repairs_comes_from_the_workspace(
    workspace_copy: Path, classic_script: dict[str, Any], max_repairs: int, attempts: int
) -> None:
    moot_yaml = workspace_copy / "moot.yaml"
    moot_yaml.write_text(moot_yaml.read_text().replace("max_repairs: 2", f"max_repairs: {max_repairs}"))
    orch, model, _ = await _run({**classic_script, "synthesizer": ["not json"]}, workspace_copy)
    with pytest.raises(AgentOutputError) as info:
        await orch.run(TASK)
    assert info.value.agent == "synthesizer" and info.value.attempts == attempts
    assert len(_calls(model, "synthesizer")) == attempts
