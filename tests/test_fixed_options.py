"""A proposer with fixed options (`candidates:`): which options exist is code's, their framing the model's."""

from __future__ import annotations

from moot.agents.base import AgentContext
from moot.constraints import Constraint
from moot.expressions import Expression
from moot.models.scripted import ScriptedChatModel
from moot.workspace.loader import load_workspace

NAMES = frozenset({"candidate", "slots", "results"})


def _ctx(model: ScriptedChatModel) -> AgentContext:
    return AgentContext(agent="intake", stage="intake", round=1, run_id="run-1", session_id="s-1", model=model)


async def test_every_fixed_option_is_proposed_once_whatever_the_model_left_out() -> None:
    intake = load_workspace("code_review").agents["intake"]
    intake.options = {**intake.options, "constraints": ()}  # the workspace's would exclude approve: no checks ran
    answer = {"candidates": [
        {"id": "approve", "title": "Ship it", "summary": "Right if the query is parameterised."},
        {"id": "approve", "title": "Ship it again", "summary": "A repeat."},
    ]}
    result = await intake({"task": "Add user search", "history": []}, _ctx(ScriptedChatModel(script=[answer])))
    proposal = result.updates["history"][0]["content"]
    assert [c["id"] for c in proposal["candidates"]] == ["approve", "request-changes", "reject"]
    framed = proposal["candidates"][0]
    assert (framed["title"], framed["summary"]) == ("Ship it", "Right if the query is parameterised.")
    assert proposal["candidates"][2] == {"id": "reject", "title": "reject", "summary": "(not framed by the model)"}
    assert proposal["excluded"] == []


async def test_a_constraint_excludes_a_fixed_option_with_its_reason() -> None:
    intake = load_workspace("code_review").agents["intake"]
    rule = Constraint(
        "checks ran",
        Expression.parse("'checks' in results", names=NAMES),
        Expression.parse("candidate['id'] == 'approve'", names=NAMES),
    )
    intake.options = {**intake.options, "constraints": (rule,)}
    answer = {"candidates": [{"id": "reject", "title": "No", "summary": "Too risky."}]}
    result = await intake({"task": "Add user search", "history": []}, _ctx(ScriptedChatModel(script=[answer])))
    proposal = result.updates["history"][0]["content"]
    assert [c["id"] for c in proposal["candidates"]] == ["request-changes", "reject"]
    assert proposal["excluded"] == [{"id": "approve", "title": "approve", "reasons": ["checks ran"]}]
