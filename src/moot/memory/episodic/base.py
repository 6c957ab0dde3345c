"""Episodic memory: what happened in each run, per user, kept for hours to days (design §6).

`EpisodicStore` fixes the behaviour every backend shares; a backend implements four hooks
(`_write`, `_select`, `_prune`, `_delete`) and gets validation, id and time defaults, TTL
arithmetic, the per-session cap and periodic pruning from the base. `InProcessEpisodic` is the
default (`in_process.py`); `RedisEpisodic` (`redis.py`) is the scale-out backend. Both pass the same
behaviour tests (`tests/test_memory_episodic.py`).

Rules shared by every backend:

- **Users are isolated.** `user_id` is required by every read and delete, and each backend keeps a
  user's records under that user's own namespace, so no filter can reach another user's records.
- **Order.** `query` returns the newest first: by `ts` descending, then by `id` descending (the
  recorder's ids sort in the order of a run's entries, so entries written at the same instant
  still come back in reverse order of writing).
- **Time windows** are half-open: `since <= ts < until`.
- **TTL.** A record lives while `ts + ttl > now`. Expired records are never returned, even before
  `prune` has removed them. `ttl=None` keeps records until they are pruned by the cap or deleted.
- **Per-session cap.** A session keeps at most `max_per_session` records; writing past the cap
  evicts the session's oldest records, and `prune` enforces it for every session.
- **Ids.** A record without an id gets a random one; writing an id again replaces that record.
- **Data** is stored as JSON (non-JSON values become strings), so every backend returns the same
  plain dicts.
"""

from __future__ import annotations

import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from moot.errors import UsageError
from moot.memory.types import EpisodicRecord

DAY = 86400.0
DEFAULT_TTL = 7 * DAY
DEFAULT_MAX_PER_SESSION = 10_000
DEFAULT_PRUNE_INTERVAL = 3600.0

FILTER_FIELDS: tuple[str, ...] = ("session_id", "run_id", "task", "stage", "agent", "kind", "round")
"""Fields `query` can filter on by equality; every backend keeps an index for each."""


@dataclass(frozen=True)
class Selection:
    """One query after validation: equality filters, a half-open time window, a limit."""

    user_id: str
    filters: Mapping[str, str]
    """field → value, values as strings (a round is compared as its decimal text)."""
    lo: float
    """Lowest `ts` allowed (inclusive)."""
    lo_open: bool
    """True when `lo` itself is excluded (the TTL bound: a record at exactly now - ttl is gone)."""
    hi: float
    """`ts` must be below this (exclusive)."""
    limit: int

    def admits(self, record: EpisodicRecord) -> bool:
        """Whether `record` matches (backends use it after an index lookup)."""
        ts = record.ts
        if ts < self.lo or (self.lo_open and ts == self.lo) or ts >= self.hi:
            return False
        return all(field_value(record, name) == value for name, value in self.filters.items())


def field_value(record: EpisodicRecord, name: str) -> str:
    return str(getattr(record, name))


def ts_of(entry: tuple[float, str]) -> float:
    """The time of an index entry `(ts, id)` (the key that bisects a time-sorted index)."""
    return entry[0]


def order_key(record: EpisodicRecord) -> tuple[float, str]:
    """Sort key of the documented order (newest first is this key, descending)."""
    return (record.ts, record.id)


