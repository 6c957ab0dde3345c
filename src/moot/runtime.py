"""A workspace runtime: the workspace, its chat models and its compiled graph, built once.

Long-lived and shared by every session of the workspace (design §1): agents hold no session
data, models load once, the graph compiles once per checkpointer. Per request only an
`Orchestrator` run and its state are new.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from moot.agents.base import Agent
from moot.events import EventBus
from moot.graph.builder import build_graph
from moot.graph.tools_node import ToolCaller
from moot.memory.protocols import Memory
from moot.models.factory import make_models
from moot.orchestrator import Durability, Orchestrator

from moot.persistence import RunIndex, moot_home, open_persistence
from moot.errors import RunError
from moot.tools.servers import Builtins
from moot.tools.types import Ledger, ToolOutcome
from moot.workspace.loader import Workspace, load_workspace


class Runtime:
    """Everything a workspace needs to run deliberations."""

    def __init__(self, workspace: Workspace, models: Mapping[str, BaseChatModel], memory: Memory | None = None) -> None:
        self.workspace = workspace
        self.models = dict(models)
        self.memory = memory
        """The process's MemoryManager (shared by every workspace), or None: no recall."""
        self.agents: dict[str, Agent] = dict(workspace.agents)
        self.tools: ToolCaller | None = None

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
    async def open_tools(self, ledger: Ledger | None = None, *, builtins: Builtins | None = None) -> AsyncIterator[Runtime]:
        """Connect the workspace's MCP servers for the life of the block (one session per server).

        Their tools are listed now and handed to the booking agents, whose answers are then
        constrained and validated by the servers' own schemas; graphs built inside the block
        execute intents through the tool node. A workspace without `mcp_servers` is unchanged.
        """
        servers = self.workspace.spec.mcp_servers
        if not servers:
            yield self
            return
        from moot.tools.builtin import BUILTIN_SERVERS
        from moot.tools.ledger import MemoryLedger
        from moot.tools.runtime import ToolRuntime

        log_dir = moot_home() / "logs" / "workspaces" / self.workspace.name / "mcp"
        async with ToolRuntime(servers, ledger=ledger or MemoryLedger(), builtins=builtins or BUILTIN_SERVERS, log_dir=log_dir) as tools:
            specs = tools.tools()
            self.agents = {
                name: agent.with_tools(specs)
                for name, agent in self.workspace.agents.items()
            }
            self.tools = tools
            try:
                yield self
            finally:
                self.tools = None
                self.agents = dict(self.workspace.agents)

    @classmethod
    def load(
        cls,
        workspace: str | Path | None = None,
        *,
        models: Mapping[str, BaseChatModel] | None = None,
        model_override: str | None = None,
        memory: Memory | None = None,
    ) -> Runtime:
        """Load a workspace (built-in name or folder) and make its models (or use `models`)."""
        ws = load_workspace(workspace)
        if models is None:
            specs = {name: spec.model_dump() for name, spec in ws.spec.models.items()}
            models = make_models(specs, root=ws.root, override=model_override)
        return cls(ws, models, memory)

    def graph(self, checkpointer: BaseCheckpointSaver | None = None, *, drawing: bool = False) -> CompiledStateGraph:
        """The compiled graph. With `drawing`, a workspace's tool node is drawn without connecting
        its MCP servers (drawing must not start processes or write anything)."""
        ws = self.workspace
        tools = self.tools
        if tools is None and drawing and ws.spec.mcp_servers:
            tools = _Unconnected()
        return build_graph(
            self.agents,
            ws.plan,
            ws.policy,
            self.models,
            checkpointer=checkpointer,
            max_repairs=ws.spec.max_repairs,
            token_budget=ws.spec.limits.token_budget,
            tools=tools,
            tool_errors=ws.spec.tool_errors,
            memory=self.memory,
            memory_budget=ws.spec.memory.budget,
            name=ws.name,
        )

    def orchestrator(
        self,
        checkpointer: BaseCheckpointSaver | None = None,
        *,
        index: RunIndex | None = None,
        bus: EventBus | None = None,
        durability: Durability = "sync",
        version: str = "",
    ) -> Orchestrator:
        """An orchestrator of this runtime's graph; `version` (the workspace's content hash) is
        recorded with its runs."""
        limits = self.workspace.spec.limits
        return Orchestrator(
            self.graph(checkpointer),
            workspace=self.workspace.name,
            bus=bus,
            index=index,
            durability=durability,
            recursion_limit=limits.recursion_limit,
            task_max_chars=limits.task_max_chars,
            workspace_path=str(self.workspace.root),
            prices={name: price.model_dump() for name, price in self.workspace.spec.prices.items()},
            policy=self.workspace.policy,
            version=version,
        )


class _Unconnected:
    """Stands in for the ToolRuntime in a graph that is only drawn."""

    async def call(self, tool: str, arguments: dict[str, Any], *, key: str, on_event: Any = None) -> ToolOutcome:
        raise RunError("the workspace's MCP servers are not connected; run inside Runtime.open_tools()")


__all__ = ["Runtime"]
