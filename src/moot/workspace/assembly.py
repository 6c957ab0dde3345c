"""The one place that turns a loaded workspace into what a run needs: agents, graph, orchestrator.

Every face builds its runs here: the CLI and the benches through `WorkspaceRunner`, the service
and `moot run --watch` through `WorkspaceManager` (one `Assembly` per immutable workspace
version), `moot mcp serve` and `moot eval` through either. So the wiring that decides how a run
behaves (agents handed the MCP servers' tool schemas, the graph's limits, the orchestrator's
limits, prices and policy) is written once, and two faces cannot drift apart.

An `Assembly` is immutable: connecting tools makes a new one (`with_tools`), so a run holding an
assembly, or a graph compiled from it, is never changed under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from moot.agents.base import Agent
from moot.errors import RunError
from moot.events import EventBus
from moot.graph.builder import build_graph
from moot.graph.tools_node import ToolCaller
from moot.memory.protocols import Memory
from moot.orchestrator import Durability, Orchestrator
from moot.persistence import RunIndex
from moot.settings import moot_home
from moot.tools.servers import Builtins
from moot.tools.types import Ledger, ToolOutcome, ToolSpec
from moot.workspace.loader import Workspace

if TYPE_CHECKING:  # the MCP client's imports are paid only by workspaces that have servers
    from moot.tools.runtime import ToolRuntime


@dataclass(frozen=True)
class Assembly:
    """A workspace with its chat models, memory and (once connected) tools: the parts of a run.

    Long-lived and shared by every session of the workspace (design §1): agents hold no session
    data, models load once, a graph compiles once per checkpointer. Per request only an
    `Orchestrator` run and its state are new.
    """

    workspace: Workspace
    models: Mapping[str, BaseChatModel]
    memory: Memory | None = None
    """The process's MemoryManager (shared by every workspace), or None: no recall."""
    tools: ToolCaller | None = None
    """The connected MCP servers, or None (a workspace without servers, or not connected yet)."""
    agents: Mapping[str, Agent] = field(default_factory=dict)
    """The workspace's agents; after `with_tools`, each knows the servers' tool schemas."""

    @classmethod
    def of(cls, workspace: Workspace, models: Mapping[str, BaseChatModel], memory: Memory | None = None) -> Assembly:
        """The workspace's assembly before any tool is connected."""
        return cls(workspace, dict(models), memory, None, dict(workspace.agents))

    def with_tools(self, tools: ToolCaller, specs: list[ToolSpec]) -> Assembly:
        """This assembly with its MCP servers connected: every agent is handed the tools' schemas,
        so its answers are constrained and validated by the servers' own input schemas."""
        agents = {name: agent.with_tools(specs) for name, agent in self.workspace.agents.items()}
        return Assembly(self.workspace, self.models, self.memory, tools, agents)

    def with_memory(self, memory: Memory | None) -> Assembly:
        """This assembly recalling and recording through `memory` (a user's, for one CLI run)."""
        return Assembly(self.workspace, self.models, memory, self.tools, self.agents)

    def graph(self, checkpointer: BaseCheckpointSaver | None = None, *, drawing: bool = False) -> CompiledStateGraph:
        """The compiled graph. With `drawing`, a workspace's tool node is drawn without connecting
        its MCP servers (drawing must not start processes or write anything)."""
        ws = self.workspace
        tools = self.tools
        if tools is None and drawing and ws.spec.mcp_servers:
            tools = _Unconnected()
        return build_graph(
            dict(self.agents),
            ws.plan,
            ws.policy,
            dict(self.models),
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
        graph: CompiledStateGraph,
        *,
        bus: EventBus | None = None,
        index: RunIndex | None = None,
        durability: Durability = "sync",
        version: str = "",
    ) -> Orchestrator:
        """An orchestrator of `graph` (compiled from this assembly) with the workspace's limits,
        prices and policy; `version` (the workspace's content hash) is recorded with its runs."""
        ws = self.workspace
        return Orchestrator(
            graph,
            workspace=ws.name,
            bus=bus,
            index=index,
            durability=durability,
            recursion_limit=ws.spec.limits.recursion_limit,
            task_max_chars=ws.spec.limits.task_max_chars,
            workspace_path=str(ws.root),
            prices={name: price.model_dump() for name, price in ws.spec.prices.items()},
            policy=ws.policy,
            version=version,
        )


def tool_runtime(ws: Workspace, ledger: Ledger | None = None, *, builtins: Builtins | None = None) -> ToolRuntime:
    """The MCP client of `ws`'s servers, not started yet (`async with` starts it). Its ledger makes
    each tool call exactly once (an in-memory one when none is given); its servers' logs go under
    `$MOOT_HOME/logs/workspaces/<name>/mcp`, wherever the workspace is run from."""
    from moot.builtin.servers import BUILTIN_SERVERS
    from moot.persistence.ledger import MemoryLedger
    from moot.tools.runtime import ToolRuntime

    log_dir = moot_home() / "logs" / "workspaces" / ws.name / "mcp"
    return ToolRuntime(
        ws.spec.mcp_servers, ledger=ledger or MemoryLedger(), builtins=builtins or BUILTIN_SERVERS, log_dir=log_dir
    )


class _Unconnected:
    """Stands in for the MCP servers in a graph that is only drawn."""

    async def call(self, tool: str, arguments: dict[str, Any], *, key: str, on_event: Any = None) -> ToolOutcome:
        raise RunError("the workspace's MCP servers are not connected; run inside WorkspaceRunner.open_tools()")


__all__ = ["Assembly", "tool_runtime"]
