"""Records shared by the memory layers, the MemoryManager and the code that reads memory.

Every item belongs to one user (and usually one session); namespaces built from `user_id` keep
users apart in every backend, so no call path can return another user's memory. This module
imports no backend (numpy only for type checking): the graph and the agents read these records
through `moot.memory.protocols` without loading an index, LangMem or a Redis client.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np

Layer = Literal["episodic", "semantic", "procedural", "summary"]
EXPIRES_AT = "expires_at"
"""`MemoryItem.meta` key: when the item's episodic record expires (wall-clock seconds, the store's
`ts + ttl`). The index leaves such an item out of recall from then on (`moot.memory.expiry`)."""
Source = Literal["manual", "optimizer", "feedback"]
"""Where a version of an agent's rules came from: a person, LangMem's optimizer, or appended feedback."""


@dataclass(frozen=True)
class MemoryItem:
    """One remembered thing, as recall returns it: its text, where it came from, how relevant."""

    id: str
    layer: Layer
    text: str
    user_id: str
    session_id: str = ""
    ts: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0


@dataclass(frozen=True)
class EpisodicRecord:
    """What happened in a run: an agent output, a decision, a tool result (execution memory)."""

    user_id: str
    session_id: str
    run_id: str
    task: str
    stage: str
    agent: str
    round: int
    kind: str
    """history entry type: proposal, review, decision, tool_call, tool_result, note, turn ..."""
    text: str
    ts: float
    data: dict[str, Any] = field(default_factory=dict)
    id: str = ""


@dataclass
class MemoryRecall:
    """Recalled context for a prompt: `text` never holds more than `budget` tokens."""

    text: str
    tokens: int
    budget: int
    items: list[MemoryItem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def sources(self) -> dict[str, int]:
        """How many recalled items came from each layer."""
        return dict(Counter(item.layer for item in self.items))


@dataclass(frozen=True)
class Procedure:
    """One version of an agent's instructions and rules."""

    agent: str
    version: int
    text: str
    reason: str
    source: Source
    ts: float


class Embedder(Protocol):
    """Text to unit-length float32 vectors; one per process, shared by every layer."""

    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """An (n, dim) float32 array of L2-normalised embeddings."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for budgets (the embedder's own tokenizer: offline, deterministic)."""
        ...


__all__ = ["EXPIRES_AT", "Embedder", "EpisodicRecord", "Layer", "MemoryItem", "MemoryRecall", "Procedure", "Source"]
