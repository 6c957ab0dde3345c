"""What an agent is: a pure, stateless reasoner shared by every session (design §3).

An agent reads a snapshot of the keys it declares, may call its chat model through the context,
and returns an `AgentResult`: the updates it proposes and the events it wants observed. It never
touches the state, the bus or the checkpointer; the node wrapper (`moot.graph.node`) checks the
updates against the write policy and hands them to LangGraph's channels.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel



@dataclass
class Usage:
    """Token usage of one agent call: summed over repairs; `calls` counts model calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    latency_s: float = 0.0
    model: str = ""
    """`provider/model` of the calls, e.g. `openai/gpt-4o-mini` or `moot-local/SmolLM2-…`."""

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.latency_s += other.latency_s
        self.model = other.model or self.model

    def as_dict(self) -> dict[str, float | int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "calls": self.calls,
            "latency_s": round(self.latency_s, 6),
        }


@dataclass(frozen=True)
class AgentContext:
    """What one call of an agent may use besides the snapshot: identity, stage, model, weights."""

    agent: str
    stage: str
    round: int
    run_id: str
    session_id: str
    model: BaseChatModel
    stage_weights: Mapping[str, float] = field(default_factory=dict)
    max_repairs: int = 2
    memory: str = ""
    """What the MemoryManager recalled for this call (within the agent's token budget), or ''."""
    rules: str = ""
    """The agent's current procedural rules (latest version in procedural memory), or ''."""


@dataclass
class AgentResult:
    """An agent's proposed updates (checked by the policy) and events (observed, never routed on)."""

    updates: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class Agent(ABC):
    """Base of every agent. Subclasses implement `__call__`; instances hold configuration only."""

    name: str
    reads: tuple[str, ...] = ("task", "history")
    writes: tuple[str, ...] = ("history",)
    model_name: str = "default"
    description: str = ""

    @abstractmethod
    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        """Reason over `snapshot` (only the declared `reads`) and return proposed updates."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


__all__ = ["Agent", "AgentContext", "AgentResult", "Usage"]
