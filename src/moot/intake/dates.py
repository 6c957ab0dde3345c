"""Calendar dates in a task: "12 March", "Dec 18-22", "2027-01-10", "20/01/2027", "next Friday", "the 12th".

Dates written with a month name or in digits are read here with regular expressions and checked
with `datetime.date`, because `dateparser` misreads exactly those: it reads "Dec 18-22" as the
year 2122, drops the day of "30 February" (and returns a date in February), and reads
"32 December" as 2032. What is left after that, weekdays and "today"/"tomorrow", goes to
`dateparser.search.search_dates`, and only a result that names a weekday or one of those words is
kept: it also reads "may" in "I may go" as May, "now" as a date, and "sat by the" as Saturday.

Reading rules (user-visible):

- A date without a year is the next one on or after today. A later date of the task keeps the
  year of the one before it, or the next year when its month is earlier ("Dec 28 to Jan 3"), so
  "15 March to 12 March" stays backwards and is reported, not moved a year ahead.
- A bare weekday after another date is the first such day after it ("Saturday to Monday").
- "12/03/2027" is read day first (12 March); a note says so when both readings are dates. Without
  a year ("on 24/12", "15/1 - 17/1") only after a date word or as a range, so "24/7" is no date.
- "the 12th" is the next 12th of a month on or after today.
- A weekday written with a date must agree with it ("Friday 12 March 2027" is a problem).
- A month without a day ("in March", "mid January") gives no date; a note asks for the day.
- Weekdays follow dateparser: "Friday" and "next Friday" are the next Friday after today (a week
  ahead when today is Friday); "this Friday" is today when today is Friday.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from operator import itemgetter

from moot.intake.mention import Mention, mask
from moot.intake.words import MONTH_RE, MONTHS, WEEKDAY_RE, WEEKDAYS

__all__ = ["DateHit", "DateReading", "find_dates"]


@dataclass(frozen=True)
class DateHit:
    """One date (or date range) in the task; `mention.value` is its first day, None when no date."""

    mention: Mention
    last: date | None = None
    """A range's last day ("12-15 March"), both days in one mention."""
    note: str | None = None
    problem: str | None = None
    end_cue: bool = False
    """Said as the last day ("until Friday", "returning Dec 22")."""


@dataclass(frozen=True)
class DateReading:
    """Every date found, in text order, and the notes on the ones that name no day."""

    hits: tuple[DateHit, ...]
    vague: tuple[str, ...]
    """Notes on dates that name no day ("in March", "next week")."""


