"""The "current facts" part of a recalled context: the newest value of each fact, dated, first.

An agent reading `{memory}` must not have to work out which of two contradicting lines is
newer (the embedded model cannot). So the current version of every fact the query touches comes
first, one line each, with its date; when the fact had another value before, the line ends with
a history mark, `(was: Lisbon, until 2023-06-01)`, the only place a superseded value is ever
shown. `HISTORY_MARK` matches those marks: a reader (or the updates benchmark) that drops them
is left with current values only.

A fact touches the query when the query uses one of its attribute's words ("where does Ana
live" asks about `home`, "Ana's budget" about `budget`), or when the retriever ranked the item
that states it: the deliberation prompt's query is the task, which rarely names an attribute.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from moot.memory.facts.keys import FactKey, attribute_terms
from moot.memory.facts.ledger import FactLedger, Version
from moot.memory.retrieval.pack import session_header
from moot.memory.retrieval.text import stem, terms
from moot.memory.types import MemoryItem

FACTS_HEADER = "Current facts (newest value of each, with its date):"
HISTORY_MARK = re.compile(r" ?\(was: [^()]*, until [^()]*\)")
"""What marks a superseded value in recalled text; nothing outside such a mark is stale."""


def history_mark(value: str, until: str) -> str:
    return f" (was: {value.replace('(', '[').replace(')', ']')}, until {until})"


def fact_line(ledger: FactLedger, user_id: str, key: FactKey, version: Version, text: str | None = None) -> str:
    """`- [date] text`, and the previous value, marked, if the fact had one.

    `text` is the item's text as the index has it now (other values in it may have ended and
    been marked since it was added); the ledger's copy otherwise.
    """
    line = f"- [{version.date}] {version.item.text if text is None else text}"
    previous = ledger.previous(user_id, key)
    if previous is not None:
        line += history_mark(*[previous[0].value, previous[1]])
    return line


def _stems(words: set[str]) -> set[str]:
    return {stem(word) for word in words}


def asked(ledger: FactLedger, user_id: str, query: str) -> list[tuple[FactKey, Version]]:
    """Current facts whose attribute the query names, most words in common first, then newest."""
    qterms = set(terms(query)) | _stems(set(re.findall(r"[a-z]+", query.lower())))
    scored = []
    for key, version in ledger.current(user_id).items():
        overlap = len(_stems(attribute_terms(key.attribute)) & qterms)
        if overlap:
            scored.append((-overlap, -version.order[0], str(key), key, version))
    return [(key, version) for *_, key, version in sorted(scored, key=lambda row: row[:3])]


def found(ledger: FactLedger, user_id: str, items: Sequence[MemoryItem]) -> list[tuple[FactKey, Version]]:
    """Current facts stated by the recalled `items`, in their order."""
    current = ledger.current(user_id)
    out = []
    for item in items:
        for key in sorted(ledger.keys_of(user_id, item.id)):
            version = current.get(key)
            if version is not None and version.item.id == item.id:
                out.append((key, version))
    return out


def render_items(items: Sequence[MemoryItem]) -> str:
    """Packed items (in the packer's order) under their session headers, as the packer renders them."""
    lines: list[str] = []
    group = None
    for item in items:
        mine = item.session_id or f"\0{item.layer}"
        if mine != group:
            lines.append(session_header(item))
            group = mine
        lines.append(item.text)
    return "\n".join(lines)


__all__ = ["FACTS_HEADER", "HISTORY_MARK", "asked", "fact_line", "found", "history_mark", "render_items"]
