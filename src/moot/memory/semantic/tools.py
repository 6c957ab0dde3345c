"""Memory tools for agents: LangMem's `manage_memory` and `search_memory` over the semantic store.

They are LangMem's own tools (so any tool-calling agent, LangGraph's prebuilt ones included,
can use them), bound to one user's namespace of the same store `SemanticMemory` uses, and
subject to the workspace's write policy for memory: `search_memory` is open to every agent,
`manage_memory` (create, update, delete) only to the agents named in `memory_writers`. Asking
for the write tool as an agent that may not write memory is refused with a `PolicyViolation`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.tools import BaseTool
from langmem import create_manage_memory_tool, create_search_memory_tool

from moot.errors import PolicyViolation, UsageError
from moot.memory.semantic.memory import SemanticMemory

MEMORY_KEY = "memory"
"""How memory writes are named in a PolicyViolation (it is not a state key)."""


class MemoryTools:
    """Builds an agent's memory tools for one user, under the workspace's memory write policy."""

    def __init__(self, semantic: SemanticMemory, *, writers: Iterable[str] = ()) -> None:
        self.semantic = semantic
        self.writers = frozenset(writers)

    def for_agent(self, agent: str, user_id: str, *, write: bool = False) -> list[BaseTool]:
        """`search_memory`, and `manage_memory` when `write` is asked and the policy allows it."""
        if not user_id:
            raise UsageError("memory tools need a user_id: every memory belongs to one user")
        namespace = self.semantic.namespace(user_id)
        tools: list[BaseTool] = [create_search_memory_tool(namespace=namespace, store=self.semantic.store)]
        if write:
            if agent not in self.writers:
                raise PolicyViolation(agent, MEMORY_KEY, self.writers)
            tools.append(
                create_manage_memory_tool(
                    namespace=namespace,
                    store=self.semantic.store,
                    actions_permitted=("create", "update", "delete"),
                )
            )
        return tools


async def call_tool(tool: BaseTool, **arguments: Any) -> Any:
    """Invoke a memory tool as an agent's tool call would (helper for callers without a graph)."""
    return await tool.ainvoke(arguments)


__all__ = ["MEMORY_KEY", "MemoryTools", "call_tool"]
