"""Episodic memory in Redis with plain data structures: hashes, sorted sets and sets, no modules.

Key layout (`P` is the prefix, default `moot:`; `U` is the user id percent-encoded, inside braces
so that all of a user's keys share one Redis Cluster hash slot and can be used together in one
transaction; field values are percent-encoded after `=`, or hashed after `#` when long):

```
P ep:users                  SET   user ids that have records (prune walks it; no SCAN anywhere)
P ep:{U}:rec:<id>           HASH  one record: id, user_id, session_id, run_id, task, stage, agent,
                                  round, kind, text, ts, data (JSON); PEXPIREAT ts + ttl
P ep:{U}:ix:all             ZSET  record id → ts: every record of the user
P ep:{U}:ix:<field>:<v>     ZSET  record id → ts, one per value of session, run, task, stage,
                                  agent, kind, round
P ep:{U}:ixkeys             SET   names of the user's index keys (delete_user, prune)
P ep:{U}:sessions           SET   the user's session ids (the per-session cap)
P ep:deletions               STRING deletions of any user's records so far (`deletions`): other
                                  processes' indexes learn that records may be gone; names no one
P ep:{U}:tmp:<uuid>         ZSET  a query's intersection of several indexes; deleted in the same
                                  MULTI that made it
```

A query with one filter reads one index with `ZREVRANGEBYSCORE` (newest first, `LIMIT`); with
several it intersects their indexes (`ZINTERSTORE`, smallest first, on Redis's side) and reads the
result the same way; then the records come in one pipeline of `HGETALL`s. Index and set keys get
the TTL of their newest record (`PEXPIREAT ... NX` then `... GT`), so a user who goes quiet
disappears from Redis on its own; each write also drops expired members from the indexes it
touches, and `prune` does it for every index and enforces the per-session cap everywhere. Expiry in Redis follows the server's clock, queries follow the store's
`clock`: keep them in step (they are the same wall clock outside tests).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import redis.asyncio as aioredis

from moot.memory.episodic.base import FILTER_FIELDS, EpisodicStore, Selection
from moot.memory.episodic.redis_append import Appender
from moot.memory.types import EpisodicRecord

_SHORT = {"session_id": "session", "run_id": "run", "task": "task", "stage": "stage",
          "agent": "agent", "kind": "kind", "round": "round"}
_CHUNK = 500


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _num(value: float) -> str:
    return "-inf" if value == float("-inf") else "+inf" if value == float("inf") else repr(float(value))


def _seg(value: str) -> str:
    quoted = quote(value, safe="")
    return "=" + quoted if len(quoted) <= 96 else "#" + hashlib.sha1(value.encode()).hexdigest()


class _Keys:
    """The key names of one user's namespace."""

    def __init__(self, prefix: str, user_id: str) -> None:
        self.user_id = user_id
        self.base = f"{prefix}ep:{{{quote(user_id, safe='')}}}:"
        self.all = self.base + "ix:all"
        self.ixkeys = self.base + "ixkeys"
        self.sessions = self.base + "sessions"

    def rec(self, record_id: str) -> str:
        return self.base + "rec:" + quote(record_id, safe="")

    def ix(self, field: str, value: str) -> str:
        return f"{self.base}ix:{_SHORT[field]}:{_seg(value)}"

    def indexes(self, fields: dict[str, str]) -> list[str]:
        return [self.all] + [self.ix(name, fields[name]) for name in FILTER_FIELDS]

    def tmp(self) -> str:
        return self.base + "tmp:" + uuid.uuid4().hex


def _encode(record: EpisodicRecord) -> dict[str, str]:
    return {
        "id": record.id, "user_id": record.user_id, "session_id": record.session_id,
        "run_id": record.run_id, "task": record.task, "stage": record.stage, "agent": record.agent,
        "round": str(record.round), "kind": record.kind, "text": record.text, "ts": repr(record.ts),
        "data": json.dumps(record.data, separators=(",", ":"), ensure_ascii=False),
    }


