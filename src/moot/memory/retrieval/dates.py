"""Dates in dialogue: relative expressions resolved against the item's own date, as index keys.

"I went to a LGBTQ support group yesterday", said on 8 May 2023, is about 7 May 2023; a
question asks "what did Caroline do on 7 May?" or "when did ...?", never "yesterday". At ingest
the time expressions of a dated item are resolved against its date (`meta["date"]`, else the
day of `ts`) into keys (`2023-05-07`, `2023-05`, `2023`, `m05` for a month without its year),
which the shard stores beside the item (`shard.py`); a query's absolute dates ("on 16 June,
2023", "in July") become the same keys (`query_keys`). The item's text is left as it was said:
recall shows it under its session's date header, and a reader resolves "yesterday" from there.

A small resolver for the common English expressions, not `dateparser`: it runs on every item at
ingest (dateparser's `search_dates` takes milliseconds a sentence; this takes microseconds), and
it only reads what it can resolve exactly. Bare weekdays ("on Saturday") are not read: the
tense decides whether the last or the next one is meant.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

Grain = Literal["day", "weekend", "week", "month", "year"]

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name and name != "May"})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "couple of": 2,
           "a couple": 2}

_MONTH = "|".join(sorted((m.capitalize() for m in MONTHS), key=len, reverse=True))
"""capitalised only: "I may go" is not a date"""
_WEEKDAY = "|".join(WEEKDAYS)
_COUNT = r"\d{1,2}|" + "|".join(sorted(NUMBERS, key=len, reverse=True))
_UNIT = r"days?|weeks?|weekends?|months?|years?"
_DAYNUM = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"

_RELATIVE = re.compile(
    rf"\b(?:(?P<dbefore>the day before yesterday)|(?P<dafter>the day after tomorrow)"
    rf"|(?P<yesterday>yesterday|last night)|(?P<today>today|tonight|this (?:morning|afternoon|evening))"
    rf"|(?P<tomorrow>tomorrow)"
    rf"|(?P<wrel>last|this past|past|this|next|this coming|coming) (?P<wday>{_WEEKDAY})"
    rf"|(?P<urel>last|this past|the past|past|this|next|this coming|the coming) (?P<unit>week|weekend|month|year)"
    rf"|(?P<count>{_COUNT}) (?P<cunit>{_UNIT}) (?P<dir>ago|from now|later)"
    rf"|in (?P<incount>{_COUNT}) (?P<inunit>{_UNIT})(?! of)"
    rf")\b",
    re.IGNORECASE,
)
_ABSOLUTE = re.compile(
    rf"\b(?:(?P<d1>{_DAYNUM}) (?:of )?(?P<m1>{_MONTH})\.?,? ?(?P<y1>{_YEAR})?"
    rf"|(?P<m2>{_MONTH})\.? (?P<d2>{_DAYNUM})(?!\d)(?:,? (?P<y2>{_YEAR}))?"
    rf"|(?P<m3>{_MONTH}),? (?P<y3>{_YEAR})"
    rf"|(?i:in|of|since|during|until|by|early|late|mid) (?P<m4>{_MONTH})\b(?!,? ?{_YEAR})"
    rf"|(?i:in|of|since|during|until|by|summer|winter|spring|fall|autumn) (?P<y5>{_YEAR})"
    rf")\b"
)
_TIME_WORDS = ("day", "week", "month", "year", "tonight", "tomorrow", "night", "morning", "afternoon", "evening")
"""one of these is in every relative expression (weekdays end in "day"): a cheap test first"""
_MONTH_WORDS = tuple(m.capitalize() for m in MONTHS)
_WHEN = re.compile(r"\b(?:when|what (?:date|day|year|month|time)|which (?:year|month|day)|how long ago)\b",
                   re.IGNORECASE)
_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%Y-%m-%d", "%d %B, %Y")


@dataclass(frozen=True)
class Span:
    """A resolved time: the first day it covers and its grain (a week starts on its first day)."""

    start: date
    grain: Grain

    def index_keys(self) -> list[str]:
        """Index keys: every day it covers (up to a week), its months and years, bare months."""
        if self.grain == "year":
            return [f"{self.start.year}"]
        if self.grain == "month":
            days = [self.start]
        else:
            length = {"day": 1, "weekend": 2, "week": 7}[self.grain]
            days = [self.start + timedelta(d) for d in range(min(length, (date.max - self.start).days + 1))]
        keys: list[str] = [] if self.grain == "month" else [d.isoformat() for d in days]
        for d in days:
            for key in (f"{d.year}-{d.month:02d}", f"{d.year}", f"m{d.month:02d}"):
                if key not in keys:
                    keys.append(key)
        return keys


def anchor_of(meta_date: object, ts: float) -> date | None:
    """An item's own date: `meta["date"]` ("8 May 2023", "2023-05-08"), else the UTC day of `ts`."""
    if isinstance(meta_date, str) and meta_date:
        clean = re.sub(r"\s+", " ", meta_date.strip())
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(clean, fmt).date()
            except ValueError:
                continue
    if ts > 0:
        try:
            day = time.gmtime(ts)
            return date(day.tm_year, day.tm_mon, day.tm_mday)
        except (OverflowError, OSError, ValueError):  # a ts no calendar day has: no anchor
            return None
    return None


