"""The runner's failure paths: a failed setup, a run stopped by the token budget, checks at load, bad flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moot.cli.main import main
from moot.eval import EvalSettings, prepare
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner
from moot.workspace.problems import WorkspaceInvalid

DATA = Path(__file__).parent / "data" / "eval"
WORKSPACE = DATA / "travel"
SCRIPT = json.loads((WORKSPACE / "script.json").read_text())


def task_set(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tasks.yaml"
    path.write_text(text)
    return path


async def test_a_failed_setup_fails_the_task_before_any_model_is_asked(tmp_path: Path) -> None:
    tasks = task_set(
        tmp_path,
        "probes:\n  mine: {tool: list_bookings}\ntasks:\n  - id: ghost\n    task: Book the ghost hotel\n"
        "    expect: ['len(mine) == 1']\n    setup:\n"
        "      - {tool: book, arguments: {kind: hotel, item_id: H-NOWHERE, traveller: X, checkin: '2027-01-10', nights: 1}}\n",
    )
    model = ScriptedChatModel(script=SCRIPT)
    evaluator = await prepare(WorkspaceRunner.load(WORKSPACE, models={"default": model}), tasks)
    records = await evaluator.run()
    assert [r.arm for r in records] == ["moot", "single"]
    for record in records:
        assert not record.ok and record.predicates == ()
        assert record.error is not None and record.error.startswith(f"setup: book ({tasks}:8:9): ")
        assert "H-NOWHERE" in record.error
    assert model.calls == []


async def test_a_run_stopped_by_the_token_budget_fails_and_still_shows_what_it_spent(tmp_path: Path) -> None:
    tasks = task_set(
        tmp_path, "probes:\n  mine: {tool: list_bookings}\ntasks:\n  - id: trip\n    task: Plan a trip\n    expect: ['len(mine) == 1']\n"
    )
    runtime = WorkspaceRunner.load(WORKSPACE, models={"default": ScriptedChatModel(script=SCRIPT)})
    evaluator = await prepare(runtime, tasks, EvalSettings(arms=("moot",), token_budget=150))
    assert evaluator.token_budget == 150 and evaluator.runtime.workspace.spec.limits.token_budget == 150
    [record] = await evaluator.run()
    assert record.error is not None and record.error.startswith("TokenBudgetExceeded: ")
    assert record.tokens >= 150 and record.outcome is not None and record.outcome["status"] == "undecided"

    unbounded = await prepare(runtime, tasks, EvalSettings(arms=("moot",)))
    assert unbounded.token_budget == 12_000  # the workspace sets none


async def test_literal_arguments_and_task_texts_are_checked_at_load(tmp_path: Path) -> None:
    tasks = task_set(
        tmp_path,
        "tasks:\n  - id: one\n    task: 'x'\n    expect: ['True']\n    setup:\n"
        "      - {tool: search_hotels, arguments: {city: Lisbon}}\n"
        "      - {tool: search_hotels, arguments: {city: Lisbon, checkin: \"=day('next friday')\", nights: 2}}\n"
        f"  - id: two\n    task: '{'y' * 4001}'\n    expect: ['True']\n",
    )
    runtime = WorkspaceRunner.load(WORKSPACE, models={"default": ScriptedChatModel(script=SCRIPT)})
    with pytest.raises(WorkspaceInvalid) as caught:
        await prepare(runtime, tasks)
    problems = [(p.line, p.message) for p in caught.value.problems]
    assert len(problems) == 2, problems
    assert problems[0][0] == 6 and problems[0][1].startswith("tasks[0].setup[0].arguments: search_hotels")
    assert "'checkin' is a required property" in problems[0][1]
    assert problems[1][0] == 9 and "the limit is 4000" in problems[1][1]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--arms", "moot,triple"], "--arms moot,triple: the arms are moot, single"),
        (["--repeat", "0"], "--repeat 0: run each task at least once"),
        (["-k", "nothing-like-this"], "-k 'nothing-like-this' selects no task"),
        (["--json", "/no/such/folder/eval.json"], "--json /no/such/folder/eval.json: the folder /no/such/folder does not exist"),
    ],
)
def test_bad_flags_exit_2_with_one_line(flags: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(WORKSPACE), str(DATA / "tasks.yaml"), *flags]) == 2
    assert message in capsys.readouterr().err
