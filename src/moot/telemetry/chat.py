"""`chat <model>` spans: one per model call an agent makes, repairs included.

Attributes after OpenTelemetry's GenAI conventions: `gen_ai.provider.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens` and
`output_tokens`, plus moot's `moot.attempt` (1 for the first call, 2 for the first repair...) and
`moot.latency_ms`. Message contents are recorded only when
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is true (the variable the GenAI
instrumentations share, read when tracing starts): prompts carry users' tasks and memories.

The spans are made where moot calls the model (moot.agents.structured), not by a LangChain
callback handler: a handler would put LangChain's callback machinery on every node and runnable
of the graph, where this costs one span per call and nothing when tracing is off.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from opentelemetry import trace
from opentelemetry.trace import Span

from moot.telemetry import spans
from moot.telemetry.spans import CAPTURE_VARIABLE

_NOOP: AbstractContextManager[Span] = nullcontext(trace.INVALID_SPAN)
_names: dict[int, tuple[BaseChatModel, str, str]] = {}
"""Provider and model name per model object (kept alive here, so its id is not reused): read
once, since a missing attribute on a pydantic model costs an exception per lookup."""


def _provider_and_model(model: BaseChatModel) -> tuple[str, str]:
    known = _names.get(id(model))
    if known is not None and known[0] is model:
        return known[1], known[2]
    provider = str(getattr(model, "_llm_type", None) or type(model).__name__)
    name = str(getattr(model, "model_name", None) or getattr(model, "model", None) or provider)
    if len(_names) >= 256:  # models are few and long-lived; a process making many drops the cache
        _names.clear()
    _names[id(model)] = (model, provider, name)
    return provider, name


def chat(model: BaseChatModel, messages: Sequence[BaseMessage], *, attempt: int) -> AbstractContextManager[Span]:
    """The span of one model call, current while it runs; `answered` fills in what came back."""
    if not spans.enabled():
        return _NOOP
    provider, name = _provider_and_model(model)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": name,
        "moot.attempt": attempt,
    }
    if spans.capturing():
        attributes["gen_ai.input.messages"] = json.dumps([{"role": m.type, "content": m.content} for m in messages], default=str)
    return spans.start(f"chat {name}", attributes, kind=trace.SpanKind.CLIENT, timed="moot.latency_ms")


def answered(span: Span, answer: BaseMessage) -> None:
    """Usage and the provider's own model name, from the answer."""
    if not span.is_recording():
        return
    usage = getattr(answer, "usage_metadata", None) or {}
    attributes: dict[str, Any] = {
        "gen_ai.usage.input_tokens": int(usage.get("input_tokens", 0)),
        "gen_ai.usage.output_tokens": int(usage.get("output_tokens", 0)),
    }
    meta = getattr(answer, "response_metadata", None) or {}
    if meta.get("model_name"):
        attributes["gen_ai.response.model"] = str(meta["model_name"])
    if meta.get("finish_reason"):
        attributes["gen_ai.response.finish_reasons"] = [str(meta["finish_reason"])]
    if spans.capturing():
        attributes["gen_ai.output.messages"] = json.dumps([{"role": answer.type, "content": answer.content}], default=str)
    span.set_attributes(attributes)


def repaired(span: Span, error: str) -> None:
    """The answer did not validate: the agent asks again (the next call is the repair)."""
    if span.is_recording():
        span.add_event("moot.repair_requested", {"error": error[:500]})


__all__ = ["CAPTURE_VARIABLE", "answered", "chat", "repaired"]
