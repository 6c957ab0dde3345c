"""The fact ledger: every value each (subject, attribute) of a user has had, in time order.

The last version of a key is its current value; every earlier one is superseded by the version
after it, from that version's date on (`valid_until`). An item can state several keys ("I live
in Rome and my favourite colour is blue"); it is superseded only once none of its keys is
current any more, since until then it still says something true.

Versions are ordered by the item's time (`ts`), then by arrival, so a late write of an old
statement (a replayed run, a rebuilt index) lands in its place and is superseded at once, and
replaying the same items in any order gives the same ledger: the index can be rebuilt from the
episodic store or a snapshot and keeps which values are current.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from moot.memory.facts.keys import FactKey, value_norm
from moot.memory.types import MemoryItem


def item_date(item: MemoryItem) -> str:
    """The date shown beside a fact: the item's `meta["date"]`, else the UTC day of its `ts`."""
    date = item.meta.get("date")
    if isinstance(date, str) and date:
        return date
    return time.strftime("%Y-%m-%d", time.gmtime(item.ts)) if item.ts > 0 else "undated"


@dataclass(frozen=True)
class Version:
    """One value a key had: the item that stated it, the value, the statement's date."""

    item: MemoryItem
    value: str
    date: str
    order: tuple[float, int] = (0.0, 0)

    def same_value(self, other: Version) -> bool:
        return value_norm(self.value) == value_norm(other.value)


@dataclass(frozen=True)
class Superseded:
    """An item none of whose keys is current any more: which newer item replaced it, from when."""

    item: MemoryItem
    by: str
    """id of the item whose statement replaced this one's (the newest of its keys' successors)"""
    until: str
    """date from which the item no longer holds (the successor's date)"""
    until_ts: float


@dataclass
class _UserFacts:
    versions: dict[FactKey, list[Version]] = field(default_factory=dict)
    keys_of: dict[str, set[FactKey]] = field(default_factory=dict)
    superseded: dict[str, Superseded] = field(default_factory=dict)


