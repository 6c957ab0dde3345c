"""The write policy: who may write which state key (design §2), enforced before LangGraph merges.

The policy is data from the workspace (`policy.yaml`). The node wrapper calls `check` on an
agent's whole update before returning it to LangGraph, so a refused update never reaches the
channels: all of it is refused, not just the offending key. `check_parallel_stage` runs when the
graph is built and rejects a parallel stage in which two agents may write one LastValue key,
which LangGraph would otherwise report only at run time, mid-deliberation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from moot.errors import PolicyConfigError, PolicyViolation
from moot.state import STATE_KEYS, channel_kind

ORCHESTRATOR = "orchestrator"
"""The writer identity of the orchestrator and its in-graph hand, the stage router."""
RUNTIME = "runtime"
"""The writer identity of the node wrapper's own bookkeeping (executed agents, token usage)."""
TOOL_RUNTIME = "tool_runtime"
"""The writer identity of the tool runtime (tool results into history)."""
HUMAN = "human"
"""The writer identity of a person answering an approval request (moot.graph.approval)."""
ANY_AGENT = "*"
"""In a writer list: every agent of the workspace."""

SYSTEM_WRITERS = frozenset({ORCHESTRATOR, RUNTIME, TOOL_RUNTIME, HUMAN})

DEFAULT_WRITERS: dict[str, tuple[str, ...]] = {
    "task": (ORCHESTRATOR,),
    "session_id": (ORCHESTRATOR,),
    "user_id": (ORCHESTRATOR,),
    "run_id": (ORCHESTRATOR,),
    "stage": (ORCHESTRATOR,),
    "done": (ORCHESTRATOR,),
    "round": (ORCHESTRATOR,),
    "history": (ANY_AGENT, TOOL_RUNTIME, HUMAN),
    "rewards": (),
    "winner": ("synthesizer",),
    "decision": ("synthesizer", HUMAN),
    "slots": ("intake", HUMAN),
    "started_at": (ORCHESTRATOR,),
    "executed_agents_per_stage": (RUNTIME,),
    "usage": (RUNTIME,),
}
"""Design §2's table. `rewards` has no default writers: the workspace names its evaluators."""


