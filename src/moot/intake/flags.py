"""Yes/no slots: whether the task asks for something, read from the caller's phrases.

A phrase matches as whole words, in any case, with any blanks or hyphens between its words. The
one decision beyond that is negation, because a plain search gets it backwards: "non-refundable"
contains "refundable", and "no breakfast" contains "breakfast".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from moot.intake.mention import Mention, phrase_pattern

__all__ = ["find_flag"]

_NEGATORS = frozenset({"no", "not", "without", "non", "never", "nor", "don't", "dont", "doesn't", "don’t", "w/o"})


_BREAKS = frozenset({"but", "and", "or", "with", "plus", "yet"})


def _negated(text: str, start: int) -> bool:
    """Whether a negator stands at most two words before `start`, in the same clause, unbroken."""
    before = re.split(r"[.;:!?,()]", text[max(0, start - 60) : start])[-1]
    words = re.findall(r"[\w'’/]+", before.lower())
    for back in range(1, min(3, len(words)) + 1):
        word = words[-back]
        if word in _BREAKS:
            return False
        if word in _NEGATORS:
            return True
    return False


def find_flag(text: str, phrases: Sequence[str]) -> Mention | None:
    """Whether the task asks for something (a yes/no slot), read from the caller's phrases.

    A phrase matches as whole words, in any case, with any blanks or hyphens between its words.
    An occurrence with a negator ("no", "not", "without", "non-", "don't") at most two words
    before it, in the same clause and with no "but"/"and"/"with" between, reads as False:
    "non-refundable" is not "refundable". The first plain occurrence wins (value True); with only
    negated ones the value is False; None when no phrase occurs, so the caller can tell "not
    said" from "said no". Callers must read `.value`, not just test for None.
    """
    hits: list[tuple[int, int]] = []
    for phrase in phrases:
        if phrase.strip():
            hits += [(m.start(), m.end()) for m in re.finditer(phrase_pattern(phrase), text, re.IGNORECASE)]
    if not hits:
        return None
    hits.sort()
    plain = [h for h in hits if not _negated(text, h[0])]
    start, end = (plain or hits)[0]
    return Mention.of(text, start, end, bool(plain))
