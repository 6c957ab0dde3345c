"""The `moot` command end to end with the scripted model (issue 2), as a user runs it.

Every call is a fresh `python -m moot.cli.main` process with its own `MOOT_HOME`. The calls that
do not depend on each other run at the same time (module fixture `cli`), which keeps this file
fast; each test then checks one behaviour of one call.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from clitools import run_many
import yaml

from moot.cli.main import main

DATA = Path(__file__).parent / "data"
SCRIPT = DATA / "classic_script.json"
# the runs below are of the classic fixture workspace (the demo's shape before issue 11)
CLASSIC = ("-w", str(DATA / "workspaces" / "classic"))
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
AGENTS = ("optimistic", "critic", "devils_advocate", "synthesizer", "booking")
# the classic workspace's booking agent runs twice in its stage (`exit: {max_runs: 2}`): it searches, then books
AGENT_RUNS = ("optimistic", "critic", "devils_advocate", "synthesizer", "booking", "booking")
STAGES = ["init", "proposal", "synthesis", "booking", "final"]








def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of `path` containing `needle`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def expected_totals(script: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Reward totals per candidate per dimension, summed over the scoring agents' answers."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for cand in script["optimistic"][0]["candidates"]:
        for dim in ("novelty", "confidence", "quality", "risk"):
            totals[cand["id"]][dim] += cand[dim]
    for agent in ("critic", "devils_advocate"):
        for review in script[agent][0]["reviews"]:
            for dim, value in review.items():
                if dim not in ("candidate", "comment"):
                    totals[review["candidate"]][dim] += value
    return {c: dict(d) for c, d in totals.items()}


# --- the workspaces of the bad-input cases --------------------------------------------------------


def classic_copy(root: Path, name: str) -> Path:
    target = root / name
    shutil.copytree(DATA / "workspaces" / "classic", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def ws_too_long(root: Path) -> tuple[Path, Path, str]:
    ws = classic_copy(root, "limit")
    main = yaml.safe_load((ws / "moot.yaml").read_text())
    main.setdefault("limits", {})["task_max_chars"] = 40
    (ws / "moot.yaml").write_text(yaml.safe_dump(main, sort_keys=False))
    return ws, ws / "moot.yaml", ""


def ws_stages_bad_yaml(root: Path) -> tuple[Path, Path, str]:
    ws = classic_copy(root, "bad-yaml")
    edit(ws / "stages.yaml", "agents: [optimistic, [critic, devils_advocate]]", "agents: [optimistic, [critic, devils_advocate]")
    return ws, ws / "stages.yaml", ""


def ws_stages_unknown_agent(root: Path) -> tuple[Path, Path, str]:
    ws = classic_copy(root, "ghost")
    edit(ws / "stages.yaml", "agents: [optimistic, [critic, devils_advocate]]", "agents: [optimistic, [critic, ghost_writer]]")
    return ws, ws / "stages.yaml", "ghost_writer"


def ws_policy_invalid(root: Path) -> tuple[Path, Path, str]:
    ws = classic_copy(root, "policy")
    (ws / "policy.yaml").write_text("on_violation: fail\nwriters: {rewards: [optimistic, nobody_here]}\n")
    return ws, ws / "policy.yaml", "nobody_here"


def ws_expression(root: Path) -> tuple[Path, Path, str]:
    ws = classic_copy(root, "expr")
    edit(ws / "stages.yaml", "when: \"decision.get('next_stage') == 'proposal'\"", "when: \"decision.get('next_stage') == ('proposal'\"")
    return ws, ws / "stages.yaml", "== ('proposal'"


def ws_exit_expression(root: Path) -> tuple[Path, Path, str]:
    ws = classic_copy(root, "exit-expr")
    edit(ws / "agents" / "critic.yaml", "exit: once_per_stage", 'exit: {when: "runs >>> 1"}')
    return ws, ws / "agents" / "critic.yaml", "runs >>> 1"


BAD_WORKSPACES = {
    "stages_bad_yaml": (ws_stages_bad_yaml, "YAML"),
    "stages_unknown_agent": (ws_stages_unknown_agent, "ghost_writer"),
    "policy_invalid": (ws_policy_invalid, "nobody_here"),
    "expression": (ws_expression, "expression"),
    "exit_expression": (ws_exit_expression, "expression"),
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("cli")
    homes: dict[str, Path] = {}

    def home(name: str) -> Path:
        homes[name] = root / f"home-{name}"
        return homes[name]

    model = ("--model", f"scripted:{SCRIPT}")
    bad_script = root / "not-json-script.json"
    bad_script.write_text(json.dumps(["Sure! Here is my plan: go to Lisbon."]))
    ghost = ws_stages_unknown_agent(root)
    jobs: dict[str, tuple[Path, tuple[str, ...]]] = {
        "live": (home("live"), ("run", TASK, *CLASSIC, *model)),
        "json": (home("json"), ("run", TASK, *CLASSIC, *model, "--json")),
        "failing": (home("failing"), ("run", TASK, *CLASSIC, "--model", f"scripted:{bad_script}", "--json")),
        # bad input, as a process sees it (the whole matrix runs in process below)
        "stages_unknown_agent": (home("stages_unknown_agent"), ("run", TASK, "-w", str(ghost[0]), *model)),
    }
    results = run_many(jobs)
    results.update(
        run_many(
            {
                "runs_live": (homes["live"], ("runs",)),
                "runs_failing": (homes["failing"], ("runs",)),
            }
        )
    )
    return {"homes": homes, "ghost": ghost, "results": results}


# --- a run end to end ----------------------------------------------------------------------------


def test_run_shows_the_deliberation_live(cli: dict[str, Any], classic_script: dict[str, Any]) -> None:
    result = cli["results"]["live"]
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert re.search(r"run-[0-9a-f]{12}", lines[0]) and TASK in out
    # every stage, in order
    ruled = [m.group(1) for m in re.finditer(r"(\w+) · round \d+", out)]
    assert ruled == STAGES
    for agent in AGENTS:
        assert re.search(rf"▶ {agent}\b", out), f"{agent} start not shown"
        assert re.search(rf"✔ {agent} wrote", out), f"{agent} finish not shown"
    # the rewards table: one row per candidate with its totals (dimensions in alphabetical order)
    assert "rewards" in out
    for cand, dims in expected_totals(classic_script).items():
        rows = [line for line in lines if line.split() and line.split()[0] == cand]
        assert rows, f"no rewards row for {cand}"
        assert re.findall(r"-?\d+\.\d\d", rows[0]) == [f"{dims[d]:.2f}" for d in sorted(dims)]
    # the decision and the winner
    assert "decision" in out and "winner: alfama-walks" in out
    assert "done: alfama-walks (Alfama and Baixa on foot); 2 action(s) succeeded" in out  # the outcome's headline
    # tokens: the table and its total row
    assert "tokens" in out
    total = [line for line in lines if line.split() and line.split()[0] == "total"]
    assert total and len(total[0].split("│")) == 6  # total │ model │ calls │ prompt │ completion │ seconds


def test_run_json_gives_one_event_per_line(cli: dict[str, Any]) -> None:
    result = cli["results"]["json"]
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]  # every line is one JSON object
    assert all(isinstance(e, dict) for e in events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert len({e["run_id"] for e in events}) == 1 and len({e["session_id"] for e in events}) == 1
    assert {e["workspace"] for e in events} == {"classic"}
    assert [e["stage"] for e in events if e["type"] == "stage_entered"] == STAGES
    started = [e["agent"] for e in events if e["type"] == "agent_started"]
    finished = [e["agent"] for e in events if e["type"] == "agent_finished"]
    assert sorted(started) == sorted(AGENT_RUNS) and sorted(finished) == sorted(AGENT_RUNS)
    # the CLI runs with the workspace's MCP servers: each intent of the booking agent is executed
    # by the tool node (as `tool_runtime`), with the idempotency key `<run id>:<intent number>`
    run_id = events[0]["run_id"]
    calls = [(e["agent"], e["stage"], e["data"]["tool"], e["data"].get("key")) for e in events if e["type"] == "tool_call"]
    assert calls == [
        ("booking", "booking", "search_hotels", None),
        ("tool_runtime", "booking", "search_hotels", f"{run_id}:0"),
        ("booking", "booking", "book", None),
        ("tool_runtime", "booking", "book", f"{run_id}:1"),
    ]
    results = [(e["agent"], e["stage"], e["data"]["tool"], e["data"]["key"], e["data"]["ok"]) for e in events if e["type"] == "tool_result"]
    assert results == [
        ("tool_runtime", "booking", "search_hotels", f"{run_id}:0", True),
        ("tool_runtime", "booking", "book", f"{run_id}:1", True),
    ]
    assert not [e for e in events if e["type"] == "tool_error"]
    # the travel server's database holds the one booking, made with the run's key
    db = sqlite3.connect(cli["homes"]["json"] / "travel.db")
    try:
        bookings = db.execute("SELECT kind, item_id, traveller, status, idempotency_key FROM bookings").fetchall()
    finally:
        db.close()
    assert bookings == [("hotel", "H-LIS-ALFAMA", "Ana Silva", "confirmed", f"{run_id}:1")]
    timestamps = [e["ts"] for e in events]
    assert timestamps == sorted(timestamps)
    end = events[-1]["data"]
    assert end["winner"] == "alfama-walks" and end["decision"]["winner"] == "alfama-walks"
    assert end["tokens"]["prompt"] > 0 and end["tokens"]["completion"] > 0
    assert end["tokens"]["prompt"] == sum(u["prompt_tokens"] for u in end["usage"].values())


def test_live_and_json_report_the_same_token_totals(cli: dict[str, Any]) -> None:
    end = [json.loads(line) for line in cli["results"]["json"].stdout.splitlines()][-1]["data"]["tokens"]
    total = [line for line in cli["results"]["live"].stdout.splitlines() if line.split() and line.split()[0] == "total"]
    cells = [c.strip() for c in total[0].split("│")]
    assert cells[3:5] == [str(end["prompt"]), str(end["completion"])]


def test_runs_lists_the_finished_run(cli: dict[str, Any]) -> None:
    run_id = re.search(r"run-[0-9a-f]{12}", cli["results"]["live"].stdout.splitlines()[0]).group(0)
    result = cli["results"]["runs_live"]
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert [row[:3] for row in rows if row[0] == run_id] == [[run_id, "finished", "classic"]]
    assert TASK in result.stdout


def test_graph_prints_mermaid(capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    capsys.readouterr()
    assert main(["graph"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^graph (TD|LR);?", out, re.M)
    assert "stage_router" in out
    assert "__start__ --> stage_router;" in out and "stage_router -.-> __end__;" in out
    for node in (*AGENTS, "tools"):  # the demo has MCP servers: the tool node executes the booking intents
        assert re.search(rf"stage_router -.-> {node};", out)
        assert f"{node} --> stage_router;" in out
    assert not moot_home.exists(), "drawing the graph must not write anything"


# --- a run that fails ----------------------------------------------------------------------------


def test_failing_run_exits_1_and_is_marked_failed(cli: dict[str, Any]) -> None:
    result = cli["results"]["failing"]
    assert result.returncode == 1, (result.returncode, result.stderr)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_failed"
    assert events[-1]["data"]["error"] == "AgentOutputError"
    assert not [e for e in events if e["type"] == "run_finished"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "optimistic" in errors[0], result.stderr
    rows = [line.split() for line in cli["results"]["runs_failing"].stdout.splitlines() if line.strip()]
    assert [row[1] for row in rows if row[0] == events[0]["run_id"]] == ["failed"]


# --- bad input: exit 2, one line naming what and where, nothing written --------------------------


def check_refused(code: int, out: str, err: str, home: Path) -> str:
    assert code == 2, (code, out[-500:], err)
    lines = err.strip().splitlines()
    assert lines[0].startswith("moot: error: "), lines[0]
    # a workspace with several problems lists each on its own line, as file:line:col
    assert all(re.match(r"^\S+:\d+:\d+: ", line.strip()) for line in lines[1:]), err
    assert out == ""
    assert not home.exists(), "MOOT_HOME was created although the input was refused"
    return lines[0]


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], home: Path) -> str:
    """Run the `moot` entry point in process (the console script calls exactly this `main`)."""
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return check_refused(code, captured.out, captured.err, home)


def check_names_file_and_line(line: str, path: Path, needle: str) -> None:
    found = re.search(rf"{re.escape(str(path))}:(\d+):", line)
    assert found, f"the error does not name {path}:LINE: {line}"
    if needle:
        assert int(found.group(1)) == line_of(path, needle), line


def test_bad_input_in_a_real_process(cli: dict[str, Any]) -> None:
    result = cli["results"]["stages_unknown_agent"]
    line = check_refused(result.returncode, result.stdout, result.stderr, cli["homes"]["stages_unknown_agent"])
    _, path, needle = cli["ghost"]
    assert "ghost_writer" in line
    check_names_file_and_line(line, path, needle)


MODEL = ["--model", f"scripted:{SCRIPT}"]


@pytest.mark.parametrize("task", ["", "   ", " \t\n "])
def test_empty_task(task: str, capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    assert "task is empty" in refused(["run", task, *MODEL], capsys, moot_home)


def test_task_over_the_workspace_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    ws, _, _ = ws_too_long(tmp_path)
    line = refused(["run", "x" * 41, "-w", str(ws), *MODEL], capsys, moot_home)
    assert "41" in line and "40" in line and "task_max_chars" in line


def test_task_over_the_default_limit(capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    line = refused(["run", "y" * 4001, *MODEL], capsys, moot_home)
    assert "4001" in line and "4000" in line


@pytest.mark.parametrize("workspace", ["no-such-workspace", "./no/such/folder"])
def test_unknown_workspace(workspace: str, capsys: pytest.CaptureFixture[str], moot_home: Path) -> None:
    line = refused(["run", TASK, "-w", workspace, *MODEL], capsys, moot_home)
    assert workspace in line and "workspace" in line


@pytest.mark.parametrize("command", [["run", TASK], ["graph"]])
@pytest.mark.parametrize("case", sorted(BAD_WORKSPACES))
def test_invalid_workspace_file_is_named_with_its_line(
    case: str, command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], moot_home: Path
) -> None:
    build, what = BAD_WORKSPACES[case]
    ws, path, needle = build(tmp_path)
    line = refused([*command, "-w", str(ws), *MODEL], capsys, moot_home)
    assert what in line, line
    check_names_file_and_line(line, path, needle)


def test_missing_script_file(capsys: pytest.CaptureFixture[str], moot_home: Path, tmp_path: Path) -> None:
    line = refused(["run", TASK, "--model", f"scripted:{tmp_path / 'nope.json'}"], capsys, moot_home)
    assert "nope.json" in line
