"""Keeping recall current: which statements an item makes, and what they supersede.

The MemoryManager hands every item it indexes to a `FactTracker`:

1. **annotate**: the item's statements go into `meta["facts"]` as `[["subject|attribute", value],
   ...]`: found by the patterns of `keys.py` in a dialogue turn (first person is the speaker), or
   given by the caller who knows the key (`explicit`, or an episodic record's `data["fact"]`).
   Run entries (proposals, reviews, tool results) and assistant turns state nothing about the
   user and are not read.
2. **track**: the statements join the user's `FactLedger`;
3. **mark in the index**: every value that is no longer current is marked where it stands in
   its item's text, `I live in (was: Lisbon, until 2023-06-01).`, the same mark the current
   facts use for history (`section.HISTORY_MARK`). The item stays searchable (a turn says more
   than one thing: "I joined a book club, we met in Lisbon..."), but nothing in it reads as
   current any more. An item none of whose keys is current gets `superseded_by` and
   `valid_until` in its metadata; if a stale value cannot be found in its text to be marked
   (a value the patterns normalised), the item leaves the index instead: never stale unmarked;
4. **mark in the store**: in the episodic store (in-process or Redis) the superseded record is
   written again with `superseded_by` and `valid_until` in its `data`, so the store keeps the
   whole history, marked.

Because the ledger orders versions by time, replaying items in any order (a rebuild from the
episodic store, a snapshot load) yields the same current values.
"""

from __future__ import annotations

import json
import logging

import numpy as np
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from moot.memory.facts.keys import FactKey, Statement, canonical_attribute, extract
from moot.memory.facts.ledger import FactLedger, Superseded
from moot.memory.facts.section import history_mark
from moot.memory.retrieval.index import HybridIndex
from moot.memory.types import MemoryItem

log = logging.getLogger(__name__)

NOT_THE_USER = frozenset({"assistant", "ai", "bot", "system", "moot", "memory", "summary", "tool"})
"""Speakers whose first person is not a person the memory is about."""
TURN_KINDS = frozenset({"turn", "message", "user"})
"""Episodic record kinds that are dialogue turns (read for statements); other kinds are run entries."""


def explicit_statement(fact: Mapping[str, Any] | Statement) -> Statement:
    """A caller's `{"subject": ..., "attribute": ..., "value": ...}` (or a Statement), normalised."""
    if isinstance(fact, Statement):
        return Statement(FactKey(fact.key.subject.strip().lower(), canonical_attribute(fact.key.attribute)), fact.value)
    subject, attribute = str(fact.get("subject") or "").strip().lower(), str(fact.get("attribute") or "")
    if not subject or not attribute.strip():
        raise ValueError(f"a fact needs a subject and an attribute, got {dict(fact)!r}")
    return Statement(FactKey(subject, canonical_attribute(attribute)), str(fact.get("value") or ""))


def statements_of(item: MemoryItem) -> list[tuple[FactKey, str]]:
    """The statements an annotated item makes (none for items indexed before annotation existed)."""
    facts = item.meta.get("facts")
    if not isinstance(facts, list):
        return []
    return [(FactKey.parse(str(f[0])), str(f[1])) for f in facts if isinstance(f, (list, tuple)) and len(f) == 2]


