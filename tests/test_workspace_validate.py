"""Issue 7: validation reports every problem at once, each with file, line, column and a fix.

Each case edits a copy of the classic fixture workspace (`workspace_copy`) and asserts the exact place of
the problem, found by searching the edited file for the offending text. The stage-machine
cases are also run through the real router (`moot.stages.router.advance`), so a shape the
checker reports is one the router really fails on, and a shape it accepts really finishes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moot.cli.main import main
from moot.errors import ConfigError, RunError, WorkspaceError
from moot.expressions import Expression
from moot.stages.router import advance
from moot.stages.stage import Stage, StagePlan, Transition
from moot.workspace.loader import load_workspace, validate_workspace
from moot.workspace.problems import Problem, WorkspaceInvalid


def edit(root: Path, file: str, old: str, new: str) -> Path:
    path = root / file
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {file}"
    path.write_text(text.replace(old, new))
    return path


def pos(path: Path, needle: str, *, at: str | None = None) -> tuple[int, int]:
    """1-based (line, column) of `at` (default: the needle itself) inside the first line with `needle`."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + needle.index(at or needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


def only(root: Path) -> Problem:
    """The single problem of the workspace, after checking that the loader raises it too."""
    problems = validate_workspace(root)
    assert len(problems) == 1, "\n".join(map(str, problems))
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root)
    assert info.value.problems == tuple(problems)
    return problems[0]


def place(problem: Problem) -> tuple[str, int | None, int | None]:
    return problem.file, problem.line, problem.column


def test_the_demo_has_no_problems(workspace_copy: Path) -> None:
    assert validate_workspace(workspace_copy) == []
    assert validate_workspace("demo") == []


# --------------------------------------------------------------------------------------------
# one file at a time: syntax, unknown keys, wrong types


def test_yaml_syntax_error_at_the_parsers_line_and_column(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "moot.yaml", "tool_errors: continue", "tool_errors: [continue")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "[continue", at="["))
    assert "invalid YAML" in problem.message and "close the bracket" in problem.fix


def test_an_unknown_key_points_at_the_key(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "agents/critic.yaml", "dimensions:", "colour: red\ndimensions:")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "colour"))
    assert problem.message.startswith("colour: unknown field; known fields: name, kind,")
    assert "'colour'" in problem.fix


def test_an_unknown_key_in_a_nested_mapping_lists_that_mappings_fields(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "moot.yaml", "  task_max_chars: 4000", "  task_max_chars: 4000\n  task_max_char: 10")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "task_max_char:"))
    assert "limits.task_max_char: unknown field; known fields: task_max_chars, recursion_limit" in problem.message


def test_a_wrong_type_points_at_the_value(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "max_rounds: 2", "max_rounds: lots")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "max_rounds: lots", at="lots"))
    assert problem.message.startswith("max_rounds: Input should be a valid integer") and problem.fix == "write a whole number"


def test_every_type_error_of_one_file_is_reported(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "agents/optimistic.yaml", "max_candidates: 2", "max_candidates: many")
    edit(workspace_copy, "agents/optimistic.yaml", "kind: proposer", "kind: dreamer")
    edit(workspace_copy, "agents/optimistic.yaml", "writes: [history, rewards]", "writes: [history, rewardz]")
    problems = validate_workspace(workspace_copy)
    assert [place(p) for p in problems] == [
        (str(path), *pos(path, "kind: dreamer", at="dreamer")),
        (str(path), *pos(path, "rewardz")),
        (str(path), *pos(path, "max_candidates: many", at="many")),
    ]
    assert [p.message.split(":")[0] for p in problems] == ["kind", "writes.1", "max_candidates"]


def test_a_value_that_matches_no_form_of_a_union_is_one_problem(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "agents: [booking]", "agents: [booking, 7]")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "[booking, 7]", at="7"))
    assert problem.message.startswith("stages.booking.agents.1: Input should be a valid string; or Input should be a valid list")


