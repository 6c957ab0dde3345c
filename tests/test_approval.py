"""Human approval before a stage (issue 6): LangGraph interrupt, approve / edit / reject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from moot.errors import PolicyViolation, UsageError
from moot.persistence import open_store
from conftest import scripted_runtime


def _gate(workspace: Path, stage: str = "booking") -> Path:
    stages = workspace / "stages.yaml"
    text = stages.read_text()
    marker = f"  {stage}:\n"
    assert marker in text
    stages.write_text(text.replace(marker, f"{marker}    approval: true\n", 1))
    return workspace


@pytest.fixture
def gated(workspace_copy: Path) -> Path:
    return _gate(workspace_copy)


async def test_run_pauses_before_booking_and_approve_continues(gated: Path, classic_script: Any, tmp_path: Path) -> None:
    runtime, _ = scripted_runtime(classic_script, gated)
    async with runtime.open_store_and_tools(tmp_path / "m.db") as (saver, index):
        orch = runtime.orchestrator(saver, index=index)
        paused = await orch.run("Plan a 3-day trip to Lisbon under 1500 EUR")
        assert paused.status == "awaiting_approval"
        assert paused.pending and paused.pending["stage"] == "booking"
        assert paused.pending["decision"] == paused.state["decision"]
        assert (await index.get(paused.run_id)).status == "awaiting_approval"
        # nothing of the gated stage has run
        assert not [h for h in paused.state["history"] if h.get("agent") == "booking"]
        assert await orch.pending_approval(paused.session_id, paused.run_id) == paused.pending

        done = await orch.approve(paused.run_id, {"action": "approve", "reason": "fine"})
        assert done.status == "finished" and done.state["done"]
        kinds = [(h.get("agent"), h.get("type")) for h in done.state["history"]]
        assert ("human", "approval") in kinds
        assert any(agent == "booking" for agent, _ in kinds)
        assert (await index.get(paused.run_id)).status == "finished"
        with pytest.raises(UsageError, match="not waiting for approval"):
            await orch.approve(paused.run_id, {"action": "approve"})


async def test_edit_replaces_the_decision_and_reject_ends_the_run(gated: Path, classic_script: Any, tmp_path: Path) -> None:
    runtime, _ = scripted_runtime(classic_script, gated)
    async with runtime.open_store_and_tools(tmp_path / "m.db") as (saver, index):
        orch = runtime.orchestrator(saver, index=index)
        first = await orch.run("Plan a 3-day trip to Lisbon under 1500 EUR")
        edited = {**first.state["decision"], "summary": "edited by a human"}
        done = await orch.approve(first.run_id, {"action": "edit", "decision": edited})
        assert done.state["decision"]["summary"] == "edited by a human"
        approval = [h for h in done.state["history"] if h.get("type") == "approval"]
        assert approval[0]["content"]["decision"]["summary"] == "edited by a human"

        second = await orch.run("Plan a weekend in Porto", session_id=first.session_id)
        assert second.status == "awaiting_approval"
        ended = await orch.approve(second.run_id, {"action": "reject", "reason": "too expensive"})
        assert ended.status == "finished" and ended.state["done"]
        assert not [h for h in ended.state["history"] if h.get("agent") == "booking"]
        assert ended.state["history"][-1]["content"] == {"action": "reject", "reason": "too expensive"}


async def test_bad_answers_leave_the_run_paused(gated: Path, classic_script: Any, tmp_path: Path) -> None:
    (gated / "policy.yaml").write_text(
        "on_violation: fail\nwriters:\n  rewards: [optimistic, critic, devils_advocate]\n  decision: [synthesizer]\n"
    )
    runtime, _ = scripted_runtime(classic_script, gated)
    async with runtime.open_store_and_tools(tmp_path / "m.db") as (saver, index):
        orch = runtime.orchestrator(saver, index=index)
        paused = await orch.run("Plan a 3-day trip to Lisbon under 1500 EUR")
        for bad, match in [
            ({"action": "maybe"}, "invalid approval answer"),
            ({"action": "edit"}, "needs the edited 'decision'"),
            ({"action": "approve", "decision": {"x": 1}}, "only an 'edit' answer"),
            ("yes", "invalid approval answer"),
        ]:
            with pytest.raises(UsageError, match=match):
                await orch.approve(paused.run_id, bad)
        with pytest.raises(PolicyViolation, match="human"):
            await orch.approve(paused.run_id, {"action": "edit", "decision": {"summary": "x"}})
        assert await orch.pending_approval(paused.session_id, paused.run_id) == paused.pending
        done = await orch.approve(paused.run_id, {"action": "approve"})
        assert done.status == "finished"


def test_cli_run_pauses_and_moot_approve_continues(gated: Path, tmp_path: Path) -> None:
    """`moot run` on a gated workspace stops at the approval; `moot approve` answers it."""
    import json
    import subprocess

    from clitools import cli_env, moot_cmd

    home = tmp_path / "home"
    script = str(Path(__file__).parent / "data" / "classic_script.json")
    common = ("-w", str(gated), "--model", f"scripted:{script}", "--json")

    def moot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(moot_cmd(*args), env=cli_env(home), capture_output=True, text=True, timeout=120)

    paused = moot("run", "Plan a 3-day trip to Lisbon under 1500 EUR", *common)
    assert paused.returncode == 0, paused.stderr
    events = [json.loads(line) for line in paused.stdout.splitlines()]
    assert events[-1]["type"] == "approval_requested" and events[-1]["data"]["stage"] == "booking"
    run_id = events[0]["run_id"]
    assert f"moot approve {run_id}" in paused.stderr
    assert events[0]["data"]["workspace_version"]  # the run records the workspace version

    decision = tmp_path / "decision.json"
    decision.write_text(json.dumps({**events[-1]["data"]["decision"], "summary": "by a human"}))
    done = moot("approve", run_id, "--edit", str(decision), "--reason", "tweak", *common)
    assert done.returncode == 0, done.stderr
    finished = [json.loads(line) for line in done.stdout.splitlines()][-1]
    assert finished["type"] == "run_finished" and finished["data"]["decision"]["summary"] == "by a human"
    again = moot("approve", run_id, *common)
    assert again.returncode == 2 and "not waiting for approval" in again.stderr