def _count(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else NUMBERS[word]


def _shift_months(day: date, months: int) -> date:
    """The first of the month `months` after (or before) `day`'s month."""
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _monday(day: date) -> date:
    return day - timedelta(day.weekday())


def _weekday(anchor: date, weekday: int, rel: str) -> date:
    if rel in ("last", "this past", "past"):
        back = (anchor.weekday() - weekday) % 7 or 7  # "last Saturday" said on a Saturday: a week ago
        return anchor - timedelta(back)
    if rel in ("next", "this coming", "coming"):
        return anchor + timedelta((weekday - anchor.weekday()) % 7 or 7)
    return _monday(anchor) + timedelta(weekday)  # "this Saturday": the one of the same week


def _unit(anchor: date, unit: str, rel: str) -> Span:
    step = {"last": -1, "this past": -1, "the past": -1, "past": -1, "this": 0, "next": 1,
            "this coming": 1, "the coming": 1}[rel]
    if unit == "week":
        return Span(_monday(anchor) + timedelta(7 * step), "week")
    if unit == "weekend":
        if step < 0:  # the most recent Saturday before today ("this past weekend" said on a Sunday: yesterday)
            saturday = anchor - timedelta((anchor.weekday() - 5) % 7 or 7)
        else:
            saturday = _monday(anchor) + timedelta(5 + 7 * step)
        return Span(saturday, "weekend")
    if unit == "month":
        return Span(_shift_months(anchor, step), "month")
    return Span(date(anchor.year + step, 1, 1), "year")


def _ago(anchor: date, n: int, unit: str, sign: int) -> Span:
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return Span(anchor + timedelta(sign * n), "day")
    if unit == "week":
        return Span(_monday(anchor + timedelta(sign * 7 * n)), "week")
    if unit == "weekend":
        base = _unit(anchor, "weekend", "last" if sign < 0 else "next").start
        return Span(base + timedelta(sign * 7 * (n - 1)), "weekend")
    if unit == "month":
        return Span(_shift_months(anchor, sign * n), "month")
    return Span(date(anchor.year + sign * n, 1, 1), "year")


def resolve(text: str, anchor: date) -> list[Span]:
    """The times `text` names, relative ones resolved against `anchor` (the day it was said)."""
    spans: list[Span] = []
    lower = text.lower()
    relative = _RELATIVE.finditer(text) if any(word in lower for word in _TIME_WORDS) else ()
    for m in relative:
        try:
            spans.append(_relative({k: v.lower() for k, v in m.groupdict().items() if v}, anchor))
        except (ValueError, OverflowError):  # before year 1 or after 9999: nothing to index
            continue
    spans.extend(_absolute(text, anchor))
    return spans


def _relative(g: dict[str, str], anchor: date) -> Span:
    """The span of one match of `_RELATIVE` (its named groups that matched, lowercased)."""
    if "dbefore" in g:
        return Span(anchor - timedelta(2), "day")
    if "dafter" in g:
        return Span(anchor + timedelta(2), "day")
    if "yesterday" in g:
        return Span(anchor - timedelta(1), "day")
    if "today" in g:
        return Span(anchor, "day")
    if "tomorrow" in g:
        return Span(anchor + timedelta(1), "day")
    if "wday" in g:
        return Span(_weekday(anchor, WEEKDAYS[g["wday"]], g["wrel"]), "day")
    if "unit" in g:
        return _unit(anchor, g["unit"], g["urel"])
    if "count" in g:
        return _ago(anchor, _count(g["count"]), g["cunit"], -1 if g["dir"] == "ago" else 1)
    return _ago(anchor, _count(g["incount"]), g["inunit"], 1)


def _absolute(text: str, anchor: date | None) -> list[Span]:
    """Absolute dates; a day or month without a year is the latest one not after `anchor`."""
    spans: list[Span] = []
    if not any(ch.isdigit() for ch in text) and not any(month in text for month in _MONTH_WORDS):
        return spans
    for m in _ABSOLUTE.finditer(text):
        g = {k: v for k, v in m.groupdict().items() if v}
        month_word = g.get("m1") or g.get("m2") or g.get("m3") or g.get("m4")
        month = MONTHS[month_word.lower()] if month_word else 1
        year_text = g.get("y1") or g.get("y2") or g.get("y3") or g.get("y5")
        day_text = g.get("d1") or g.get("d2")
        day_num = int(re.sub(r"\D", "", day_text)) if day_text else 1
        if year_text:
            year = int(year_text)
        elif anchor is not None:
            year = anchor.year if (month, day_num) <= (anchor.month, anchor.day) else anchor.year - 1
        else:
            year = 2000  # no year known (a question): a bare month only; 2000 admits 29 February
        if not 1 <= year <= 9999 or day_num > calendar.monthrange(year, month)[1]:
            continue  # "31 April"; "29 February" of a year without one; before the calendar
        if not year_text and anchor is None:
            spans.append(Span(date(2000, month, day_num), "month"))
            continue
        grain: Grain = "day" if day_text else ("month" if month_word else "year")
        spans.append(Span(date(year, month, day_num), grain))
    return spans


def query_keys(query: str) -> list[str]:
    """Keys of the absolute dates a question names, at its own grain ("in July" → `m07`)."""
    keys: list[str] = []
    for span in _absolute(query, None):
        if span.start.year == 2000 and span.grain == "month":
            keys.append(f"m{span.start.month:02d}")
        elif span.grain == "day":
            keys.append(span.start.isoformat())
        elif span.grain == "month":
            keys.append(f"{span.start.year}-{span.start.month:02d}")
        else:
            keys.append(f"{span.start.year}")
    return list(dict.fromkeys(keys))


def asks_when(query: str) -> bool:
    """Whether a question asks for a time ("When did ...", "What year ...", "How long ago ...")."""
    return _WHEN.search(query) is not None


__all__ = ["Span", "anchor_of", "asks_when", "query_keys", "resolve"]
