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
    """moot's app serving the classic workspace on its recorded script; yields its URL."""
    shutil.copytree(DATA / "workspaces" / "classic", root / "classic")
    script = json.loads((DATA / "classic_script.json").read_text())
    app = create_app(ServiceSettings(workspaces=[str(root)]), models={"default": ScriptedChatModel(script=script)})
    async with serving(app) as url:
        yield url


def trip_planner(url: str, *, checkpointer: InMemorySaver | None = None) -> CompiledStateGraph:
    """A user's graph: START → moot (a RemoteGraph of the `classic` assistant) → report → END."""

    def report(state: Trip) -> Trip:
        decision = state.get("decision") or {}
        return {"report": f"moot chose {state.get('winner')}: {decision.get('rationale')}"}

    graph = StateGraph(Trip)
    graph.add_node("moot", RemoteGraph("classic", url=url))
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
