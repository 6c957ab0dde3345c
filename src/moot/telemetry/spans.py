"""The spans of a deliberation, named and attributed after OpenTelemetry's GenAI conventions.

    invoke_workflow <workspace>          one per run (drive) of the orchestrator
      stage <name>                       one per visit of a stage (its `moot.round` attribute)
        invoke_agent <role>              one per agent turn (memory recall, model calls nest here)
          retrieval memory               a recall: items, tokens, milliseconds
          chat <model>                   one per model call (moot.telemetry.chat), repairs included
        execute_tool <name>              one per MCP call through the tool runtime (FastMCP's own
                                         client span nests below it and carries `traceparent`)

Only the OpenTelemetry *API* is used here: with no SDK configured (moot.telemetry.setup), every
call returns at once, so a run pays nothing measurable for being traceable. Stage spans outlive
a single node (a stage's agents run as separate LangGraph tasks), so each run keeps its open
stage span in a small registry keyed by run id; the agent and tool spans take it as parent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

import moot
from moot.settings import otel_variable

_VERSION = getattr(moot, "__version__", None)
tracer: trace.Tracer = trace.NoOpTracer()
"""moot's tracer: a no-op until `use` installs a provider (moot.telemetry.setup does)."""
_on = False
_capture = False
CAPTURE_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_NOOP: AbstractContextManager[Span] = nullcontext(trace.INVALID_SPAN)
_NOTHING: AbstractContextManager[None] = nullcontext()
"""What a span helper gives when tracing is off: one shared no-op, nothing built per call."""

class Scope:
    """A started span, current for a block and ended after it: what the SDK's
    `start_as_current_span` does, without its two generator layers per span (a run makes a few
    dozen spans and tracing's cost target is 5%). An exception escaping the block is recorded and
    sets the span's status, as the SDK does. `timed` names an attribute that gets the block's
    milliseconds (the SDK's duration is there too; the attribute is what dashboards query)."""

    __slots__ = ("span", "_timed", "_started", "_token")

    def __init__(self, span: Span, timed: str | None = None) -> None:
        self.span = span
        self._timed = timed
        self._started = 0.0

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        if self._timed:
            self._started = time.perf_counter()
        return self.span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        span = self.span
        try:
            if self._timed:
                span.set_attribute(self._timed, round((time.perf_counter() - self._started) * 1000, 3))
            if exc is not None:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        finally:
            otel_context.detach(self._token)
            span.end()


def start(name: str, attributes: dict[str, Any], *, parent: Span | None = None, kind: trace.SpanKind = trace.SpanKind.INTERNAL, timed: str | None = None) -> Scope:
    """A span named `name` under `parent` (default: the current span), as a `Scope`."""
    context = trace.set_span_in_context(parent) if parent is not None else None
    return Scope(tracer.start_span(name, context=context, kind=kind, attributes=attributes), timed)


run_attributes: ContextVar[dict[str, Any] | None] = ContextVar("moot_run_attributes", default=None)
"""Attributes a caller knows and the orchestrator does not (the service's tenant): set around a
drive, added to its `invoke_workflow` span."""


def use(provider: trace.TracerProvider | None) -> None:
    """Trace moot's spans with `provider` (None: stop). The process's global provider is set
    by moot.telemetry.setup; a test installs its own here without touching the global one.
    The message-content opt-in is read here, once, like the rest of the `OTEL_*` variables."""
    global tracer, _on, _capture
    tracer = provider.get_tracer("moot", _VERSION) if provider is not None else trace.NoOpTracer()
    _on = provider is not None
    _capture = _on and otel_variable(CAPTURE_VARIABLE).strip().lower() in ("1", "true", "yes")


def capturing() -> bool:
    """Whether spans carry message contents: prompts hold users' tasks and memories, so only when
    `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is true (the GenAI instrumentations' variable)."""
    return _capture


def enabled() -> bool:
    """Whether moot's spans are recorded (else every helper here returns at once)."""
    return _on


@dataclass
class _RunSpans:
    workflow: Span
    stage_key: tuple[str, int] | None = None
    stage: Span | None = None


_runs: dict[str, _RunSpans] = {}


def workflow(*, workspace: str, version: str, run_id: str, session_id: str, resumed: bool = False) -> AbstractContextManager[Span]:
    """The span of one drive of a run; the graph's tasks inherit it (asyncio copies the context)."""
    return _workflow(workspace=workspace, version=version, run_id=run_id, session_id=session_id, resumed=resumed) if _on else _NOOP


@contextmanager
def _workflow(*, workspace: str, version: str, run_id: str, session_id: str, resumed: bool = False) -> Iterator[Span]:
    attributes = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.conversation.id": session_id,
        "moot.workspace": workspace,
        "moot.workspace.version": version,
        "moot.run_id": run_id,
        "moot.resumed": resumed,
        **(run_attributes.get() or {}),
    }
    with tracer.start_as_current_span(f"invoke_workflow {workspace}", attributes=attributes, end_on_exit=True) as span:
        _runs[run_id] = spans = _RunSpans(span)
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("moot.outcome", "failed")
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            _runs.pop(run_id, None)
            if spans.stage is not None:
                spans.stage.end()