class FactTracker:
    """The manager's view of the user's facts: annotate, track, mark (see the module docstring)."""

    def __init__(self) -> None:
        self.ledger = FactLedger()

    def annotate(self, item: MemoryItem, speaker: str, *, explicit: Sequence[Statement] = (),
                 read_text: bool = True) -> MemoryItem:
        """`item` with its statements in `meta["facts"]` (unchanged when it states none)."""
        found = list(explicit)
        if read_text and speaker.strip().lower() not in NOT_THE_USER:
            text = item.text
            prefix = f"{speaker}: "
            found += extract(text[len(prefix):] if text.startswith(prefix) else text, speaker)
        if not found:
            return item
        seen: dict[str, str] = {}
        for statement in found:
            seen.setdefault(str(statement.key), statement.value)  # the caller's key wins
        return replace(item, meta={**item.meta, "facts": [[key, value] for key, value in seen.items()]})

    def track(self, items: Iterable[MemoryItem]) -> tuple[list[Superseded], dict[str, set[str]]]:
        """Add the items' statements to the ledger; returns the items now superseded, and per user
        the ids of the items whose values may have ended (to mark with `mark`)."""
        out: list[Superseded] = []
        touched: dict[str, set[str]] = {}
        for item in items:
            statements = statements_of(item)
            if statements:
                superseded, ids = self.ledger.add(item, statements)
                out.extend(superseded)
                touched.setdefault(item.user_id, set()).update(ids)
        return out, touched

    def marked_text(self, user_id: str, item_id: str) -> str | None:
        """The item's text as added, each ended value marked in place; None if one is not in it."""
        original = self.ledger.original(user_id, item_id)
        if original is None:
            return None
        text = original.text
        for version, until in self.ledger.ended(user_id, item_id):
            at = text.find(version.value)
            if at < 0:
                return None
            text = text[:at] + history_mark(version.value, until).lstrip() + text[at + len(version.value):]
        return text

    def mark(self, index: HybridIndex, superseded: list[Superseded], touched: dict[str, set[str]]) -> None:
        """Mark ended values in the index's items (same vector, same place in the session)."""
        whole = {s.item.id: s for s in superseded}
        for user_id, ids in touched.items():
            redo: list[tuple[MemoryItem, np.ndarray]] = []
            for item_id in sorted(ids):
                if not self.ledger.ended(user_id, item_id):
                    continue
                found = _indexed(index, user_id, item_id)
                if found is None:
                    continue  # compacted away, or not indexed yet
                text = self.marked_text(user_id, item_id)
                if text is None:
                    if item_id in whole:
                        index.remove([item_id], user_id=user_id)
                    continue
                current, vector, seq = found
                meta = {**current.meta, "seq": seq}
                if item_id in whole:
                    meta |= {"superseded_by": whole[item_id].by, "valid_until": whole[item_id].until}
                if text != current.text or meta != current.meta:
                    redo.append((replace(current, text=text, meta=meta), vector))
            _rewrite(index, redo)

    def unmark(self, index: HybridIndex, user_id: str, ids: Iterable[str]) -> None:
        """Write the items `ids` into the index again with only the values still ended marked,
        and without `superseded_by` when nothing supersedes them any more (a successor expired)."""
        redo: list[tuple[MemoryItem, np.ndarray]] = []
        for item_id in sorted(ids):
            found = _indexed(index, user_id, item_id)
            text = self.marked_text(user_id, item_id)
            if found is None or text is None:
                continue
            current, vector, seq = found
            meta = {**current.meta, "seq": seq}
            if not self.ledger.is_superseded(user_id, item_id):
                meta = {k: v for k, v in meta.items() if k not in ("superseded_by", "valid_until")}
            if text != current.text or meta != current.meta:
                redo.append((replace(current, text=text, meta=meta), vector))
        _rewrite(index, redo)

    @staticmethod
    def marked(superseded: Superseded) -> MemoryItem:
        """The superseded item as history keeps it: its metadata says by what and until when."""
        meta = {**superseded.item.meta, "superseded_by": superseded.by, "valid_until": superseded.until}
        return replace(superseded.item, meta=meta)

    def history(self, user_id: str) -> list[MemoryItem]:
        """The user's superseded items, oldest first, marked."""
        return [self.marked(s) for s in self.ledger.superseded(user_id)]

    def dump_history(self) -> list[str]:
        """Every user's superseded items as JSON (an index snapshot keeps them beside its arrays;
        no vectors: history is never searched)."""
        return [
            json.dumps({"id": i.id, "layer": i.layer, "text": i.text, "user_id": i.user_id,
                        "session_id": i.session_id, "ts": i.ts, "meta": i.meta}, default=str)
            for user in self.ledger.users() for i in self.history(user)
        ]

    @staticmethod
    def load_history(rows: Iterable[str]) -> list[MemoryItem]:
        return [MemoryItem(**json.loads(row)) for row in rows]

    def forget(self, user_id: str) -> None:
        self.ledger.remove_user(user_id)

    def rebuild(self, items: Iterable[MemoryItem]) -> None:
        """Start over from `items` (current and history alike), in time order."""
        self.ledger = FactLedger()
        self.track(sorted(items, key=lambda item: item.ts))


def _indexed(index: HybridIndex, user_id: str, item_id: str) -> tuple[MemoryItem, np.ndarray, float] | None:
    """The item as the index has it, its vector and its place in the session (`seq`)."""
    with index.lock:
        shard = index.shard(user_id)
        row = shard.ids.get(item_id) if shard is not None else None
        if shard is None or row is None:
            return None
        item = shard.items[row]
        assert item is not None
        return item, shard.vecs[row].copy(), float(shard.seq[row])


def _rewrite(index: HybridIndex, redo: list[tuple[MemoryItem, np.ndarray]]) -> None:
    """Put items back in the index with their new text and meta, and their old vectors (not embedded again)."""
    if redo:
        index.add([item for item, _ in redo], vectors=np.stack([vector for _, vector in redo]))


__all__ = ["NOT_THE_USER", "TURN_KINDS", "FactTracker", "explicit_statement", "statements_of"]
