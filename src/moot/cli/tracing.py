"""Which traces a CLI process makes: its `OTEL_*` variables, then the `tracing:` block of the
workspace it runs (moot.workspace.spec.TracingSpec), whose values only fill in unset variables.

OpenTelemetry has one provider per process and it cannot be replaced, so the first call that
turns tracing on decides: the environment's variables at start, else the workspace's block once
`moot run` (`resume`, `approve`, `eval`) has loaded it.
"""

from __future__ import annotations

import logging

from moot.settings import otel_defaults
from moot.workspace.spec import WorkspaceSpec

log = logging.getLogger("moot.telemetry")

SERVICE_NAMES = {"serve": "moot-api", "ui": "moot-api", "worker": "moot-worker", "mcp": "moot-mcp"}
"""`service.name` of each command's traces (`OTEL_SERVICE_NAME` wins); the others are `moot`."""


def trace_process(command: str) -> bool:
    """Tracing on for this process when the OTEL_* variables ask for it (moot.telemetry.setup)."""
    from moot.telemetry.metrics import spans_dropped
    from moot.telemetry.setup import configure

    return configure(SERVICE_NAMES.get(command, "moot"), on_dropped=spans_dropped)


def trace_workspace(command: str, spec: WorkspaceSpec) -> bool:
    """Tracing as the loaded workspace's `tracing:` block says, where the environment is silent."""
    if spec.tracing is None:
        return False
    filled = otel_defaults(spec.tracing.variables())
    if filled:
        log.debug("tracing settings from workspace %s: %s", spec.name, ", ".join(filled))
    return trace_process(command)


__all__ = ["SERVICE_NAMES", "trace_process", "trace_workspace"]
