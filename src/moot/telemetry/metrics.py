"""Prometheus metrics of moot's runs, read off the event bus (events observe; metrics count them).

Every process that runs deliberations (`moot serve` with the inline queue, `moot worker`)
observes its runs' buses with `observe_runs` (and the workspace hub's, for reloads); the API process adds what only it sees (SSE
subscribers) and what it reads at scrape time (approvals waiting, queue depth: `moot.service`).
With several processes behind one port (`moot serve --workers N`), prometheus-client's
multiprocess mode adds them up: `PROMETHEUS_MULTIPROC_DIR` names a folder the processes share
(moot serve sets one when it starts workers), and every gauge says how it is combined.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from moot.events import Event, EventBus
from moot.settings import prometheus_multiproc_dir

disable_created_metrics()  # no `_created` series beside each counter: half the exposition, no use here

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

RUNS_STARTED = Counter("moot_runs_started_total", "Runs started (first drive or resume) by workspace", ["workspace"])
RUNS = Counter("moot_runs_total", "Runs that ended a drive, by workspace and outcome (finished, failed, cancelled, awaiting_approval)", ["workspace", "outcome"])
RUN_SECONDS = Histogram("moot_run_duration_seconds", "Wall time of a run's drive, start to end", ["workspace"], buckets=_SECONDS)
TURN_SECONDS = Histogram("moot_agent_turn_seconds", "Wall time of an agent's turn (model calls, repairs, recall)", ["role"], buckets=_SECONDS)
TOKENS = Counter("moot_tokens_total", "Model tokens by model and direction (input, output)", ["model", "direction"])
COST = Counter("moot_cost_total", "Cost of model calls by model, in the workspace's price currency", ["model"])
TOOL_CALLS = Counter("moot_tool_calls_total", "MCP tool calls by tool and outcome (ok, error, replayed)", ["tool", "outcome"])
TOOL_RETRIES = Counter("moot_tool_retries_total", "Tool call attempts after the first, by tool", ["tool"])
TOOL_ERRORS = Counter("moot_tool_errors_total", "Failed tool call attempts by tool and kind (transient, final)", ["tool", "kind"])
VIOLATIONS = Counter("moot_policy_violations_total", "Writes refused by the write policy, by agent", ["agent"])
APPROVALS_WAITING = Gauge("moot_approvals_waiting", "Runs paused for a human's approval (read at scrape time)", multiprocess_mode="mostrecent")
QUEUE_DEPTH = Gauge("moot_queue_depth", "Run jobs queued and not yet started (read at scrape time)", multiprocess_mode="mostrecent")
QUEUE_WAIT = Histogram("moot_queue_wait_seconds", "Time from a run's creation to a worker starting it", buckets=_SECONDS)
SSE_SUBSCRIBERS = Gauge("moot_sse_subscribers", "Event streams open to clients", multiprocess_mode="livesum")
RECALL_SECONDS = Histogram("moot_memory_recall_seconds", "Latency of a memory recall", buckets=_FAST)
RELOADS = Counter("moot_workspace_reloads_total", "Workspace hot reloads by workspace and outcome (ok, failed)", ["workspace", "outcome"])
SPANS_DROPPED = Counter("moot_trace_spans_dropped_total", "Trace spans dropped because the export queue was full (collector down or slow)")

_ENDS = {"run_finished": "finished", "run_failed": "failed", "run_cancelled": "cancelled", "approval_requested": "awaiting_approval"}


def spans_dropped(count: int) -> None:
    SPANS_DROPPED.inc(count)


def recall_took(seconds: float) -> None:
    RECALL_SECONDS.observe(seconds)


class RunMetrics:
    """An event-bus handler that counts one process's runs (attach one per run's bus)."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        handler = self._HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event)

    def _run_started(self, event: Event) -> None:
        RUNS_STARTED.labels(event.workspace).inc()
        self._started[event.run_id] = event.ts

    def _run_ended(self, event: Event) -> None:
        RUNS.labels(event.workspace, _ENDS[event.type]).inc()
        started = self._started.pop(event.run_id, None)
        if started is not None:
            RUN_SECONDS.labels(event.workspace).observe(max(0.0, event.ts - started))
        if event.type == "run_finished" and not event.data.get("already_finished"):
            self._account(event.data.get("accounting") or {})

    def _account(self, accounting: dict[str, Any]) -> None:
        for model, spent in (accounting.get("by_model") or {}).items():
            if not spent.get("calls"):  # bookkeeping without a model call (the tool runtime)
                continue
            TOKENS.labels(model, "input").inc(int(spent.get("prompt_tokens", 0)))
            TOKENS.labels(model, "output").inc(int(spent.get("completion_tokens", 0)))
            if spent.get("cost"):
                COST.labels(model).inc(float(spent["cost"]))

    def _agent_finished(self, event: Event) -> None:
        if event.agent and "duration_s" in event.data:
            TURN_SECONDS.labels(event.agent).observe(float(event.data["duration_s"]))

    def _tool_result(self, event: Event) -> None:
        data = event.data
        tool = str(data.get("tool"))
        TOOL_CALLS.labels(tool, "replayed" if data.get("replayed") else ("ok" if data.get("ok") else "error")).inc()
        if not data.get("replayed") and int(data.get("attempts") or 1) > 1:
            TOOL_RETRIES.labels(tool).inc(int(data["attempts"]) - 1)

    def _tool_error(self, event: Event) -> None:
        data = event.data
        tool = str(data.get("tool"))
        TOOL_ERRORS.labels(tool, "final" if data.get("final", True) else "transient").inc()
        if data.get("final", True):
            TOOL_CALLS.labels(tool, "error").inc()
            if int(data.get("attempt") or 1) > 1:
                TOOL_RETRIES.labels(tool).inc(int(data["attempt"]) - 1)

    def _violation(self, event: Event) -> None:
        VIOLATIONS.labels(event.agent or "?").inc()

    def _reload(self, event: Event) -> None:
        RELOADS.labels(event.workspace, "ok" if event.type == "workspace_reloaded" else "failed").inc()

    _HANDLERS: dict[str, Callable[[RunMetrics, Event], None]] = {
        "run_started": _run_started,
        **dict.fromkeys(_ENDS, _run_ended),
        "agent_finished": _agent_finished,
        "tool_result": _tool_result,
        "tool_error": _tool_error,
        "policy_violation": _violation,
        "workspace_reloaded": _reload,
        "workspace_reload_failed": _reload,
    }


def observe_runs(bus: EventBus) -> Callable[[], None]:
    """Count what happens on `bus` (a run's, or the workspace hub's: reloads); returns the detacher."""
    return bus.add_handler(RunMetrics())


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type; all processes' in multiprocess mode."""
    if prometheus_multiproc_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE
    return generate_latest(), CONTENT_TYPE


__all__ = [
    "APPROVALS_WAITING", "QUEUE_DEPTH", "QUEUE_WAIT", "RUNS", "SSE_SUBSCRIBERS", "RunMetrics", "exposition", "observe_runs",
    "recall_took", "spans_dropped",
]
