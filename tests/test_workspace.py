"""Bad workspace input: every error names the file and the line, and nothing is written.

Each test edits a copy of the classic fixture workspace (`workspace_copy`: the demo's shape
before issue 11) and loads it with the public loader (`load_workspace`) or `WorkspaceRunner.load`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import scripted_runtime

from moot.errors import ConfigError, WorkspaceError
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner
from moot.workspace.loader import load_workspace
from moot.workspace.problems import WorkspaceInvalid


def edit(root: Path, file: str, old: str, new: str) -> Path:
    path = root / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


def load_error(root: Path, kind: type[Exception] = WorkspaceError) -> Exception:
    before = snapshot(root)
    with pytest.raises(kind) as info:
        load_workspace(root)
    assert snapshot(root) == before, "a failed load must not write into the workspace"
    return info.value


def test_the_demo_workspace_loads(moot_home: Path) -> None:
    ws = load_workspace("demo")
    assert ws.name == "demo"
    assert set(ws.agents) == {"intake", "scout", "optimistic", "critic", "devils_advocate", "measure", "synthesizer", "booking"}
    assert ws.plan.order == ("init", "intake", "gather", "proposal", "synthesis", "booking", "final")
    assert ws.plan.max_rounds == 1 and ws.plan["final"].terminal
    assert ws.plan["proposal"].steps == (("optimistic",), ("critic", "devils_advocate", "measure"))
    assert not moot_home.exists()  # loading writes nothing


# --------------------------------------------------------------------------------------------
# malformed YAML


@pytest.mark.parametrize(
    ("file", "old", "new", "needle"),
    [
        ("stages.yaml", "    mode: sequential", "    mode: sequential: x", "mode: sequential: x"),
        ("stages.yaml", "    weights: {novelty: 0.5,", "    weights: {novelty: 0.5,,", "weights: {novelty"),
        ("moot.yaml", "max_repairs: 2", "max_repairs: 2\n  limits: {", "limits: {"),
        ("policy.yaml", "  rewards: [optimistic, critic, devils_advocate]", "  rewards: [optimistic, critic, devils_advocate]\n\twinner: [synthesizer]", "\twinner"),
    ],
    ids=["mapping-in-value", "flow-mapping", "bad-indent", "tab"],
)
def test_malformed_yaml_names_file_and_line(workspace_copy: Path, file: str, old: str, new: str, needle: str) -> None:
    path = edit(workspace_copy, file, old, new)
    err = load_error(workspace_copy)
    assert err.path == str(path)
    assert "invalid YAML" in str(err)
    assert err.line == line_of(path, needle), str(err)
    assert str(err).startswith(f"{path}:{err.line}:{err.column}: ")


@pytest.mark.parametrize(
    ("file", "old", "new", "needle"),
    [
        ("agents/critic.yaml", "exit: once_per_stage", "exit: [once_per_stage", "exit: [once_per_stage"),
        ("stages.yaml", "agents: [optimistic, [critic, devils_advocate]]", "agents: [optimistic, [critic, devils_advocate]", "agents: [optimistic"),
    ],
    ids=["at-end-of-file", "mid-file"],
)
def test_an_unclosed_bracket_is_reported_at_its_line(workspace_copy: Path, file: str, old: str, new: str, needle: str) -> None:
    """The most common YAML slip. PyYAML notices it only at the next token (the next line, or
    past the end of the file); its `context_mark` ("while parsing a flow sequence") holds the
    line of the unclosed bracket, which is the line to fix."""
    path = edit(workspace_copy, file, old, new)
    err = load_error(workspace_copy)
    assert err.path == str(path) and "invalid YAML" in str(err)
    assert err.line == line_of(path, needle), str(err)


def test_a_file_that_is_not_a_mapping(workspace_copy: Path) -> None:
    path = workspace_copy / "agents" / "critic.yaml"
    path.write_text("- just\n- a list\n")
    err = load_error(workspace_copy)
    assert err.path == str(path) and "mapping" in str(err)


def test_a_file_that_is_not_utf8(workspace_copy: Path) -> None:
    path = workspace_copy / "stages.yaml"
    path.write_bytes(b"initial: init\nmax_rounds: \xff\xfe\n")
    err = load_error(workspace_copy)
    assert err.path == str(path) and "UTF-8" in str(err)


# --------------------------------------------------------------------------------------------
# wrong field types


@pytest.mark.parametrize(
    ("file", "old", "new", "needle", "field"),
    [
        ("stages.yaml", "max_rounds: 2", "max_rounds: lots", "max_rounds", "max_rounds"),
        ("stages.yaml", "quality: 1.5", "quality: high", "quality: high", "stages.synthesis.weights.quality"),
        ("stages.yaml", "    mode: sequential", "    mode: sideways", "mode: sideways", "stages.proposal.mode"),
        ("stages.yaml", "  final:\n    terminal: true", "  final:\n    terminal: maybe", "terminal: maybe", "stages.final.terminal"),
        ("agents/critic.yaml", "dimensions: [confidence, quality, risk]", "dimensions: 5", "dimensions: 5", "dimensions"),
        ("agents/critic.yaml", "kind: evaluator", "kind: judge", "kind: judge", "kind"),
        ("agents/critic.yaml", "writes: [history, rewards]", "writes: [history, rewardz]", "writes", "writes.1"),
        ("agents/critic.yaml", "exit: once_per_stage", "exit: once_per_stage\ncolour: red", "colour", "colour"),
        ("agents/optimistic.yaml", "max_candidates: ", "max_candidates: many  # was ", "max_candidates", "max_candidates"),
        ("moot.yaml", "max_repairs: 2", "max_repairs: two", "max_repairs", "max_repairs"),
        ("moot.yaml", "  task_max_chars: 4000", "  task_max_chars: -5", "task_max_chars", "limits.task_max_chars"),
    ],
)
def test_wrong_field_type_names_file_line_and_field(
    workspace_copy: Path, file: str, old: str, new: str, needle: str, field: str
) -> None:
    path = edit(workspace_copy, file, old, new)
    err = load_error(workspace_copy)
    assert err.path == str(path)
    assert err.line == line_of(path, needle), str(err)
    assert f"{field}:" in str(err)


def test_a_missing_required_field(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "agents/booking.yaml", "name: booking\n", "")
    err = load_error(workspace_copy)
    assert err.path == str(path) and "name: Field required" in str(err)


# --------------------------------------------------------------------------------------------
# cross-file references


def test_unknown_agent_in_stages(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "[critic, devils_advocate]]", "[critic, devils_advocat]]")
    err = load_error(workspace_copy)
    assert err.path == str(path) and err.line == line_of(path, "devils_advocat]")
    assert "unknown agent 'devils_advocat'" in str(err) and "devils_advocate" in str(err)


def test_unknown_agent_in_a_block_list_points_at_its_item(workspace_copy: Path) -> None:
    path = edit(
        workspace_copy,
        "stages.yaml",
        "    agents: [optimistic, [critic, devils_advocate]]\n",
        "    agents:\n      - optimistic\n      - [critic, devils_advocate]\n      - judge\n",
    )
    err = load_error(workspace_copy)
    assert err.line == line_of(path, "- judge") and "'judge'" in str(err)


def test_transition_to_an_unknown_stage(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "      - to: final\n        when", "      - to: finale\n        when")
    err = load_error(workspace_copy)
    assert err.path == str(path) and err.line == line_of(path, "to: finale")
    assert "unknown stage 'finale'" in str(err)


def test_undefined_initial_stage(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "initial: init", "initial: start")
    err = load_error(workspace_copy)
    assert err.line == line_of(path, "initial: start") and "'start'" in str(err)


def test_an_agent_defined_twice(workspace_copy: Path) -> None:
    dup = workspace_copy / "agents" / "zz_critic_again.yaml"
    dup.write_text((workspace_copy / "agents" / "critic.yaml").read_text())
    err = load_error(workspace_copy)
    assert err.path == str(dup) and "defined twice" in str(err)


def test_a_model_the_workspace_does_not_define_fails_when_the_graph_is_built(workspace_copy: Path, demo_script: dict) -> None:
    runtime = WorkspaceRunner.load(workspace_copy, models={"small": ScriptedChatModel(script=demo_script)})
    with pytest.raises(ConfigError) as info:
        runtime.graph()
    assert "uses model 'default', which the workspace does not define (models: small)" in str(info.value)


# --------------------------------------------------------------------------------------------
# expressions


@pytest.mark.parametrize(
    ("old", "new", "needle", "fragment"),
    [
        ("next_stage') == 'final'\"", "next_stage') == \"", "== \"", "syntax error"),
        ("next_stage') == 'final'\"", "next_stage') == nxt\"", "== nxt", "unknown name 'nxt'"),
        ("next_stage') == 'final'\"", "next_stage').__class__\"", "__class__", "'__class__' is not allowed"),
    ],
    ids=["syntax", "unknown-name", "dunder"],
)
def test_a_transition_expression_that_does_not_parse(
    workspace_copy: Path, old: str, new: str, needle: str, fragment: str
) -> None:
    path = edit(workspace_copy, "stages.yaml", old, new)
    err = load_error(workspace_copy, ConfigError)
    assert isinstance(err, WorkspaceInvalid) and len(err.problems) == 1
    assert str(err).startswith(f"{path}:{line_of(path, needle)}:{err.column}: invalid expression")
    assert fragment in str(err)


def test_a_should_exit_that_does_not_parse(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "    agents: [booking]\n", "    agents: [booking]\n    should_exit: \"len(executed) >=\"\n")
    err = load_error(workspace_copy, ConfigError)
    assert str(err).startswith(f"{path}:{line_of(path, 'should_exit')}:{err.column}: ") and "syntax error" in str(err)


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ('exit: {when: "len(history) >"}', "syntax error"),
        ('exit: {when: "open(task)"}', "unknown name 'open'"),
        ("exit: {max_runs: 0}", "positive integer"),
        ("exit: twice", "once_per_stage"),
    ],
)
def test_a_bad_exit_rule_names_the_agent_file_and_line(workspace_copy: Path, new: str, fragment: str) -> None:
    path = edit(workspace_copy, "agents/critic.yaml", "exit: once_per_stage", new)
    err = load_error(workspace_copy)
    assert err.path == str(path) and err.line == line_of(path, "exit:")
    assert fragment in str(err)


# --------------------------------------------------------------------------------------------
# the workspace itself


def test_unknown_workspace_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceError) as info:
        load_workspace("no_such_workspace")
    assert "unknown workspace 'no_such_workspace'" in str(info.value)
    with pytest.raises(WorkspaceError):
        WorkspaceRunner.load("no_such_workspace", models={"default": ScriptedChatModel(script=[])})
    assert os.listdir(tmp_path) == []


def test_missing_moot_yaml(workspace_copy: Path) -> None:
    (workspace_copy / "moot.yaml").unlink()
    err = load_error(workspace_copy)
    assert err.path == str(workspace_copy) and "moot.yaml is missing" in str(err)


def test_missing_stages_yaml(workspace_copy: Path) -> None:
    (workspace_copy / "stages.yaml").unlink()
    err = load_error(workspace_copy)
    assert err.path == str(workspace_copy / "stages.yaml") and "not found" in str(err)


def test_missing_agents_folder(workspace_copy: Path) -> None:
    for path in (workspace_copy / "agents").iterdir():
        path.unlink()
    (workspace_copy / "agents").rmdir()
    err = load_error(workspace_copy)
    assert "agents/" in str(err)


def test_non_terminal_stage_without_fallback_transition(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "      - to: booking\n", "      - to: booking\n        when: \"winner is not None\"\n")
    err = load_error(workspace_copy)
    assert err.path == str(path) and err.line == line_of(path, "  synthesis:")
    assert "'synthesis'" in str(err) and "fallback" in str(err)


def test_non_terminal_stage_without_any_transition(workspace_copy: Path) -> None:
    path = edit(workspace_copy, "stages.yaml", "    agents: [booking]\n    transitions:\n      - to: final\n", "    agents: [booking]\n")
    err = load_error(workspace_copy)
    assert err.line == line_of(path, "  booking:") and "'booking'" in str(err)


def test_no_terminal_stage(workspace_copy: Path) -> None:
    edit(workspace_copy, "stages.yaml", "    terminal: true", "    transitions:\n      - to: init")
    err = load_error(workspace_copy)
    assert "terminal" in str(err)


async def test_a_valid_edited_workspace_runs(workspace_copy: Path, classic_script: dict) -> None:
    """The edits above are the only thing wrong in each case: an equivalent valid edit runs."""
    edit(workspace_copy, "stages.yaml", "max_rounds: 2", "max_rounds: 3")
    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    result = await runtime.orchestrator().run("Plan a 3-day trip to Lisbon under 1500 EUR")
    assert result.status == "finished" and result.winner == "alfama-walks"
