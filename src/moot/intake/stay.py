"""The stay: its first day, its nights and its last day, read from the task and checked together.

How a stay is assembled (each step is a decision the user sees in `notes` or `problems`):

1. Money and traveller counts are masked first, then lengths ("3 nights", "in two weeks"), then
   dates: "under 1500 EUR" never becomes the year 1500, "2 adults" never a length.
2. A range ("12-15 March") gives the first and last day. Otherwise, of the single dates the first
   is the first day and the next one the last day; a lone date said as a last day ("until
   Friday", "returning Dec 22") is the last day. A start said as an offset ("in two weeks")
   counts as a single date.
3. Nights come from the lengths (moot.intake.durations); one said in nights wins over one said in
   days or weeks, and disagreeing lengths are a problem.
4. When the dates and a length disagree, the dates win and a problem says so.
5. "weekend" with no date starts on the coming Friday: today when today is Friday, else the next
   Friday (on a Saturday or Sunday the weekend under way is too late for a two-night stay);
   "next weekend" is the Friday after that. "long weekend" is Friday to Monday.
6. Any two of first day, nights and last day give the third; a derived value's mention covers the
   mentions it came from.
7. A date that is not a date, contradicts its weekday ("Monday 12 March 2027" is a Friday), lies
   in the past or more than two years ahead, or a length outside
   1 to 30 nights, is a problem and is left empty (the caller asks again); a last day on or before
   the first day is a problem and the last day is left empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from moot.intake.count import find_count
from moot.intake.dates import DateHit, find_dates
from moot.intake.durations import Length, find_lengths
from moot.intake.mention import Mention, mask
from moot.intake.money import money_mentions

__all__ = ["MAX_NIGHTS", "Stay", "find_stay"]

MAX_NIGHTS = 30
"""The longest stay read as one; longer is a problem, not a stay."""
_HORIZON = timedelta(days=730)


@dataclass(frozen=True)
class Stay:
    """The stay read from a task; a part is None when the task does not say it or says it wrongly.

    When all three are known, `end.value == start.value + timedelta(days=nights.value)`.
    """

    start: Mention | None
    """The first day (arrival or departure day), a `date`."""
    nights: Mention | None
    """The nights, an int from 1 to `MAX_NIGHTS`."""
    end: Mention | None
    """The last day (return or check-out), a `date`."""
    notes: tuple[str, ...]
    """How things were read, in words a user understands: "'3-day trip' read as 2 nights"."""
    problems: tuple[str, ...]
    """What the user must fix: "'30 February' is not a date", "... is in the past"."""


def _nights(n: int) -> str:
    return "1 night" if n == 1 else f"{n} nights"


class _Reader:
    """The bookkeeping of one `find_stay` call: the text, today, and the notes and problems so far."""

    def __init__(self, text: str, today: date) -> None:
        self.text, self.today = text, today
        self.notes: list[str] = []
        self.problems: list[str] = []

    def stay(self, start: Mention | None, nights: Mention | None, end: Mention | None) -> Stay:
        return Stay(start, nights, end, tuple(dict.fromkeys(self.notes)), tuple(dict.fromkeys(self.problems)))

    def checked(self, hit: DateHit | None, what: str) -> Mention | None:
        """`hit` as a first or last day, or None (with a problem) when it cannot be one."""
        if hit is None:
            return None
        if hit.problem:  # not a date, or a weekday that contradicts it: which part is right?
            self.problems.append(hit.problem)
            return None
        day = hit.last if what == "last" and hit.last else hit.mention.value
        if day is None:
            return None
        if day < self.today:
            self.problems.append(f"'{hit.mention.text}' ({day.isoformat()}) is in the past")
            return None
        if day > self.today + _HORIZON:
            self.problems.append(f"'{hit.mention.text}' ({day.isoformat()}) is more than two years ahead")
            return None
        if hit.note and hit.note not in self.notes:
            self.notes.append(hit.note)
        return self.mention(hit.mention, day)

    def mention(self, found: Mention, value: object) -> Mention:
        """`found` (read on a masked copy) as a mention of the task itself."""
        return Mention(value, self.text[found.start : found.end], found.start, found.end)

    def length(self, lengths: tuple[Length, ...]) -> Length | None:
        """The length that counts: said in nights first, else the first; disagreements are problems."""
        for item in lengths:
            if item.mention.value is None and item.note:
                self.notes.append(item.note)
        known = [item for item in lengths if item.mention.value is not None]
        if not known:
            return None
        chosen = next((item for item in known if item.in_nights), known[0])
        for other in known:
            if other.mention.value != chosen.mention.value:
                self.problems.append(
                    f"'{other.mention.text}' ({_nights(other.mention.value)}) disagrees with "
                    f"'{chosen.mention.text}' ({_nights(chosen.mention.value)}); kept '{chosen.mention.text}'"
                )
        if not 1 <= chosen.mention.value <= MAX_NIGHTS:
            self.problems.append(
                f"'{chosen.mention.text}' is {_nights(chosen.mention.value)}; a stay is 1 to {MAX_NIGHTS} nights"
            )
            return None
        if chosen.note:
            self.notes.append(chosen.note)
        return chosen

    def weekend_start(self, weekend: Length) -> Mention:
        """The Friday a weekend starts on (rule 5), as a mention of the weekend's words."""
        ahead = (4 - self.today.weekday()) % 7 + 7 * (weekend.weekend or 0)
        friday = self.today + timedelta(days=ahead)
        self.notes.append(f"'{weekend.mention.text}' starts on Friday {friday.isoformat()}")
        return self.mention(weekend.mention, friday)


