"""Per-workspace logs (issue 7): JSON lines per component and agent, rotation, levels, `moot logs`."""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from clitools import cli_env, moot_cmd
from conftest import scripted_runtime

from moot.cli.logs import last_lines, readable
from moot.cli.main import main
from moot.errors import TokenBudgetExceeded, WorkspaceError
from moot.events import Event, EventBus
from moot.logs import WorkspaceLogs, logs_dir
from moot.workspace.loader import load_workspace

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
SCRIPT = Path(__file__).parent / "data" / "demo_script.json"  # `moot run` without -w: the built-in demo
AGENTS = ("optimistic", "critic", "devils_advocate", "synthesizer", "booking")


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def scripted_run(logs: WorkspaceLogs, script: Any, workspace: Path | None = None, *, tools: bool = True) -> Any:
    """One run of the classic fixture workspace (default) with the scripted model, its events logged by `logs`."""
    runtime, _ = scripted_runtime(script, workspace)
    bus = EventBus()
    detach = logs.attach(bus)
    try:
        if not tools:
            return await runtime.orchestrator(bus=bus).run(TASK)
        async with runtime.open_tools():
            return await runtime.orchestrator(bus=bus).run(TASK)
    finally:
        detach()


async def test_a_run_writes_json_lines_with_ids_to_each_component_and_agent(
    classic_script: dict[str, Any], moot_home: Path
) -> None:
    with WorkspaceLogs("demo", level="DEBUG") as logs:
        result = await scripted_run(logs, classic_script)
    folder = moot_home / "logs" / "workspaces" / "demo"
    assert logs.root == folder == logs_dir("demo")
    ids = {"run_id": result.run_id, "session_id": result.session_id}

    orchestrator = read(folder / "orchestrator.log")
    assert [(line["event"], line["level"]) for line in orchestrator] == [("run_started", "INFO"), ("run_finished", "INFO")]
    assert all(line.items() >= ids.items() and line["logger"] == "moot.workspace.demo.orchestrator" for line in orchestrator)
    assert orchestrator[1]["message"].startswith("run finished: winner alfama-walks,")
    assert orchestrator[1]["data"]["winner"] == "alfama-walks" and orchestrator[1]["stage"] == "final"

    graph = read(folder / "graph.log")
    entered = [line["stage"] for line in graph if line["event"] == "stage_entered"]
    assert entered == ["init", "proposal", "synthesis", "booking", "final"]
    patches = [line for line in graph if line["event"] == "state_patch"]
    assert patches and all(line["level"] == "DEBUG" and line.items() >= ids.items() for line in patches)
    critic_patch = next(line for line in patches if line["agent"] == "critic")
    assert critic_patch["data"]["keys"]["history"] == "+1 entry"
    text = (folder / "graph.log").read_text(encoding="utf-8")
    assert "Hilly streets" not in text and "Guesthouse in Alfama" not in text  # summarised, not the state

    for agent in AGENTS:
        lines = read(folder / "agents" / f"{agent}.log")
        assert {line["agent"] for line in lines} == {agent}
        assert all(line.items() >= ids.items() and line["logger"] == f"moot.workspace.demo.agents.{agent}" for line in lines)
        assert [line["event"] for line in lines if line["event"].startswith("agent_")][:2] == ["agent_started", "agent_finished"]
    critic = read(folder / "agents" / "critic.log")
    assert {line["stage"] for line in critic} == {"proposal"}
    assert "wrote history, rewards" in critic[-1]["message"]
    booking = [line["data"]["tool"] for line in read(folder / "agents" / "booking.log") if line["event"] == "tool_call"]
    assert booking == ["search_hotels", "book"]
    executed = read(folder / "agents" / "tool_runtime.log")
    assert [(line["event"], line["data"]["tool"]) for line in executed if line["event"] == "tool_result"] == [
        ("tool_result", "search_hotels"),
        ("tool_result", "book"),
    ]
    every = [line for path in folder.rglob("*.log") for line in read(path)]
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in every)
    assert all(line["ts"].endswith("+00:00") for line in every)


async def test_a_failed_run_is_logged_as_an_error(workspace_copy: Path, classic_script: dict[str, Any], moot_home: Path) -> None:
    moot_yaml = workspace_copy / "moot.yaml"
    moot_yaml.write_text(moot_yaml.read_text().replace("  task_max_chars: 4000", "  task_max_chars: 4000\n  token_budget: 100"))
    with WorkspaceLogs("demo") as logs, pytest.raises(TokenBudgetExceeded):
        await scripted_run(logs, classic_script, workspace_copy, tools=False)
    failed = read(logs.root / "orchestrator.log")[-1]
    assert failed["event"] == "run_failed" and failed["level"] == "ERROR"
    assert failed["message"].startswith("run failed: TokenBudgetExceeded: ")


