"""`moot eval` end to end: the CLI in-process on a fixture workspace with scripted answers.

Success is never taken from the model's word: every number below comes from the bookings the
travel server holds after each run, read by the task set's probes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from moot.cli.main import main
from moot.eval import wilson

DATA = Path(__file__).parent / "data" / "eval"
WORKSPACE = DATA / "travel"
TASKS = DATA / "tasks.yaml"
BASE_SCRIPT: dict[str, Any] = json.loads((WORKSPACE / "script.json").read_text())


def hotel(item_id: str) -> dict[str, Any]:
    """The booking agent's answer: book `item_id` for Ana Silva, 2 nights from 2027-01-10."""
    arguments = {"kind": "hotel", "item_id": item_id, "traveller": "Ana Silva", "checkin": "2027-01-10", "nights": 2}
    return {"tool_calls": [{"tool": "book", "arguments": arguments}]}


def script(tmp_path: Path, runs: list[str | None], name: str = "script.json") -> Path:
    """A script for consecutive moot runs: per run, the hotel it books, or None (synthesis ends it).

    Answers are queued per agent and runs go in order, so run n takes the n-th answer of each
    agent that speaks in it; the single agent always answers in text (it books nothing).
    """
    data = dict(BASE_SCRIPT)
    data["synthesizer"] = [
        {"rationale": "The top plan wins on quality against risk.", "next_stage": "booking" if item else "final"} for item in runs
    ]
    data["booking"] = [hotel(item) for item in runs if item]
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def run_cli(*args: str) -> int:
    return main(["eval", *args])


def by_task(runs: list[dict[str, Any]], arm: str) -> dict[str, dict[str, Any]]:
    return {r["task_id"]: r for r in runs if r["arm"] == arm}


def test_the_numbers_come_from_the_bookings_each_run_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = script(tmp_path, ["H-LIS-BELEM", "H-LIS-ALFAMA", "H-LIS-BELEM", None])
    out = tmp_path / "eval.json"
    assert run_cli(str(WORKSPACE), str(TASKS), "--model", f"scripted:{model}", "--json", str(out)) == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"summary", "runs"}
    assert [(r["task_id"], r["arm"]) for r in doc["runs"]] == [
        (t, a) for t in ("alfama-full", "alfama-2n", "lisbon-cheap", "atlantis") for a in ("moot", "single")
    ]

    moot = by_task(doc["runs"], "moot")
    assert {t: r["ok"] for t, r in moot.items()} == {"alfama-full": True, "alfama-2n": True, "lisbon-cheap": False, "atlantis": True}
    # the setup sold the guesthouse out, so the run's booking went elsewhere; the probes saw all four
    assert [b["item_id"] for b in moot["alfama-full"]["probes"]["everyone"]] == ["H-LIS-ALFAMA"] * 3 + ["H-LIS-BELEM"]
    # Belem for 2 nights is 190 EUR: over the budget of 100, read from the server's own price
    cheap = moot["lisbon-cheap"]
    assert cheap["probes"]["mine"][0]["price_eur"] == 190
    assert cheap["failed"].startswith("sum(b['price_eur'] for b in mine) <= vars['budget'] (")
    assert cheap["failed"].endswith("tasks.yaml:38:9)")
    assert cheap["headline"].startswith("done: belem-stay")
    assert moot["atlantis"]["outcome"]["status"] == "done" and moot["atlantis"]["probes"]["mine"] == []
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 and r["refused_calls"] == 0 for r in moot.values())

    single = by_task(doc["runs"], "single")
    assert {t: r["ok"] for t, r in single.items()} == {"alfama-full": False, "alfama-2n": False, "lisbon-cheap": False, "atlantis": True}
    assert single["alfama-2n"]["failed"].startswith("len(mine) >= 1 (")
    assert single["alfama-2n"]["headline"].startswith("I could not book anything")

    summary = doc["summary"]
    assert summary["moot"]["ok"] == 3 and summary["moot"]["runs"] == 4 and summary["moot"]["success_rate"] == 0.75
    assert summary["moot"]["ci95"] == [round(x, 4) for x in wilson(3, 4)]
    assert summary["moot"]["ci95"] == pytest.approx([0.3006, 0.9544], abs=1e-4)
    assert (summary["moot"]["feasible"]["ok"], summary["moot"]["feasible"]["runs"]) == (2, 3)
    assert (summary["moot"]["infeasible"]["ok"], summary["moot"]["infeasible"]["runs"]) == (1, 1)
    assert (summary["single"]["feasible"]["ok"], summary["single"]["infeasible"]["ok"]) == (0, 1)
    assert summary["single"]["success_rate"] == 0.25
    assert summary["moot"]["no_refused_calls"] == 1.0
    tokens = summary["moot"]["tokens"]
    assert tokens["prompt_mean"] == pytest.approx(sum(r["prompt_tokens"] for r in moot.values()) / 4, abs=0.1)
    seconds = sorted(r["seconds"] for r in moot.values())
    assert summary["moot"]["seconds"]["median"] == pytest.approx((seconds[1] + seconds[2]) / 2, abs=1e-3)

    printed = capsys.readouterr().out
    assert "arm moot: 3/4 = 75% [30%, 95%]" in printed and "arm single: 1/4 = 25%" in printed
    assert "lisbon-cheap" in printed and "FAIL" in printed


