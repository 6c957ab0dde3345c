"""A run's LangGraph stream over SSE: `metadata` first, the modes' frames, then `end` or `error`.

Every frame carries an `id:` so that `Last-Event-ID` resumes exactly after it. The log entry's
id is the durable order; one entry may give several frames (an interrupt is in `updates` and in
`values`), so the last frame of an entry carries the entry's id and an earlier one `<id>~<k>`
(its place in the entry). Resuming after `<id>` reads the log after that entry; resuming after
`<id>~<k>` reads the run's log from its start up to that entry (to rebuild what its frames show)
and sends the entry's frames after the k-th. The `metadata` frame's id is `start` (resume from
the beginning) or the cursor the stream began at; `end`'s is `<id>~end` (resuming after it
answers `end` again at once, as does resuming after a settled run's last frame).

The stream ends where the LangGraph run does: after the run's terminal event, or after an
approval request while the run still waits for its answer (LangGraph's interrupted run). A
resumed moot run goes on in the same log, so a reader that finds the request already answered
reads on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from pydantic_core import to_json

from moot.events import TERMINAL_EVENTS
from moot.service.langgraph_api.errors import LangGraphError
from moot.service.langgraph_api.frames import Frame, Frames
from moot.service.protocols import RunEvents

log = logging.getLogger("moot.service.langgraph")

START = "start"
"""The `metadata` frame's id when the stream began at the run's start."""
_PART = "~"
_PAGE_END = object()
"""Said by `_entries` after the frames of one page of the log."""

Message = tuple[str, str, str]
"""An SSE message: id, event name, data JSON."""


@dataclass(frozen=True)
class Cursor:
    """Where a stream resumes: after entry `after` (None: the start), skipping its first `part + 1` frames."""

    after: str | None = None
    part: int | None = None


def parse_cursor(events: RunEvents, value: str | None) -> Cursor:
    """A `Last-Event-ID` as this stream wrote it, or 422 (checked before the stream opens)."""
    if not value or value == START:
        return Cursor()
    entry, sep, part = value.partition(_PART)
    try:
        canonical = events.check_id(entry)
    except ValueError as exc:
        raise LangGraphError(422, f"Last-Event-ID: {exc}") from None
    if not sep:
        return Cursor(canonical)
    if part == "end":  # after the stream's last frame: nothing more to send but `end`
        return Cursor(canonical)
    if not part.isdigit():
        raise LangGraphError(422, f"Last-Event-ID {value[:80]!r}: after {_PART!r} comes a frame number")
    return Cursor(canonical, int(part))


async def sse(
    events: RunEvents,
    frames: Frames,
    cursor: Cursor,
    *,
    metadata: dict[str, object] | None,
    waiting: Callable[[], Awaitable[bool]],
    settled: Callable[[], Awaitable[bool]],
    disconnected: Callable[[], Awaitable[bool]],
    on_abandon: Callable[[], Awaitable[None]] | None = None,
    heartbeat_s: float = 10.0,
) -> AsyncIterator[list[Message] | None]:
    """The run's frames after `cursor`, a page of the log at a time (moot.service.event_stream
    writes each page at once; None: a keep-alive); `waiting()` says whether the run still waits
    for an approval answer (the stream then ends at the request), `settled()` whether it has
    ended or paused (a reconnect after its last frame gets `end` at once); `on_abandon` runs when
    the client leaves before the end (`on_disconnect: cancel`)."""
    finished = False
    last = cursor.after
    try:
        if metadata is not None:
            yield [_message("metadata", metadata, cursor.after or START)]
        elif cursor.part is None and await _nothing_after(events, frames.run_id, cursor.after) and await settled():
            finished = True
            yield [_message("end", {"run_id": frames.run_id}, f"{cursor.after}{_PART}end")]
            return
        page: list[Message] = []
        async for item in _entries(events, frames, cursor, heartbeat_s):
            if item is _PAGE_END:
                if page:
                    yield page
                    page = []
                continue
            if item is None:
                if await disconnected():
                    return
                if await settled() and await _nothing_after(events, frames.run_id, last):
                    finished = True
                    yield [_message("end", {"run_id": frames.run_id}, f"{last}{_PART}end")]
                    return
                yield None
                continue
            entry_id, kind, parts, first = item
            last = entry_id
            for k in range(first, len(parts)):
                name, data = parts[k]
                page.append(_message(name, data, entry_id if k == len(parts) - 1 else f"{entry_id}{_PART}{k}"))
            if kind == "run_failed":
                finished = True
                yield page
                return
            if kind in TERMINAL_EVENTS or (kind == "approval_requested" and await waiting()):
                finished = True
                page.append(_message("end", {"run_id": frames.run_id}, f"{entry_id}{_PART}end"))
                yield page
                return
        if page:
            yield page
    finally:
        if not finished and on_abandon is not None:
            # the response is being torn down: cancel in a task of its own, not in this generator's
            task = asyncio.get_running_loop().create_task(on_abandon())
            task.add_done_callback(_log_failure)


async def _nothing_after(events: RunEvents, run_id: str, after: str | None) -> bool:
    async for entry in events.read(run_id, after=after, follow=False):
        if entry is not None:
            return False
    return True


async def _entries(
    events: RunEvents, frames: Frames, cursor: Cursor, heartbeat_s: float
) -> AsyncIterator[tuple[str, str, Sequence[Frame], int] | object | None]:
    """(entry id, event type, its frames, the first frame to send) after the cursor, `_PAGE_END`
    after each page of the log; None: silence."""
    replay = cursor.part is not None  # rebuild from the start up to the cursor's entry
    after = None if replay else cursor.after
    async for page in events.read_pages(frames.run_id, after=after, follow=True, heartbeat_s=heartbeat_s):
        if page is None:
            yield None
            continue
        for entry in page:
            parts = frames.of(entry.event, entry.id)
            if replay:
                if entry.id != cursor.after:
                    continue
                replay = False
                yield entry.id, entry.event.type, parts, (cursor.part or 0) + 1
                continue
            yield entry.id, entry.event.type, parts, 0
        yield _PAGE_END


def _message(name: str, data: object, id_: str) -> Message:
    # pydantic's own JSON encoder (Rust), as the /v1 route: a frame is never walked in Python
    return id_, name, to_json(data, fallback=repr).decode()


def _log_failure(task: asyncio.Task[None]) -> None:
    with suppress(asyncio.CancelledError):
        if (exc := task.exception()) is not None:
            log.error("cancelling an abandoned run failed: %s", exc)


__all__ = ["START", "Cursor", "parse_cursor", "sse"]