def test_policy_file_types_and_names(workspace_copy: Path) -> None:
    path = workspace_copy / "policy.yaml"
    path.write_text("on_violation: maybe\nwriters:\n  rewards: [optimistic, critic, devils_advocate, ghost]\n  verdict: [critic]\n")
    problems = validate_workspace(workspace_copy)
    assert [place(p) for p in problems] == [
        (str(path), *pos(path, "maybe")),
        (str(path), *pos(path, "ghost")),
        (str(path), *pos(path, "verdict")),
    ]
    assert "'fail' or 'skip'" in problems[0].message
    assert "writer 'ghost' of 'rewards'" in problems[1].message and "agent" in problems[1].fix
    assert "unknown state key 'verdict'" in problems[2].message


def test_a_key_given_twice(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "moot.yaml", "max_repairs: 2", "max_repairs: 2\nmax_repairs: 3")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "max_repairs: 3"))
    assert "given twice" in problem.message


def test_a_missing_file_has_no_line(workspace_copy: Path) -> None:
    (workspace_copy / "stages.yaml").unlink()
    problem = only(workspace_copy)
    assert place(problem) == (str(workspace_copy / "stages.yaml"), None, None)
    assert str(problem) == f"{workspace_copy / 'stages.yaml'}: file not found (fix: create stages.yaml)"


# --------------------------------------------------------------------------------------------
# across files: agents, policy, stages


def test_an_agent_that_declares_a_key_its_policy_forbids(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "agents/critic.yaml", "writes: [history, rewards]", "writes: [history, rewards, winner]")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "winner]", at="winner"))
    assert problem.message == "agent 'critic' declares 'winner' in 'writes', but the policy lets only synthesizer write it"
    assert "policy.yaml" in problem.fix


def test_a_stage_that_names_a_missing_agent(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "[critic, devils_advocate]]", "[critic, devil]]")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "devil]"))
    assert "unknown agent 'devil'" in problem.message and "devils_advocate" in problem.message


def test_a_broken_agent_file_is_not_reported_again_by_the_stages(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "agents/critic.yaml", "kind: evaluator", "kind: [evaluator")
    problem = only(workspace_copy)  # the stages still name 'critic': no second problem
    assert place(problem) == (str(path), *pos(path, "[evaluator", at="["))


def test_a_transition_to_an_unknown_stage(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "    agents: [booking]\n    transitions:\n      - to: final\n", "    agents: [booking]\n    transitions:\n      - to: finale\n")
    problem = only(workspace_copy)  # and no cycle or dead-end report that follows from it
    assert place(problem) == (str(path), *pos(path, "to: finale", at="finale"))
    assert "unknown stage 'finale'" in problem.message


def test_an_initial_stage_that_is_not_defined(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "initial: init", "initial: start")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "initial: start", at="start"))
    assert problem.message.startswith("initial stage 'start' is not defined")


def test_no_terminal_stage(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "    terminal: true", "    transitions:\n      - to: init")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "stages:"))
    assert "no stage is terminal" in problem.message and "terminal: true" in problem.fix


def test_an_unreachable_stage(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "  final:\n", "  audit:\n    agents: [critic]\n    transitions:\n      - to: final\n  final:\n")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "audit:"))
    assert "stage 'audit' is unreachable" in problem.message


def test_a_transition_when_that_does_not_parse(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "next_stage') == 'final'\"", "next_stage') = 'final'\"")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "when: \"decision.get('next_stage') = 'final'", at='"'))
    assert "invalid expression" in problem.message and "syntax error" in problem.message


def test_a_should_exit_that_does_not_parse(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "    agents: [booking]\n", "    agents: [booking]\n    should_exit: len(executed) >=\n")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "len(executed)"))
    assert "syntax error" in problem.message


def test_an_exit_rule_that_does_not_parse(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "agents/critic.yaml", "exit: once_per_stage", "exit: {when: open(task)}")
    problem = only(workspace_copy)
    assert place(problem) == (str(path), *pos(path, "open(task)"))
    assert problem.message.startswith("exit.when: invalid expression 'open(task)': unknown name 'open'")


