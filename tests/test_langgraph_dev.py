"""LangGraph's own dev server (`langgraph dev`, langgraph-cli[inmem]) serves a moot workspace as it is.

The server runs as a process from `.langgraph-venv` (scripts/langgraph-dev, which `make test` runs)
on the repo's langgraph.json, with `MOOT_WORKSPACE` = the classic fixture and `MOOT_MODEL` = its
recorded script; the official Python `langgraph_sdk` streams deliberations from it. The server
brings its own checkpointer and store; the graph is the one moot compiles (same nodes and edges).

`--allow-blocking`: the classic workspace's built-in travel MCP server runs in the same process
and answers through SQLite synchronously, which the dev server's blocking-call guard refuses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from moot.workspace.langgraph_graphs import first_input
from moot.workspace.runner import WorkspaceRunner
from servicetools import free_port

ROOT = Path(__file__).resolve().parent.parent
LANGGRAPH = ROOT / ".langgraph-venv" / "bin" / "langgraph"
CLASSIC = ROOT / "tests" / "data" / "workspaces" / "classic"
SCRIPT = ROOT / "tests" / "data" / "classic_script.json"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
MODES = ["updates", "values", "custom"]


def langgraph_env(home: Path, workspace: Path = CLASSIC) -> dict[str, str]:
    """This environment without moot's or LangSmith's variables, plus the workspace, its script
    and a private MOOT_HOME: the dev server runs the classic fixture on the scripted model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOOT_", "LANGSMITH_", "LANGCHAIN_"))}
    env.update(
        MOOT_HOME=str(home), MOOT_WORKSPACE=str(workspace), MOOT_MODEL=f"scripted:{SCRIPT}", LANGSMITH_TRACING="false"
    )
    return env