@dataclass(frozen=True)
class WritePolicy:
    """Who may write each state key, and what a violation does to the run."""

    writers: Mapping[str, frozenset[str]]
    on_violation: Literal["fail", "skip"] = "fail"
    agents: frozenset[str] = field(default_factory=frozenset)
    memory_writers: frozenset[str] = field(default_factory=frozenset)
    """Agents that may write semantic memory through the `manage_memory` tool (none by default)."""

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any] | None,
        *,
        agents: Iterable[str],
        where: str = "policy",
    ) -> WritePolicy:
        """Build from the workspace's `policy` mapping (`writers`, `on_violation`) over the defaults.

        Unknown keys and unknown writers are configuration errors that name `where`.
        """
        agent_names = frozenset(agents)
        data = dict(data or {})
        unknown_top = set(data) - {"writers", "on_violation", "memory_writers"}
        if unknown_top:
            raise PolicyConfigError(
                f"{where}: unknown field(s) {sorted(unknown_top)}; expected 'writers', 'on_violation', 'memory_writers'",
                loc=(sorted(unknown_top)[0],),
            )
        on_violation = data.get("on_violation", "fail")
        if on_violation not in ("fail", "skip"):
            raise PolicyConfigError(
                f"{where}: on_violation must be 'fail' or 'skip', not {on_violation!r}", loc=("on_violation",)
            )
        raw: dict[str, Iterable[str]] = dict(DEFAULT_WRITERS)
        overrides = data.get("writers") or {}
        if not isinstance(overrides, Mapping):
            raise PolicyConfigError(f"{where}: 'writers' must map state keys to lists of writers", loc=("writers",))
        for key, names in overrides.items():
            if key not in STATE_KEYS:
                raise PolicyConfigError(
                    f"{where}: unknown state key {key!r}; keys are {', '.join(STATE_KEYS)}", loc=("writers", key)
                )
            if isinstance(names, str) or not isinstance(names, Iterable):
                raise PolicyConfigError(f"{where}: writers of {key!r} must be a list, got {names!r}", loc=("writers", key))
            raw[key] = tuple(names)
        writers: dict[str, frozenset[str]] = {}
        known = agent_names | SYSTEM_WRITERS | {ANY_AGENT}
        for key, names in raw.items():
            for i, name in enumerate(names):
                if name not in known and name not in DEFAULT_WRITERS.get(key, ()):
                    raise PolicyConfigError(
                        f"{where}: writer {name!r} of {key!r} is neither an agent of the workspace "
                        f"({', '.join(sorted(agent_names)) or 'none'}) nor one of {', '.join(sorted(SYSTEM_WRITERS))}",
                        loc=("writers", key, i),
                    )
            writers[key] = frozenset(names)
        memory_writers = data.get("memory_writers") or []
        if isinstance(memory_writers, str) or not isinstance(memory_writers, Iterable):
            raise PolicyConfigError(f"{where}: memory_writers must be a list of agents", loc=("memory_writers",))
        for i, name in enumerate(memory_writers):
            if name not in agent_names:
                raise PolicyConfigError(
                    f"{where}: memory writer {name!r} is not an agent of the workspace", loc=("memory_writers", i)
                )
        return cls(writers=writers, on_violation=on_violation, agents=agent_names, memory_writers=frozenset(memory_writers))

    def allowed(self, key: str) -> frozenset[str]:
        """The writers of `key`, with `*` expanded to the workspace's agents."""
        names = self.writers.get(key, frozenset())
        if ANY_AGENT in names:
            names = (names - {ANY_AGENT}) | self.agents
        return names

    def may_write(self, writer: str, key: str) -> bool:
        return writer in self.allowed(key)

    def check(
        self,
        writer: str,
        update: Mapping[str, Any],
        *,
        stage: str | None = None,
        declared: Iterable[str] | None = None,
    ) -> None:
        """Raise `PolicyViolation` for the first key of `update` that `writer` may not write.

        With `declared` (the agent's `writes`), a key the policy allows but the agent did not
        declare is refused too: the build-time checks rely on the declarations.
        """
        for key in update:
            if key not in STATE_KEYS or not self.may_write(writer, key):
                raise PolicyViolation(writer, key, self.allowed(key) if key in STATE_KEYS else (), stage=stage)
            if declared is not None and key not in declared:
                raise PolicyViolation(writer, key, self.allowed(key), stage=stage, undeclared=True)

    def check_parallel_stage(self, stage: str, writes_by_agent: Mapping[str, Iterable[str]]) -> None:
        """Reject a parallel step where two agents may write one LastValue key.

        "May write" is what an agent declares *or* what the policy allows it: either way two
        values could arrive in one superstep, which LangGraph would refuse mid-run.
        """
        seen: dict[str, str] = {}
        for agent, declared in writes_by_agent.items():
            keys = list(dict.fromkeys([*declared, *(k for k in STATE_KEYS if agent in self.allowed(k))]))
            for key in keys:
                if key not in STATE_KEYS:
                    raise PolicyConfigError(f"stage {stage!r}: agent {agent!r} declares an unknown key {key!r}")
                if channel_kind(key) != "last_value":
                    continue
                if key in seen:
                    raise PolicyConfigError(
                        f"stage {stage!r} is parallel but agents {seen[key]!r} and {agent!r} both write "
                        f"the LastValue key {key!r}; in one superstep only one value can win. Make the "
                        f"stage sequential or let one agent write {key!r}."
                    )
                seen[key] = agent

    def check_declared(self, agent: str, writes: Iterable[str]) -> None:
        """Reject, at build time, an agent whose declared writes the policy would refuse anyway."""
        for key in writes:
            if key not in STATE_KEYS:
                raise PolicyConfigError(f"agent {agent!r} declares an unknown key {key!r} in 'writes'")


__all__ = [
    "ANY_AGENT",
    "DEFAULT_WRITERS",
    "ORCHESTRATOR",
    "RUNTIME",
    "TOOL_RUNTIME",
    "HUMAN",
    "WritePolicy",
]
