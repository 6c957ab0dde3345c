"""The pieces every intake reader shares: the `Mention` record, masking, numbers, phrase search.

Every value read from a task carries the exact substring and offsets it came from, so the caller
can quote the user back to themselves ("'next Friday' is 2026-12-11").

Readers run one after another on a *masked* copy of the text: a span that one reader claimed
(money, a traveller count, a stay length) is blanked out, so offsets stay valid and the
next reader cannot misread it; this is what stops `dateparser` from reading "under 1500 EUR" as
the year 1500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from text_to_num import text2num

__all__ = ["MASK", "NUMBER", "NUMBER_WORDS", "Mention", "mask", "phrase_pattern", "to_number"]


@dataclass(frozen=True)
class Mention:
    """One value read from the task, with the exact substring (and offsets) it came from.

    `text == task[start:end]` always holds. A value derived from two mentions (a stay's last day
    from its first day and its nights) covers both: its text runs from the first to the last.
    """

    value: Any
    text: str
    start: int
    end: int

    @classmethod
    def of(cls, source: str, start: int, end: int, value: Any) -> Mention:
        """A mention of `source[start:end]`, trimmed of surrounding blanks and commas."""
        while start < end and source[start] in " \t\n,;":
            start += 1
        while end > start and source[end - 1] in " \t\n,;":
            end -= 1
        return cls(value=value, text=source[start:end], start=start, end=end)

    @classmethod
    def spanning(cls, source: str, parts: Iterable[Mention], value: Any) -> Mention:
        """A derived mention whose text covers every part it was derived from."""
        items = list(parts)
        return cls.of(source, min(p.start for p in items), max(p.end for p in items), value)


MASK = "\x00"
"""What a masked character becomes: not a blank, so no pattern's `\\s+` bridges a masked span
("18 [€500] Dec" must not read as "18 Dec"), and not a word character, so `\\b` still holds.
(Not "\\x1f": Python's `\\s` and `str.isspace` count it as whitespace.)"""


def mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span blanked by `MASK`: later readers skip it, offsets stay the same."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = MASK * (end - start)
    return "".join(chars)


_UNIT = r"zero|one|two|three|four|five|six|seven|eight|nine"
_TEEN = r"ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS = r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_WORD = rf"(?:(?:{_TENS})(?:[\s-]+(?:{_UNIT}))?|{_TEEN}|{_UNIT})"
NUMBER_WORDS = rf"(?:{_WORD}(?:\s+(?:hundred|thousand)(?:\s+(?:and\s+)?{_WORD}(?!\s+(?:hundred|thousand)))?)*)"
"""English number words as a regex: "three", "twenty-one", "fifteen hundred", "one hundred and fifty"."""
NUMBER = rf"(?:\d+|\b{NUMBER_WORDS}\b)"
"""A whole number written in digits or words (no sign, no decimals)."""


def to_number(text: str) -> int | None:
    """The integer `text` spells ("3", "three", "twenty-one"), or None when it is not one.

    Words go through text2num, which also reads compounds ("two thousand five hundred"); "a" and
    "an" are not numbers here, because "a week" and "a trip" are read by the phrase that owns them.
    """
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    try:
        return int(text2num(re.sub(r"\s+", " ", text), "en"))
    except ValueError:
        return None


def phrase_pattern(phrase: str) -> str:
    """A regex for `phrase` as whole words, any case, any run of blanks or hyphens between words."""
    words = [re.escape(w) for w in re.split(r"[\s-]+", phrase.strip()) if w]
    return r"(?<!\w)" + r"[\s-]+".join(words) + r"(?!\w)"
