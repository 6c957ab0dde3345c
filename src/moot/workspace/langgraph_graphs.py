"""Graph factories for LangGraph's own servers: `langgraph dev` serves a moot workspace as it is.

The repo's `langgraph.json` names these factories, so LangGraph's dev server (langgraph-cli[inmem])
and any server that loads graphs from a `langgraph.json` run the very graph moot builds: each
factory loads the workspace, makes its chat models, connects its MCP servers and compiles the
graph through `Assembly` (moot.workspace.assembly), the one place every face builds its graphs.

The graph is compiled without a checkpointer or store: the server brings its own and binds them
(langgraph-api refuses a graph variable that brings its own). Each factory is an async context
manager, which LangGraph's server enters for the time it uses the graph: the workspace's MCP
servers live as long as that, and close with it.

Models: as in every moot process, `MOOT_MODEL` replaces every model entry of the workspace (e.g.
`scripted:tests/data/classic_script.json` plays a recorded script, as the tests do). The
workspace of the generic factory `workspace` is `MOOT_WORKSPACE` (a built-in name or a folder).

A run's input is its task, `{"task": "..."}`; LangGraph's server gives the run its id (the tool
node keys its calls with it). On a thread that already ran a deliberation, start the next with
the run-scoped keys reset, as moot's orchestrator does: `{"task": ..., "history": {"__overwrite__":
[]}, ...}` (`first_input`), or use a new thread per deliberation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Overwrite

from moot.run import initial_state, new_id
from moot.settings import settings
from moot.workspace.runner import WorkspaceRunner


@asynccontextmanager
async def serve_graph(workspace: str | Path | None) -> AsyncIterator[CompiledStateGraph]:
    """The compiled graph of `workspace` (built-in name or folder; None: the demo) with its MCP
    servers connected for the life of the block, no checkpointer bound, models from the workspace
    or `MOOT_MODEL`."""
    # loading reads the workspace's files: in a thread, so the server's event loop never blocks
    # (`langgraph dev` refuses blocking calls on it)
    runner = await asyncio.to_thread(WorkspaceRunner.load, workspace, model_override=settings().model)
    async with runner.open_tools():
        yield runner.graph(None)


@asynccontextmanager
async def workspace() -> AsyncIterator[CompiledStateGraph]:
    """The workspace `MOOT_WORKSPACE` names (unset: the built-in demo)."""
    async with serve_graph(settings().workspace) as graph:
        yield graph


@asynccontextmanager
async def demo() -> AsyncIterator[CompiledStateGraph]:
    """The built-in demo workspace (travel: intake, searches, proposals, review, booking)."""
    async with serve_graph("demo") as graph:
        yield graph


@asynccontextmanager
async def research() -> AsyncIterator[CompiledStateGraph]:
    """The built-in research workspace."""
    async with serve_graph("research") as graph:
        yield graph


@asynccontextmanager
async def code_review() -> AsyncIterator[CompiledStateGraph]:
    """The built-in code-review panel."""
    async with serve_graph("code_review") as graph:
        yield graph


def first_input(task: str, *, session_id: str = "", user_id: str = "") -> dict[str, Any]:
    """The input that starts a deliberation on a graph a LangGraph server runs, in JSON: moot's
    own first state of a run (`moot.run.initial_state`), with LangGraph's JSON form of an
    `Overwrite` (`{"__overwrite__": value}`), so a thread's earlier run leaves nothing behind."""
    state = initial_state(task, run_id=new_id("run"), session_id=session_id, user_id=user_id)
    return {key: {"__overwrite__": value.value} if isinstance(value, Overwrite) else value for key, value in state.items()}


__all__ = ["code_review", "demo", "first_input", "research", "serve_graph", "workspace"]