_WD = rf"(?:(?P<wd>{WEEKDAY_RE}),?\s+(?:the\s+)?)?"
_D1 = r"(?:the\s+)?(?P<d1>\d{1,2})(?:st|nd|rd|th)?"
_D2 = r"(?:the\s+)?(?P<d2>\d{1,2})(?:st|nd|rd|th)?(?!\d)"
_TO = r"\s*(?:-|–|to|until|till|through|thru|and)\s*"
_YEAR = r"(?:(?:,?\s+|-)(?P<y>\d{4})\b)?"
_YY = r"\d{4}|\d{2}"
_DM = r"\d{1,2}/\d{1,2}"
_SHORT_LEAD = (
    rf"(?:\b(?:on|from|until|till|to|by|leaving|arriving|returning|back|departing|and|between)\s+{_WD}"
    rf"|(?<![\w/.])(?={_DM}\s*[-–]\s*{_DM}(?![/\d]))"  # the first of "15/1 - 17/1"
    r"|(?<=\d/\d)\s*[-–]\s*|(?<=\d/\d\d)\s*[-–]\s*)"  # the second
)
_FLAGS = re.IGNORECASE
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("range", re.compile(rf"\b{_WD}{_D1}{_TO}{_D2}\s+(?:of\s+)?(?P<m>{MONTH_RE}){_YEAR}", _FLAGS)),
    ("range", re.compile(rf"\b{_WD}(?P<m>{MONTH_RE})\s*{_D1}{_TO}{_D2}(?!\s*(?:{MONTH_RE}|[:./]\d)){_YEAR}", _FLAGS)),
    ("iso", re.compile(rf"\b{_WD}(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d1>\d{{1,2}})\b", _FLAGS)),
    ("numeric", re.compile(rf"\b{_WD}(?P<d1>\d{{1,2}})(?P<sep>[/.])(?P<m>\d{{1,2}})(?P=sep)(?P<y>{_YY})\b", _FLAGS)),
    ("short", re.compile(rf"{_SHORT_LEAD}(?P<d1>\d{{1,2}})/(?P<m>\d{{1,2}})(?![/\d])", _FLAGS)),
    ("single", re.compile(rf"\b{_WD}{_D1}\s*(?:of\s+)?(?:-\s*)?(?P<m>{MONTH_RE}){_YEAR}", _FLAGS)),
    ("single", re.compile(rf"\b{_WD}(?P<m>{MONTH_RE})\s*{_D1}\b(?!\s*[:.]\d){_YEAR}", _FLAGS)),
    ("ordinal", re.compile(rf"\b(?:(?P<wd>{WEEKDAY_RE}),?\s+)?the\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)\b", _FLAGS)),
    ("ordinal", re.compile(rf"\b(?P<wd>{WEEKDAY_RE}),?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)\b", _FLAGS)),
)
_MONTH_ONLY = re.compile(
    rf"\b(?P<lead>(?:in|during|early|mid|late|around|until|till|by|for|of|end\s+of|beginning\s+of|start\s+of)[\s-]+)?"
    rf"(?P<m>{MONTH_RE})(?:\s+\d{{4}}\b)?",
    _FLAGS,
)
_VAGUE_RELATIVE = re.compile(
    r"\b(?:(?:next|this|coming)\s+(?:week|month|year)"
    r"|christmas|xmas|easter|new\s+year(?:'s|’s)?(?:\s+eve)?|thanksgiving)\b",
    _FLAGS,
)
_DAY_AFTER_TOMORROW = re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b", _FLAGS)
_END_CUE = re.compile(
    r"\b(?:until|till|til|to|through|thru|returning|return|back|check(?:ing)?[\s-]?out|ending"
    r"|(?:come|coming|fly|flying|go|going|head|heading)\s+(?:back|home))"
    r"(?:\s+(?:on|by|the))?\s*$",
    _FLAGS,
)
_ANCHOR_WORDS = frozenset({"today", "tomorrow", "tonight", "yesterday", *(w for w in WEEKDAYS if len(w) > 4)})
_ANCHOR = re.compile(r"\b(?:" + "|".join(sorted({*_ANCHOR_WORDS, *WEEKDAYS})) + r")\b", _FLAGS)
_LEADING = re.compile(r"^(?:(?:on|from|at|by|starting|until|till|to|and|of|in)\s+)+", _FLAGS)
_TRAILING = re.compile(r"(?:\s+(?:on|from|at|by|until|till|to|and|of|in|for|the))+\s*$", _FLAGS)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _month(word: str) -> int:
    return int(word) if word.isdigit() else MONTHS[word.lower().rstrip(".")]


def _on_or_after(day: int, month: int, year: int | None, after: date, follows: bool = False) -> date | None:
    """The date, in the year given, else in the first year that puts it on or after `after`.

    When it `follows` an earlier date of the task, it keeps that date's year unless its month is
    earlier ("Dec 28 to Jan 3"): "15 March to 12 March" stays a backwards range, a problem to report.
    """
    if year is not None:
        years: list[int] | range = [year if year >= 100 else 2000 + year]
    elif follows:
        years = [after.year + 1] if month < after.month else [after.year]
    else:
        years = range(after.year, after.year + 5)
    for y in years:
        try:
            found = date(y, month, day)
        except ValueError:
            continue
        if year is not None or follows or found >= after:
            return found
    return None


