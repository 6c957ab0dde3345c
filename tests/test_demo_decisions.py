"""The built-in demo as a whole: bad expressions are located at load, and its task set is a
CI-sized test of the mechanisms with `--model scripted:schema` (a model that understands nothing
and obeys every schema: what the workspace's structure achieves by itself).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from langchain_core.messages import HumanMessage

from moot.agents.schemas import DecisionOutput, grounded_proposal_schema, review_schema
from moot.cli.main import main
from moot.models.scripted import ScriptedChatModel, follow_schema
from moot.workspace.loader import load_workspace, validate_workspace
from moot.workspace.problems import Problem, WorkspaceInvalid

DEMO = Path(__file__).parents[1] / "src" / "moot" / "builtin" / "demo"
TASKS = DEMO / "eval" / "tasks.yaml"


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns("eval"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path.name}"
    path.write_text(text.replace(old, new))


def position(path: Path, needle: str) -> tuple[int, int]:
    """1-based line and column of the only occurrence of `needle` in the file."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


def only_problem(root: Path) -> Problem:
    problems = validate_workspace(root)
    assert len(problems) == 1, "\n".join(map(str, problems))
    with pytest.raises(WorkspaceInvalid):
        load_workspace(root)
    return problems[0]


# --- bad expressions are located at load ------------------------------------------------------

def test_the_demo_loads_without_problems() -> None:
    assert validate_workspace("demo") == []


def test_a_constraint_that_does_not_parse_is_located_in_moot_yaml(demo_copy: Path) -> None:
    path = demo_copy / "moot.yaml"
    edit(path, "check: \"facts['total_eur'] <= slots['budget_eur']\"", "check: \"facts['total_eur'] <= slots['budget_eur'\"")
    problem = only_problem(demo_copy)
    line, column = position(path, "\"facts['total_eur'] <= slots['budget_eur'\"")
    assert (Path(problem.file).name, problem.line, problem.column) == ("moot.yaml", line, column)
    assert problem.where.endswith(f"moot.yaml:{line}:{column}")
    assert "invalid expression \"facts['total_eur'] <= slots['budget_eur'\"" in problem.message
    assert "syntax error" in problem.message


def test_a_constraint_naming_something_a_candidate_does_not_have_is_located(demo_copy: Path) -> None:
    path = demo_copy / "moot.yaml"
    edit(path, "when: \"slots.get('budget_eur') is not None\"", "when: \"budget is not None\"")
    problem = only_problem(demo_copy)
    assert (problem.line, problem.column) == position(path, "\"budget is not None\"")
    assert "unknown name 'budget'" in problem.message


def test_a_grounded_fact_that_does_not_parse_is_located_in_the_agents_file(demo_copy: Path) -> None:
    path = demo_copy / "agents" / "optimistic.yaml"
    edit(path, "hotel_eur: \"parts['hotel']['total_eur']\"", "hotel_eur: \"parts['hotel']['total_eur'] +\"")
    problem = only_problem(demo_copy)
    assert Path(problem.file).name == "optimistic.yaml"
    assert (problem.line, problem.column) == position(path, "\"parts['hotel']['total_eur'] +\"")
    assert "invalid expression \"parts['hotel']['total_eur'] +\"" in problem.message


def test_a_measure_score_that_does_not_parse_is_located_in_the_agents_file(demo_copy: Path) -> None:
    path = demo_copy / "agents" / "measure.yaml"
    edit(path, "/ facts['total_eur'] if", "/ facts['total_eur' if")
    problem = only_problem(demo_copy)
    assert Path(problem.file).name == "measure.yaml"
    assert (problem.line, problem.column) == position(path, "\"min(f['total_eur'] for f in all_facts)")
    assert "syntax error" in problem.message


def test_a_scout_argument_that_does_not_parse_is_located_at_the_argument(demo_copy: Path) -> None:
    """Block-style arguments, one per line: the problem points at the bad argument's own line."""
    path = demo_copy / "agents" / "scout.yaml"
    edit(
        path,
        "    arguments: {city: \"=slots['destination']\", checkin: \"=slots['start']\", nights: \"=slots['nights']\", travellers: \"=slots['travellers']\"}",
        "    arguments:\n      city: \"=slots['destination']\"\n      checkin: \"=slots['start'\"\n      nights: \"=slots['nights']\"\n      travellers: \"=slots['travellers']\"",
    )
    problem = only_problem(demo_copy)
    assert Path(problem.file).name == "scout.yaml"
    assert "invalid expression \"slots['start'\"" in problem.message
    assert (problem.line, problem.column) == position(path, "\"=slots['start'\"")


# --- follow_schema: the model behind `--model scripted:schema` ----------------------------------

def answer(schema: dict[str, Any]) -> Any:
    model = ScriptedChatModel(script=follow_schema)
    text = model.bind(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}).invoke([HumanMessage(content="?")]).content
    return json.loads(text) if text.startswith(("{", "[", '"')) else text


