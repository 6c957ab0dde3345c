"""Episodic memory in this process: the default backend, no server, lost on restart.

Each user's records sit in a dict beside one time-sorted list per indexed field value, so a
query walks only the most selective index (see `InProcessEpisodic`).
"""

from __future__ import annotations

import bisect
from typing import Any

from moot.memory.episodic.base import FILTER_FIELDS, EpisodicStore, Selection, field_value, order_key, ts_of
from moot.memory.types import EpisodicRecord


class _UserSpace:
    """One user's records and their indexes: (field, value) → sorted [(ts, id)]."""

    def __init__(self) -> None:
        self.records: dict[str, EpisodicRecord] = {}
        self.index: dict[tuple[str, str], list[tuple[float, str]]] = {}

    def keys_of(self, record: EpisodicRecord) -> list[tuple[str, str]]:
        return [("", "")] + [(name, field_value(record, name)) for name in FILTER_FIELDS]

    def add(self, record: EpisodicRecord) -> None:
        if record.id in self.records:
            self.remove(record.id)
        self.records[record.id] = record
        for key in self.keys_of(record):
            bisect.insort(self.index.setdefault(key, []), order_key(record))

    def remove(self, record_id: str) -> None:
        record = self.records.pop(record_id)
        item = order_key(record)
        for key in self.keys_of(record):
            entries = self.index[key]
            del entries[bisect.bisect_left(entries, item)]
            if not entries:
                del self.index[key]

    def cap(self, session_id: str, limit: int | None) -> int:
        entries = self.index.get(("session_id", session_id), [])
        excess = len(entries) - limit if limit is not None else 0
        for _, record_id in list(entries[: max(excess, 0)]):
            self.remove(record_id)
        return max(excess, 0)


class InProcessEpisodic(EpisodicStore):
    """Episodic memory in this process: per-user dicts with a time-sorted index per field value.

    A query walks the smallest matching index from `until` down and stops at `limit`, so its cost
    follows the size of the most selective filter, not of the user's memory. Lost on restart.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._users: dict[str, _UserSpace] = {}

    async def _write(self, records: list[EpisodicRecord], now: float) -> None:
        touched: set[tuple[str, str]] = set()
        for record in records:
            self._users.setdefault(record.user_id, _UserSpace()).add(record)
            touched.add((record.user_id, record.session_id))
        for user_id, session_id in touched:
            self._users[user_id].cap(session_id, self.max_per_session)

    async def _select(self, sel: Selection) -> list[EpisodicRecord]:
        space = self._users.get(sel.user_id)
        if space is None:
            return []
        keys = [(name, value) for name, value in sel.filters.items()] or [("", "")]
        lists = [space.index.get(key, []) for key in keys]
        entries = min(lists, key=len)
        if not entries:
            return []
        end = bisect.bisect_left(entries, sel.hi, key=ts_of)  # entries[:end] have ts < hi
        out: list[EpisodicRecord] = []
        for i in range(end - 1, -1, -1):
            ts, record_id = entries[i]
            if ts < sel.lo or (sel.lo_open and ts == sel.lo):
                break
            record = space.records[record_id]
            if sel.admits(record):
                out.append(record)
                if len(out) >= sel.limit:
                    break
        return out

    async def _prune(self, cutoff: float | None) -> int:
        removed = 0
        for user_id, space in list(self._users.items()):
            if cutoff is not None:
                everything = space.index.get(("", ""), [])
                stale = [rid for _, rid in everything[: bisect.bisect_right(everything, cutoff, key=ts_of)]]
                for record_id in stale:
                    space.remove(record_id)
                removed += len(stale)
            for session_id in [value for name, value in space.index if name == "session_id"]:
                removed += space.cap(session_id, self.max_per_session)
            if not space.records:
                del self._users[user_id]
        return removed

    async def _delete(self, user_id: str, session_id: str | None) -> int:
        space = self._users.get(user_id)
        if space is None:
            return 0
        if session_id is None:
            del self._users[user_id]
            return len(space.records)
        ids = [rid for _, rid in space.index.get(("session_id", session_id), [])]
        for record_id in ids:
            space.remove(record_id)
        if not space.records:
            del self._users[user_id]
        return len(ids)


__all__ = ["InProcessEpisodic"]