async def test_the_workspace_level_filters_lines(workspace_copy: Path, classic_script: dict[str, Any], moot_home: Path) -> None:
    moot_yaml = workspace_copy / "moot.yaml"
    original = moot_yaml.read_text()
    with WorkspaceLogs.for_workspace(load_workspace(workspace_copy)) as logs:  # default: INFO
        assert logs.level == logging.INFO
        await scripted_run(logs, classic_script, workspace_copy, tools=False)
    events = {line["event"] for line in read(logs.root / "graph.log")}
    assert events == {"stage_entered"}  # state patches are DEBUG

    for path in logs.root.rglob("*.log"):
        path.unlink()
    moot_yaml.write_text(original + "logs:\n  level: warning\n  max_bytes: 4096\n  backups: 2\n")
    ws = load_workspace(workspace_copy)
    with WorkspaceLogs.for_workspace(ws) as logs:
        assert (logs.level, logs.max_bytes, logs.backups) == (logging.WARNING, 4096, 2)
        await scripted_run(logs, classic_script, workspace_copy, tools=False)
        assert sorted(logs.root.rglob("*.log")) == []  # a clean run has nothing at WARNING
        logs.logger("reload_manager").info("not written")
        logs.logger("reload_manager").warning("kept the old graph", extra={"run_id": "run-1"})
    lines = read(logs.root / "reload_manager.log")
    assert [(line["level"], line["message"], line["run_id"]) for line in lines] == [("WARNING", "kept the old graph", "run-1")]

    moot_yaml.write_text(original + "logs:\n  backups: 0\n")
    with pytest.raises(WorkspaceError, match=r"moot\.yaml:\d+:\d+: logs\.backups"):
        load_workspace(workspace_copy)


def test_files_rotate_at_the_size_limit_and_the_tail_reads_across_them(tmp_path: Path) -> None:
    with WorkspaceLogs("rot", tmp_path / "rot", max_bytes=2048, backups=2) as logs:
        log = logs.logger("runtime")
        for n in range(200):
            log.info("line %03d %s", n, "x" * 40)
    files = sorted(p.name for p in (tmp_path / "rot").iterdir())
    assert files == ["runtime.log", "runtime.log.1", "runtime.log.2"]
    for name in files:
        size = (tmp_path / "rot" / name).stat().st_size
        assert 0 < size <= 2048, (name, size)
    current = read(tmp_path / "rot" / "runtime.log")
    assert current[-1]["message"].startswith("line 199 ")
    tail = [json.loads(line)["message"][:8] for line in last_lines([tmp_path / "rot" / "runtime.log"], len(current) + 5)]
    assert tail == [f"line {n:03d}" for n in range(200 - len(current) - 5, 200)]


def test_loggers_are_shared_per_workspace_and_closeable(tmp_path: Path) -> None:
    first = WorkspaceLogs("shared", tmp_path / "a")
    second = WorkspaceLogs("shared", tmp_path / "a")
    assert first.logger("graph") is second.logger("graph")
    first.logger("graph").info("once")
    assert len(first.logger("graph").handlers) == 1 and not first.logger("graph").propagate
    moved = WorkspaceLogs("shared", tmp_path / "b")  # another home takes the files over
    moved.logger("graph").info("elsewhere")
    [handler] = logging.getLogger("moot.workspace.shared.graph").handlers
    assert handler.baseFilename == str(tmp_path / "b" / "graph.log")
    moved.close()
    assert logging.getLogger("moot.workspace.shared.graph").handlers == []
    assert [line["message"] for line in read(tmp_path / "a" / "graph.log")] == ["once"]
    assert [line["message"] for line in read(tmp_path / "b" / "graph.log")] == ["elsewhere"]
    with pytest.raises(ValueError, match="unknown log component 'nope'"):
        first.logger("nope")
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        WorkspaceLogs("x", tmp_path, level="loud")
    with pytest.raises(ValueError, match="backups >= 1"):
        WorkspaceLogs("x", tmp_path, backups=0)


def test_a_broken_event_still_leaves_a_line_and_never_raises(tmp_path: Path) -> None:
    logs = WorkspaceLogs("odd", tmp_path)
    bus = EventBus()
    logs.attach(bus)
    bus.publish(Event(type="agent_finished", run_id="run-1", agent="critic", data={"duration_s": "soon"}))
    bus.publish(Event(type="agent_started", run_id="run-1", agent="../../escape", stage="s"))
    logs.close()
    odd = read(tmp_path / "agents" / "critic.log")[0]
    assert odd["message"].startswith("agent_finished (not summarised: ValueError")
    assert sorted(p.name for p in (tmp_path / "agents").iterdir()) == ["_.._escape.log", "critic.log"]  # never outside


