"""Ask a chat model for an answer that validates against a pydantic schema, with bounded repair.

The schema goes to the model as a constraint where the model takes one (the OpenAI-style
`response_format` that ChatOpenAI and moot's embedded model understand); the answer is always
validated here, whatever the provider promised. An answer that does not validate is sent back
with the validation error, at most `max_repairs` times; then the agent fails with a clear
`AgentOutputError`. Echoed answers and errors are truncated so a huge answer cannot blow up the
repair prompt.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from moot.agents.base import Usage
from moot.agents.prompt_fit import context_limit
from moot.errors import AgentOutputError, ModelError, MootError
from moot.telemetry.chat import answered, chat as chat_span, repaired
from moot.models.provider_errors import describe

T = TypeVar("T", bound=BaseModel)

MAX_ANSWER_CHARS = 64_000
"""Answers longer than this are refused unparsed: no schema of ours needs that much."""
_ECHO_CHARS = 1_500
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def response_format(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The OpenAI-style structured-output constraint for `schema`."""
    return {"type": "json_schema", "json_schema": {"name": name[:64], "schema": schema, "strict": False}}


_BY_CLASS = {
    "ChatOpenAI": "response_format",
    "AzureChatOpenAI": "response_format",
    "ChatAnthropic": "tool",
    "ChatOllama": "format",
}


def constraint_kind(model: BaseChatModel) -> str | None:
    """How `model` takes an output schema: `response_format` (OpenAI style), `tool` (a forced
    tool call, e.g. Anthropic), `format` (Ollama's JSON-schema format), or None (prompt only)."""
    if getattr(model, "supports_response_format", False):
        return "response_format"
    return _BY_CLASS.get(type(model).__name__)


def takes_response_format(model: BaseChatModel) -> bool:
    """Whether the schema reaches the model as a constraint (so the prompt need not spell it out)."""
    return constraint_kind(model) is not None


def constrained(model: BaseChatModel, schema: dict[str, Any], name: str) -> Any:
    """`model` bound to the JSON-schema constraint in the form its provider takes."""
    kind = constraint_kind(model)
    if kind == "response_format":
        return model.bind(response_format=response_format(schema, name))
    if kind == "tool":
        tool = {"name": name[:64], "description": f"Give the answer as {name}.", "input_schema": schema}
        return model.bind_tools([tool], tool_choice=name[:64])
    if kind == "format":
        return model.bind(format=schema)
    return model


