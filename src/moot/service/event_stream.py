"""Server-Sent Events written a page of the run's log at a time.

FastAPI's own SSE (a generator endpoint with `response_class=EventSourceResponse`) sends every
event through a producer task, a keep-alive task and two memory streams, then one socket write:
per event, most of an API process's CPU while it streams runs (py-spy under 200 sessions). The
log hands its entries over a page at a time (what one read of Redis brought, a few events with
the recorder's linger), so a stream here formats a page into one chunk: one write for the
server, one read for the client, the same bytes on the wire as event-by-event SSE.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from starlette.responses import StreamingResponse

from moot.telemetry.metrics import SSE_SUBSCRIBERS

KEEPALIVE = ": ping\n\n"
"""A comment line: keeps proxies and clients from timing out an idle stream."""

Messages = AsyncIterable[Iterable[tuple[str | None, str, str]] | None]
"""Pages of (id, event name, data JSON); None while nothing comes (a keep-alive is sent)."""


MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "contentMediaType": "application/json"},
        "event": {"type": "string"},
        "id": {"type": "string"},
    },
}
"""One SSE message as OpenAPI 3.2 describes a stream's items (`itemSchema`), as FastAPI's own SSE does."""


def documented(description: str) -> dict[str, Any]:
    """The OpenAPI entry of a 200 answered with an event stream (a route's `responses[200]`)."""
    return {"description": description, "content": {"text/event-stream": {"itemSchema": MESSAGE_SCHEMA}}}


def message(id_: str | None, event: str, data: str) -> str:
    """One SSE message; `data` is one line of JSON (JSON escapes its own newlines)."""
    head = f"id: {id_}\n" if id_ is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def _chunks(pages: Messages, disconnected: Callable[[], Awaitable[bool]] | None) -> AsyncIterator[str]:
    SSE_SUBSCRIBERS.inc()
    try:
        async for page in pages:
            if page is None:
                if disconnected is not None and await disconnected():
                    return
                yield KEEPALIVE
                continue
            chunk = "".join(message(id_, event, data) for id_, event, data in page)
            if chunk:
                yield chunk
    finally:
        SSE_SUBSCRIBERS.dec()


class EventStream(StreamingResponse):
    """A `text/event-stream` response; as a route's `response_class`, the OpenAPI media type.

    Not FastAPI's `EventSourceResponse`: as a route's response class, that one makes FastAPI
    drive the endpoint as an event generator of its own."""

    media_type = "text/event-stream"


def event_stream(pages: Messages, *, disconnected: Callable[[], Awaitable[bool]] | None = None, headers: dict[str, Any] | None = None) -> EventStream:
    """A `text/event-stream` response sending each page of `pages` in one write."""
    return EventStream(
        _chunks(pages, disconnected),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )


__all__ = ["KEEPALIVE", "MESSAGE_SCHEMA", "EventStream", "Messages", "documented", "event_stream", "message"]
