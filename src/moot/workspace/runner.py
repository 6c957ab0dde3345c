"""`WorkspaceRunner`: one workspace run in this process, as `moot run`, `moot eval` and the benches do.

It loads the workspace and its models once and keeps the current `Assembly` (moot.workspace.
assembly, the one place that builds a graph and an orchestrator); `open_tools` and
`open_store_and_tools` connect the MCP servers for the life of a block. The service and
`moot run --watch` use `WorkspaceManager` instead, which builds one assembly per workspace version
for hot reload; both go through the same assembly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from moot.agents.base import Agent
from moot.events import EventBus
from moot.graph.tools_node import ToolCaller
from moot.memory.protocols import Memory
from moot.models.factory import make_models
from moot.orchestrator import Durability, Orchestrator
from moot.persistence import RunIndex, open_persistence
from moot.tools.servers import Builtins
from moot.tools.types import Ledger
from moot.workspace.assembly import Assembly, tool_runtime
from moot.workspace.loader import Workspace, load_workspace


class WorkspaceRunner:
    """A workspace, its chat models and (inside `open_tools`) its MCP servers, for runs in this process."""

    def __init__(self, workspace: Workspace, models: Mapping[str, BaseChatModel], memory: Memory | None = None) -> None:
        self.assembly = Assembly.of(workspace, models, memory)

    @property
    def workspace(self) -> Workspace:
        return self.assembly.workspace

    @property
    def models(self) -> Mapping[str, BaseChatModel]:
        return self.assembly.models

    @property
    def agents(self) -> Mapping[str, Agent]:
        return self.assembly.agents

    @property
    def tools(self) -> ToolCaller | None:
        return self.assembly.tools

    @property
    def memory(self) -> Memory | None:
        """The process's MemoryManager (shared by every workspace), or None: no recall."""
        return self.assembly.memory

    @memory.setter
    def memory(self, memory: Memory | None) -> None:
        self.assembly = self.assembly.with_memory(memory)

    @classmethod
    def load(
        cls,
        workspace: str | Path | None = None,
        *,
        models: Mapping[str, BaseChatModel] | None = None,
        model_override: str | None = None,
        memory: Memory | None = None,
    ) -> WorkspaceRunner:
        """Load a workspace (built-in name or folder) and make its models (or use `models`)."""
        ws = load_workspace(workspace)
        if models is None:
            specs = {name: spec.model_dump() for name, spec in ws.spec.models.items()}
            models = make_models(specs, root=ws.root, override=model_override)
        return cls(ws, models, memory)

    @asynccontextmanager
    async def open_store_and_tools(
        self, db: str | Path | None = None, *, builtins: Builtins | None = None
    ) -> AsyncIterator[tuple[BaseCheckpointSaver, RunIndex]]:
        """The persistent store (SQLite file or `postgresql://` URL) and, for a workspace with MCP
        servers, its tools with a ledger in the same database as the checkpoints (so "exactly
        once" survives a kill)."""
        async with open_persistence(db) as store:
            async with self.open_tools(store.ledger, builtins=builtins):
                yield store.checkpointer, store.index

    @asynccontextmanager
    async def open_tools(self, ledger: Ledger | None = None, *, builtins: Builtins | None = None) -> AsyncIterator[WorkspaceRunner]:
        """Connect the workspace's MCP servers for the life of the block (one session per server).

        Graphs built inside the block execute intents through the tool node, and agents answer
        within the servers' schemas. A workspace without `mcp_servers` is unchanged.
        """
        if not self.workspace.spec.mcp_servers:
            yield self
            return
        before = self.assembly
        async with tool_runtime(self.workspace, ledger, builtins=builtins) as tools:
            self.assembly = before.with_tools(tools, tools.tools())
            try:
                yield self
            finally:
                self.assembly = before if self.assembly.memory is before.memory else before.with_memory(self.assembly.memory)

    def graph(self, checkpointer: BaseCheckpointSaver | None = None, *, drawing: bool = False) -> CompiledStateGraph:
        """The compiled graph of the current assembly (see `Assembly.graph`)."""
        return self.assembly.graph(checkpointer, drawing=drawing)

    def orchestrator(
        self,
        checkpointer: BaseCheckpointSaver | None = None,
        *,
        index: RunIndex | None = None,
        bus: EventBus | None = None,
        durability: Durability = "sync",
        version: str = "",
    ) -> Orchestrator:
        """An orchestrator of a graph compiled now with `checkpointer`; `version` (the workspace's
        content hash) is recorded with its runs."""
        return self.assembly.orchestrator(
            self.graph(checkpointer), bus=bus, index=index, durability=durability, version=version
        )


__all__ = ["WorkspaceRunner"]