def _next_ordinal(day: int, after: date) -> date | None:
    """The next `day`-th of a month on or after `after` ("the 31st" skips months without one)."""
    for months in range(0, 13):
        index = after.year * 12 + after.month - 1 + months
        try:
            found = date(index // 12, index % 12 + 1, day)
        except ValueError:
            continue
        if found >= after:
            return found
    return None


def _weekday_problem(match: re.Match[str], found: date | None) -> str | None:
    word = match.groupdict().get("wd")
    if not word or found is None or WEEKDAYS[word.lower().rstrip(".")] == found.weekday():
        return None
    return f"'{match[0].strip()}': {found.isoformat()} is a {_WEEKDAY_NAMES[found.weekday()]}"


def _read(kind: str, match: re.Match[str], text: str, today: date, after: date) -> DateHit:
    """One matched date pattern, resolved against `after` (today, or the date before it)."""
    begin = match.start("wd") if kind == "short" and match["wd"] else match.start("d1") if kind == "short" else match.start()
    mention_text = text[begin : match.end()].strip()
    year = int(match["y"]) if match.groupdict().get("y") else None
    day = int(match["d1"])
    note: str | None = None
    day_first = False
    if kind == "ordinal":
        found = _next_ordinal(day, after)
        last = None
        note = f"'{mention_text}' read as {found.isoformat()}" if found else None
    else:
        month = _month(match["m"])
        if kind in ("numeric", "short") and month > 12 and day <= 12:
            day, month = month, day  # "01/20/2027": only month-first is a date
        day_first = kind in ("numeric", "short") and day <= 12 and month <= 12 and day != month
        found = _on_or_after(day, month, year, after, follows=after != today)
        last = _on_or_after(int(match["d2"]), month, found.year, found) if kind == "range" and found else None
        if kind == "range" and found and last is None:
            found = None
        if found and day_first:
            note = f"'{mention_text}' read day first, as {found.isoformat()}"
        elif found and year is None:
            note = f"'{mention_text}' is {found.isoformat()}" + (f" to {last.isoformat()}" if last else "")
    if found is None:
        problem = f"'{mention_text}' is not a date"
        return DateHit(Mention.of(text, begin, match.end(), None), problem=problem)
    return DateHit(
        Mention.of(text, begin, match.end(), found),
        last=last,
        note=note,
        problem=_weekday_problem(match, found),
        end_cue=bool(_END_CUE.search(text[:begin])),
    )


def _relative(text: str, start: int, end: int, day: date, today: date, after: date) -> DateHit:
    """A date dateparser read; a bare weekday after another date is the first such day after it.

    dateparser reads each weekday from today, so "Saturday to Monday" would end before it starts.
    """
    mention = Mention.of(text, start, end, day)
    words = mention.text.lower().rstrip(".").split()
    if after != today and len(words) == 1 and words[0] in WEEKDAYS:
        day = after + timedelta(days=(WEEKDAYS[words[0]] - after.weekday() - 1) % 7 + 1)
        mention = Mention(day, mention.text, mention.start, mention.end)
    return DateHit(mention, note=f"'{mention.text}' is {day.isoformat()}", end_cue=bool(_END_CUE.search(text[:start])))


def _search_dateparser(text: str, now: datetime) -> list[tuple[int, int, date]]:
    """Weekdays and "today"/"tomorrow" via dateparser, each kept only if it names one of them."""
    if not _ANCHOR.search(text):
        return []  # spares dateparser's first call (~0.14 s) on most tasks
    from dateparser.search import search_dates  # imported late: it takes ~0.3 s to import

    settings = {"RELATIVE_BASE": now, "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False}
    found: list[tuple[int, int, date]] = []
    cursor = 0
    for piece, when in search_dates(text, languages=["en"], settings=settings) or []:
        at = text.find(piece, cursor)
        if at < 0:
            continue
        cursor = at + len(piece)
        lead, trail = _LEADING.match(piece), _TRAILING.search(piece)
        start, end = at + (lead.end() if lead else 0), at + (trail.start() if trail else len(piece))
        words = re.findall(r"[A-Za-z]+", text[start:end])
        anchored = any(w.lower() in _ANCHOR_WORDS or (w.lower() in WEEKDAYS and w[0].isupper()) for w in words)
        if anchored and not piece.strip().isdigit():
            found.append((start, end, when.date()))
    return found


def find_dates(text: str, now: datetime) -> DateReading:
    """Every date in `text` (masked of money, counts and lengths), in text order."""
    today = now.date()
    taken: list[tuple[int, int]] = []
    raw: list[tuple[str, re.Match[str]]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if not any(match.start() < e and s < match.end() for s, e in taken):
                raw.append((kind, match))
                taken.append(match.span())
    raw.sort(key=lambda item: item[1].start())

    vague: list[str] = []
    rest = mask(text, taken)
    for match in [*_MONTH_ONLY.finditer(rest), *_VAGUE_RELATIVE.finditer(rest)]:
        word = match.groupdict().get("m")
        if word and not (match["lead"] or word[0].isupper()):
            continue  # "may" and "march" as verbs
        vague.append(f"'{match[0].strip()}' names no exact day")
        taken.append(match.span())
    rest = mask(text, taken)

    relative: list[tuple[int, int, date]] = []
    for match in _DAY_AFTER_TOMORROW.finditer(rest):
        relative.append((match.start(), match.end(), today + timedelta(days=2)))
        taken.append(match.span())
    rest = mask(text, taken)
    relative += _search_dateparser(rest, now.replace(tzinfo=None))

    pending: list[tuple[int, Callable[[date], DateHit]]] = [(m.start(), partial(_read, k, m, text, today)) for k, m in raw]
    pending += [(s, partial(_relative, text, s, e, d, today)) for s, e, d in relative]
    hits: list[DateHit] = []
    after = today
    for _, read in sorted(pending, key=itemgetter(0)):
        hit = read(after)
        hits.append(hit)
        if hit.mention.value is not None:
            after = max(after, hit.last or hit.mention.value)
    return DateReading(tuple(hits), tuple(vague))
