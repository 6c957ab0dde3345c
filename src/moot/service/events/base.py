"""A durable, ordered log of each run's events: the service's SSE source and fan-out (design §7).

The EventBus lives in one process and forgets. The service needs more: a client streaming from
API worker B must see a run executing on worker A, a client reconnecting with `Last-Event-ID`
must get exactly what it missed, and a run resumed in another process after a crash must go on
in the same stream. So `log.attach(bus)` copies every published event into the log (without
ever blocking the run) and readers read the log, not the bus:

    async for entry in log.read(run_id, after=last_event_id):
        ...  # None: `heartbeat_s` of silence, send an SSE comment; else send `id: entry.id`

**The entry id is the durable order, not `Event.seq`**: `seq` restarts at 1 whenever a run is
driven again (resumed, here or in another process); the log id keeps increasing, per run.

`RedisEventLog` (`redis.py`) keeps one stream per run, `<prefix>events:<run_id>`: Redis assigns the ids, so
appends from any number of processes stay ordered and never collide; `XREAD BLOCK` is the live
wait, `MAXLEN ~` bounds a run and `EXPIRE` (refreshed on append) forgets it. `InProcessEventLog`
(`in_process.py`) keeps lists and a condition per run with counter ids: one process only.

A reader cannot miss an event between catching up and waiting: every wait asks for what comes
after the last id it yielded (`XREAD` from that id, never from `$`; in process, the check and the
wait have no suspension point between them), so an event appended meanwhile comes back at once.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from moot.errors import UsageError
from moot.events import TERMINAL_EVENTS, Event, EventBus

logger = logging.getLogger(__name__)

_AT_ONCE = TERMINAL_EVENTS | {"approval_requested"}
"""Events a lingering recorder writes at once: the run ended, or it waits for a person."""
_PAGE = 500  # entries per round trip when catching up, and per recorder write


class InvalidEventId(UsageError, ValueError):
    """An `after` / `Last-Event-ID` that is not an id of this log's kind (the API answers 400)."""

    def __init__(self, value: object, expected: str) -> None:
        self.value = value
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        super().__init__(
            f"invalid event id {shown}: expected {expected}, an id this log returned (an SSE `id:` "
            f"line); omit it to read from the start of the run"
        )


@dataclass(frozen=True)
class LogEntry:
    """One event in a run's log; `id` is its place in the durable order (the SSE `id`)."""

    id: str
    event: Event


class EventLog(ABC):
    """Per-run, append-only, ordered event logs with follow-reads (see the module docstring)."""

    transient_errors: tuple[type[BaseException], ...] = ()
    """Errors after which a write may succeed if tried again (the recorder retries these)."""
    linger_s: float = 0.0
    """How long a recorder lets events gather before a write (never the run's last event)."""

    @abstractmethod
    async def append_many(self, events: Sequence[Event]) -> list[str]:
        """Append events (of any runs) in order, in one round trip; their ids, in the same order."""

    @abstractmethod
    def check_id(self, value: str) -> str:
        """`value` in canonical form if it is an id of this log's kind, else `InvalidEventId`.

        Call it before starting an SSE response: `read` validates too, but only when first iterated.
        """

    @abstractmethod
    async def _fetch(self, run_id: str, after: str | None, count: int, wait_s: float | None) -> list[LogEntry]:
        """Up to `count` entries after `after` (canonical; None: from the start). When there are
        none yet and `wait_s` is not None, wait up to `wait_s` seconds for the first of them."""

    @abstractmethod
    async def last(self, run_id: str) -> LogEntry | None:
        """The newest entry of the run, or None if it has none (unknown, deleted or expired)."""

    @abstractmethod
    async def delete(self, run_id: str) -> None:
        """Forget the run's entries (readers waiting on it keep waiting for new ones)."""

    async def aclose(self) -> None:
        """Release connections the log owns."""

    async def append(self, event: Event) -> str:
        """Append one event; its id (strictly greater than every earlier id of its run)."""
        return (await self.append_many([event]))[0]

    def attach(self, bus: EventBus, *, max_pending: int = 100_000) -> EventRecorder:
        """Copy every event published on `bus` into this log, in publish order, off the run's path."""
        return EventRecorder(self, bus, max_pending=max_pending, linger_s=self.linger_s)

    async def read(
        self, run_id: str, *, after: str | None = None, follow: bool = True, heartbeat_s: float = 15.0
    ) -> AsyncIterator[LogEntry | None]:
        """The run's entries after `after` (None: from the start), oldest first.

        With `follow`, waits for new entries (also for a run that has none yet) and stops after
        the first terminal event (`TERMINAL_EVENTS`); a resumed run continues after it, and a
        reader that wants that part reads again from the terminal entry's id. While nothing comes
        for `heartbeat_s` seconds it yields None, so an SSE endpoint can send a keep-alive.
        Without `follow`, yields what is there now and returns. Entries trimmed by the log's
        bound (`maxlen`) or expired are gone: a reader that far behind resumes at the oldest left.
        """
        async for page in self.read_pages(run_id, after=after, follow=follow, heartbeat_s=heartbeat_s):
            if page is None:
                yield None
                continue
            for entry in page:
                yield entry

    async def read_pages(
        self, run_id: str, *, after: str | None = None, follow: bool = True, heartbeat_s: float = 15.0
    ) -> AsyncIterator[list[LogEntry] | None]:
        """`read`, a page at a time: the entries each round trip brought (never empty; None is a
        heartbeat). An SSE endpoint sends a page in one write, which costs the server and the
        client one write and one read where one per event cost them one each."""
        if not heartbeat_s > 0:
            raise ValueError(f"heartbeat_s must be a positive number of seconds, not {heartbeat_s!r}")
        cursor = None if after is None else self.check_id(after)
        wait: float | None = None  # catch up first, without waiting
        while True:
            batch = await self._fetch(run_id, cursor, _PAGE, wait)
            if follow:
                end = next((i for i, entry in enumerate(batch) if entry.event.type in TERMINAL_EVENTS), None)
                if end is not None:
                    yield batch[: end + 1]
                    return
            if batch:
                yield batch
                cursor = batch[-1].id
            if len(batch) == _PAGE:
                continue
            if not follow:
                return
            if wait is not None and not batch:
                yield None
            wait = heartbeat_s