def test_repeats_start_from_nothing_and_k_selects_tasks(tmp_path: Path) -> None:
    """Each repeat books the guesthouse again: it finds an empty inventory, never the last repeat's booking."""
    model = script(tmp_path, ["H-LIS-ALFAMA"] * 3)
    out = tmp_path / "eval.json"
    flags = ["-k", "2n", "--repeat", "3", "--arms", "moot"]
    code = run_cli(str(WORKSPACE), str(TASKS), "--model", f"scripted:{model}", "--json", str(out), *flags)
    assert code == 0
    runs = json.loads(out.read_text())["runs"]
    assert [(r["task_id"], r["repeat"], r["arm"]) for r in runs] == [("alfama-2n", n, "moot") for n in range(3)]
    assert all(r["ok"] for r in runs), [r["failed"] for r in runs]
    assert [len(r["probes"]["everyone"]) for r in runs] == [1, 1, 1]
    assert len({r["run_id"] for r in runs}) == 3


def test_a_slow_run_is_a_failed_task_with_reason_timeout(tmp_path: Path) -> None:
    workspace = tmp_path / "slow"
    shutil.copytree(WORKSPACE, workspace)
    spec = yaml.safe_load((workspace / "moot.yaml").read_text())
    spec["models"]["default"]["latency"] = 5.0  # every answer takes 5 s
    (workspace / "moot.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "eval.json"
    assert run_cli(str(workspace), str(TASKS), "--timeout", "0.4", "-k", "atlantis", "--json", str(out)) == 0
    doc = json.loads(out.read_text())
    assert [(r["arm"], r["ok"], r["error"]) for r in doc["runs"]] == [("moot", False, "timeout"), ("single", False, "timeout")]
    assert all(0.35 < r["seconds"] < 3 for r in doc["runs"])
    assert doc["summary"]["moot"]["failed_runs"] == 1 and doc["summary"]["moot"]["infeasible"]["ok"] == 0


BROKEN = """\
workspace: demo
probes:
  mine: {tool: list_booking, arguments: {}}
checks:
  booked_ok:
    - "len(mine) >= 1"
    - "len(mine >= 1"
tasks:
  - id: Lisbon 3d
    task: "Plan a trip"
    checks: [booked_okk]
  - id: porto
    taks: "Plan a trip to Porto"
    expect: ["bookings[0]['status'] == 'confirmed'"]
  - id: madrid
    task: "Plan a trip to Madrid"
    expect: ["len(mine) == 0"]
    setup:
      - {tool: book, arguments: {kind: hotel, checkin: "=day('next friday'", nights: 2}}
"""


def test_a_broken_task_set_reports_every_problem_with_its_line_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = tmp_path / "broken.yaml"
    tasks.write_text(BROKEN)
    out = tmp_path / "eval.json"
    assert run_cli(str(WORKSPACE), str(tasks), "--json", str(out)) == 2
    err = capsys.readouterr().err
    where = f"{tasks}:"
    lines = [line for line in err.splitlines() if where in line]
    expected = [
        (1, "the task set is for workspace 'demo', but the evaluated workspace is 'eval_travel'"),
        (3, "probes.mine.tool: unknown tool 'list_booking'"),
        (7, "checks.booked_ok[1]: invalid predicate 'len(mine >= 1': syntax error"),
        (9, "tasks[0].id: 'Lisbon 3d' is not a slug"),
        (11, "tasks[0].checks[0]: unknown check group 'booked_okk' (groups: booked_ok)"),
        (13, "tasks[1].taks: unknown field"),
        (12, "tasks[1].task: Field required"),
        (19, "tasks[2].setup[0].arguments.checkin: invalid expression"),
    ]
    for line, text in expected:
        assert any(f"{where}{line}:" in found and text in found for found in lines), (line, text, err)
    assert len(lines) == len(expected), err
    assert not out.exists()


def test_a_predicate_that_does_not_parse_is_reported_at_load_with_its_place(tmp_path: Path) -> None:
    from moot.eval import load_taskset
    from moot.workspace.problems import WorkspaceInvalid

    tasks = tmp_path / "typo.yaml"
    tasks.write_text(
        "probes:\n  mine: {tool: list_bookings}\ntasks:\n  - id: one\n    task: go\n    expect:\n"
        "      - \"len(mine) >= 1\"\n      - \"len(bookngs) == 0\"\n"
    )
    with pytest.raises(WorkspaceInvalid) as caught:
        load_taskset(tasks)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (8, 9)
    assert "unknown name 'bookngs'" in problem.message and "mine" in problem.message
    assert str(problem).startswith(f"{tasks}:8:9: tasks[0].expect[1]: invalid predicate 'len(bookngs) == 0'")


def test_a_problem_at_the_top_level_does_not_hide_the_problems_of_the_tasks(tmp_path: Path) -> None:
    from moot.eval import load_taskset
    from moot.workspace.problems import WorkspaceInvalid

    tasks = tmp_path / "top.yaml"
    tasks.write_text("workspce: x\nprobes:\n  mine: {tool: list_bookings}\ntasks:\n  - id: a\n    task: go\n    expect: ['len(mne) > 0']\n")
    with pytest.raises(WorkspaceInvalid) as caught:
        load_taskset(tasks)
    assert [(p.line, p.message.split(":")[0]) for p in caught.value.problems] == [(1, "workspce"), (7, "tasks[0].expect[0]")]
