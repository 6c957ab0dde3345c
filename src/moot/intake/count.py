"""How many travel: "two people", "2 adults and 1 child", "family of four", "me and my wife", "solo".

Rules (user-visible), tried in this order; the first that matches wins:

1. A number before one of the caller's nouns ("3 travellers", "two adults", "the four of us"),
   singular too ("1 adult"); children joined to it ("2 adults and 2 kids") are added.
2. "family / group / party / team of N".
3. "me and my wife", "my partner and I", "with my friend" are 2 (one companion), plus any
   children named with a number right after ("with my wife and 2 kids" is 4); "with N friends"
   (colleagues, kids, others) is N+1, because the writer travels too.
4. "a couple", "as a couple" are 2 ("a couple of nights" is a length, not people).
5. "solo", "alone", "just me", "by myself", "on my own" are 1.
6. "for N" or "we are N", only for N from 1 to 12 and only when nothing that measures something
   follows ("for 4 nights", "for 12 March", "for 900 EUR" are not counts); "for four" is skipped
   whenever the next word is not a small word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from moot.intake.mention import NUMBER, Mention, phrase_pattern, to_number

__all__ = ["DEFAULT_NOUNS", "find_count"]

DEFAULT_NOUNS: tuple[str, ...] = (
    "people", "persons", "travellers", "travelers", "adults", "guests", "passengers", "pax", "of us",
)  # fmt: skip

_KIDS = r"(?:children|child|kids?|infants?|bab(?:y|ies)|teens?|teenagers?|toddlers?|sons?|daughters?)"
_COMPANION = (
    r"(?:wife|husband|partner|friend|girlfriend|boyfriend|fianc[ée]e?|spouse|mom|mum|mother|dad|father|son|"
    r"daughter|brother|sister|colleague|boss|mate|buddy|kid|child)"
)
_FRIENDS = r"(?:friends|colleagues|coworkers|co-workers|mates|buddies|kids|children|others|family\s+members)"
_QTY = rf"(?P<n>{NUMBER}|a\s+couple(?:\s+of)?|a\s+single|one\s+single)"
_NOT_ADJECTIVE = r"(?:days?|nights?|weeks?|months?|years?|hours?|stars?|rooms?|beds?|bags?|stops?|euros?|dollars?|pounds?)"
_GROUP = re.compile(rf"\b(?:family|group|party|team|band)\s+of\s+(?P<n>{NUMBER})\b", re.IGNORECASE)
_PAIR = re.compile(
    rf"\b(?:(?:me|i|myself)\s+(?:and|&|\+)\s+(?:my\s+)?{_COMPANION}|(?:my\s+)?{_COMPANION}\s+(?:and|&)\s+(?:me|i|myself)"
    rf"|with\s+(?:my|a)\s+{_COMPANION})\b(?!\s*(?:'s|’s|s\b))",
    re.IGNORECASE,
)
_PLUS_KIDS = re.compile(rf"^\s*(?:and|&|\+|,)\s*(?:(?:my|our|the)\s+)?(?P<n>{NUMBER})\s+{_KIDS}\b", re.IGNORECASE)
_WITH_N = re.compile(rf"\bwith\s+(?:my\s+|our\s+)?(?P<n>{NUMBER})\s+{_FRIENDS}\b", re.IGNORECASE)
_COUPLE = re.compile(r"\b(?:as\s+a|a|the|for\s+a)\s+couple\b(?!\s+(?:of|more)\b)", re.IGNORECASE)
_SOLO = re.compile(
    r"\b(?:solo|alone|by\s+myself|on\s+my\s+own|just\s+me|only\s+me|just\s+myself"
    r"|single\s+(?:traveller|traveler|person|adult))\b"
    r"(?!\s*(?:and|&|\+|with)\b)",
    re.IGNORECASE,
)
_FOR_N = re.compile(rf"(?<![\w-])(?:for|we\s+are|we're|we’re)\s+(?P<n>{NUMBER})(?![\w-])", re.IGNORECASE)
_FOR_N_FOLLOW = re.compile(
    r"^\s*(?:$|[.,;!?)](?!\d)|(?:to|in|at|on|from|next|this|please|with|leaving|departing|going|travelling|traveling|"
    r"flying|starting|staying|who|that)\b)",
    re.IGNORECASE,
)


def _noun_pattern(nouns: Sequence[str]) -> str:
    """The caller's nouns as one regex; a plural also matches its singular ("adults", "adult")."""
    parts = []
    for noun in sorted(nouns, key=len, reverse=True):
        pattern = phrase_pattern(noun)
        if noun.endswith("s") and len(noun) > 3 and " " not in noun:
            pattern = pattern.replace(re.escape(noun), re.escape(noun[:-1]) + "s?")
        parts.append(pattern)
    return "(?:" + "|".join(parts) + ")"


def _quantity(word: str) -> int | None:
    word = re.sub(r"\s+", " ", word.lower())
    if word.startswith("a couple"):
        return 2
    if word in {"a single", "one single"}:
        return 1
    return to_number(word)


def _by_nouns(text: str, nouns: Sequence[str]) -> Mention | None:
    noun = _noun_pattern(nouns)
    pattern = re.compile(rf"\b{_QTY}\s+(?:(?!{_NOT_ADJECTIVE}\b)[A-Za-z]+\s+)?{noun}", re.IGNORECASE)
    kids = re.compile(rf"\b(?P<n>{NUMBER})\s+{_KIDS}\b", re.IGNORECASE)
    joiner = re.compile(r"^\s*(?:and|&|\+|,|plus)\s*$", re.IGNORECASE)
    for match in pattern.finditer(text):
        total = _quantity(match["n"])
        if total is None:
            continue
        start, end = match.span()
        for other in kids.finditer(text):  # "2 adults and 1 child", "1 child and 2 adults"
            gap = text[end : other.start()] if other.start() >= end else text[other.end() : start]
            if joiner.match(gap) and (n := to_number(other["n"])) is not None:
                total += n
                start, end = min(start, other.start()), max(end, other.end())
        return Mention.of(text, start, end, total)
    return None


def _companions(text: str) -> Mention | None:
    for match in _PAIR.finditer(text):
        total, end = 2, match.end()
        if (kids := _PLUS_KIDS.match(text[end:])) and (n := to_number(kids["n"])) is not None:
            total, end = 2 + n, end + kids.end()
        return Mention.of(text, match.start(), end, total)
    for match in _WITH_N.finditer(text):
        if (n := to_number(match["n"])) is not None:
            return Mention.of(text, match.start(), match.end(), n + 1)
    return None


def _for_n(text: str) -> Mention | None:
    for match in _FOR_N.finditer(text):
        n = to_number(match["n"])
        if n is not None and 1 <= n <= 12 and _FOR_N_FOLLOW.match(text[match.end() :]):
            return Mention.of(text, match.start(), match.end(), n)
    return None


def find_count(text: str, nouns: Sequence[str] = DEFAULT_NOUNS) -> Mention | None:
    """The number of travellers (value int), by the rules in the module docstring; None if unsure."""
    if found := _by_nouns(text, nouns):
        return found
    if group := _GROUP.search(text):
        n = to_number(group["n"])
        if n is not None:
            return Mention.of(text, group.start(), group.end(), n)
    if found := _companions(text):
        return found
    if couple := _COUPLE.search(text):
        return Mention.of(text, couple.start(), couple.end(), 2)
    if solo := _SOLO.search(text):
        return Mention.of(text, solo.start(), solo.end(), 1)
    return _for_n(text)
