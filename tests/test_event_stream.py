"""The paged SSE writer: one chunk per page of the log, standard SSE text, keep-alives on silence."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from moot.service.event_stream import KEEPALIVE, event_stream, message


async def _pages(*pages: list[tuple[str | None, str, str]] | None) -> AsyncIterator[Iterable[tuple[str | None, str, str]] | None]:
    for page in pages:
        yield page


async def _body(response: object) -> list[str]:
    return [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]


async def test_each_page_is_one_chunk_of_standard_sse_messages() -> None:
    response = event_stream(_pages([("1-0", "run_started", '{"a":1}'), ("1-1", "agent_started", '{"b":"x\\ny"}')], [("2-0", "run_finished", "{}")]))
    assert response.media_type == "text/event-stream" and response.headers["cache-control"] == "no-cache"
    chunks = await _body(response)
    assert chunks == [
        'id: 1-0\nevent: run_started\ndata: {"a":1}\n\nid: 1-1\nevent: agent_started\ndata: {"b":"x\\ny"}\n\n',
        "id: 2-0\nevent: run_finished\ndata: {}\n\n",
    ]
    assert message(None, "end", "{}") == "event: end\ndata: {}\n\n"


async def test_silence_sends_a_keep_alive_until_the_client_has_left() -> None:
    gone = [False, True]

    async def disconnected() -> bool:
        return gone.pop(0)

    chunks = await _body(event_stream(_pages(None, None, [("1-0", "x", "{}")]), disconnected=disconnected))
    assert chunks == [KEEPALIVE]  # the second silence found the client gone: nothing more is sent
