"""The Redis backend of SessionControl: sessions shared by every API process of a fleet.

Any number of stateless API workers share these sessions; the same test suite runs against every
backend. Key layout (`P` the prefix, `T` the tenant and `U` the user, percent-encoded; `{T}` puts all of a tenant's keys
in one Redis Cluster hash slot so that they can change together in one transaction):

```
P sess:{T}:s:<id>          STRING  the session as JSON; PX ttl, set again by every touch (sliding)
P sess:{T}:created         ZSET    id → created_at: the tenant's sessions, for listing
P sess:{T}:expiry          ZSET    id → expires_at: the tenant's sessions, for pruning
P sess:{T}:u:U:created     ZSET    the same two indexes for one user, so that listing a user's
P sess:{T}:u:U:expiry      ZSET    sessions reads only theirs
```

Expired ids leave the indexes when their tenant or user creates or lists sessions, and the index
keys themselves expire with their longest-lived session, so a tenant that goes quiet leaves nothing
behind. Expiry is decided on the store's `clock` (Redis only collects the garbage): keep API workers'
clocks in step (NTP), as for any TTL shared between machines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from moot.service.sessions.base import DEFAULT_TTL_S, Session, SessionControl, SessionExists


class _Keys:
    def __init__(self, prefix: str, tenant: str) -> None:
        self.base = f"{prefix}sess:{{{quote(tenant, safe='')}}}:"

    def session(self, session_id: str) -> str:
        return self.base + "s:" + quote(session_id, safe="")

    def indexes(self, user_id: str | None) -> tuple[str, str]:
        """(by created_at, by expires_at) of the tenant, or of one of its users."""
        base = self.base if user_id is None else f"{self.base}u:{quote(user_id, safe='')}:"
        return base + "created", base + "expiry"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: Any) -> Session | None:
    return None if raw is None else Session.model_validate_json(raw)


class RedisSessions(SessionControl):
    """Sessions in Redis (`url`, or a `redis.asyncio.Redis` you own), shared by every API worker."""

    def __init__(
        self, url_or_client: str | aioredis.Redis = "redis://127.0.0.1:6379/0", *, prefix: str = "moot:",
        default_ttl_s: int = DEFAULT_TTL_S, clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(default_ttl_s=default_ttl_s, clock=clock)
        self._owned = isinstance(url_or_client, str)
        self.redis: aioredis.Redis = aioredis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.prefix = prefix

    async def aclose(self) -> None:
        if self._owned:
            await self.redis.aclose()

    def _ttl_ms(self, session: Session, now: float) -> int:
        return max(1, int((session.expires_at - now) * 1000))

    def _index(self, pipe: Any, k: _Keys, session: Session, ttl_ms: int) -> None:
        """Queue the writes that (re)index a session and keep its indexes alive as long as it."""
        for created, expiry in (k.indexes(None), k.indexes(session.user_id)):
            pipe.zadd(created, {session.session_id: session.created_at})
            pipe.zadd(expiry, {session.session_id: session.expires_at})
            for key in (created, expiry):
                pipe.pexpire(key, ttl_ms, nx=True)  # a new index: give it a TTL
                pipe.pexpire(key, ttl_ms, gt=True)  # an existing one: only ever push it out

    async def _prune(self, k: _Keys, user_id: str | None, now: float) -> None:
        """Drop expired ids from one pair of indexes (the sessions' own keys expire in Redis)."""
        created, expiry = k.indexes(user_id)
        stale = await self.redis.zrangebyscore(expiry, "-inf", repr(now))
        if stale:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(created, *stale)
                pipe.zrem(expiry, *stale)
                await pipe.execute()

    async def _insert(self, session: Session, now: float) -> None:
        k = _Keys(self.prefix, session.tenant)
        ttl_ms = self._ttl_ms(session, now)
        key = k.session(session.session_id)
        # a caller's own id created by another request meanwhile is refused whole (WATCH: the
        # session and its indexes are written in one transaction, or not at all)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(key)
                if await pipe.exists(key):
                    raise SessionExists(session.tenant, session.session_id)
                pipe.multi()
                pipe.set(key, session.model_dump_json(), px=ttl_ms)
                self._index(pipe, k, session, ttl_ms)
                await pipe.execute()
        except WatchError:
            raise SessionExists(session.tenant, session.session_id) from None
        await self._prune(k, session.user_id, now)
        await self._prune(k, None, now)

    async def _load(self, tenant: str, session_id: str) -> Session | None:
        return _decode(await self.redis.get(_Keys(self.prefix, tenant).session(session_id)))

    async def _touch(self, tenant: str, session_id: str) -> Session | None:
        k = _Keys(self.prefix, tenant)
        key = k.session(session_id)

        async def resume(pipe: Any) -> Session | None:  # under WATCH: a concurrent write makes this retry
            found = _decode(await pipe.get(key))
            now = self.clock()  # read after the session, so a retry resumes at a later time
            resumed = self.touched(found, now) if found is not None else None
            pipe.multi()
            if resumed is not None:
                ttl_ms = self._ttl_ms(resumed, now)
                pipe.set(key, resumed.model_dump_json(), px=ttl_ms, xx=True)
                self._index(pipe, k, resumed, ttl_ms)
            return resumed

        result: Session | None = await self.redis.transaction(resume, key, value_from_callable=True)
        return result

    async def _update(
        self, tenant: str, session_id: str, change: Callable[[Session], Session], now: float
    ) -> Session | None:
        key = _Keys(self.prefix, tenant).session(session_id)

        async def write(pipe: Any) -> Session | None:  # under WATCH, like a touch
            found = _decode(await pipe.get(key))
            if found is None or found.expires_at <= now:
                return None
            changed = change(found)
            pipe.multi()
            pipe.set(key, changed.model_dump_json(), keepttl=True, xx=True)
            return changed

        result: Session | None = await self.redis.transaction(write, key, value_from_callable=True)
        return result

    async def _list(self, tenant: str, user_id: str | None, limit: int, now: float) -> list[Session]:
        k = _Keys(self.prefix, tenant)
        await self._prune(k, user_id, now)
        created, expiry = k.indexes(user_id)
        out: list[Session] = []
        offset = 0
        while len(out) < limit:  # a second page only when sessions went between prune and read
            want = limit - len(out)
            ids = await self.redis.zrevrange(created, offset, offset + want - 1)
            offset += len(ids)
            if not ids:
                break
            found = await self.redis.mget([k.session(_text(i)) for i in ids])
            gone = []
            for session_id, raw in zip(ids, found, strict=True):
                session = _decode(raw)
                if session is None or session.expires_at <= now:
                    gone.append(session_id)
                else:
                    out.append(session)
            if gone:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.zrem(created, *gone)
                    pipe.zrem(expiry, *gone)
                    await pipe.execute()
                offset -= len(gone)
            if len(ids) < want:
                break
        return out

    async def _delete(self, tenant: str, session_id: str, now: float) -> bool:
        k = _Keys(self.prefix, tenant)
        key = k.session(session_id)

        async def remove(pipe: Any) -> bool:
            found = _decode(await pipe.get(key))
            pipe.multi()
            if found is not None:
                pipe.delete(key)
                for index in (*k.indexes(None), *k.indexes(found.user_id)):
                    pipe.zrem(index, session_id)
            return found is not None and found.expires_at > now

        result: bool = await self.redis.transaction(remove, key, value_from_callable=True)
        return result


__all__ = ["RedisSessions"]
