"""`ScriptedChatModel`: a real LangChain chat model that plays programmed or recorded answers.

It goes through the same code path as a provider (LangChain's `BaseChatModel.ainvoke`, callbacks,
`bind`, usage metadata), so agents, repair and accounting are tested unchanged. A script is:

- a list of answers, played in order whoever asks;
- a mapping `agent name → list of answers`, played per agent (the agent's name reaches the model
  in the call's metadata), which keeps parallel stages deterministic;
- a callable `fn(messages, info) -> answer`, for answers computed from the prompt.

An answer is a string, a dict (sent as JSON), an `AIMessage`, or an `Exception` to raise. When a
queue runs dry the last answer repeats, unless `strict=True`. Token counts use a whitespace
tokenizer: it is this model's own tokenizer, deterministic and offline.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from moot.errors import ModelError, UsageError

Answer = str | dict | AIMessage | Exception
Script = Sequence[Answer] | Mapping[str, Sequence[Answer]] | Callable[[list[BaseMessage], dict[str, Any]], Answer]


class ScriptedChatModel(BaseChatModel):
    """Plays a script of answers; records every call in `calls` (messages, agent, kwargs)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Any = Field(default_factory=list)
    strict: bool = False
    model_name: str = "scripted"
    latency: float | dict[str, float] = 0.0
    """Seconds to wait before answering, overall or per agent (to test slow agents and kills)."""
    supports_response_format: bool = True
    """It accepts the JSON-schema constraint (and records it), as the real providers do."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _cursor: dict[str, int] = PrivateAttr(default_factory=dict)
    _calls: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ScriptedChatModel:
        """Load a recorded script: a JSON list of answers, or an object `agent → list of answers`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such script file") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{exc.lineno}: the script is not valid JSON: {exc.msg}") from None
        if not isinstance(data, (list, dict)):
            raise UsageError(f"{path}: a script is a JSON list of answers or an object of agent → answers")
        return cls(script=data, **kwargs)

    @property
    def calls(self) -> list[dict[str, Any]]:
        return list(self._calls)

    @property
    def _llm_type(self) -> str:
        return "moot-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _next(self, messages: list[BaseMessage], agent: str, stage: str, kwargs: dict[str, Any]) -> Answer:
        with self._lock:
            index = len(self._calls)
            self._calls.append({"agent": agent, "stage": stage, "messages": messages, "kwargs": kwargs})
            if callable(self.script) and not isinstance(self.script, (list, tuple, Mapping)):
                return self.script(messages, {"agent": agent, "stage": stage, "index": index, "kwargs": kwargs})
            if isinstance(self.script, Mapping):
                queue = self.script.get(agent)
                if queue is None:
                    queue = self.script.get("*")
                if queue is None:
                    raise ModelError(f"scripted model: no answers for agent {agent!r} (script has {sorted(self.script)})")
                key = agent if agent in self.script else "*"
            else:
                queue, key = self.script, "*"
            if isinstance(queue, (str, dict)):
                queue = [queue]
            position = self._cursor.get(key, 0)
            if position >= len(queue):
                if self.strict or not queue:
                    raise ModelError(f"scripted model: the script for {key!r} has no answer #{position + 1}")
                position = len(queue) - 1
            self._cursor[key] = position + 1
            return queue[position]

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Any:
        """Bind tools as a provider would (OpenAI format); the script supplies the tool calls.

        The bound tools and the choice reach the script's `info["kwargs"]` and `calls`, so a test
        can check what the caller offered (LangMem's trustcall binds its schemas this way).
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _answer(self, messages: list[BaseMessage], run_manager: Any, kwargs: dict[str, Any]) -> ChatResult:
        meta = dict(getattr(run_manager, "metadata", None) or {})
        answer = self._next(messages, str(meta.get("moot_agent", "")), str(meta.get("moot_stage", "")), kwargs)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, AIMessage):
            message = answer
        else:
            text = json.dumps(answer) if isinstance(answer, (dict, list)) else str(answer)
            message = AIMessage(content=text)
        text = message.content if isinstance(message.content, str) else json.dumps(message.content)
        prompt_tokens = sum(len(str(m.content).split()) for m in messages)
        completion_tokens = len(text.split())
        message = message.model_copy(
            update={
                "usage_metadata": {
                    "input_tokens": prompt_tokens,
                    "output_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "response_metadata": {**message.response_metadata, "model_name": self.model_name, "provider": "scripted"},
            }
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        time.sleep(self._delay(run_manager))
        return self._answer(messages, run_manager, kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if delay := self._delay(run_manager):
            await asyncio.sleep(delay)
        return self._answer(messages, run_manager, kwargs)

    def _delay(self, run_manager: Any) -> float:
        if isinstance(self.latency, dict):
            agent = str((getattr(run_manager, "metadata", None) or {}).get("moot_agent", ""))
            return float(self.latency.get(agent, self.latency.get("*", 0.0)))
        return float(self.latency)


def follow_schema(messages: list[BaseMessage], info: dict[str, Any]) -> Answer:
    """A script for any agent: the first valid answer of the schema the call is constrained to.

    It stands for a model that understands nothing and obeys the constraint perfectly: the first
    option of every `enum`, the least of every number, one item per list, a short string. Run with
    it (`--model scripted:schema`), a workspace shows what its structure achieves by itself;
    `moot eval` uses it to test the mechanisms of a task set in CI-sized time. Asked for a tool
    call (bound tools, no schema), it answers in text and calls nothing.
    """
    kwargs = info.get("kwargs") or {}
    schema = ((kwargs.get("response_format") or {}).get("json_schema") or {}).get("schema")
    if not schema:
        return "Nothing more to do."
    return _first_valid(schema, schema)


def _first_valid(node: Any, root: Mapping[str, Any]) -> Any:
    if not isinstance(node, Mapping):
        return None
    if "$ref" in node:
        target: Any = root
        for part in str(node["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return _first_valid(target, root)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if node.get(key):
            return _first_valid(node[key][0], root)
    kind = node.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object" or "properties" in node:
        props = node.get("properties") or {}
        return {name: _first_valid(sub, root) for name, sub in props.items()}
    if kind == "array":
        return [_first_valid(node.get("items") or {}, root) for _ in range(max(1, int(node.get("minItems") or 1)))]
    if kind in ("number", "integer"):
        low = node.get("minimum", node.get("exclusiveMinimum", 0))
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if node.get("format") == "date" or node.get("pattern") in _DATE_PATTERNS:
        return date.today().isoformat()
    low = int(node.get("minLength") or 1)
    return ("ok" * low)[: max(low, 2)][: int(node.get("maxLength") or max(low, 2))]


_DATE_PATTERNS = ("^\\d{4}-\\d{2}-\\d{2}$", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


__all__ = ["ScriptedChatModel", "follow_schema"]