class EpisodicStore(ABC):
    """A user's execution memory: record, query newest first, expire, prune, forget.

    `ttl` is in seconds (default 7 days, `None` for no expiry); `clock` returns wall-clock
    seconds and is injectable so tests can move time; `prune_interval` makes `record` prune
    every so often (`None` leaves pruning to the caller).
    """

    shared: ClassVar[bool] = False
    """True when other processes write to the same records (a server): each process's recall
    index then catches up with what the others recorded (`moot.memory.catch_up`)."""

    def __init__(
        self,
        *,
        ttl: float | None = DEFAULT_TTL,
        max_per_session: int | None = DEFAULT_MAX_PER_SESSION,
        clock: Callable[[], float] = time.time,
        prune_interval: float | None = DEFAULT_PRUNE_INTERVAL,
    ) -> None:
        if ttl is not None and ttl <= 0:
            raise UsageError(f"episodic ttl must be positive seconds or None, not {ttl!r}")
        if max_per_session is not None and max_per_session < 1:
            raise UsageError(f"episodic max_per_session must be at least 1 or None, not {max_per_session!r}")
        self.ttl = ttl
        self.max_per_session = max_per_session
        self.clock = clock
        self.prune_interval = prune_interval
        self._last_prune = clock()

    # -- the public API --------------------------------------------------------------------

    async def record(self, records: Iterable[EpisodicRecord]) -> list[str]:
        """Store `records`; returns the ids stored (records already past their TTL are dropped)."""
        now = self.clock()
        ready = [r for r in (self._normalise(r, now) for r in records) if not self._expired(r, now)]
        if ready:
            await self._write(ready, now)
        if self.prune_interval is not None and now - self._last_prune >= self.prune_interval:
            await self.prune(now)
        return [r.id for r in ready]

    async def query(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        run_id: str | None = None,
        task: str | None = None,
        stage: str | None = None,
        agent: str | None = None,
        kind: str | None = None,
        round: int | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[EpisodicRecord]:
        """`user_id`'s live records that match every given field, newest first, at most `limit`."""
        self._check_user(user_id, "query")
        if limit < 0:
            raise UsageError(f"episodic query limit must be >= 0, not {limit}")
        given = {"session_id": session_id, "run_id": run_id, "task": task, "stage": stage,
                 "agent": agent, "kind": kind, "round": round}
        filters = {name: str(value) for name, value in given.items() if value is not None}
        lo, lo_open = float("-inf") if since is None else float(since), False
        cutoff = self._cutoff(self.clock())
        if cutoff is not None and cutoff >= lo:
            lo, lo_open = cutoff, True
        hi = float("inf") if until is None else float(until)
        if limit == 0 or lo > hi:
            return []
        return await self._select(Selection(user_id, filters, lo, lo_open, hi, limit))

    async def prune(self, now: float | None = None) -> int:
        """Drop expired records and enforce the per-session cap for every user; returns how many went."""
        now = self.clock() if now is None else now
        self._last_prune = now
        return await self._prune(self._cutoff(now))

    async def delete_user(self, user_id: str) -> int:
        """Forget everything of `user_id`; returns how many records went."""
        self._check_user(user_id, "delete_user")
        return await self._delete(user_id, None)

    async def delete_session(self, user_id: str, session_id: str) -> int:
        """Forget one session of `user_id`; returns how many records went."""
        self._check_user(user_id, "delete_session")
        if not session_id:
            raise UsageError("delete_session needs a session_id; to forget a user use delete_user")
        return await self._delete(user_id, session_id)

    async def deletions(self) -> int:
        """How many deletions (`delete_user`, `delete_session`, of any user) the store has seen:
        a process that indexed records reads it to learn that some may be gone. 0 where no other
        process writes (a store in process)."""
        return 0

    async def live_ids(self, user_id: str) -> set[str]:
        """The ids of the user's live records (cheaper than `query` where a backend can)."""
        return {record.id for record in await self.query(user_id, limit=10**9)}

    async def aclose(self) -> None:
        """Release connections (nothing to do in process)."""

    # -- backend hooks ---------------------------------------------------------------------

    @abstractmethod
    async def _write(self, records: list[EpisodicRecord], now: float) -> None:
        """Store normalised, live records (replacing equal ids) and apply the per-session cap."""

    @abstractmethod
    async def _select(self, sel: Selection) -> list[EpisodicRecord]:
        """Records of `sel.user_id` admitted by `sel`, in the documented order, at most `sel.limit`."""

    @abstractmethod
    async def _prune(self, cutoff: float | None) -> int:
        """Remove records with `ts <= cutoff` (when not None) and enforce the cap; count removals."""

    @abstractmethod
    async def _delete(self, user_id: str, session_id: str | None) -> int:
        """Remove a user's records (one session's, when given); count removals."""

    # -- helpers ---------------------------------------------------------------------------

    def _cutoff(self, now: float) -> float | None:
        return None if self.ttl is None else now - self.ttl

    def _expired(self, record: EpisodicRecord, now: float) -> bool:
        cutoff = self._cutoff(now)
        return cutoff is not None and record.ts <= cutoff

    def expires_at(self, record: EpisodicRecord) -> float | None:
        """When `record` expires (wall-clock seconds), or None without a TTL."""
        return None if self.ttl is None else record.ts + self.ttl

    def _normalise(self, record: EpisodicRecord, now: float) -> EpisodicRecord:
        if not isinstance(record, EpisodicRecord):
            raise UsageError(f"episodic stores take EpisodicRecord values, not {type(record).__name__}")
        self._check_user(record.user_id, "record")
        changes: dict[str, Any] = {}
        if not record.id:
            changes["id"] = uuid.uuid4().hex[:16]
        if not record.ts or record.ts <= 0:
            changes["ts"] = now
        data = json.loads(json.dumps(record.data, default=str)) if record.data else {}
        if data != record.data or type(record.data) is not dict:
            changes["data"] = data
        if not isinstance(record.round, int):
            changes["round"] = int(record.round)
        return replace(record, **changes) if changes else record

    @staticmethod
    def _check_user(user_id: str, where: str) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise UsageError(
                f"episodic {where} needs a user_id: memory is kept per user, and an empty user "
                f"would share one namespace between callers (pass the session's user_id)"
            )


__all__ = [
    "DAY",
    "DEFAULT_MAX_PER_SESSION",
    "DEFAULT_PRUNE_INTERVAL",
    "DEFAULT_TTL",
    "FILTER_FIELDS",
    "EpisodicStore",
    "Selection",
    "field_value",
    "order_key",
    "ts_of",
]