def test_follow_schema_answers_the_first_choice_of_every_constraint() -> None:
    schema = {
        "type": "object",
        "$defs": {"Pick": {"type": "object", "properties": {"id": {"enum": ["plan-2", "plan-1"]}, "n": {"type": "integer", "minimum": 3}}}},
        "properties": {
            "picks": {"type": "array", "items": {"$ref": "#/$defs/Pick"}, "minItems": 2},
            "kind": {"const": "hotel"},
            "either": {"anyOf": [{"type": "number", "minimum": 0.5}, {"type": "null"}]},
            "flag": {"type": "boolean"},
            "text": {"type": "string", "maxLength": 40},
        },
    }
    assert answer(schema) == {
        "picks": [{"id": "plan-2", "n": 3}, {"id": "plan-2", "n": 3}], "kind": "hotel", "either": 0.5, "flag": False, "text": "ok",
    }


def test_follow_schema_answers_text_when_no_schema_is_asked() -> None:
    model = ScriptedChatModel(script=follow_schema)
    assert model.invoke([HumanMessage(content="Which tool?")]).content == "Nothing more to do."


@pytest.mark.parametrize(
    "schema",
    [
        grounded_proposal_schema(("novelty", "risk"), ("plan-1", "plan-2"), max_candidates=2).model_json_schema(),
        review_schema(("quality", "risk")).model_json_schema(),
        DecisionOutput.model_json_schema(),
    ],
    ids=["proposal", "review", "decision"],
)
def test_follow_schema_answers_validate_against_the_demos_schemas(schema: dict[str, Any]) -> None:
    assert list(Draft202012Validator(schema).iter_errors(answer(schema))) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"code": {"type": "string", "minLength": 3, "maxLength": 4}}, "required": ["code"]},
        {
            "type": "object",
            "properties": {"checkin": {"anyOf": [{"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}, {"type": "null"}]}},
        },
    ],
    ids=["min-and-max-length", "dated-or-null"],
)
def test_follow_schema_answers_are_valid_where_a_valid_answer_is_obvious(schema: dict[str, Any]) -> None:
    """Found writing these tests: a string of 3 to 4 characters gets 'okokok' (6), and an optional
    date (the travel server's `book.checkin`) gets 'ok' though `null` is a valid choice."""
    assert list(Draft202012Validator(schema).iter_errors(answer(schema))) == []


# --- the demo's task set under `moot eval` ------------------------------------------------------

def task_set() -> list[dict[str, Any]]:
    return yaml.safe_load(TASKS.read_text())["tasks"]


def test_the_task_set_mixes_feasible_and_infeasible_requests() -> None:
    tasks = task_set()
    infeasible = [t["id"] for t in tasks if t.get("feasible") is False]
    assert len(tasks) == 46 and len(infeasible) == 13
    assert len({t["id"] for t in tasks}) == len(tasks)


def test_moot_eval_demo_succeeds_on_every_task_with_a_model_that_only_obeys_schemas(tmp_path: Path) -> None:
    """~20 s on two cores: 46 runs of the whole demo, each on a fresh travel inventory."""
    out = tmp_path / "eval.json"
    assert main(["eval", "demo", str(TASKS), "--model", "scripted:schema", "--arms", "moot", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    tasks = task_set()
    assert [(r["task_id"], r["arm"]) for r in doc["runs"]] == [(t["id"], "moot") for t in tasks]
    failed = {r["task_id"]: (r["failed"] or r["error"], r["headline"]) for r in doc["runs"] if not r["ok"]}
    assert failed == {}
    summary = doc["summary"]["moot"]
    assert (summary["feasible"]["ok"], summary["feasible"]["runs"]) == (33, 33)
    assert (summary["infeasible"]["ok"], summary["infeasible"]["runs"]) == (13, 13)
    assert summary["failed_runs"] == 0 and summary["no_refused_calls"] == 1.0
    assert all(r["refused_calls"] == 0 for r in doc["runs"])
    statuses = {r["task_id"]: r["outcome"]["status"] for r in doc["runs"]}
    assert {statuses[t["id"]] for t in tasks if t.get("feasible") is not False} == {"done"}
    assert {statuses[t["id"]] for t in tasks if t.get("feasible") is False} == {"infeasible"}


def test_moot_eval_demo_runs_the_single_arm_on_every_task(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    assert main(["eval", "demo", str(TASKS), "--model", "scripted:schema", "--arms", "single", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [(r["task_id"], r["arm"]) for r in doc["runs"]] == [(t["id"], "single") for t in task_set()]
    assert all(isinstance(r["ok"], bool) and isinstance(r["headline"], str) and r["error"] is None for r in doc["runs"])
    assert list(doc["summary"]) == ["single"] and doc["summary"]["single"]["runs"] == 46


def test_moot_eval_demo_finds_the_demos_own_task_set(tmp_path: Path) -> None:
    """The task set's header says `moot eval demo` is enough for the built-in workspace."""
    out = tmp_path / "eval.json"
    assert main(["eval", "demo", "--model", "scripted:schema", "--arms", "moot", "-k", "readme-lisbon", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [(r["task_id"], r["ok"]) for r in doc["runs"]] == [("readme-lisbon", True)]
