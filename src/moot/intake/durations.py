"""Stay lengths said in words ("3-day trip", "two nights", "a long weekend") and offsets ("in two weeks").

The rules, as the user will see them in notes:

- "N days", "an N-day trip", "for N days" are N-1 nights: you arrive on day 1 and leave on day N.
- "N nights" is N nights; "overnight", "a night" is 1; "a couple of nights" is 2.
- "a week" is 7 nights, "N weeks" 7N, "a fortnight" 14, "a month" 30 (with a note).
- "weekend" is 2 nights from a Friday, "long weekend" 3 (Friday to Monday); which Friday is the
  stay's decision (moot.intake.stay), because a date given elsewhere in the task wins.
- "a few days", "several nights", "2-3 nights", "a night or two" name no number: nothing is read
  and a note says why, so the caller asks instead of guessing.
- "in two weeks", "two weeks from now", "a week from tomorrow" are a START date, not a length;
  "two weeks ago" is a start in the past (a problem); "within two weeks" is a deadline and is
  read as neither (a note).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from moot.intake.mention import NUMBER, Mention, to_number

__all__ = ["Length", "LengthReading", "Offset", "add_months", "find_lengths"]


@dataclass(frozen=True)
class Length:
    """A stay length: `mention.value` is the nights (int), or None when the words give no number."""

    mention: Mention
    note: str | None
    in_nights: bool
    """Said in nights ("4 nights"): wins over a length said in days or weeks when they disagree."""
    weekend: int | None = None
    """For "weekend": 0 for this (the coming) weekend, 1 for next weekend; None otherwise."""


@dataclass(frozen=True)
class Offset:
    """A start date said as a distance from today: `mention.value` is the date."""

    mention: Mention
    note: str


@dataclass(frozen=True)
class LengthReading:
    """Everything read by `find_lengths`; `spans` are all the claimed spans, to mask."""

    lengths: tuple[Length, ...]
    offsets: tuple[Offset, ...]
    notes: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


_QTY = rf"(?P<n>{NUMBER}|an?(?:\s+single)?|one\s+single|a\s+couple\s+of|a\s+couple|couple\s+of)"
_UNIT = r"(?P<unit>days?|nights?|nites?|weeks?|wks?|fortnights?|months?)"
_NOUN = r"(?:\s+(?:trip|stay|break|holiday|vacation|getaway|visit|tour|escape|city\s+break|journey))?"
_LENGTH = re.compile(rf"\b{_QTY}(?:\s*-\s*|\s+)?{_UNIT}\b(?:\s*-\s*long)?{_NOUN}", re.IGNORECASE)
_VAGUE = re.compile(
    rf"\b(?:(?:a\s+few|few|several|some|a\s+number\s+of|many|a\s+couple\s+more)\s+(?:days|nights|weeks)"
    rf"|(?<![\d/.-]){NUMBER}\s*(?:-|–|or|to)\s*{NUMBER}\s*(?:-\s*)?(?:days|nights|weeks)"
    rf"|an?\s+(?:day|night|week)\s+or\s+(?:two|so))\b",
    re.IGNORECASE,
)
_WEEKEND = re.compile(
    r"\b(?:(?P<which>this\s+coming|the\s+coming|this|next|coming|upcoming|the|a)\s+)?(?P<long>long\s+)?week-?end\b",
    re.IGNORECASE,
)
_OVERNIGHT = re.compile(r"\bovernight\b", re.IGNORECASE)
_BEFORE_OFFSET = re.compile(r"\b(?P<word>in|within)\s+(?:about\s+|around\s+|roughly\s+|just\s+|another\s+)?$", re.IGNORECASE)
_AFTER_OFFSET = re.compile(
    r"^\s*(?:from\s+(?P<base>now|today|tomorrow)|(?P<later>later|hence)|(?P<time>(?:['’]s?)?\s*time)\b|(?P<ago>ago))\b",
    re.IGNORECASE,
)
_RATE = re.compile(r"\b(?:twice|once|times|per)\s*$", re.IGNORECASE)
_DAYS_PER_UNIT = {"d": 1, "n": 1, "w": 7, "f": 14, "m": 30}


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day (31 January + 1 = 28 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _quantity(word: str) -> int | None:
    word = re.sub(r"\s+", " ", word.lower())
    if word in {"a", "an", "a single", "an single", "one single"}:
        return 1
    if "couple" in word:
        return 2
    return to_number(word)


def _plural(n: int) -> str:
    return f"{n} night" if n == 1 else f"{n} nights"


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def find_lengths(text: str, today: date, money_ends: Collection[int] = ()) -> LengthReading:
    """Read every stay length and every "in N weeks" start in `text` (already masked of money and counts).

    `money_ends` are where the (masked) amounts end: "a night" right after one ("€90 a night") is
    a rate, not a length, and so is "twice a week".
    """
    lengths: list[Length] = []
    offsets: list[Offset] = []
    notes: list[str] = []
    taken: list[tuple[int, int]] = []

    for match in _VAGUE.finditer(text):
        before = _BEFORE_OFFSET.search(text[: match.start()])
        start = before.start() if before else match.start()
        mention = Mention.of(text, start, match.end(), None)
        taken.append((mention.start, mention.end))
        if before:
            notes.append(f"'{mention.text}' names no day; the start date is still open")
        else:
            lengths.append(Length(mention, f"'{mention.text}' gives no exact number of nights", in_nights=False))

    for match in _LENGTH.finditer(text):
        if _overlaps(match.span(), taken):
            continue
        n = _quantity(match["n"])
        prefix = text[: match.start()]
        rate = _RATE.search(prefix) or len(prefix.rstrip()) in money_ends
        if n is None or (match["n"].lower().startswith("a") and rate):
            continue  # "€90 a night", "twice a week": a rate, not a length
        unit = match["unit"].lower()[0]
        before = _BEFORE_OFFSET.search(text[: match.start()])
        after = _AFTER_OFFSET.search(text[match.end() :])
        if (before and before["word"].lower() != "within") or after:
            start = before.start() if before else match.start()
            end = match.end() + (after.end() if after else 0)
            base = today + timedelta(days=1) if after and (after["base"] or "").lower() == "tomorrow" else today
            sign = -1 if after and after["ago"] else 1
            day = add_months(base, sign * n) if unit == "m" else base + timedelta(days=sign * n * _DAYS_PER_UNIT[unit])
            mention = Mention.of(text, start, end, day)
            offsets.append(Offset(mention, f"'{mention.text}' is {day.isoformat()}"))
            taken.append((mention.start, mention.end))
            continue
        if before:  # "within two weeks"
            mention = Mention.of(text, before.start(), match.end(), None)
            notes.append(f"'{mention.text}' is read as a deadline, not as a date or a length")
            taken.append((mention.start, mention.end))
            continue
        nights = n - 1 if unit == "d" else n * _DAYS_PER_UNIT[unit]
        mention = Mention.of(text, match.start(), match.end(), nights)
        note = None if unit == "n" else f"'{mention.text}' read as {_plural(nights)}"
        lengths.append(Length(mention, note, in_nights=unit == "n"))
        taken.append(match.span())

    for match in _WEEKEND.finditer(text):
        if _overlaps(match.span(), taken):
            continue
        which = (match["which"] or "").lower()
        nights = 3 if match["long"] else 2
        mention = Mention.of(text, match.start(), match.end(), nights)
        note = f"'{mention.text}' read as {_plural(nights)} from a Friday"
        lengths.append(Length(mention, note, in_nights=False, weekend=int(which == "next")))
        taken.append(match.span())

    for match in _OVERNIGHT.finditer(text):
        if not _overlaps(match.span(), taken):
            lengths.append(Length(Mention.of(text, match.start(), match.end(), 1), None, in_nights=True))
            taken.append(match.span())

    lengths.sort(key=lambda item: item.mention.start)
    offsets.sort(key=lambda item: item.mention.start)
    return LengthReading(tuple(lengths), tuple(offsets), tuple(notes), tuple(taken))
