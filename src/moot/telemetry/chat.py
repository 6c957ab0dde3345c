"""`chat <model>` spans: one per model call an agent makes, repairs included.

Attributes after OpenTelemetry's GenAI conventions: `gen_ai.provider.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens` and
`output_tokens`, plus moot's `moot.attempt` (1 for the first call, 2 for the first repair...) and
`moot.latency_ms`. Message contents are recorded only when
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is true (the variable the GenAI
instrumentations share): prompts carry users' tasks and memories.

The spans are made where moot calls the model (moot.agents.structured), not by a LangChain
callback handler: a handler would put LangChain's callback machinery on every node and runnable
of the graph, where this costs one span per call and nothing when tracing is off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from opentelemetry import trace
from opentelemetry.trace import Span

from moot.settings import otel_variable
from moot.telemetry import spans

CAPTURE_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_NOOP: AbstractContextManager[Span] = nullcontext(trace.INVALID_SPAN)


def capture_content() -> bool:
    return otel_variable(CAPTURE_VARIABLE).strip().lower() in ("1", "true", "yes")


def _provider_and_model(model: BaseChatModel) -> tuple[str, str]:
    provider = getattr(model, "_llm_type", None) or type(model).__name__
    name = getattr(model, "model_name", None) or getattr(model, "model", None) or provider
    return str(provider), str(name)


def chat(model: BaseChatModel, messages: Sequence[BaseMessage], *, attempt: int) -> AbstractContextManager[Span]:
    """The span of one model call; `answered` fills in what came back."""
    return _chat(model, messages, attempt=attempt) if spans.enabled() else _NOOP


@contextmanager
def _chat(model: BaseChatModel, messages: Sequence[BaseMessage], *, attempt: int) -> Iterator[Span]:
    provider, name = _provider_and_model(model)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": name,
        "moot.attempt": attempt,
    }
    if capture_content():
        attributes["gen_ai.input.messages"] = json.dumps([{"role": m.type, "content": m.content} for m in messages], default=str)
    started = time.perf_counter()
    with spans.tracer.start_as_current_span(f"chat {name}", kind=trace.SpanKind.CLIENT, attributes=attributes) as span:
        yield span
        span.set_attribute("moot.latency_ms", round((time.perf_counter() - started) * 1000, 3))


def answered(span: Span, answer: BaseMessage) -> None:
    """Usage and the provider's own model name, from the answer."""
    if not span.is_recording():
        return
    usage = getattr(answer, "usage_metadata", None) or {}
    span.set_attribute("gen_ai.usage.input_tokens", int(usage.get("input_tokens", 0)))
    span.set_attribute("gen_ai.usage.output_tokens", int(usage.get("output_tokens", 0)))
    meta = getattr(answer, "response_metadata", None) or {}
    if meta.get("model_name"):
        span.set_attribute("gen_ai.response.model", str(meta["model_name"]))
    if meta.get("finish_reason"):
        span.set_attribute("gen_ai.response.finish_reasons", [str(meta["finish_reason"])])
    if capture_content():
        span.set_attribute("gen_ai.output.messages", json.dumps([{"role": answer.type, "content": answer.content}], default=str))


def repaired(span: Span, error: str) -> None:
    """The answer did not validate: the agent asks again (the next call is the repair)."""
    if span.is_recording():
        span.add_event("moot.repair_requested", {"error": error[:500]})


__all__ = ["CAPTURE_VARIABLE", "answered", "capture_content", "chat", "repaired"]