class EventRecorder:
    """Copies a bus's events into a log: an O(1) synchronous handler feeds one writer task.

    The handler only queues, so `bus.publish` never waits for the log, however slow or absent
    the backend is. The writer sends what has queued up in batches, in publish order, retries
    `transient_errors` with backoff (so a Redis restart loses nothing, at worst duplicates the
    batch in flight), and counts what it had to give up: `dropped` (the oldest pending events
    once `max_pending` are waiting) and `failed` (a batch the backend refused for good).
    """

    def __init__(self, log: EventLog, bus: EventBus, *, max_pending: int = 100_000, linger_s: float = 0.0) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, not {max_pending!r}")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UsageError("EventLog.attach() needs a running event loop: call it from async code") from None
        self.log = log
        self.max_pending = max_pending
        self.linger_s = max(0.0, linger_s)
        self.enqueued = self.written = self.dropped = self.failed = 0
        self._pending: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._remove = bus.add_handler(self._on_event)
        self._task = loop.create_task(self._writer(), name="moot-event-recorder")
        self._task.add_done_callback(lambda _t: self._progress.set())

    @property
    def pending(self) -> int:
        """Events queued but not yet written."""
        return self.enqueued - self.written - self.dropped - self.failed

    def _on_event(self, event: Event) -> None:
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.dropped += 1
        self._pending.append(event)
        self.enqueued += 1
        self._wake.set()

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.linger_s:
                await self._linger()
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(_PAGE, len(self._pending)))]
                await self._write(batch)
                self._progress.set()

    async def _linger(self) -> None:
        """Let a few more events join the batch (at most `linger_s`), unless the run just ended:
        every write wakes every reader of the run, so fewer, fuller writes cost the log and its
        readers less; the terminal event, and a request for approval (a person is waiting to be
        asked), are never held back."""
        deadline = asyncio.get_running_loop().time() + self.linger_s
        while self._pending and self._pending[-1].type not in _AT_ONCE and len(self._pending) < _PAGE:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._wake.clear()
            try:
                async with asyncio.timeout(left):
                    await self._wake.wait()
            except TimeoutError:
                return

    async def _write(self, batch: list[Event]) -> None:
        delay = 0.05
        while True:
            try:
                await self.log.append_many(batch)
                self.written += len(batch)
                return
            except self.log.transient_errors as exc:
                logger.warning("event log unreachable (%s); retrying %d event(s) in %.2fs", exc, len(batch), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Exception:
                logger.exception("event log refused %d event(s) of run(s) %s; they are lost", len(batch), sorted({e.run_id for e in batch}))
                self.failed += len(batch)
                return

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every event published before this call is written (or given up on).

        Raises TimeoutError after `timeout` seconds (the backend is down and retries go on).
        """
        target = self.enqueued
        async with asyncio.timeout(timeout):
            while self.enqueued - self.pending < target:
                if self._task.done():
                    raise RuntimeError(f"the event recorder has stopped with {self.pending} event(s) unwritten")
                self._progress.clear()
                await self._progress.wait()

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """Detach from the bus, flush (up to `timeout` seconds), stop the writer."""
        self._remove()
        try:
            await self.flush(timeout)
        except TimeoutError:
            logger.error("event recorder closed with %d event(s) unwritten after %ss", self.pending, timeout)
        finally:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def __aenter__(self) -> EventRecorder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def check_bounds(maxlen: int, ttl_s: float) -> None:
    if not isinstance(maxlen, int) or maxlen < 1:
        raise ValueError(f"maxlen must be a positive number of events per run, not {maxlen!r}")
    if not ttl_s > 0:
        raise ValueError(f"ttl_s must be a positive number of seconds, not {ttl_s!r}")



__all__ = ["EventLog", "EventRecorder", "InvalidEventId", "LogEntry", "check_bounds"]