def trace_ids() -> dict[str, str]:
    """`trace_id` and `span_id` of the current span, as log lines carry them ({} when none)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def outcome(span: Span, status: str) -> None:
    """The run's outcome on its workflow span (finished, awaiting_approval, cancelled...)."""
    span.set_attribute("moot.outcome", status)


def _stage_span(run_id: str, stage: str, round_: int) -> Span | None:
    """The open span of `stage` in round `round_` of the run, opened (and the previous closed) on
    the first turn of a new visit."""
    spans = _runs.get(run_id)
    if spans is None:
        return None
    key = (stage, round_)
    if spans.stage_key != key:
        if spans.stage is not None:
            spans.stage.end()
        parent = trace.set_span_in_context(spans.workflow)
        attributes = {"moot.stage": stage, "moot.round": round_}
        spans.stage = tracer.start_span(f"stage {stage}", context=parent, attributes=attributes)
        spans.stage_key = key
    return spans.stage


def in_stage(run_id: str, stage: str, round_: int) -> AbstractContextManager[None]:
    """Make the stage's span current (for spans started below it: tools, an agent's turn)."""
    return _in_stage(run_id, stage, round_) if _on else _NOTHING


@contextmanager
def _in_stage(run_id: str, stage: str, round_: int) -> Iterator[None]:
    span = _stage_span(run_id, stage, round_)
    with attached(trace.set_span_in_context(span) if span is not None else None):
        yield


@contextmanager
def attached(context: otel_context.Context | None) -> Iterator[None]:
    """`context` current for the block (nothing happens for None)."""
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def agent_turn(run_id: str, stage: str, round_: int, role: str) -> AbstractContextManager[Span]:
    """`invoke_agent <role>` under its stage, current while the agent recalls and calls its model."""
    if not _on:
        return _NOOP
    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": role, "moot.stage": stage, "moot.round": round_}
    return start(f"invoke_agent {role}", attributes, parent=_stage_span(run_id, stage, round_))


def tool_call(tool: str, key: str) -> AbstractContextManager[Span]:
    """`execute_tool <name>`: attempts, idempotency key, ledger hit and outcome are set by the caller."""
    if not _on:
        return _NOOP
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool, "gen_ai.tool.call.id": key, "moot.idempotency_key": key}
    return start(f"execute_tool {tool}", attributes)


def retrieval(layer: str, budget_tokens: int) -> AbstractContextManager[Span]:
    """A memory recall; the caller sets `moot.memory.items` and `moot.memory.tokens`."""
    if not _on:
        return _NOOP
    attributes = {"gen_ai.operation.name": "retrieval", "moot.memory.layer": layer, "moot.memory.budget_tokens": budget_tokens}
    return start("retrieval memory", attributes, timed="moot.memory.ms")


def ledger_hit(span: Span, hit: bool) -> None:
    """Whether the ledger answered the call (a replay: nothing was sent to the server)."""
    if span.is_recording():
        span.set_attribute("moot.ledger.hit", hit)


def tool_outcome(span: Span, *, ok: bool, attempts: int, error: str | None) -> None:
    if span.is_recording():
        span.set_attributes({"moot.tool.attempts": attempts, "moot.tool.ok": ok})
        if not ok:
            span.set_status(Status(StatusCode.ERROR, (error or "the tool call failed")[:500]))


def recalled(span: Span, items: int, tokens: int) -> None:
    """What a recall returned."""
    if span.is_recording():
        span.set_attributes({"moot.memory.items": items, "moot.memory.tokens": tokens})


def turn_usage(span: Span, spent: dict[str, Any]) -> None:
    """An agent turn's tokens (all its model calls, repairs included) and model."""
    if span.is_recording():
        attributes: dict[str, Any] = {
            "gen_ai.usage.input_tokens": int(spent.get("prompt_tokens", 0)),
            "gen_ai.usage.output_tokens": int(spent.get("completion_tokens", 0)),
            "moot.model_calls": int(spent.get("calls", 0)),
        }
        if spent.get("model"):
            attributes["moot.model"] = str(spent["model"])
        span.set_attributes(attributes)


def violation(agent: str, key: str, allowed: list[str], message: str) -> None:
    """A write outside the policy, as an event on the current span (the agent's turn)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event("moot.policy_violation", {"moot.agent": agent, "moot.key": key, "moot.allowed": allowed, "message": message})


__all__ = [
    "CAPTURE_VARIABLE", "Scope", "capturing", "agent_turn", "attached", "enabled", "in_stage", "ledger_hit", "outcome", "recalled", "retrieval", "run_attributes", "tool_call", "tool_outcome", "trace_ids", "tracer",
    "start", "turn_usage", "use", "violation", "workflow",
]