def test_moot_run_writes_logs_and_moot_logs_prints_them(moot_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", TASK, "--model", f"scripted:{SCRIPT}", "--json"]) == 0
    run_id = next(json.loads(line)["run_id"] for line in capsys.readouterr().out.splitlines())
    folder = logs_dir("demo")
    assert {line["run_id"] for line in read(folder / "orchestrator.log")} == {run_id}
    assert (folder / "agents" / "synthesizer.log").is_file() and (folder / "graph.log").is_file()

    assert main(["logs", "demo", "--lines", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and "orchestrator" in out[-1] and "run finished: winner plan-1" in out[-1]
    short = run_id[: len("run-") + 6]
    assert f" {short} " in out[-1] and run_id not in out[-1]

    assert main(["logs", "demo", "--agent", "critic", "--json", "-n", "50"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and {line["agent"] for line in lines} == {"critic"}
    assert [line["ts"] for line in lines] == sorted(line["ts"] for line in lines)

    assert main(["logs", "demo", "--component", "graph", "--component", "orchestrator", "-n", "1000"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == len(read(folder / "graph.log")) + len(read(folder / "orchestrator.log"))
    assert "run started" in shown[0] and "agent " not in "".join(shown)


def test_unknown_workspace_or_agent_is_a_clear_error(moot_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("moot: error: no logs for workspace 'nowhere'") and "moot run" in err
    assert not moot_home.exists()
    WorkspaceLogs("demo").logger("runtime").info("hello")
    assert main(["logs", "nowhere"]) == 2
    assert "workspaces with logs: demo" in capsys.readouterr().err
    assert main(["logs", "demo", "--agent", "ghost"]) == 2
    assert "no log for agent 'ghost'" in capsys.readouterr().err
    assert main(["logs", "../../elsewhere"]) == 2
    assert "neither a workspace name nor a workspace folder" in capsys.readouterr().err


def test_readable_lines() -> None:
    line = json.dumps(
        {"ts": "2026-01-02T03:04:05.678901+00:00", "level": "WARNING", "logger": "moot.workspace.demo.agents.critic",
         "message": "policy violation: no", "run_id": "run-0123456789ab", "session_id": "session-fedcba987654", "stage": "proposal"}
    )
    text = readable(line, "moot.workspace.demo.")
    assert "WARNING" in text and "agent critic" in text and "run-012345 session-fedcba proposal  policy violation: no" in text
    assert readable("not json", "x.") == "not json"


def test_follow_prints_lines_appended_later_across_rotation(moot_home: Path) -> None:
    # backups enough to hold all 40 lines (about 8 KiB): the follower must see every rotation,
    # however late a loaded machine lets it poll (fresh-ci lost lines with 3 while other jobs ran);
    # several rotations between two polls are the next test's
    logs = WorkspaceLogs("demo", max_bytes=1024, backups=12)
    logs.logger("orchestrator").info("before")
    proc = subprocess.Popen(
        moot_cmd("logs", "demo", "--follow", "--lines", "5"), env=cli_env(moot_home),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [seen.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def next_line(timeout: float = 60) -> str:
        try:
            return seen.get(timeout=timeout)
        except queue.Empty:
            proc.kill()
            pytest.fail(f"moot logs --follow printed nothing in {timeout}s; stderr: {proc.stderr.read()}")  # type: ignore[union-attr]

    try:
        assert "before" in next_line()
        for n in range(40):  # bursts of 8 lines, 1 to 2 rotations of the 1 KiB file each, while followed
            logs.logger("orchestrator").info("after %02d %s", n, "y" * 60)
            if n % 8 == 7:
                time.sleep(0.8)
        logs.agent_logger("late_agent").info("a new file")
        got = [next_line(20) for _ in range(41)]
        assert [line.split("after ")[1][:2] for line in got[:40]] == [f"{n:02d}" for n in range(40)]
        assert "agent late_agent" in got[40] and "a new file" in got[40]
        assert (logs.root / "orchestrator.log.3").is_file()  # it did rotate while followed
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        logs.close()
    assert proc.returncode is not None


def test_following_loses_no_line_when_a_file_rotates_several_times_between_two_polls(tmp_path: Path) -> None:
    from moot.cli.log_follow import Follower

    logs = WorkspaceLogs("burst", tmp_path, max_bytes=1024, backups=5)
    log = logs.logger("graph")
    log.info("seen by the tail")
    follower = Follower(tmp_path / "graph.log", from_end=True)
    try:
        for n in range(25):  # about four rotations before the next poll
            log.info("burst %02d %s", n, "z" * 60)
        got = [json.loads(line)["message"][:8] for line in follower.poll()]
        assert got == [f"burst {n:02d}" for n in range(25)]
        assert (tmp_path / "graph.log.3").is_file()
        log.info("burst 25")
        assert [json.loads(line)["message"] for line in follower.poll()] == ["burst 25"]
    finally:
        follower.close()
        logs.close()
