"""A real OpenAI-compatible HTTP server on loopback, with programmed answers, for provider tests.

A small FastAPI app run by uvicorn in a background thread on a free port. Tests queue behaviours
(`answer`, `tool_call`, `error`, `rate_limited`, `slow`); each `POST /v1/chat/completions` takes
the next one, or asks `responder(body)` when the queue is empty. Every request body is recorded.
The client under test is the real SDK over real HTTP: nothing of it is mocked.

    with serve() as server:
        server.push(rate_limited(retry_after=1), answer("hi"))
        ChatOpenAI(base_url=server.base_url, api_key="x").invoke("hello")
        assert len(server.requests) == 2
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MODELS = ("test-model",)


@dataclass(frozen=True)
class Reply:
    """One programmed behaviour: an HTTP status, a JSON body, headers, and a delay before it."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


_ids = itertools.count(1)


def completion(
    message: dict[str, Any], *, usage: tuple[int, int] = (10, 5), finish: str = "stop", model: str = "test-model"
) -> dict[str, Any]:
    """A chat-completion body in OpenAI's shape, with the usage the client should report."""
    prompt, done = usage
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done},
    }


def answer(content: str | dict[str, Any], *, usage: tuple[int, int] = (10, 5)) -> Reply:
    """A plain answer; a dict is sent as its JSON text (a structured answer)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return Reply(body=completion({"role": "assistant", "content": text}, usage=usage))


def tool_call(name: str, arguments: dict[str, Any], *, usage: tuple[int, int] = (10, 5)) -> Reply:
    """An answer that calls one tool."""
    call = {"id": f"call_{next(_ids)}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return Reply(body=completion(message, usage=usage, finish="tool_calls"))


_CODES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "model_not_found",
    429: "rate_limit_exceeded",
}


def error(status: int, message: str = "", *, headers: dict[str, str] | None = None) -> Reply:
    """An error in OpenAI's shape (`{"error": {"message", "type", "code"}}`)."""
    code = _CODES.get(status, "server_error")
    body = {"error": {"message": message or f"test server: status {status}", "type": code, "param": None, "code": code}}
    return Reply(status=status, body=body, headers=dict(headers or {}))


def rate_limited(retry_after: float = 1) -> Reply:
    return error(429, "Rate limit reached, slow down", headers={"Retry-After": f"{retry_after:g}"})


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """`then` (default: a plain answer), sent only after `seconds`."""
    reply = then or answer("late")
    return Reply(status=reply.status, body=reply.body, headers=reply.headers, delay=seconds)


class OpenAIServer:
    """The programmable state behind the app; safe to drive from the test thread."""

    def __init__(self) -> None:
        self.base_url = ""
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self._queue: deque[Reply] = deque()
        self._requests: list[dict[str, Any]] = []
        self._times: list[float] = []
        self._auth: list[str] = []
        self._lock = threading.Lock()
        self.app = self._build()

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._times.clear()
            self._auth.clear()
            self.responder = None

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat-completion requests, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def times(self) -> list[float]:
        """`time.monotonic()` of each request's arrival."""
        with self._lock:
            return list(self._times)

    @property
    def authorizations(self) -> list[str]:
        """The `Authorization` header of each request."""
        with self._lock:
            return list(self._auth)

    def _take(self, body: dict[str, Any], authorization: str) -> Reply:
        with self._lock:
            self._requests.append(body)
            self._times.append(time.monotonic())
            self._auth.append(authorization)
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        if responder is not None:
            return responder(body)
        return error(400, "test server: no programmed answer left")

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> JSONResponse:
            reply = self._take(await request.json(), request.headers.get("authorization", ""))
            until = time.monotonic() + reply.delay
            while time.monotonic() < until:  # a client that gave up is not waited for
                if await request.is_disconnected():
                    return JSONResponse({}, status_code=499)
                await asyncio.sleep(0.02)
            return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "moot-tests"} for m in MODELS]}

        return app


@contextmanager
def serve() -> Iterator[OpenAIServer]:
    """Run an `OpenAIServer` on 127.0.0.1 on a free port until the block ends."""
    server = OpenAIServer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        server.app, log_level="warning", access_log=False, lifespan="off", loop="asyncio", http="h11", timeout_graceful_shutdown=1
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, name="openai-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test OpenAI server did not start")
        time.sleep(0.01)
    server.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout=5)
        sock.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released): for unreachable-server tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


__all__ = ["MODELS", "OpenAIServer", "Reply", "answer", "completion", "error", "free_port", "rate_limited", "serve", "slow", "tool_call"]
