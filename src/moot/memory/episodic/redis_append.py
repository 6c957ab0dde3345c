"""Append new episodic records to Redis in one server-side script call per user and batch.

Writing a record touches its hash, eight index sorted sets, two sets, and the TTL of every key
(`PEXPIREAT ... NX`, then `... GT`) plus the trimming of expired index members: about forty
commands for a batch of one record, which redis-py packs one by one in Python. A busy service
worker spent more CPU packing those commands than on anything else outside the graph. The same
writes as one Lua script are one `EVALSHA` with the keys and values as arguments; Redis runs it
atomically, as the `MULTI` it replaces.

The script only *appends*: if any record of the batch already exists (a replayed run writing the
same id again), it writes nothing and says so, and the caller takes the general path that first
removes the old record from the indexes of its old values.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

APPEND = """
local nrec, nidx, nfields = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cutoff, session_slot = ARGV[4], tonumber(ARGV[5])
local ixkeys, sessions = KEYS[1], KEYS[2]
local per = 1 + nidx
for r = 0, nrec - 1 do
  if redis.call('EXISTS', KEYS[4 + r * per]) == 1 then return false end
end
local expiry, order, seen, counted = {}, {}, {}, {}
local arg = 7
redis.call('SADD', KEYS[3], ARGV[6])
for r = 0, nrec - 1 do
  local rec = KEYS[4 + r * per]
  local id, ts, expires, session = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3]
  arg = arg + 4
  local hash = {}
  for f = 1, nfields * 2 do hash[f] = ARGV[arg + f - 1] end
  arg = arg + nfields * 2
  redis.call('HSET', rec, unpack(hash))
  local idx = {}
  for i = 1, nidx do
    idx[i] = KEYS[4 + r * per + i]
    redis.call('ZADD', idx[i], ts, id)
  end
  redis.call('SADD', ixkeys, unpack(idx))
  redis.call('SADD', sessions, session)
  local skey = idx[session_slot]
  if not counted[skey] then counted[skey] = true; order[#order + 1] = skey end
  if expires ~= '' then
    local ms = tonumber(expires)
    redis.call('PEXPIREAT', rec, ms)
    idx[#idx + 1] = ixkeys
    idx[#idx + 1] = sessions
    for _, key in ipairs(idx) do
      if not seen[key] then seen[key] = true; expiry[#expiry + 1] = key end
      if (tonumber(expiry[key]) or 0) < ms then expiry[key] = ms end
    end
  end
end
for _, key in ipairs(expiry) do
  local ms = expiry[key]
  redis.call('PEXPIREAT', key, ms, 'NX')
  redis.call('PEXPIREAT', key, ms, 'GT')
  if cutoff ~= '' and key ~= ixkeys and key ~= sessions then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  end
end
local counts = {}
for i, key in ipairs(order) do counts[i] = redis.call('ZCARD', key) end
return counts
"""


class Appender:
    """The APPEND script bound to one Redis client (loaded once, then called by its SHA)."""

    def __init__(self, redis: aioredis.Redis, *, session_slot: int) -> None:
        self.script: AsyncScript = redis.register_script(APPEND)
        self.session_slot = session_slot
        """Position (1-based) of the session index among a record's index keys."""

    async def __call__(
        self,
        *,
        ixkeys: str,
        sessions: str,
        users: tuple[str, str],
        records: Sequence[tuple[str, list[str], dict[str, str], int | None]],
        cutoff: str | None,
    ) -> list[int] | None:
        """Write `records` (hash key, index keys, encoded fields, expiry in ms) if none exists yet,
        and add the user to the set of users (`users`: that set's key, the user id).

        Returns the size of each touched session's index, in order of first appearance, or None
        when a record already existed and nothing was written."""
        keys = [ixkeys, sessions, users[0]]
        nidx = len(records[0][1])
        nfields = len(records[0][2])
        args: list[str | int] = [len(records), nidx, nfields, cutoff or "", self.session_slot, users[1]]
        for rec, indexes, fields, expires in records:
            if len(indexes) != nidx or len(fields) != nfields:
                raise ValueError("every record of a batch has the same index keys and fields")
            keys.append(rec)
            keys.extend(indexes)
            args.extend((fields["id"], fields["ts"], "" if expires is None else expires, fields["session_id"]))
            for name, value in fields.items():
                args.extend((name, value))
        result = await self.script(keys=keys, args=args)
        return None if result is None else [int(n) for n in result]


__all__ = ["APPEND", "Appender"]
