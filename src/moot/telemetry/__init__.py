"""Traces of deliberations (OpenTelemetry): the spans moot makes, and how a process exports them.

`spans` and `chat` use the OpenTelemetry API only, which every install has: without an SDK
they cost nothing. `setup` configures the SDK from the standard `OTEL_*` variables (extra
`moot[otel]`), for `moot serve`, `moot worker`, `moot run` and moot's MCP servers alike.
"""

from moot.telemetry.propagation import carrier, continued
from moot.telemetry.spans import (
    agent_turn,
    enabled,
    in_stage,
    ledger_hit,
    outcome,
    recalled,
    retrieval,
    run_attributes,
    tool_call,
    tool_outcome,
    turn_usage,
    use,
    violation,
    workflow,
)

__all__ = [
    "agent_turn", "carrier", "continued", "enabled", "in_stage", "ledger_hit", "outcome", "recalled", "retrieval", "run_attributes", "tool_call",
    "tool_outcome", "turn_usage", "use", "violation", "workflow",
]
