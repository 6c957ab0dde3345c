"""What a shared episodic store holds that this process has not indexed yet.

The recall index lives in each process; the episodic store may be shared (Redis in a fleet).
Without catching up, a worker recalls only the runs it recorded itself: a restarted worker
starts empty, and of two workers each sees half of a user's past. Before a recall, the manager
asks `CatchUp.fresh` for the user's records it has not seen: the first time, all of them (the
user's memory is loaded once per process); after that, those stamped since the newest one seen,
less `window_s`, because a record's time is when its run wrote it, and another worker may
store it a little later (its recorder gathers entries before each write).

A deletion elsewhere (a user or a session forgotten through the API) raises the store's count
of `deletions`. When it has moved since the user's last catch-up, the ids of the user's live
records are read (ids only); if some that this process indexed are gone, the manager drops the
user from its index and loads what is left, so nothing deleted is recalled again. Deletions are
rare: the reload (which embeds the user's records again) is paid once per deletion, per process.

Two Redis reads per recall for a user already loaded; ids seen are kept per user, so a record is
indexed once whichever way it came (recorded here, or read from the store).
"""

from __future__ import annotations

import asyncio
import time

from moot.memory.episodic import EpisodicStore
from moot.memory.types import EpisodicRecord


class CatchUp:
    """Per user: the ids of records already indexed here, and the newest record time seen."""

    def __init__(self, window_s: float = 300.0) -> None:
        self.window_s = window_s
        self._seen: dict[str, set[str]] = {}
        self._newest: dict[str, float] = {}
        self._deletions: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def note(self, user_id: str, ids: list[str]) -> None:
        """Records this process indexed itself: never indexed again from the store."""
        self._seen.setdefault(user_id, set()).update(ids)

    def drop(self, user_id: str, ids: list[str]) -> None:
        """Records whose TTL ran out: no longer live anywhere, so their absence from the store's
        live ids is no sign of a deletion (which would make the user load anew)."""
        self._seen.get(user_id, set()).difference_update(ids)

    def forget(self, user_id: str) -> None:
        self._seen.pop(user_id, None)
        self._newest.pop(user_id, None)
        self._deletions.pop(user_id, None)

    async def fresh(self, store: EpisodicStore, user_id: str) -> tuple[list[EpisodicRecord], bool]:
        """The user's records in `store` not indexed here yet, oldest first, and whether records
        were deleted since the last call (the caller then indexes the user anew: every live
        record is returned).

        Concurrent calls for one user wait for each other, so two recalls never index the same
        records twice.
        """
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            # a count not read before (records noted here, never caught up) checks too: a
            # deletion may have come between
            deletions, seen = await store.deletions(), self._seen.get(user_id)
            deleted = bool(seen and self._deletions.get(user_id) != deletions
                           and seen - await store.live_ids(user_id))
            if deleted:  # some records this process indexed are gone: start the user over
                self.forget(user_id)
            self._deletions[user_id] = deletions
            newest = self._newest.get(user_id)
            since = None if newest is None else newest - self.window_s
            records = await store.query(user_id, since=since, limit=10**9)
            seen = self._seen.setdefault(user_id, set())
            fresh = [r for r in records if r.id not in seen]
            seen.update(r.id for r in fresh)
            stamps = [r.ts for r in records]
            self._newest[user_id] = max([newest or 0.0, *stamps]) if stamps else (newest or time.time())
        return sorted(fresh, key=lambda r: (r.ts, r.id)), deleted


__all__ = ["CatchUp"]
