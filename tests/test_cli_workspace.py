"""`moot workspace schema/new/validate`: schemas that match the loader, a scaffold that runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from moot.cli.main import main
from moot.workspace.runner import WorkspaceRunner
from moot.models.scripted import ScriptedChatModel
from moot.workspace.loader import builtin_path


def test_the_published_schemas_accept_the_demo_and_reject_a_typo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["workspace", "schema"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert set(found) == {"moot.yaml", "agents/*.yaml", "stages.yaml", "policy.yaml"}
    demo = builtin_path("demo")
    Draft202012Validator(found["moot.yaml"]).validate(yaml.safe_load((demo / "moot.yaml").read_text()))
    Draft202012Validator(found["stages.yaml"]).validate(yaml.safe_load((demo / "stages.yaml").read_text()))
    Draft202012Validator(found["policy.yaml"]).validate(yaml.safe_load((demo / "policy.yaml").read_text()))
    assert list(Draft202012Validator(found["policy.yaml"]).iter_errors({"on_violation": "maybe"}))
    for agent in (demo / "agents").glob("*.yaml"):
        Draft202012Validator(found["agents/*.yaml"]).validate(yaml.safe_load(agent.read_text()))
    critic = yaml.safe_load((demo / "agents" / "critic.yaml").read_text())
    assert list(Draft202012Validator(found["agents/*.yaml"]).iter_errors({**critic, "promt": "typo"}))
    assert main(["workspace", "schema", "-o", str(tmp_path / "schemas")]) == 0
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == ["agents.schema.json", "moot.schema.json", "policy.schema.json", "stages.schema.json"]


async def test_a_new_workspace_runs_as_generated(tmp_path: Path, demo_script: dict[str, Any]) -> None:
    target = tmp_path / "panel"
    assert main(["workspace", "new", "panel", "--dir", str(target)]) == 0
    assert main(["workspace", "validate", str(target)]) == 0
    runtime = WorkspaceRunner.load(target, models={"default": ScriptedChatModel(script=demo_script)})
    assert runtime.workspace.name == "panel"
    async with runtime.open_store_and_tools(tmp_path / "moot.db") as (saver, index):
        result = await runtime.orchestrator(saver, index=index).run("Plan a 3-day trip to Lisbon under 1500 EUR")
    assert result.status == "finished" and result.winner == "plan-1"  # the scaffold is the demo's shape


def test_bad_names_and_folders_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workspace", "new", "Bad-Name", "--dir", str(tmp_path / "x")]) == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["workspace", "new", "ok", "--dir", str(tmp_path / "full")]) == 2
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    (tmp_path / "broken").mkdir()
    assert main(["workspace", "validate", str(tmp_path / "broken")]) == 2
    assert "moot.yaml is missing" in capsys.readouterr().err