def _pick_dates(hits: list[DateHit], reader: _Reader) -> tuple[DateHit | None, DateHit | None]:
    """The hits that give the first and last day (rule 2); the others are noted as unused."""
    ranges = [hit for hit in hits if hit.last is not None]
    if ranges:
        first = last = ranges[0]
    elif len(hits) == 1:
        first, last = (None, hits[0]) if hits[0].end_cue else (hits[0], None)
    elif hits:
        first = hits[0]
        later = hits[1:]
        last = next((hit for hit in later if hit.end_cue), later[0])
    else:
        return None, None
    for hit in hits:
        if hit is not first and hit is not last:
            reader.notes.append(f"'{hit.mention.text}' was not used as a date of the stay")
    return first, last


def find_stay(text: str, now: datetime) -> Stay:
    """Read the stay's first day, nights and last day from a task; see the module for the rules.

    `now` is the user's local time as a naive datetime (an aware one is read as its wall time).
    """
    now = now.replace(tzinfo=None)
    reader = _Reader(text, now.date())
    count, money = find_count(text), money_mentions(text)
    masked = mask(text, [(m.start, m.end) for m in money] + ([(count.start, count.end)] if count else []))
    lengths = find_lengths(masked, reader.today, {m.end for m in money})
    masked = mask(masked, lengths.spans)
    reader.notes += lengths.notes
    dates = find_dates(masked, now)
    hits = sorted([*dates.hits, *(DateHit(o.mention, note=o.note) for o in lengths.offsets)], key=lambda h: h.mention.start)
    first_hit, last_hit = _pick_dates(hits, reader)
    start = reader.checked(first_hit, "first")
    end = reader.checked(last_hit, "last")
    if start is None and end is None and first_hit is None and last_hit is None:
        reader.notes += dates.vague
    length = reader.length(lengths.lengths)
    nights = reader.mention(length.mention, length.mention.value) if length else None

    if start and end:
        span = (end.value - start.value).days
        if span <= 0:
            reader.problems.append(
                f"the return {end.value.isoformat()} is {'on the same day as' if span == 0 else 'before'} "
                f"the departure {start.value.isoformat()}"
            )
            end = None
        else:
            if nights and nights.value != span:
                reader.problems.append(
                    f"'{nights.text}' is {_nights(nights.value)}, but {start.value.isoformat()} to "
                    f"{end.value.isoformat()} is {_nights(span)}; kept the dates"
                )
            nights = Mention.spanning(text, [start, end], span)
            if span > MAX_NIGHTS:
                reader.problems.append(
                    f"{start.value.isoformat()} to {end.value.isoformat()} is {_nights(span)}; "
                    f"a stay is 1 to {MAX_NIGHTS} nights"
                )
                nights = None
            return reader.stay(start, nights, end)

    weekend = next((item for item in lengths.lengths if item.weekend is not None), None)
    if weekend and start is None and end is None and first_hit is None and last_hit is None:
        start = reader.weekend_start(weekend)
    if start and nights:
        end = Mention.spanning(text, [start, nights], start.value + timedelta(days=nights.value))
    elif end and nights:
        first = end.value - timedelta(days=nights.value)
        if first < reader.today:
            reader.problems.append(
                f"{_nights(nights.value)} ending {end.value.isoformat()} would start in the past ({first.isoformat()})"
            )
        else:
            start = Mention.spanning(text, [nights, end], first)
    return reader.stay(start, nights, end)
