"""Event logs in this process's memory: one process only (the CLI, tests, an embedded server).

Ids are one counter per log, zero-padded so that they sort as text; waiting readers sleep on a
condition per run, and the check and the wait have no suspension point between them.

The counter starts from the clock (microseconds since the epoch), not from zero: an embedded
server that restarts resumes its runs in a new, empty log, and a client that reconnects with the
`Last-Event-ID` it had must then get what the new process logs. Counted from zero, the new ids
would be below the old one and the client would wait for ever (or, once they pass it, miss the
first of them). What the old process logged after that id is gone with it, as any in-process log.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import time
from collections import OrderedDict
from collections.abc import Sequence

from moot.events import Event
from moot.service.events.base import EventLog, InvalidEventId, LogEntry, check_bounds

_WIDTH = 20  # digits of an in-process id: any unsigned 64-bit counter fits


class _Run:
    __slots__ = ("entries", "cond", "waiting", "touched")

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self.cond = asyncio.Condition()
        self.waiting = 0
        self.touched = time.monotonic()


class InProcessEventLog(EventLog):
    """Event logs in this process's memory: for one process only (the CLI, tests, one worker).

    Ids come from one counter per log, started from the clock, so they are ordered within this
    object and above the ids of an earlier process's log (see the module docstring); the events
    themselves live only here: a run shared by several processes needs `RedisEventLog`. Each
    run keeps about its last `maxlen` entries; a run with no append for `ttl_s` seconds is
    forgotten.
    """

    _ID = re.compile(r"[0-9]{1,20}")

    def __init__(self, *, maxlen: int = 10_000, ttl_s: float = 7 * 24 * 3600) -> None:
        check_bounds(maxlen, ttl_s)
        self.maxlen = maxlen
        self.ttl_s = ttl_s
        self._runs: OrderedDict[str, _Run] = OrderedDict()  # least recently appended first
        self._counter = time.time_ns() // 1000  # above every id an earlier process handed out

    def check_id(self, value: str) -> str:
        if not isinstance(value, str) or not self._ID.fullmatch(value):
            raise InvalidEventId(value, "up to 20 decimal digits")
        return value.zfill(_WIDTH)

    def _run(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _Run()
        return run

    async def append_many(self, events: Sequence[Event]) -> list[str]:
        ids: list[str] = []
        touched: dict[str, _Run] = {}
        now = time.monotonic()
        for event in events:  # no suspension point: concurrent appends cannot interleave here
            self._counter += 1
            run = touched.get(event.run_id) or self._run(event.run_id)
            touched[event.run_id] = run
            entry = LogEntry(str(self._counter).zfill(_WIDTH), event)
            run.entries.append(entry)
            if len(run.entries) > self.maxlen + max(1, self.maxlen // 8):  # trim in chunks, like MAXLEN ~
                del run.entries[: len(run.entries) - self.maxlen]
            ids.append(entry.id)
        for run_id, run in touched.items():
            run.touched = now
            self._runs.move_to_end(run_id)
        self._expire(now)
        for run in touched.values():
            if run.waiting:
                async with run.cond:
                    run.cond.notify_all()
        return ids

    def _expire(self, now: float) -> None:
        while self._runs:
            run_id, run = next(iter(self._runs.items()))
            if now - run.touched < self.ttl_s:
                return
            del self._runs[run_id]
            if run.waiting:  # keep the object its readers wait on, emptied
                run.entries.clear()
                run.touched = now
                self._runs[run_id] = run

    def _after(self, run: _Run, after: str | None, count: int) -> list[LogEntry]:
        start = 0 if after is None else bisect.bisect_right(run.entries, after, key=lambda e: e.id)
        return run.entries[start : start + count]

    async def _fetch(self, run_id: str, after: str | None, count: int, wait_s: float | None) -> list[LogEntry]:
        run = self._runs.get(run_id) if wait_s is None else self._run(run_id)  # only waiters make a run
        found = self._after(run, after, count) if run else []
        if found or run is None or wait_s is None:
            return found
        run.waiting += 1
        try:
            async with run.cond:
                await asyncio.wait_for(run.cond.wait_for(lambda: bool(self._after(run, after, 1))), wait_s)
        except TimeoutError:
            return []
        finally:
            run.waiting -= 1
        return self._after(run, after, count)

    async def last(self, run_id: str) -> LogEntry | None:
        run = self._runs.get(run_id)
        return run.entries[-1] if run and run.entries else None

    async def delete(self, run_id: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            run.entries.clear()
            if not run.waiting:
                del self._runs[run_id]


__all__ = ["InProcessEventLog"]
