"""Keeping recall current: which statements an item makes, and what they supersede.

The MemoryManager hands every item it indexes to a `FactTracker`:

1. **annotate**: the item's statements go into `meta["facts"]` as `[["subject|attribute", value],
   ...]`: found by the patterns of `keys.py` in a dialogue turn (first person is the speaker), or
   given by the caller who knows the key (`explicit`, or an episodic record's `data["fact"]`).
   Run entries (proposals, reviews, tool results) and assistant turns state nothing about the
   user and are not read.
2. **track**: the statements join the user's `FactLedger`; an item none of whose keys is current
   any more leaves the recall index (so it can never be recalled as current) and is kept in the
   ledger as history, with `superseded_by` and `valid_until` in its metadata;
3. **mark**: in the episodic store (in-process or Redis) the superseded record is written again
   with the same two fields in its `data`, so the store keeps the whole history, marked.

Because the ledger orders versions by time, replaying items in any order (a rebuild from the
episodic store, a snapshot load) yields the same current values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from moot.memory.facts.keys import FactKey, Statement, canonical_attribute, extract
from moot.memory.facts.ledger import FactLedger, Superseded
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

    def track(self, items: Iterable[MemoryItem]) -> list[Superseded]:
        """Add the items' statements to the ledger; returns the items now superseded."""
        out: list[Superseded] = []
        for item in items:
            statements = statements_of(item)
            if statements:
                out.extend(self.ledger.add(item, statements))
        return out

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

    def rebuild(self, items: Iterable[MemoryItem]) -> list[Superseded]:
        """Start over from `items` (current and history alike), in time order."""
        self.ledger = FactLedger()
        return self.track(sorted(items, key=lambda item: item.ts))


__all__ = ["NOT_THE_USER", "TURN_KINDS", "FactTracker", "explicit_statement", "statements_of"]