def wait_ok(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
    """Wait until the server answers `GET /ok` (LangGraph's health route); fail with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"langgraph dev exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/ok", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"langgraph dev did not answer {url}/ok in {timeout} s:\n{log.read_text()[-4000:]}")


@contextmanager
def dev_server(where: Path, workspace: Path) -> Iterator[str]:
    """`langgraph dev --no-browser --port P` on the repo's langgraph.json, its `moot` graph being
    `workspace`; yields its URL."""
    if not LANGGRAPH.exists():
        pytest.fail(f"{LANGGRAPH} is missing: run scripts/langgraph-dev (make test does)")
    port = free_port()
    log = where / "server.log"
    args = [str(LANGGRAPH), "dev", "--no-browser", "--port", str(port), "--no-reload", "--allow-blocking"]
    args += ["--config", str(ROOT / "langgraph.json")]
    with log.open("ab") as out:  # the server's own files (.langgraph_api/) go to its cwd, not the repo
        env = langgraph_env(where / "moot-home", workspace)
        proc = subprocess.Popen(args, cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ok(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def langgraph_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dev server of the classic workspace."""
    with dev_server(tmp_path_factory.mktemp("langgraph-dev"), CLASSIC) as url:
        yield url


async def stream_run(url: str, thread_id: str, graph: str, payload: dict[str, Any]) -> list[tuple[str, Any]]:
    client = get_client(url=url, timeout=60)
    return [(part.event, part.data) async for part in client.runs.stream(thread_id, graph, input=payload, stream_mode=MODES)]


def last_values(parts: list[tuple[str, Any]]) -> dict[str, Any]:
    values = [data for event, data in parts if event == "values"]
    assert values, f"no values event in {[event for event, _ in parts]}"
    return values[-1]


async def test_the_dev_server_lists_moots_graphs_and_draws_each_as_moot_builds_it(langgraph_dev: str) -> None:
    client = get_client(url=langgraph_dev, timeout=60)
    assistants = {a["graph_id"]: a for a in await client.assistants.search(limit=20)}
    assert set(assistants) == {"moot", "demo", "research", "code_review"}
    for graph_id, workspace in {"moot": CLASSIC, "demo": "demo", "research": "research", "code_review": "code_review"}.items():
        served = await client.assistants.get_graph(assistants[graph_id]["assistant_id"])
        ours = WorkspaceRunner.load(workspace, model_override=f"scripted:{SCRIPT}").graph(drawing=True).get_graph()
        assert sorted(node["id"] for node in served["nodes"]) == sorted(ours.nodes), graph_id
        assert sorted((e["source"], e["target"]) for e in served["edges"]) == sorted((e.source, e.target) for e in ours.edges)


async def test_a_run_streamed_from_langgraph_dev_decides_and_books_on_the_scripted_model(langgraph_dev: str) -> None:
    client = get_client(url=langgraph_dev, timeout=60)
    thread = await client.threads.create()
    parts = await stream_run(langgraph_dev, thread["thread_id"], "moot", {"task": TASK})

    events = [event for event, _ in parts]
    assert "error" not in events, [data for event, data in parts if event == "error"]
    run_id = next(data["run_id"] for event, data in parts if event == "metadata")
    updated = [node for event, data in parts if event == "updates" for node in data]
    assert {"optimistic", "critic", "devils_advocate", "synthesizer", "booking", "tools"} <= set(updated)
    custom = [data for event, data in parts if event == "custom"]
    assert any(e.get("type") == "agent_started" and e.get("agent") == "synthesizer" for e in custom)

    final = last_values(parts)
    assert final["done"] is True and final["stage"] == "final"
    assert final["winner"] == "alfama-walks" and final["decision"]["winner"] == "alfama-walks"
    results = [e["content"] for e in final["history"] if e["type"] in ("tool_result", "tool_error")]
    assert [r["tool"] for r in results] == ["search_hotels", "book"]
    assert all(r["ok"] for r in results), results
    # the tool node keyed the calls with the server's run id (the state has no moot run id)
    assert [r["key"] for r in results] == [f"{run_id}:0", f"{run_id}:1"]

    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["winner"] == "alfama-walks" and state["next"] == []


async def test_a_second_deliberation_on_the_thread_starts_from_moots_first_state(langgraph_dev: str) -> None:
    client = get_client(url=langgraph_dev, timeout=60)
    thread = await client.threads.create()
    first = last_values(await stream_run(langgraph_dev, thread["thread_id"], "moot", first_input(TASK, session_id=thread["thread_id"])))
    second = last_values(await stream_run(langgraph_dev, thread["thread_id"], "moot", first_input(TASK, session_id=thread["thread_id"])))
    assert first["done"] is True and second["done"] is True and second["winner"] == "alfama-walks"
    assert first["run_id"] != second["run_id"]
    # `history` was reset by the JSON overwrite: the second run's entries only, as many as the first's
    assert len(second["history"]) == len(first["history"])
    assert {e["content"]["key"].split(":")[0] for e in second["history"] if e["type"] == "tool_result"} == {second["run_id"]}


async def test_the_factory_compiles_the_workspace_moot_names_without_a_checkpointer(monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: `MOOT_WORKSPACE` picks the workspace, nothing is bound that the server brings."""
    from moot.workspace.langgraph_graphs import workspace

    monkeypatch.setenv("MOOT_WORKSPACE", str(CLASSIC))
    monkeypatch.setenv("MOOT_MODEL", f"scripted:{SCRIPT}")
    async with workspace() as graph:
        assert graph.name == "classic"
        assert graph.checkpointer is None and graph.store is None
        assert "tools" in graph.get_graph().nodes  # the MCP servers are connected: the tool node is there
    monkeypatch.delenv("MOOT_WORKSPACE")
    async with workspace() as graph:
        assert graph.name == "demo"


async def test_moots_approval_is_an_interrupt_that_langgraph_dev_resumes_with_a_command(tmp_path: Path) -> None:
    """A stage marked `approval: true` pauses the run on LangGraph's own server as on moot's: the
    thread is interrupted with moot's question, and `command: {resume: ...}` books and ends it."""
    gated = tmp_path / "gated"
    shutil.copytree(CLASSIC, gated)
    stages = gated / "stages.yaml"
    stages.write_text(stages.read_text().replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    with dev_server(tmp_path, gated) as url:
        client = get_client(url=url, timeout=60)
        thread = await client.threads.create()
        parts = await stream_run(url, thread["thread_id"], "moot", {"task": TASK})
        assert "error" not in [event for event, _ in parts]
        state = await client.threads.get_state(thread["thread_id"])
        assert not state["values"].get("done") and state["values"]["winner"] == "alfama-walks"
        (question,) = state["interrupts"]
        assert question["value"]["stage"] == "booking" and question["value"]["decision"]["winner"] == "alfama-walks"
        assert (await client.threads.get(thread["thread_id"]))["status"] == "interrupted"

        parts = [
            (part.event, part.data)
            async for part in client.runs.stream(
                thread["thread_id"], "moot", command={"resume": {"action": "approve"}}, stream_mode=MODES
            )
        ]
    final = last_values(parts)
    assert final["done"] is True and final["stage"] == "final"
    assert [e["content"]["action"] for e in final["history"] if e["type"] == "approval"] == ["approve"]
    assert [e["content"]["tool"] for e in final["history"] if e["type"] == "tool_result"] == ["search_hotels", "book"]
