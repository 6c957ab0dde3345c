"""The Redis backend of the run event log: one stream per run, shared by every worker of a fleet.

Kept apart from the base so that the in-process default needs no Redis client.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from moot.events import Event
from moot.service.events.base import EventLog, InvalidEventId, LogEntry, check_bounds

logger = logging.getLogger("moot.service.events")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _jsonable(value: Any) -> str:
    """What an event's data holds that JSON cannot (a client's object): its repr, not a lost event."""
    return repr(value)


class RedisEventLog(EventLog):
    """One Redis stream per run, `<prefix>events:<run_id>`; safe for any number of processes.

    Redis assigns the ids (`<ms>-<seq>`, increasing per stream whichever client appends), the
    stream holds about `maxlen` entries (`XADD MAXLEN ~`, trimmed by whole nodes, so a little
    more) and expires `ttl_s` after its last append. A follow-read holds one connection of the
    pool while it blocks; its wait is cut into pieces shorter than the client's socket timeout.
    """

    transient_errors = (RedisConnectionError, RedisTimeoutError, OSError)
    linger_s = 0.05
    """Every append wakes every follower of the run (each then sends another XREAD): writes are
    gathered for up to 50 ms, which live views do not notice (a person reads at 10 lines a second
    at best); a run's last event goes at once."""
    _ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")

    def __init__(
        self,
        url_or_client: str | aioredis.Redis = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "moot:",
        maxlen: int = 10_000,
        ttl_s: float = 7 * 24 * 3600,
    ) -> None:
        check_bounds(maxlen, ttl_s)
        self._owned = isinstance(url_or_client, str)
        self.redis: aioredis.Redis = aioredis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.prefix = prefix
        self.maxlen = maxlen
        self.ttl_s = max(1, round(ttl_s))
        timeout = self.redis.connection_pool.connection_kwargs.get("socket_timeout")
        self._max_block_s = None if timeout is None else max(0.001, timeout / 2)

    def key(self, run_id: str) -> str:
        return f"{self.prefix}events:{run_id}"

    def check_id(self, value: str) -> str:
        match = self._ID.fullmatch(value) if isinstance(value, str) else None
        if match is None or any(int(part) >= 2**64 for part in match.groups()):
            raise InvalidEventId(value, "a Redis stream id '<milliseconds>-<sequence>' (e.g. '1732530000000-0')")
        return f"{int(match[1])}-{int(match[2])}"

    async def append_many(self, events: Sequence[Event]) -> list[str]:
        if not events:
            return []
        keys = dict.fromkeys(self.key(e.run_id) for e in events)
        async with self.redis.pipeline(transaction=False) as pipe:  # one connection: sent in order
            for event in events:
                payload = event.model_dump_json(fallback=_jsonable)
                pipe.xadd(self.key(event.run_id), {"e": payload}, maxlen=self.maxlen, approximate=True)
            for key in keys:
                pipe.expire(key, self.ttl_s)
            results = await pipe.execute()
        return [_text(r) for r in results[: len(events)]]

    def _decode(self, key: str, raw: Sequence[Any]) -> list[LogEntry]:
        out: list[LogEntry] = []
        for entry_id, fields in raw:
            payload = fields.get(b"e", fields.get("e")) if fields else None
            try:
                if payload is None:
                    raise ValueError("no 'e' field")
                out.append(LogEntry(_text(entry_id), Event.model_validate_json(payload)))
            except ValueError:  # also pydantic's ValidationError
                logger.warning("skipping entry %s of %s: not an event written by moot", _text(entry_id), key)
        return out

    async def _fetch(self, run_id: str, after: str | None, count: int, wait_s: float | None) -> list[LogEntry]:
        key = self.key(run_id)
        streams = {key: after or "0-0"}
        if wait_s is None:
            return self._decode(key, self._entries(await self.redis.xread(streams, count=count)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            left = deadline - loop.time()
            piece = left if self._max_block_s is None else min(left, self._max_block_s)
            response = await self.redis.xread(streams, count=count, block=max(1, int(piece * 1000)))
            found = self._decode(key, self._entries(response))
            if found or loop.time() >= deadline - 0.001:
                return found

    @staticmethod
    def _entries(response: Any) -> list[Any]:
        """The entries of a one-stream XREAD reply (RESP2: [[key, entries]], RESP3: {key: [entries]})."""
        streams = response.values() if isinstance(response, dict) else [r[1:] for r in response or ()]
        return [e for wrapped in streams for entries in wrapped for e in entries]

    async def last(self, run_id: str) -> LogEntry | None:
        key = self.key(run_id)
        found = self._decode(key, await self.redis.xrevrange(key, count=1))
        return found[0] if found else None

    async def delete(self, run_id: str) -> None:
        await self.redis.delete(self.key(run_id))

    async def aclose(self) -> None:
        if self._owned:
            await self.redis.aclose()


__all__ = ["RedisEventLog"]