def test_two_agents_of_a_parallel_step_writing_one_lastvalue_key(workspace_copy: Path) -> None:
    for name in ("critic", "devils_advocate"):
        edit(workspace_copy, f"agents/{name}.yaml", "writes: [history, rewards]", "writes: [history, rewards, decision]")
    (workspace_copy / "policy.yaml").write_text(
        "writers:\n  rewards: [optimistic, critic, devils_advocate]\n  decision: [synthesizer, critic, devils_advocate]\n"
    )
    stages = workspace_copy / "stages.yaml"
    problem = only(workspace_copy)
    assert place(problem) == (str(stages), *pos(stages, "devils_advocate]]", at="devils_advocate"))
    assert "'critic' and 'devils_advocate'" in problem.message and "'decision'" in problem.message


# --------------------------------------------------------------------------------------------
# cycles: what the router's round counter bounds, and what it does not


def _plan(stages: dict[str, list[tuple[str, str | None]]], terminal: str = "final", max_rounds: int = 2) -> StagePlan:
    """Agent-less stages (the router hops straight through them) with `(to, when)` transitions."""
    built = {
        name: Stage(name=name, transitions=tuple(Transition(to, Expression.parse(w) if w else None) for to, w in ts), terminal=name == terminal)
        for name, ts in stages.items()
    }
    return StagePlan(stages=built, order=tuple(stages), initial=next(iter(stages)), max_rounds=max_rounds)


def _route(plan: StagePlan) -> dict[str, object]:
    return advance({"stage": None, "round": None, "done": False}, plan).updates


def test_a_bounded_revision_loop_is_not_reported_and_finishes(workspace_copy: Path) -> None:
    """synthesis -> proposal as the fallback: the round counter stops it, and the conditional
    transition to final before it is still there, so the loop can be left."""
    edit(workspace_copy, "stages.yaml", "      - to: booking\n", "      - to: proposal\n")
    edit(workspace_copy, "stages.yaml", "  booking:\n    agents: [booking]\n    transitions:\n      - to: final\n", "")
    assert validate_workspace(workspace_copy) == []
    plan = _plan({"init": [("proposal", None)], "proposal": [("synthesis", None)], "synthesis": [("final", "round >= 2"), ("proposal", None)], "final": []})
    assert _route(plan)["done"] is True


def test_a_cycle_with_no_way_to_a_terminal_stage(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "      - to: final\n        when: \"decision.get('next_stage') == 'final'\"\n", "")
    edit(workspace_copy, "stages.yaml", "    agents: [booking]\n    transitions:\n      - to: final\n", "    agents: [booking]\n    transitions:\n      - to: proposal\n")
    problems = validate_workspace(workspace_copy)
    assert [place(p) for p in problems] == [(str(path), *pos(path, "final:")), (str(path), *pos(path, "proposal:"))]
    assert "stage 'final' is unreachable" in problems[0].message
    assert "'proposal', 'synthesis', 'booking' form a cycle with no way to a terminal stage" in problems[1].message
    plan = _plan({"init": [("a", None)], "a": [("b", None)], "b": [("a", None)], "final": []})
    with pytest.raises(RunError, match="no transition holds"):
        _route(plan)


def test_a_cycle_left_only_by_a_revision_is_reported_at_that_stage(workspace_copy: Path) -> None:
    """limbo's only way on is back to proposal: once max_rounds is reached the router skips that
    revision and has nothing left to take, although synthesis can still reach final."""
    path = edit(workspace_copy, "stages.yaml", "    agents: [booking]\n    transitions:\n      - to: final\n", "    agents: [booking]\n    transitions:\n      - to: limbo\n")
    edit(workspace_copy, "stages.yaml", "  final:\n", "  limbo:\n    transitions:\n      - to: proposal\n  final:\n")
    problems = validate_workspace(workspace_copy)
    assert [place(p) for p in problems] == [(str(path), *pos(path, "limbo:"))]
    assert problems[0].message.startswith("stage 'limbo' leaves its cycle") and "max_rounds (2)" in problems[0].message
    assert "- to: final" in problems[0].fix
    plan = _plan({"init": [("a", None)], "a": [("final", "round > 5"), ("b", None)], "b": [("a", None)], "final": []})
    with pytest.raises(RunError, match="no transition holds"):
        _route(plan)


# --------------------------------------------------------------------------------------------
# many problems at once