class FactLedger:
    """Per user, per key, the versions of a fact; see the module docstring."""

    def __init__(self) -> None:
        self._users: dict[str, _UserFacts] = {}
        self._arrivals = itertools.count()

    def add(self, item: MemoryItem, statements: Iterable[tuple[FactKey, str]]) -> tuple[list[Superseded], set[str]]:
        """Record the statements `item` makes.

        Returns the items this newly supersedes (maybe itself), and the ids of every item whose
        versions may have changed status (to mark their ended values, see `ended`).
        """
        user = self._users.setdefault(item.user_id, _UserFacts())
        order = (item.ts, next(self._arrivals))
        touched: set[str] = set()
        for key, value in statements:
            versions = user.versions.setdefault(key, [])
            if any(v.item.id == item.id for v in versions):
                continue  # the same item written again: its statement is already in place
            version = Version(item, value, item_date(item), order)
            at = bisect.bisect_right([v.order for v in versions], order)
            versions.insert(at, version)
            user.keys_of.setdefault(item.id, set()).add(key)
            touched.update(v.item.id for v in versions[: at + 1])
        return [s for s in (self._check(user, item_id) for item_id in touched) if s is not None], touched

    def _check(self, user: _UserFacts, item_id: str) -> Superseded | None:
        """Mark `item_id` superseded if none of its keys holds it as current (and it was not yet)."""
        if item_id in user.superseded:
            return None
        successors: list[Version] = []
        for key in user.keys_of.get(item_id, ()):
            versions = user.versions[key]
            at = next(i for i, v in enumerate(versions) if v.item.id == item_id)
            if at == len(versions) - 1:
                return None  # still current for this key
            successors.append(versions[at + 1])
        if not successors:
            return None
        item = next(v.item for key in user.keys_of[item_id] for v in user.versions[key] if v.item.id == item_id)
        newest = max(successors, key=lambda v: v.order)
        marked = Superseded(item, newest.item.id, newest.date, newest.item.ts)
        user.superseded[item_id] = marked
        return marked

    # -- reading ------------------------------------------------------------------------------
    def current(self, user_id: str) -> dict[FactKey, Version]:
        """The current version of each of the user's keys."""
        user = self._users.get(user_id)
        return {} if user is None else {key: versions[-1] for key, versions in user.versions.items() if versions}

    def history(self, user_id: str, key: FactKey) -> list[Version]:
        """Every version of `key`, oldest first (the last is current)."""
        user = self._users.get(user_id)
        return list(user.versions.get(key, [])) if user is not None else []

    def previous(self, user_id: str, key: FactKey) -> tuple[Version, str] | None:
        """The latest earlier value that differs from the current one, and the date it ended
        (the date of the version after it), if the key ever had another value."""
        versions = self.history(user_id, key)
        for at in range(len(versions) - 2, -1, -1):
            if not versions[at].same_value(versions[-1]):
                return versions[at], versions[at + 1].date
        return None

    def ended(self, user_id: str, item_id: str) -> list[tuple[Version, str]]:
        """The versions `item_id` states that are no longer current, each with the date it ended."""
        out = []
        for key in self.keys_of(user_id, item_id):
            versions = self._users[user_id].versions[key]
            at = next(i for i, v in enumerate(versions) if v.item.id == item_id)
            if at < len(versions) - 1 and not versions[at].same_value(versions[-1]):
                out.append((versions[at], versions[at + 1].date))
        return out

    def original(self, user_id: str, item_id: str) -> MemoryItem | None:
        """The item as it was added (before any value in it was marked as history)."""
        for key in self.keys_of(user_id, item_id):
            for version in self._users[user_id].versions[key]:
                if version.item.id == item_id:
                    return version.item
        return None

    def keys_of(self, user_id: str, item_id: str) -> set[FactKey]:
        user = self._users.get(user_id)
        return set(user.keys_of.get(item_id, ())) if user is not None else set()

    def superseded(self, user_id: str) -> list[Superseded]:
        """The user's superseded items, oldest first (their history, kept out of recall)."""
        user = self._users.get(user_id)
        return sorted(user.superseded.values(), key=lambda s: s.item.ts) if user is not None else []

    def is_superseded(self, user_id: str, item_id: str) -> bool:
        user = self._users.get(user_id)
        return user is not None and item_id in user.superseded

    def items(self, user_id: str) -> list[MemoryItem]:
        """Every item that stated a version of the user's facts, each once."""
        user = self._users.get(user_id)
        if user is None:
            return []
        found = {v.item.id: v.item for versions in user.versions.values() for v in versions}
        return list(found.values())

    def users(self) -> list[str]:
        return list(self._users)

    def remove_user(self, user_id: str) -> None:
        self._users.pop(user_id, None)

    def remove(self, user_id: str, item_ids: Iterable[str]) -> set[str]:
        """Forget the versions `item_ids` stated (their records expired): neither a current value
        nor history any more.

        A key whose newest version goes gets its previous one back as current, unmarked as
        superseded. With one TTL for every record an item never outlives those it superseded,
        so this happens only beside items without a TTL (turns `add_turn` indexed directly).
        Returns the ids of the items left whose versions lost a successor (to mark again).
        """
        user = self._users.get(user_id)
        if user is None:
            return set()
        gone = {item_id for item_id in item_ids if item_id in user.keys_of}
        touched: set[str] = set()
        for item_id in gone:
            for key in user.keys_of.pop(item_id):
                versions = [v for v in user.versions[key] if v.item.id != item_id]
                touched.update(v.item.id for v in versions)
                if versions and versions[-1].item.id in user.superseded:
                    user.superseded.pop(versions[-1].item.id)  # current again: superseded by nothing
                if versions:
                    user.versions[key] = versions
                else:
                    del user.versions[key]
            user.superseded.pop(item_id, None)
        return touched - gone


__all__ = ["FactLedger", "Superseded", "Version", "item_date"]
