"""LangChain messages, tools and output schemas turned into one constrained llama.cpp request.

A 135M model cannot be trusted to write valid JSON, let alone pick a tool by itself, so every
structured answer is forced by the grammar: llama.cpp compiles the JSON schema built here
(with llguidance) and masks every token that would leave it. The model also *sees* what it is
constrained to (tool names, descriptions, argument schemas), because the mask alone keeps the
answer well-formed but cannot make it sensible.

A tool call is one JSON object `{"name": ..., "arguments": {...}}`, an `anyOf` over the allowed
tools; with `tool_choice="auto"` one more branch `{"response": "..."}` lets the model answer in
text, so an agent loop can end. One call per answer: the grammar has no list of calls.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.json_schema import dereference_refs
from pydantic import BaseModel

from moot.errors import UsageError
from moot.models._llama_shape import shape

_ROLES: dict[type[BaseMessage], str] = {
    SystemMessage: "system",
    HumanMessage: "user",
    AIMessage: "assistant",
    ToolMessage: "tool",
}


@dataclass(frozen=True)
class Constraint:
    """A JSON schema that decoding must follow, and the instruction that explains it."""

    schema: dict[str, Any]
    instruction: str
    tools: bool = False


def render_messages(messages: Sequence[BaseMessage], instruction: str | None = None) -> list[dict[str, str]]:
    """Render any LangChain message as a plain `{role, content}` chat-template message.

    Tool calls become the same JSON the model is constrained to write, so earlier calls in the
    conversation read as examples of the format. Only plain fields are passed: llama.cpp's own
    tool-call handling would need a template that knows tools, which SmolLM2's does not.
    """
    rendered: list[dict[str, str]] = []
    for message in messages:
        role = _ROLES.get(type(message)) or _role_of(message)
        text = _text(message.content)
        if isinstance(message, AIMessage) and (message.tool_calls or message.invalid_tool_calls):
            calls = [json.dumps({"name": c["name"], "arguments": c["args"]}) for c in message.tool_calls]
            calls += [
                c["args"] or "" for c in message.invalid_tool_calls
            ]  # as written, so errors can refer to it
            text = "\n".join([text, *calls] if text else calls)
        elif isinstance(message, ToolMessage) and message.name:
            text = f"{message.name} returned: {text}"
        rendered.append({"role": role, "content": text})
    if instruction:
        if rendered and rendered[0]["role"] == "system":
            rendered[0] = {"role": "system", "content": f"{rendered[0]['content']}\n\n{instruction}"}
        else:
            rendered.insert(0, {"role": "system", "content": instruction})
    return rendered


def _role_of(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        return message.role
    if message.type in ("tool", "function"):
        return "tool"
    return {"human": "user", "ai": "assistant"}.get(message.type, message.type)


def _text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict):
            parts.append(f"[{block.get('type', 'block')} omitted: this model reads text only]")
    return "\n".join(parts)


def response_format_constraint(response_format: Any) -> Constraint | None:
    """Read an OpenAI-style `response_format` (or a pydantic class, as ChatOpenAI accepts)."""
    if response_format is None:
        return None
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        schema: dict[str, Any] = response_format.model_json_schema()
    elif isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = dict(response_format.get("json_schema", {}).get("schema") or {"type": "object"})
    elif isinstance(response_format, dict) and response_format.get("type") == "json_object":
        schema = dict(response_format.get("schema") or {"type": "object"})
    elif isinstance(response_format, dict) and response_format.get("type") == "text":
        return None
    elif isinstance(response_format, dict) and (
        "properties" in response_format or "$defs" in response_format
    ):
        schema = dict(response_format)  # already a JSON schema, titled or not
    elif isinstance(response_format, type | dict):
        schema = convert_to_json_schema(response_format)  # a TypedDict or an OpenAI function
    else:
        raise UsageError(
            f"local chat model: unsupported response_format {response_format!r}; pass a pydantic "
            f'class or {{"type": "json_schema", "json_schema": {{"name": ..., "schema": {{...}}}}}}.'
        )
    schema = _closed(_inline(schema))
    instruction = f"Answer with one JSON object of this shape: {shape(schema)}"
    return Constraint(schema=schema, instruction=instruction)


def tool_constraint(tools: Sequence[dict[str, Any]], tool_choice: Any) -> Constraint | None:
    """Build the `anyOf` schema of the calls `tool_choice` allows (OpenAI-format `tools`)."""
    functions = {t["function"]["name"]: t["function"] for t in tools}
    if not functions or tool_choice in ("none", False):
        return None
    allow_text = tool_choice in (None, "auto")
    if tool_choice in (None, "auto", "any", "required", True):
        names = list(functions)
    else:
        name = tool_choice
        if isinstance(tool_choice, dict):
            name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        if name not in functions:
            raise UsageError(
                f"local chat model: tool_choice {tool_choice!r} names no bound tool; "
                f"bound tools: {', '.join(functions)}. Pass one of them, 'any', 'auto' or 'none'."
            )
        names = [name]
    branches = [_call_schema(name, functions[name]) for name in names]
    lines = ["You can call these tools:"]
    for name in names:
        params = functions[name].get("parameters") or {}
        description = (functions[name].get("description") or "").strip()
        lines.append(f"- {name}: {description} Arguments: {_compact(_inline(params).get('properties', {}))}")
    lines.append('Answer with one JSON object: {"name": <tool name>, "arguments": {<its arguments>}}.')
    if allow_text:
        branches.append(
            _closed(
                {"type": "object", "properties": {"response": {"type": "string"}}, "required": ["response"]}
            )
        )
        lines.append('To answer without a tool, reply {"response": "<your answer>"} instead.')
    schema = branches[0] if len(branches) == 1 else {"anyOf": branches}
    return Constraint(schema=schema, instruction="\n".join(lines), tools=True)


def _call_schema(name: str, function: dict[str, Any]) -> dict[str, Any]:
    arguments = _closed(_inline(function.get("parameters") or {"type": "object", "properties": {}}))
    properties = {"name": {"type": "string", "enum": [name]}, "arguments": arguments}
    return _closed({"type": "object", "properties": properties, "required": ["name", "arguments"]})


_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \\t\\n\\r"}
"""What `\\d`, `\\w` and `\\s` mean in ASCII; llguidance refuses these escapes ("unsupported
escape: \\d, accepting any string"), which silently turned the travel server's date pattern
`^\\d{4}-\\d{2}-\\d{2}$` into no constraint at all."""


COMPACT = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
"""llguidance's JSON options for answers without layout: given a JSON schema alone, llama.cpp lets
the model indent, and SmolLM2 does (newlines and two spaces before every key: about a third of the
tokens of a structured answer, each costing time); with these, the answer is one compact line."""


def compact_json_grammar(schema: dict[str, Any]) -> str:
    """The llguidance grammar of a JSON value of `schema`, written without layout."""
    return "%llguidance {}\nstart: %json " + json.dumps({**schema, "x-guidance": COMPACT}, ensure_ascii=False)


def grammar_regex(pattern: str) -> str:
    """`pattern` with `\\d`, `\\w`, `\\s` spelled as character classes llguidance compiles."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _CLASSES:
                out.append(_CLASSES[nxt] if in_class else f"[{_CLASSES[nxt]}]")
            else:
                out.append(char + nxt)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref`s: a tool's schema is nested under `arguments`, where `#/$defs` would dangle."""
    if "$defs" not in schema and "definitions" not in schema:
        return dict(schema)
    inlined = dereference_refs(schema)
    return {k: v for k, v in inlined.items() if k not in ("$defs", "definitions")}


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Forbid undeclared keys in every object that declares its properties, recursively, and
    write every `pattern` in the regex syntax the grammar compiler reads.

    Extra keys cost tokens and lead a weak model astray. `required` is left as given.
    """
    closed = dict(schema)
    if isinstance(closed.get("pattern"), str):
        closed["pattern"] = grammar_regex(closed["pattern"])
    for key in ("items", "additionalProperties", "not"):
        if isinstance(closed.get(key), dict):
            closed[key] = _closed(closed[key])
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(closed.get(key), list):
            closed[key] = [_closed(s) if isinstance(s, dict) else s for s in closed[key]]
    if isinstance(closed.get("properties"), dict):
        closed["properties"] = {
            p: _closed(s) if isinstance(s, dict) else s for p, s in closed["properties"].items()
        }
        closed.setdefault("additionalProperties", False)
    return closed


def _compact(schema: dict[str, Any]) -> str:
    """The schema as the model is shown it: one line, no pydantic titles (tokens cost time)."""
    return json.dumps(_untitled(schema), separators=(",", ":"), ensure_ascii=False)


def _untitled(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_untitled(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    shown = {k: _untitled(v) for k, v in schema.items() if k not in ("title", "properties")}
    if isinstance(schema.get("properties"), dict):
        shown["properties"] = {name: _untitled(s) for name, s in schema["properties"].items()}
    return shown


@dataclass(frozen=True)
class ToolAnswer:
    """The model's constrained answer read back: a tool call, a text reply, or invalid JSON."""

    text: str
    name: str | None
    args: dict[str, Any] | None
    raw: str
    error: str | None
    call_id: str

    def message_fields(self) -> dict[str, Any]:
        """Fields for an `AIMessage`: `tool_calls`, or `invalid_tool_calls` with the reason."""
        if self.error is not None:
            bad = invalid_tool_call(name=self.name, args=self.raw, id=self.call_id, error=self.error)
            return {"content": "", "invalid_tool_calls": [bad]}
        if self.name is None:
            return {"content": self.text}
        return {
            "content": "",
            "tool_calls": [tool_call(name=self.name, args=self.args or {}, id=self.call_id)],
        }

    def chunk_fields(self) -> dict[str, Any]:
        """Fields for an `AIMessageChunk`; LangChain parses the chunk's args back into calls."""
        if self.name is None and self.error is None:
            return {"content": self.text}
        args = self.raw if self.error is not None else json.dumps(self.args or {})
        return {
            "content": "",
            "tool_call_chunks": [tool_call_chunk(name=self.name, args=args, id=self.call_id, index=0)],
        }


def parse_tool_answer(raw: str) -> ToolAnswer:
    """Read the constrained JSON; it is invalid only if generation stopped early (max_tokens)."""
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    try:
        answer = json.loads(raw)
    except json.JSONDecodeError as exc:
        error = f"the tool call is not complete JSON ({exc}); raise max_tokens if the answer was cut off"
        return ToolAnswer(text="", name=None, args=None, raw=raw, error=error, call_id=call_id)
    if isinstance(answer, dict) and "name" in answer:
        args = answer.get("arguments")
        return ToolAnswer(
            text="",
            name=str(answer["name"]),
            args=args if isinstance(args, dict) else {},
            raw=raw,
            error=None,
            call_id=call_id,
        )
    if isinstance(answer, dict) and "response" in answer:
        return ToolAnswer(
            text=str(answer["response"]), name=None, args=None, raw=raw, error=None, call_id=call_id
        )
    return ToolAnswer(text="", name=None, args=None, raw=raw, error="not a tool call", call_id=call_id)