def _break_everything(root: Path) -> dict[str, Path]:
    files = {
        "moot": edit(root, "moot.yaml", "max_repairs: 2", "max_repairs: two"),
        "critic": edit(root, "agents/critic.yaml", "kind: evaluator", "kind: judge"),
        "devil": edit(root, "agents/devils_advocate.yaml", "writes: [history, rewards]", "writes: [history, rewards, winner]"),
        "stages": edit(root, "stages.yaml", "agents: [synthesizer]", "agents: [synthesiser]"),
    }
    edit(root, "stages.yaml", "      - to: booking\n", "      - to: bookings\n")
    edit(root, "stages.yaml", "  final:\n", "  orphan:\n    transitions:\n      - to: final\n  final:\n")
    edit(root, "stages.yaml", "next_stage') == 'final'\"", "next_stage') == \"")
    files["policy"] = root / "policy.yaml"
    files["policy"].write_text("on_violation: maybe\nwriters:\n  rewards: [optimistic, critic, devils_advocate]\n")
    return files


def test_a_broken_workspace_reports_every_problem_together(workspace_copy: Path) -> None:
    files = _break_everything(workspace_copy)
    problems = validate_workspace(workspace_copy)
    st = files["stages"]
    assert [place(p) for p in problems] == [
        (str(files["moot"]), *pos(files["moot"], "two")),
        (str(files["critic"]), *pos(files["critic"], "judge")),
        (str(st), *pos(st, "synthesiser")),
        (str(st), *pos(st, "when: \"decision.get('next_stage') == \"", at='"')),
        (str(st), *pos(st, "bookings")),
        (str(st), *pos(st, "booking:")),
        (str(st), *pos(st, "orphan:")),
        (str(files["policy"]), *pos(files["policy"], "maybe")),
        (str(files["devil"]), *pos(files["devil"], "winner")),
    ]
    assert len({p.message.split(" ")[0] for p in problems}) >= 5
    assert all(p.fix for p in problems)
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(workspace_copy)
    err = info.value
    assert isinstance(err, WorkspaceError) and isinstance(err, ConfigError)
    assert str(err).splitlines() == [str(p) for p in problems]
    assert (err.path, err.line, err.column) == place(problems[0])
    assert all(line.count(":") >= 3 and "(fix: " in line for line in str(err).splitlines())


def test_moot_workspace_validate_prints_every_problem(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workspace", "validate", str(workspace_copy)]) == 0
    assert "is valid (5 agents, 5 stages)" in capsys.readouterr().out
    _break_everything(workspace_copy)
    assert main(["workspace", "validate", str(workspace_copy)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [str(p) for p in validate_workspace(workspace_copy)]
    assert err[-1] == f"moot: 9 problems in workspace {workspace_copy}"


def test_the_policy_may_live_in_moot_yaml(tmp_path: Path) -> None:
    """Design §8 lists the policy among moot.yaml's sections; policy.yaml stays the alternative."""
    import shutil

    from conftest import CLASSIC

    ws = tmp_path / "inline"
    shutil.copytree(CLASSIC, ws)
    policy = (ws / "policy.yaml").read_text()
    body = "".join(f"  {line}\n" for line in policy.splitlines() if line and not line.startswith("#"))
    (ws / "moot.yaml").write_text((ws / "moot.yaml").read_text() + "policy:\n" + body)
    twice = validate_workspace(ws)
    assert [p.message for p in twice] == ["the policy is given twice: here and in policy.yaml"]
    assert twice[0].file.endswith("moot.yaml") and twice[0].line is not None
    (ws / "policy.yaml").unlink()
    loaded = load_workspace(ws)
    assert loaded.policy.may_write("critic", "rewards") and not loaded.policy.may_write("synthesizer", "rewards")
    text = (ws / "moot.yaml").read_text().replace("rewards: [optimistic, critic, devils_advocate]", "rewards: [optimistic, critic, nobody]")
    (ws / "moot.yaml").write_text(text)
    problems = validate_workspace(ws)
    assert any("nobody" in p.message and p.file.endswith("moot.yaml") for p in problems), problems
    line = text.splitlines().index(next(l for l in text.splitlines() if "nobody" in l)) + 1
    assert any(p.line == line for p in problems if "nobody" in p.message)
