"""LangGraph's `RemoteGraph` as a node of a user's own `StateGraph`, pointing at moot's service.

The user's graph knows nothing of moot: a `RemoteGraph` node named after the workspace (the
assistant) sends the outer state (its `task`) to `moot serve`'s LangGraph routes, and the node's
output (the remote graph's final values) lands in the outer state through the outer graph's own
channels; a plain node after it reads moot's decision. Served over real HTTP on loopback (the app
with the inline queue, the classic workspace on its recorded script).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.settings import ServiceSettings
from servicetools import serving

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


class Trip(TypedDict, total=False):
    """The user's own state: what moot answers lands in `winner` and `decision`; `report` is theirs."""

    task: str
    winner: str | None
    decision: dict[str, Any] | None
    report: str


@asynccontextmanager
async def moot_service(root: Path) -> AsyncIterator[str]:
    """moot's app serving the classic workspace, and `gated` (classic whose booking stage asks a
    human for approval), on the recorded script; yields its URL."""
    shutil.copytree(DATA / "workspaces" / "classic", root / "classic")
    gated = root / "gated"
    shutil.copytree(DATA / "workspaces" / "classic", gated)
    (gated / "moot.yaml").write_text((gated / "moot.yaml").read_text().replace("name: classic", "name: gated", 1))
    stages = gated / "stages.yaml"
    stages.write_text(stages.read_text().replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    script = json.loads((DATA / "classic_script.json").read_text())
    app = create_app(ServiceSettings(workspaces=[str(root)]), models={"default": ScriptedChatModel(script=script)})
    async with serving(app) as url:
        yield url


def trip_planner(url: str, *, checkpointer: InMemorySaver | None = None, workspace: str = "classic") -> CompiledStateGraph:
    """A user's graph: START → moot (a RemoteGraph of the workspace's assistant) → report → END."""

    def report(state: Trip) -> Trip:
        decision = state.get("decision") or {}
        return {"report": f"moot chose {state.get('winner')}: {decision.get('rationale')}"}

    graph = StateGraph(Trip)
    graph.add_node("moot", RemoteGraph(workspace, url=url))
    graph.add_node("report", report)
    graph.add_edge(START, "moot")
    graph.add_edge("moot", "report")
    graph.add_edge("report", END)
    return graph.compile(checkpointer=checkpointer)


def assert_decided(out: Trip) -> None:
    assert out["task"] == TASK
    assert out["winner"] == "alfama-walks"
    decision = out["decision"] or {}
    assert decision["winner"] == "alfama-walks" and decision["next_stage"] == "booking"
    assert out["report"] == f"moot chose alfama-walks: {decision['rationale']}"
    assert "history" not in out  # the outer graph keeps only its own keys of moot's answer


async def test_a_remote_graph_node_carries_moots_decision_into_the_users_graph(tmp_path: Path) -> None:
    async with moot_service(tmp_path / "ws") as url:
        out = await trip_planner(url).ainvoke({"task": TASK})
    assert_decided(out)


async def test_a_checkpointed_users_graph_runs_moot_on_a_thread_of_the_same_id(tmp_path: Path) -> None:
    """With a checkpointer, RemoteGraph runs on the remote thread named by the caller's thread id
    (created on the fly, `if_not_exists: create`); moot's state of that thread holds the run."""
    async with moot_service(tmp_path / "ws") as url:
        thread_id = "3f1c2a4e-0d6b-4c3e-9a51-7b2d8e6f1a90"
        planner = trip_planner(url, checkpointer=InMemorySaver())
        out = await planner.ainvoke({"task": TASK}, {"configurable": {"thread_id": thread_id}})
        assert_decided(out)
        remote = RemoteGraph("classic", url=url)
        state = await remote.aget_state({"configurable": {"thread_id": thread_id}})
    assert state.values["winner"] == "alfama-walks" and state.values["done"] is True
    assert state.next == ()


async def test_moots_approval_pauses_the_users_graph_and_a_resume_command_through_remote_graph_finishes_it(tmp_path: Path) -> None:
    """moot's approval is LangGraph's `interrupt`: the RemoteGraph node raises it in the user's
    graph, which pauses there with moot's question; the human's `Command(resume=...)`, sent with
    RemoteGraph on the same thread, reaches moot's paused run, which books and ends. (RemoteGraph
    sends no resume when its node runs again: it sends its input, a new run, see
    langgraph/pregel/remote.py; so the answer goes through RemoteGraph itself.)"""
    async with moot_service(tmp_path / "ws") as url:
        thread = {"configurable": {"thread_id": "8d0e2f6a-1b3c-4d5e-8f7a-9b0c1d2e3f4a"}}
        planner = trip_planner(url, checkpointer=InMemorySaver(), workspace="gated")
        paused = await planner.ainvoke({"task": TASK}, thread)
        (question,) = paused["__interrupt__"]
        assert question.value["stage"] == "booking" and question.value["decision"]["winner"] == "alfama-walks"
        snapshot = await planner.aget_state(thread)
        assert snapshot.next == ("moot",) and "report" not in snapshot.values
        remote = RemoteGraph("gated", url=url)
        waiting = await remote.aget_state(thread)
        assert waiting.next and waiting.values["done"] is False  # moot's run waits for the human

        out = await remote.ainvoke(Command(resume={"action": "approve"}), thread)
        state = await remote.aget_state(thread)
    assert out["winner"] == "alfama-walks" and out["done"] is True
    assert state.next == () and state.values["done"] is True
    approvals = [e for e in state.values["history"] if e["type"] == "approval"]
    assert [a["content"]["action"] for a in approvals] == ["approve"]
    assert [e["content"]["tool"] for e in state.values["history"] if e["type"] == "tool_result"] == ["search_hotels", "book"]