def parse_json(text: str) -> Any:
    """Parse a JSON answer, tolerating a code fence or prose around one JSON object."""
    text = text.strip()
    if not text:
        raise ValueError("the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise ValueError(f"the answer is {len(text)} characters long; at most {MAX_ANSWER_CHARS} are accepted")
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(text[start : end + 1])
            except json.JSONDecodeError:
                pass
        raise ValueError(f"the answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def model_key(model: BaseChatModel, message: BaseMessage | None = None) -> str:
    """`provider/model` for accounting: the provider's own model name when the answer gives it."""
    meta = getattr(message, "response_metadata", None) or {}
    provider = meta.get("model_provider") or meta.get("provider") or getattr(model, "_llm_type", "model")
    name = meta.get("model_name") or getattr(model, "model_name", None) or getattr(model, "model", None) or "?"
    return f"{provider}/{name}"


def usage_of(model: BaseChatModel, message: BaseMessage, latency_s: float) -> Usage:
    """Usage of one call as the provider (or the model's own tokenizer) counted it."""
    meta = getattr(message, "usage_metadata", None) or {}
    return Usage(
        prompt_tokens=int(meta.get("input_tokens", 0)),
        completion_tokens=int(meta.get("output_tokens", 0)),
        calls=1,
        latency_s=latency_s,
        model=model_key(model, message),
    )


async def ainvoke_structured(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: type[T],
    *,
    agent: str,
    max_repairs: int = 2,
    json_schema: dict[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[T, Usage]:
    """Call `model` until its answer validates against `schema`, at most `1 + max_repairs` times."""
    target = json_schema or schema.model_json_schema()
    room = Room(model, target)
    convo: list[BaseMessage] = list(messages)
    usage = Usage()
    attempts = 1 + max(0, max_repairs)
    last_error = ""
    attempt = 0
    while attempt < attempts:
        attempt += 1
        started = time.perf_counter()
        with chat_span(model, convo, attempt=attempt) as span:
            try:
                answer = await constrained(room.model(), room.schema, schema.__name__).ainvoke(convo, config=config)
            except MootError:
                raise
            except Exception as exc:
                raise ModelError(f"agent {agent!r}: {describe(exc, model)}") from exc
            answered(span, answer)
        usage.add(usage_of(model, answer, time.perf_counter() - started))
        if getattr(answer, "tool_calls", None):  # the schema was a forced tool: its arguments are the answer
            text = json.dumps(answer.tool_calls[0].get("args", {}))
        else:
            text = answer.content if isinstance(answer.content, str) else _text_of(answer.content)
        try:
            return schema.model_validate(parse_json(text), context=dict(context or {})), usage
        except (ValueError, ValidationError) as exc:
            last_error = _describe(exc)
            repaired(span, last_error)
        if cut_off(answer) and room.grow():
            attempt -= 1  # cut off by the token limit, not wrong: the same question with more room or a smaller ask
            continue
        if attempt < attempts:
            convo += [
                AIMessage(content=text[:_ECHO_CHARS] + (" …[truncated]" if len(text) > _ECHO_CHARS else "")),
                HumanMessage(
                    content=(
                        f"That answer was not valid: {last_error}\n"
                        f"Answer again with only one JSON object that matches this schema:\n"
                        f"{json.dumps(target, separators=(',', ':'))[:4000]}"
                    )
                ),
            ]
    raise AgentOutputError(agent, schema.__name__, attempts, last_error)


def cut_off(answer: BaseMessage) -> bool:
    """Whether the provider stopped the answer at its token limit (OpenAI, llama.cpp, Anthropic)."""
    meta = getattr(answer, "response_metadata", None) or {}
    return meta.get("finish_reason") == "length" or meta.get("stop_reason") == "max_tokens" or meta.get("done_reason") == "length"


class Room:
    """How much an answer may say: grown when it is cut off, then the ask made smaller.

    An answer cut off at `max_tokens` is invalid JSON through no fault of the model's; asking it
    to "repair" the fragment wastes a call. So the same question is asked again with twice the
    room (at most `MAX_GROWTH` times the model's own limit, and never past its context), and if
    the room cannot grow, with every list in the schema allowed half as many items.
    """

    MAX_GROWTH = 4
    LIMIT = 2
    """Retries for cut-off answers, on top of the repairs."""

    def __init__(self, model: BaseChatModel, schema: dict[str, Any]) -> None:
        self._model = model
        self.schema = schema
        self.base = getattr(model, "max_tokens", None) if isinstance(getattr(model, "max_tokens", None), int) else None
        self.max_tokens = self.base
        self.retries = 0

    def model(self) -> Any:
        if self.max_tokens is not None and self.max_tokens != self.base:
            return self._model.bind(max_tokens=self.max_tokens)
        return self._model

    def grow(self) -> bool:
        if self.retries >= self.LIMIT:
            return False
        self.retries += 1
        if self.base is not None:
            ceiling = self.base * self.MAX_GROWTH
            limit = context_limit(self._model)
            if limit is not None:
                ceiling = min(ceiling, limit // 2)
            if self.max_tokens is not None and self.max_tokens * 2 <= ceiling:
                self.max_tokens *= 2
                return True
        smaller = _fewer_items(self.schema)
        if smaller == self.schema:
            return False
        self.schema = smaller
        return True


def _fewer_items(schema: Any) -> Any:
    """A copy of a JSON schema in which every list may hold half as many items (at least one)."""
    if isinstance(schema, list):
        return [_fewer_items(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _fewer_items(v) for k, v in schema.items()}
    if out.get("type") == "array" and isinstance(out.get("maxItems"), int) and out["maxItems"] > 1:
        out["maxItems"] = max(1, out["maxItems"] // 2, int(out.get("minItems") or 1))
    return out


def _text_of(content: list[Any]) -> str:
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:6]]
        more = f" (+{exc.error_count() - 6} more)" if exc.error_count() > 6 else ""
        return "; ".join(parts) + more
    return str(exc)[:500]


__all__ = [
    "MAX_ANSWER_CHARS",
    "ainvoke_structured",
    "constrained",
    "constraint_kind",
    "parse_json",
    "response_format",
    "takes_response_format",
]
