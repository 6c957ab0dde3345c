"""Whether the English-only intake parser can read a task at all.

The parser's patterns are English; on a Portuguese or Chinese task they find nothing, and "found
nothing" must not be mistaken for "the user said nothing". The rule, in order:

1. No word and no digit: not readable. Only digits and signs ("12/03 - 15/03"): readable.
2. More than a fifth of the letters outside the Latin script (CJK, Cyrillic, Arabic...): not readable.
3. Each word is English (a short list of function and travel words), foreign (function words of
   Portuguese, French, Spanish, German, Italian, Dutch), or else a name (capitalised: "Lisbon",
   "LIS") or unknown (a lower-case word on no list, typos included). Words the languages share
   ("a", "in", "me", "no") count for none of them.
4. Readable when at least one word is English, no fewer English words than foreign ones, and the
   English words are at least a quarter of the English, foreign and unknown ones. A text made only
   of names ("Lisbon", "Porto LIS") is readable: there is nothing to misread.

A typo'd English task ("plan a trp to lisbn for 3 dys") keeps enough function words to pass;
keyboard noise ("asdf qwer zxcv") and other languages do not.
"""

from __future__ import annotations

import re
import unicodedata

from moot.intake.words import COMMON_WORDS, FOREIGN_WORDS, FUNCTION_WORDS, MONTHS, TRAVEL_WORDS, WEEKDAYS

__all__ = ["looks_readable"]

_SHARED = frozenset({"a", "in", "me", "no", "do", "per", "son", "die", "come", "pour"})
"""Words English shares with the other languages ("a Lisboa", "in Rom"): they count for neither."""
_ENGLISH = (FUNCTION_WORDS | TRAVEL_WORDS | COMMON_WORDS | frozenset(MONTHS) | frozenset(WEEKDAYS)) - _SHARED
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?]\s*$")
_MIN_SHARE = 0.25
_MAX_FOREIGN_SCRIPT = 0.2


def _latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def looks_readable(text: str) -> bool:
    """True when `text` looks like English the intake parser can read (rules in the module docstring)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return any(c.isdigit() for c in text)
    if sum(not _latin(c) for c in letters) > _MAX_FOREIGN_SCRIPT * len(letters):
        return False
    english = foreign = unknown = 0
    for match in _WORD.finditer(text):
        word = match[0]
        lower = word.lower().replace("’", "'")
        sentence_start = not text[: match.start()].strip() or bool(_SENTENCE_END.search(text[: match.start()]))
        if lower in _SHARED:
            continue
        if lower in _ENGLISH:
            english += 1
        elif lower in FOREIGN_WORDS and (word.islower() or sentence_start):
            foreign += 1
        elif word[0].isupper():
            continue  # a name or a code (or a sentence's first word on no list): neither English nor not
        else:
            unknown += 1
    if english == 0:
        return foreign == 0 and unknown == 0
    return english >= foreign and english >= _MIN_SHARE * (english + foreign + unknown)
