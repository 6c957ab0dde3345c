"""What the rest of moot calls on memory, as Protocols: the seam between a run and its memory.

The agent node recalls context and reads an agent's rules; the CLI and the service attach
memory to a run's bus and wait for its writes. They type against these few methods, so the
graph, the agents and the orchestrator never import a memory backend (numpy indexes, LangMem,
a Redis client), and a test can hand in any object that keeps the contract. `MemoryManager`
is the implementation (`moot.memory.manager`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from moot.memory.types import MemoryRecall, Procedure

if TYPE_CHECKING:
    from moot.events import EventBus


class Procedures(Protocol):
    """Procedural memory as a run reads it: an agent's latest rules."""

    async def get(self, agent: str) -> Procedure | None:
        """The agent's current rules, or None when it has none yet."""
        ...


class RunRecording(Protocol):
    """What `Memory.observe` hands back: the writes of the runs it watches, running behind them."""

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (a run never waits for memory)."""
        ...


class Memory(Protocol):
    """The process's memory as runs and their hosts use it (one per process, shared by runs)."""

    @property
    def procedural(self) -> Procedures | None:
        """Per-agent rules, or None when procedural memory is off."""
        ...

    async def recall(self, session_id: str, user_id: str, query: str, budget_tokens: int = 1000) -> MemoryRecall:
        """`user_id`'s memories most relevant to `query`, packed within `budget_tokens`."""
        ...

    def observe(self, bus: EventBus) -> RunRecording:
        """Record every run published on `bus` (its history entries, its outcome) in the background."""
        ...


__all__ = ["Memory", "Procedures", "RunRecording"]
