"""A `note` agent with its own `output:` JSON Schema, and state keys as named prompt inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import scripted_runtime
from moot.workspace.problems import WorkspaceInvalid

CHECKLIST = """\
name: checklist
kind: note
description: Turns the decision into a packing checklist.
prompt: |
  The moot chose {winner}. Write a packing checklist for the task.
reads: [task, history, winner]
writes: [history]
output:
  type: object
  required: [items, days]
  additionalProperties: false
  properties:
    items: {type: array, items: {type: string}, minItems: 1}
    days: {type: integer, minimum: 1, maximum: 30}
"""


@pytest.fixture
def with_checklist(workspace_copy: Path) -> Path:
    (workspace_copy / "agents" / "checklist.yaml").write_text(CHECKLIST)
    stages = workspace_copy / "stages.yaml"
    stages.write_text(stages.read_text().replace("    agents: [booking]\n", "    agents: [booking, checklist]\n", 1))
    return workspace_copy


async def test_the_answer_follows_the_declared_schema_with_repair(with_checklist: Path, classic_script: dict[str, Any]) -> None:
    script = dict(classic_script)
    script["checklist"] = [
        json.dumps({"items": [], "days": 3}),  # minItems violated: repaired
        json.dumps({"items": ["passport", "walking shoes"], "days": 3}),
    ]
    runtime, model = scripted_runtime(script, with_checklist)
    async with runtime.open_tools():
        result = await runtime.orchestrator().run("Plan a 3-day trip to Lisbon under 1500 EUR")
    notes = [h for h in result.state["history"] if h.get("agent") == "checklist"]
    assert [n["content"] for n in notes] == [{"items": ["passport", "walking shoes"], "days": 3}]
    calls = [c for c in model.calls if c["agent"] == "checklist"]
    assert len(calls) == 2  # one repair
    system = calls[0]["messages"][0].content
    assert "The moot chose alfama-walks." in system  # {winner} from the state
    assert "items" in calls[1]["messages"][-1].content  # the validator's complaint went back


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("output: {type: array}", "must describe an object"),
        ("output: {type: object, properties: {x: {type: nonsense}}}", "not a valid JSON Schema"),
    ],
)
def test_a_bad_output_schema_is_reported_with_its_place(workspace_copy: Path, output: str, message: str) -> None:
    text = CHECKLIST[: CHECKLIST.index("output:")] + output + "\n"
    (workspace_copy / "agents" / "checklist.yaml").write_text(text)
    from moot.workspace.loader import load_workspace

    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(workspace_copy)
    assert message in str(info.value) and "checklist.yaml:" in str(info.value)


def test_output_is_only_for_note_agents(workspace_copy: Path) -> None:
    critic = workspace_copy / "agents" / "critic.yaml"
    critic.write_text(critic.read_text() + "output: {type: object}\n")
    from moot.workspace.loader import load_workspace

    with pytest.raises(WorkspaceInvalid, match="'output' is for kind 'note'"):
        load_workspace(workspace_copy)


def test_a_proposer_with_fixed_options_cannot_invent_one() -> None:
    from pydantic import ValidationError

    from moot.agents.schemas import proposal_schema

    schema = proposal_schema(("security",), ids=("approve", "request-changes", "reject"))
    enum = schema.model_json_schema()["$defs"]["Candidate"]["properties"]["id"]["enum"]
    assert enum == ["approve", "request-changes", "reject"]
    ok = {"candidates": [{"id": "approve", "title": "Approve", "summary": "fine", "security": 0.5}]}
    assert schema.model_validate(ok).candidates[0].id == "approve"
    with pytest.raises(ValidationError):
        schema.model_validate({"candidates": [{**ok["candidates"][0], "id": "lgtm"}]})


def test_a_synthesizer_answers_with_its_workspace_choices() -> None:
    from pydantic import ValidationError

    from moot.agents.schemas import DecisionOutput, decision_schema

    assert decision_schema(None) is DecisionOutput
    schema = decision_schema({"file": "file the review", "reframe": "frame it again"})
    assert schema.model_json_schema()["properties"]["next_stage"]["enum"] == ["file", "reframe"]
    assert "reframe: frame it again" in schema.model_json_schema()["properties"]["next_stage"]["description"]
    assert schema.model_validate({"rationale": "r", "next_stage": "file"}).next_stage == "file"
    with pytest.raises(ValidationError):
        schema.model_validate({"rationale": "r", "next_stage": "booking"})


async def test_code_review_repairs_a_verdict_outside_its_options(code_review_run: Any) -> None:
    state, model = code_review_run
    intake = [c for c in model.calls if c["agent"] == "intake"]
    assert len(intake) == 2  # the invented id was refused and repaired
    proposed = [c["id"] for h in state["history"] if h.get("type") == "proposal" for c in h["content"]["candidates"]]
    assert set(proposed) <= {"approve", "request-changes", "reject"}
    assert state["decision"]["next_stage"] == "file"


@pytest.fixture
async def code_review_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MOOT_REVIEWS_DIR", str(tmp_path / "reviews"))
    script = json.loads((Path(__file__).parent / "data" / "code_review_script.json").read_text())
    first = json.loads(script["intake"][0]) if isinstance(script["intake"][0], str) else dict(script["intake"][0])
    invented = json.loads(json.dumps(first))
    invented["candidates"][0]["id"] = "lgtm"
    script["intake"] = [invented, first]
    runtime, model = scripted_runtime(script, "code_review")
    async with runtime.open_tools():
        result = await runtime.orchestrator().run("Review: add a retry loop around the payment call")
    return result.state, model


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("candidates: [a, b]\n", "'candidates' is for kind 'proposer'"),
        ("next_stages: {go: onwards}\n", "'next_stages' is for kind 'synthesizer'"),
    ],
)
def test_kind_options_on_the_wrong_kind_are_reported(workspace_copy: Path, extra: str, message: str) -> None:
    critic = workspace_copy / "agents" / "critic.yaml"
    critic.write_text(critic.read_text() + extra)
    from moot.workspace.loader import load_workspace

    with pytest.raises(WorkspaceInvalid, match=message):
        load_workspace(workspace_copy)