def _decode(raw: dict[Any, Any]) -> EpisodicRecord | None:
    if not raw:
        return None
    h = {_text(k): _text(v) for k, v in raw.items()}
    return EpisodicRecord(
        user_id=h["user_id"], session_id=h["session_id"], run_id=h["run_id"], task=h["task"],
        stage=h["stage"], agent=h["agent"], round=int(h["round"]), kind=h["kind"], text=h["text"],
        ts=float(h["ts"]), data=json.loads(h["data"]), id=h["id"],
    )


class RedisEpisodic(EpisodicStore):
    """Episodic memory in a Redis server (`url`, or a `redis.asyncio.Redis` you own) under `prefix`."""

    shared = True

    def __init__(self, url_or_client: str | aioredis.Redis = "redis://127.0.0.1:6379/0", *, prefix: str = "moot:", **options: Any) -> None:
        super().__init__(**options)
        self._owned = isinstance(url_or_client, str)
        self.redis: aioredis.Redis = aioredis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.prefix = prefix
        self.users_key = f"{prefix}ep:users"
        self.deletions_key = f"{prefix}ep:deletions"
        self._append = Appender(self.redis, session_slot=2 + FILTER_FIELDS.index("session_id"))

    def keys(self, user_id: str) -> _Keys:
        return _Keys(self.prefix, user_id)

    async def aclose(self) -> None:
        if self._owned:
            await self.redis.aclose()

    # -- write -----------------------------------------------------------------------------

    async def _write(self, records: list[EpisodicRecord], now: float) -> None:
        by_user: dict[str, list[EpisodicRecord]] = defaultdict(list)
        for record in records:
            by_user[record.user_id].append(record)
        for user_id, batch in by_user.items():
            await self._write_user(self.keys(user_id), batch, now)

    async def _write_user(self, k: _Keys, batch: list[EpisodicRecord], now: float) -> None:
        """New records in one script call (redis_append); a batch that writes an id again takes
        the general path, which first drops the old record from its old values' indexes."""
        cutoff = self._cutoff(now)
        rows = []
        for record in batch:
            encoded = _encode(record)
            expires = self.expires_at(record)
            rows.append((k.rec(record.id), k.indexes(encoded), encoded, None if expires is None else int(expires * 1000)))
        counts = await self._append(
            ixkeys=k.ixkeys, sessions=k.sessions, users=(self.users_key, k.user_id), records=rows,
            cutoff=None if cutoff is None else _num(cutoff),
        )
        if counts is None:
            await self._rewrite_user(k, batch, now)
            return
        if self.max_per_session is not None:
            sessions = list(dict.fromkeys(record.session_id for record in batch))
            await self._cap_sessions(k, sessions, counts)

    async def _rewrite_user(self, k: _Keys, batch: list[EpisodicRecord], now: float) -> None:
        fields = ["id", *FILTER_FIELDS]
        async with self.redis.pipeline(transaction=False) as pipe:
            for record in batch:
                pipe.hmget(k.rec(record.id), fields)
            previous = await pipe.execute()
        expiry: dict[str, int] = {}
        sessions: list[str] = []
        async with self.redis.pipeline(transaction=True) as pipe:
            for record, old in zip(batch, previous, strict=True):
                if old[0] is not None:  # an id written again: leave the indexes of its old values
                    old_fields = {name: _text(v) for name, v in zip(FILTER_FIELDS, old[1:], strict=True) if v is not None}
                    for name, value in old_fields.items():
                        pipe.zrem(k.ix(name, value), record.id)
                encoded = _encode(record)
                pipe.hset(k.rec(record.id), mapping=encoded)  # type: ignore[arg-type]
                indexes = k.indexes(encoded)
                for key in indexes:
                    pipe.zadd(key, {record.id: record.ts})
                pipe.sadd(k.ixkeys, *indexes)
                pipe.sadd(k.sessions, record.session_id)
                if record.session_id not in sessions:
                    sessions.append(record.session_id)
                expires = self.expires_at(record)
                if expires is not None:
                    ms = int(expires * 1000)
                    pipe.pexpireat(k.rec(record.id), ms)
                    for key in [*indexes, k.ixkeys, k.sessions]:
                        expiry[key] = max(expiry.get(key, 0), ms)
            cutoff = self._cutoff(now)
            for key, ms in expiry.items():
                pipe.pexpireat(key, ms, nx=True)  # a new key: set its TTL
                pipe.pexpireat(key, ms, gt=True)  # an existing one: only ever push it out
                if cutoff is not None and key not in (k.ixkeys, k.sessions):
                    pipe.zremrangebyscore(key, "-inf", _num(cutoff))  # a busy index sheds expired members
            pipe.sadd(self.users_key, k.user_id)
            for session_id in sessions:
                pipe.zcard(k.ix("session_id", session_id))
            counts = (await pipe.execute())[-len(sessions):]
        await self._cap_sessions(k, sessions, counts)

    async def _cap_sessions(self, k: _Keys, sessions: list[str], counts: list[int]) -> None:
        if self.max_per_session is not None:
            for session_id, count in zip(sessions, counts, strict=True):
                if count > self.max_per_session:
                    await self._evict_oldest(k, session_id, count - self.max_per_session)

    async def _evict_oldest(self, k: _Keys, session_id: str, n: int) -> int:
        key = k.ix("session_id", session_id)
        ids = [_text(i) for i in await self.redis.zrange(key, 0, n - 1)]
        return await self._remove(k, ids, also=key)

    async def _remove(self, k: _Keys, ids: list[str], also: str | None = None) -> int:
        """Remove records by id from their hash and every index they are in (`also`: one more index,
        for ids whose hash Redis has already expired, so their field values are unknown)."""
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            async with self.redis.pipeline(transaction=False) as pipe:
                for record_id in chunk:
                    pipe.hmget(k.rec(record_id), list(FILTER_FIELDS))
                found = await pipe.execute()
            async with self.redis.pipeline(transaction=True) as pipe:
                for record_id, values in zip(chunk, found, strict=True):
                    pipe.zrem(k.all, record_id)
                    if also is not None:
                        pipe.zrem(also, record_id)
                    for name, value in zip(FILTER_FIELDS, values, strict=True):
                        if value is not None:
                            pipe.zrem(k.ix(name, _text(value)), record_id)
                pipe.delete(*[k.rec(record_id) for record_id in chunk])
                await pipe.execute()
        return len(ids)

    # -- read ------------------------------------------------------------------------------

    async def _select(self, sel: Selection) -> list[EpisodicRecord]:
        k = self.keys(sel.user_id)
        keys = [k.ix(name, value) for name, value in sel.filters.items()] or [k.all]
        lo = ("(" if sel.lo_open else "") + _num(sel.lo)
        hi = "(" + _num(sel.hi) if sel.hi != float("inf") else "+inf"
        out: list[EpisodicRecord] = []
        offset = 0
        while len(out) < sel.limit:  # more than one page only when Redis expired records first
            want = sel.limit - len(out)
            ids = await self._ids(k, keys, hi, lo, offset, want)
            offset += len(ids)
            async with self.redis.pipeline(transaction=False) as pipe:
                for record_id in ids:
                    pipe.hgetall(k.rec(record_id))
                found = await pipe.execute()
            out.extend(r for r in map(_decode, found) if r is not None)
            if len(ids) < want:
                break
        return out

    async def _ids(self, k: _Keys, keys: list[str], hi: str, lo: str, offset: int, count: int) -> list[str]:
        if len(keys) == 1:
            ids = await self.redis.zrevrangebyscore(keys[0], hi, lo, start=offset, num=count)
        else:
            tmp = k.tmp()
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zinterstore(tmp, keys, aggregate="MAX")  # every index scores a record by its ts
                pipe.zrevrangebyscore(tmp, hi, lo, start=offset, num=count)
                pipe.delete(tmp)
                ids = (await pipe.execute())[1]
        return [_text(i) for i in ids]

    # -- prune and delete -----------------------------------------------------------------

    async def _prune(self, cutoff: float | None) -> int:
        removed = 0
        for user_id in [_text(u) for u in await self.redis.smembers(self.users_key)]:
            removed += await self._prune_user(self.keys(user_id), cutoff)
        return removed

    async def _prune_user(self, k: _Keys, cutoff: float | None) -> int:
        removed = 0
        indexes = [_text(i) for i in await self.redis.smembers(k.ixkeys)]
        if cutoff is not None:
            stale = [_text(i) for i in await self.redis.zrangebyscore(k.all, "-inf", _num(cutoff))]
            if stale:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for key in indexes:
                        pipe.zremrangebyscore(key, "-inf", _num(cutoff))
                    for start in range(0, len(stale), _CHUNK):
                        pipe.delete(*[k.rec(i) for i in stale[start : start + _CHUNK]])
                    await pipe.execute()
                removed += len(stale)
        sessions = [_text(s) for s in await self.redis.smembers(k.sessions)]
        if self.max_per_session is not None and sessions:
            async with self.redis.pipeline(transaction=False) as pipe:
                for session_id in sessions:
                    pipe.zcard(k.ix("session_id", session_id))
                counts = await pipe.execute()
            for session_id, count in zip(sessions, counts, strict=True):
                if count > self.max_per_session:
                    removed += await self._evict_oldest(k, session_id, count - self.max_per_session)
        await self._tidy(k, indexes, sessions)
        return removed

    async def _tidy(self, k: _Keys, indexes: list[str], sessions: list[str]) -> None:
        """Forget index names and sessions whose sorted set is gone, and users with nothing left."""
        session_keys = [k.ix("session_id", s) for s in sessions]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in [*indexes, *session_keys, k.all]:
                pipe.exists(key)
            alive = await pipe.execute()
        gone_ix = [key for key, ok in zip(indexes, alive[: len(indexes)], strict=True) if not ok]
        gone_s = [s for s, ok in zip(sessions, alive[len(indexes) : -1], strict=True) if not ok]
        async with self.redis.pipeline(transaction=True) as pipe:
            if gone_ix:
                pipe.srem(k.ixkeys, *gone_ix)
            if gone_s:
                pipe.srem(k.sessions, *gone_s)
            if not alive[-1]:
                pipe.delete(k.ixkeys, k.sessions)
                pipe.srem(self.users_key, k.user_id)
            await pipe.execute()

    async def _delete(self, user_id: str, session_id: str | None) -> int:
        k = self.keys(user_id)
        if session_id is not None:
            key = k.ix("session_id", session_id)
            ids = [_text(i) for i in await self.redis.zrange(key, 0, -1)]
            removed = await self._remove(k, ids)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.srem(k.sessions, session_id)
                pipe.incr(self.deletions_key)
                await pipe.execute()
            await self._tidy(k, [_text(i) for i in await self.redis.smembers(k.ixkeys)], [])
            return removed
        ids = [_text(i) for i in await self.redis.zrange(k.all, 0, -1)]
        indexes = [_text(i) for i in await self.redis.smembers(k.ixkeys)]
        async with self.redis.pipeline(transaction=True) as pipe:
            for keys in _chunks([k.rec(i) for i in ids] + indexes + [k.all, k.ixkeys, k.sessions]):
                pipe.delete(*keys)
            pipe.srem(self.users_key, k.user_id)
            pipe.incr(self.deletions_key)
            await pipe.execute()
        return len(ids)

    async def deletions(self) -> int:
        return int(await self.redis.get(self.deletions_key) or 0)

    async def live_ids(self, user_id: str) -> set[str]:
        self._check_user(user_id, "live_ids")
        cutoff = self._cutoff(self.clock())
        low = "-inf" if cutoff is None else f"({_num(cutoff)}"
        return {_text(i) for i in await self.redis.zrangebyscore(self.keys(user_id).all, low, "+inf")}


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


__all__ = ["RedisEpisodic"]
