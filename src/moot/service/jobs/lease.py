"""Run leases: which worker is executing a run right now, proven by a key it keeps renewing.

The job queue delivers a run to a worker; the lease says the worker is alive while it works. A
worker killed in the middle of a run stops renewing, its lease expires after `ttl_s`, and the
queue's recovery (the reaper in `moot.service.worker`) hands the run to another worker, which resumes it from its
last checkpoint. A second delivery of a run whose lease is held (a slow, not dead, worker) does
not execute it twice: only the lease holder runs it.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass
class Held:
    """A lease this process holds; `lost` turns True if another worker took the run over."""

    run_id: str
    holder: str
    lost: bool = False


class Leases(ABC):
    """Exclusive, expiring claims on runs."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s

    @abstractmethod
    async def acquire(self, run_id: str, holder: str) -> bool:
        """Take the lease if nobody holds it (or `holder` already does)."""

    @abstractmethod
    async def renew(self, run_id: str, holder: str) -> bool:
        """Extend the lease; False if it was lost (expired and taken, or released)."""

    @abstractmethod
    async def release(self, run_id: str, holder: str) -> None: ...

    @abstractmethod
    async def holder(self, run_id: str) -> str | None: ...

    async def aclose(self) -> None:
        return None

    @asynccontextmanager
    async def hold(self, run_id: str, holder: str) -> AsyncIterator[Held | None]:
        """Acquire, keep renewing every third of the TTL while the block runs, release at the end.

        Yields a `Held` (None when the lease is someone else's: the caller must not execute the
        run). If a renewal finds the lease lost (this process stalled past the TTL and another
        worker took the run over), the block's task is cancelled with `held.lost` set: the
        caller must then stop without writing anything, the run is the new holder's.
        """
        if not await self.acquire(run_id, holder):
            yield None
            return
        held = Held(run_id, holder)
        renewer = asyncio.create_task(self._keep(held, asyncio.current_task()))
        try:
            yield held
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            if not held.lost:
                await self.release(run_id, holder)

    async def _keep(self, held: Held, owner: asyncio.Task[Any] | None) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                renewed = await self.renew(held.run_id, held.holder)
            except Exception:  # a blip of the lease store: try again at the next beat
                continue
            if not renewed:
                held.lost = True
                if owner is not None:
                    owner.cancel()
                return


class InProcessLeases(Leases):
    """Leases of one process (the inline queue): a dict of holders and expiry times."""

    def __init__(self, ttl_s: float) -> None:
        super().__init__(ttl_s)
        self._held: dict[str, tuple[str, float]] = {}

    def _live(self, run_id: str) -> str | None:
        entry = self._held.get(run_id)
        if entry is None or entry[1] < time.monotonic():
            self._held.pop(run_id, None)
            return None
        return entry[0]

    async def acquire(self, run_id: str, holder: str) -> bool:
        current = self._live(run_id)
        if current not in (None, holder):
            return False
        self._held[run_id] = (holder, time.monotonic() + self.ttl_s)
        return True

    async def renew(self, run_id: str, holder: str) -> bool:
        if self._live(run_id) != holder:
            return False
        self._held[run_id] = (holder, time.monotonic() + self.ttl_s)
        return True

    async def release(self, run_id: str, holder: str) -> None:
        if self._live(run_id) == holder:
            del self._held[run_id]

    async def holder(self, run_id: str) -> str | None:
        return self._live(run_id)


class RedisLeases(Leases):
    """Leases shared by a fleet: `SET key holder NX PX ttl`, renewed and released only by the holder."""

    def __init__(self, redis: Redis, ttl_s: float, *, prefix: str = "moot:") -> None:
        super().__init__(ttl_s)
        self.redis = redis
        self.prefix = prefix
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def key(self, run_id: str) -> str:
        return f"{self.prefix}lease:{run_id}"

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    async def acquire(self, run_id: str, holder: str) -> bool:
        if await self.redis.set(self.key(run_id), holder, nx=True, px=self._ttl_ms):
            return True
        return await self.renew(run_id, holder)

    async def renew(self, run_id: str, holder: str) -> bool:
        return bool(await self._renew(keys=[self.key(run_id)], args=[holder, self._ttl_ms]))

    async def release(self, run_id: str, holder: str) -> None:
        await self._release(keys=[self.key(run_id)], args=[holder])

    async def holder(self, run_id: str) -> str | None:
        value = await self.redis.get(self.key(run_id))
        return value.decode() if isinstance(value, bytes) else value


__all__ = ["Held", "InProcessLeases", "Leases", "RedisLeases"]
