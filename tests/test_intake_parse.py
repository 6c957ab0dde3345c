"""The intake parser on task sentences: stay, money, count, places, flags, readability.

`now` is fixed to Sunday 2026-12-06 21:00, so every relative date has one right answer. Each
table row is one sentence and what a careful reader would take from it; the last tests check
that every mention's offsets slice the task back to its text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

import moot.intake
from moot.intake import (
    Mention,
    Stay,
    find_count,
    find_flag,
    find_money,
    find_places,
    find_stay,
    looks_readable,
)

NOW = datetime(2026, 12, 6, 21, 0)  # a Sunday
CHOICES = {
    "Lisbon": ["Lisbon", "LIS", "Lisboa"],
    "Porto": ["Porto", "OPO", "Oporto"],
    "Barcelona": ["Barcelona", "BCN"],
    "Madrid": ["Madrid", "MAD"],
    "Nice": ["Nice", "NCE"],
    "New York": ["New York", "NYC"],
}
CUES = {"destination": ["to", "in", "visit", "at", "for"], "origin": ["from", "leaving", "departing", "out of"]}


def d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def value(mention: Mention | None) -> Any:
    return None if mention is None else mention.value


# text, start, nights, end, a fragment of a note or problem that must be there ("" for none)
STAYS: list[tuple[str, str | None, int | None, str | None, str]] = [
    # lengths in words
    ("Plan a 3-day trip to Lisbon under 1500 EUR", None, 2, None, "'3-day trip' read as 2 nights"),
    ("Lisbon for 3 days", None, 2, None, "read as 2 nights"),
    ("three days in Porto", None, 2, None, ""),
    ("two nights in Porto", None, 2, None, ""),
    ("a couple of nights in Madrid", None, 2, None, ""),
    ("a week in Lisbon", None, 7, None, "'a week' read as 7 nights"),
    ("one week in Lisbon", None, 7, None, ""),
    ("for two weeks in Faro", None, 14, None, ""),
    ("a fortnight by the sea", None, 14, None, ""),
    ("overnight in Porto", None, 1, None, ""),
    ("a single night in Porto", None, 1, None, ""),
    ("a few days in Lisbon", None, None, None, "no exact number"),
    ("2-3 nights in Porto", None, None, None, "no exact number"),
    ("3 days 2 nights in Porto", None, 2, None, ""),
    # starts and offsets
    ("next Friday for 4 nights", "2026-12-11", 4, "2026-12-15", "'next Friday' is 2026-12-11"),
    ("in two weeks for 3 nights", "2026-12-20", 3, "2026-12-23", "'in two weeks' is 2026-12-20"),
    ("tomorrow, 3 nights", "2026-12-07", 3, "2026-12-10", ""),
    ("the day after tomorrow for 2 nights", "2026-12-08", 2, "2026-12-10", ""),
    ("5 days from now, 2 nights", "2026-12-11", 2, "2026-12-13", ""),
    ("20/01/2027 for 2 nights", "2027-01-20", 2, "2027-01-22", ""),
    ("12/03/2027 for 2 nights", "2027-03-12", 2, "2027-03-14", "day first"),
    ("Dec 18 for a week, max €2000", "2026-12-18", 7, "2026-12-25", ""),
    ("on the 12th for 3 nights", "2026-12-12", 3, "2026-12-15", "'the 12th' read as 2026-12-12"),
    ("3 nights ending 20 December", "2026-12-17", 3, "2026-12-20", ""),
    ("until Friday, 3 nights", "2026-12-08", 3, "2026-12-11", ""),
    # ranges
    ("from 12 March to 15 March", "2027-03-12", 3, "2027-03-15", ""),
    ("12-15 March in Lisbon", "2027-03-12", 3, "2027-03-15", ""),
    ("March 12 to 15", "2027-03-12", 3, "2027-03-15", ""),
    ("Dec 18-22 in Porto", "2026-12-18", 4, "2026-12-22", ""),
    ("between 3 and 6 January", "2027-01-03", 3, "2027-01-06", ""),
    ("leaving Dec 18, returning Dec 22", "2026-12-18", 4, "2026-12-22", ""),
    ("from 2027-01-10 until 2027-01-14", "2027-01-10", 4, "2027-01-14", ""),
    ("arriving Friday, leaving Sunday", "2026-12-11", 2, "2026-12-13", ""),
    ("Saturday to Monday in Lisbon", "2026-12-12", 2, "2026-12-14", ""),
    ("lisbon 2 nights 15/1 - 17/1", "2027-01-15", 2, "2027-01-17", ""),
    ("Hotel in Porto 20/12/2026 - 23/12/2026", "2026-12-20", 3, "2026-12-23", ""),
    ("check-in 14 Feb, check-out 16 Feb", "2027-02-14", 2, "2027-02-16", ""),
    ("Holiday in Lisboa, Jan 5th-12th", "2027-01-05", 7, "2027-01-12", ""),
    ("Dec 28 to Jan 3", "2026-12-28", 6, "2027-01-03", ""),
    ("from the 18th to the 21st of December", "2026-12-18", 3, "2026-12-21", ""),
    ("12-15 March, 5 nights", "2027-03-12", 3, "2027-03-15", "kept the dates"),
    # weekends
    ("a weekend in Porto", "2026-12-11", 2, "2026-12-13", "starts on Friday 2026-12-11"),
    ("this weekend", "2026-12-11", 2, "2026-12-13", ""),
    ("next weekend in Lisbon", "2026-12-18", 2, "2026-12-20", ""),
    ("a long weekend in Madrid", "2026-12-11", 3, "2026-12-14", ""),
    ("a weekend in Porto from 9 January", "2027-01-09", 2, "2027-01-11", ""),
    # traps: money, counts and vague words are not dates
    ("under 1500 EUR in Lisbon", None, None, None, ""),
    ("budget €2000 for 2 adults", None, None, None, ""),
    ("I may go to Lisbon for 3 nights", None, 3, None, ""),
    ("book now please, 2 nights", None, 2, None, ""),
    ("24/7 reception, 2 nights", None, 2, None, ""),
    ("5 nights, €90 a night", None, 5, None, ""),
    ("in March for 5 days", None, 4, None, "'in March' names no exact day"),
    ("next week for 2 nights", None, 2, None, "names no exact day"),
    ("within two weeks, 4 nights", None, 4, None, "deadline"),
    # problems
    ("30 February for 2 nights", None, 2, None, "'30 February' is not a date"),
    ("2026-13-45 for 2 nights", None, 2, None, "'2026-13-45' is not a date"),
    ("32 December", None, None, None, "'32 December' is not a date"),
    ("12 March 2025, 2 nights", None, 2, None, "is in the past"),
    ("arriving 2026-12-01 for 2 nights", None, 2, None, "is in the past"),
    ("two weeks ago", None, None, None, "is in the past"),
    ("from 15 March to 12 March", "2027-03-15", None, None, "is before the departure"),
    ("a 90-day trip", None, None, None, "a stay is 1 to 30 nights"),
    ("a day trip to Sintra", None, None, None, "0 nights"),
    ("Monday 12 March 2027", None, None, None, "2027-03-12 is a Friday"),
    ("Friday 12 March 2027 for 2 nights", "2027-03-12", 2, "2027-03-14", ""),
    ("a week, 5 nights", None, 5, None, "disagrees"),
]


@pytest.mark.parametrize(("text", "start", "nights", "end", "said"), STAYS)
def test_stay(text: str, start: str | None, nights: int | None, end: str | None, said: str) -> None:
    stay = find_stay(text, NOW)
    assert (value(stay.start), value(stay.nights), value(stay.end)) == (d(start), nights, d(end))
    if said:
        assert any(said in line for line in stay.notes + stay.problems), (stay.notes, stay.problems)
    if stay.start and stay.nights and stay.end:
        assert (stay.end.value - stay.start.value).days == stay.nights.value


@pytest.mark.parametrize(
    "text",
    ["next Friday for 4 nights", "12-15 March", "Dec 18 for a week", "under 1500 EUR", "two nights in Porto"],
)
def test_a_stay_without_problems_says_none(text: str) -> None:
    assert find_stay(text, NOW).problems == ()


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (datetime(2026, 12, 11, 9, 0), "2026-12-11"),  # Friday: this weekend starts today
        (datetime(2026, 12, 12, 9, 0), "2026-12-18"),  # Saturday: too late, the next one
        (datetime(2026, 12, 9, 9, 0), "2026-12-11"),  # Wednesday
    ],
)
def test_weekend_starts_on_the_coming_friday(now: datetime, start: str) -> None:
    stay = find_stay("a weekend in Lisbon", now)
    assert value(stay.start) == d(start)
    assert value(stay.nights) == 2


# text, (amount, currency) or None
MONEY: list[tuple[str, tuple[float, str | None] | None]] = [
    ("Plan a 3-day trip to Lisbon under 1500 EUR", (1500.0, "EUR")),
    ("1500€ for everything", (1500.0, "EUR")),
    ("€1,500 all in", (1500.0, "EUR")),
    ("max €2000", (2000.0, "EUR")),
    ("budget 900 euros", (900.0, "EUR")),
    ("budget of 900", (900.0, None)),
    ("less than 1.5k EUR", (1500.0, "EUR")),
    ("up to 2,000 EUR", (2000.0, "EUR")),
    ("no more than 800.", (800.0, None)),
    ("£600 for two nights", (600.0, "GBP")),
    ("$700 max", (700.0, "USD")),
    ("1200 eur total", (1200.0, "EUR")),
    ("two thousand euros", (2000.0, "EUR")),
    ("between 800 and 1000 EUR", (1000.0, "EUR")),
    ("flight 300 EUR, hotel under 1000 EUR", (1000.0, "EUR")),
    ("under 4 nights", None),
    ("max 2 adults", None),
    ("within 3 days", None),
    ("a 3-day trip on 12 March 2027", None),
    ("Trip in 2027 for 900", None),
    ("Lisbon Dec 18 500 EUR", (500.0, "EUR")),
    ("max 300 CHF", None),
]


@pytest.mark.parametrize(("text", "expected"), MONEY)
def test_money(text: str, expected: tuple[float, str | None] | None) -> None:
    assert value(find_money(text)) == expected


def test_money_takes_the_callers_currencies() -> None:
    assert value(find_money("max 300 CHF", {"CHF": ["chf", "francs"]})) == (300.0, "CHF")
    assert find_money("max 300 CHF", {"EUR": ["€"]}) is None  # an unknown currency is not a bare number


COUNTS: list[tuple[str, int | None]] = [
    ("two people to Lisbon", 2),
    ("for 3 travellers", 3),
    ("2 adults and 1 child", 3),
    ("one adult", 1),
    ("trip for a couple", 2),
    ("me and my wife want to go", 2),
    ("My husband and I", 2),
    ("with my wife and 2 kids", 4),
    ("with 3 friends", 4),
    ("family of four", 4),
    ("a group of 5", 5),
    ("the four of us", 4),
    ("solo trip", 1),
    ("just me", 1),
    ("just me and my friend", 2),
    ("table for four", 4),
    ("Holiday in Lisboa, 2 pax", 2),
    ("Lisbon for two, next Friday", 2),
    ("for four nights", None),
    ("for 4 March", None),
    ("a couple of nights", None),
    ("3 days for 900 EUR", None),
]


@pytest.mark.parametrize(("text", "expected"), COUNTS)
def test_count(text: str, expected: int | None) -> None:
    assert value(find_count(text)) == expected


def test_count_takes_the_callers_nouns() -> None:
    assert value(find_count("3 pilgrims", ["pilgrims"])) == 3
    assert find_count("3 pilgrims") is None


# text, assigned {slot: canonical}, unknown, ambiguous
PLACES: list[tuple[str, dict[str, str], tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, ...]], ...]]] = [
    ("Plan a 3-day trip to Lisbon under 1500 EUR", {"destination": "Lisbon"}, (), ()),
    ("from Porto to Lisbon next Friday", {"destination": "Lisbon", "origin": "Porto"}, (), ()),
    ("Lisbon to Porto for 3 days", {"destination": "Porto", "origin": "Lisbon"}, (), ()),
    ("Porto - Barcelona", {"destination": "Barcelona", "origin": "Porto"}, (), ()),
    ("Lisbon trip for 2 people", {"destination": "Lisbon"}, (), ()),
    ("Lisbon trip from Porto", {"destination": "Lisbon", "origin": "Porto"}, (), ()),
    ("leaving from LIS to OPO", {"destination": "Porto", "origin": "Lisbon"}, (), ()),
    ("trip from lisbon to porto", {"destination": "Porto", "origin": "Lisbon"}, (), ()),
    ("plan a trip to lisboa", {"destination": "Lisbon"}, (), ()),
    ("trip to the lovely city of Porto", {"destination": "Porto"}, (), ()),
    ("a trip to Lisbon and then Lisboa again", {"destination": "Lisbon"}, (), ()),
    ("Visit Porto, flying out of Madrid", {"destination": "Porto", "origin": "Madrid"}, (), ()),
    ("fly to Lisbn for 3 nights", {"destination": "Lisbon"}, (), ()),
    ("Barcelonna weekend", {"destination": "Barcelona"}, (), ()),
    ("Madird for 3 nights", {"destination": "Madrid"}, (), ()),
    ("Home for Christmas", {}, (), ()),
    ("a nice trip to Porto", {"destination": "Porto"}, (), ()),
    ("trip to nice", {"destination": "Nice"}, (), ()),
    ("lis is nice", {}, (), ()),
    ("fly to New York from Lisbon", {"destination": "New York", "origin": "Lisbon"}, (), ()),
    ("a trip to Bahia", {}, (("destination", "Bahia"),), ()),
    ("a trip to bahia for 3 days", {}, (("destination", "bahia"),), ()),
    ("from Springfield to Lisbon", {"destination": "Lisbon"}, (("origin", "Springfield"),), ()),
    ("Springfield to Lisbon", {"destination": "Lisbon"}, (("origin", "Springfield"),), ()),
    ("fly to Rio de Janeiro from Lisbon", {"origin": "Lisbon"}, (("destination", "Rio de Janeiro"),), ()),
    ("plan a trip in March to the Algarve", {}, (("destination", "Algarve"),), ()),
    ("Lisbon for Christmas", {"destination": "Lisbon"}, (), ()),
    ("to Lisbon or Porto", {}, (), (("destination", ("Lisbon", "Porto")),)),
    ("Lisbon, Porto or Madrid", {}, (), (("destination", ("Lisbon", "Porto", "Madrid")),)),
    ("I live in Porto and want to fly to Lisbon", {"destination": "Lisbon"}, (), ()),
    ("Lisbon to Porto and back to Lisbon", {"destination": "Porto", "origin": "Lisbon"}, (), ()),
    ("from Lisbon or Porto to Barcelona", {"destination": "Barcelona"}, (), (("origin", ("Lisbon", "Porto")),)),
    ("Lisbon trip, then Lisbon again", {"destination": "Lisbon"}, (), ()),
    ("flights from London to Lisbon", {"destination": "Lisbon"}, (("origin", "London"),), ()),
]


@pytest.mark.parametrize(("text", "assigned", "unknown", "ambiguous"), PLACES)
def test_places(text: str, assigned: dict[str, str], unknown: tuple[Any, ...], ambiguous: tuple[Any, ...]) -> None:
    reading = find_places(text, CHOICES, CUES)
    assert {slot: m.value for slot, m in reading.assigned.items()} == assigned
    assert reading.unknown == unknown
    assert reading.ambiguous == ambiguous


def test_a_misspelling_is_noted() -> None:
    reading = find_places("fly to Lisbn", CHOICES, CUES)
    assert reading.notes == ("'Lisbn' read as Lisbon",)
    assert reading.assigned["destination"].text == "Lisbn"


def test_a_lower_case_misspelling_needs_a_cue() -> None:
    assert find_places("i like lsibon", CHOICES, CUES).assigned == {}
    assert find_places("go to lsibon", CHOICES, CUES).assigned["destination"].value == "Lisbon"


FLAGS: list[tuple[str, list[str], bool | None]] = [
    ("a room with Free  Cancellation please", ["free cancellation"], True),
    ("free-cancellation", ["free cancellation"], True),
    ("breakfast included", ["breakfast", "half board"], True),
    ("non-refundable is fine", ["refundable"], False),
    ("I don't need breakfast", ["breakfast"], False),
    ("no problem with breakfast", ["breakfast"], True),
    ("a quiet room", ["breakfast"], None),
    ("breakfasts", ["breakfast"], None),
]


@pytest.mark.parametrize(("text", "phrases", "expected"), FLAGS)
def test_flag(text: str, phrases: list[str], expected: bool | None) -> None:
    assert value(find_flag(text, phrases)) is expected


READABLE: list[tuple[str, bool]] = [
    ("Plan a 3-day trip to Lisbon under 1500 EUR", True),
    ("plan a trp to lisbn for 3 dys", True),
    ("lisbon 3 days cheap", True),
    ("Lisbon", True),
    ("hi, can u book me a hotel in lisbon", True),
    ("Planeie uma viagem de 3 dias a Lisboa por menos de 1500 EUR", False),
    ("Organisez un voyage de trois jours à Lisbonne", False),
    ("Planifica un viaje de 3 días a Lisboa", False),
    ("Plane eine Reise nach Lissabon für 3 Tage", False),
    ("Quero ir a Lisboa", False),
    ("asdf qwer zxcv", False),
    ("计划去里斯本旅行三天", False),
    ("Спланируй поездку в Лиссабон", False),
    ("خطط لرحلة إلى لشبونة", False),
    ("", False),
]


@pytest.mark.parametrize(("text", "expected"), READABLE)
def test_looks_readable(text: str, expected: bool) -> None:
    assert looks_readable(text) is expected


def _mentions(text: str) -> list[Mention]:
    stay: Stay = find_stay(text, NOW)
    places = find_places(text, CHOICES, CUES)
    found = [stay.start, stay.nights, stay.end, find_money(text), find_count(text), *places.assigned.values()]
    return [m for m in found if m is not None]


ALL_TEXTS = sorted({row[0] for table in (STAYS, MONEY, COUNTS, PLACES) for row in table})


def test_offsets_slice_the_task() -> None:
    checked = 0
    for text in ALL_TEXTS:
        for mention in _mentions(text):
            assert text[mention.start : mention.end] == mention.text, (text, mention)
            assert mention.text == mention.text.strip(), (text, mention)
            checked += 1
    assert checked > 150


def test_one_sentence_reads_whole() -> None:
    text = "Me and my wife want 5 days in Barcelona from Jan 10, up to 2,500 EUR, leaving from Madrid"
    stay = find_stay(text, NOW)
    assert (value(stay.start), value(stay.nights), value(stay.end)) == (d("2027-01-10"), 4, d("2027-01-14"))
    assert value(find_money(text)) == (2500.0, "EUR")
    assert value(find_count(text)) == 2
    places = find_places(text, CHOICES, CUES)
    assert {slot: m.value for slot, m in places.assigned.items()} == {"destination": "Barcelona", "origin": "Madrid"}


def test_public_surface() -> None:
    assert sorted(moot.intake.__all__) == [
        "DEFAULT_CURRENCIES",
        "DEFAULT_NOUNS",
        "Mention",
        "PlaceReading",
        "Stay",
        "find_count",
        "find_flag",
        "find_money",
        "find_places",
        "find_stay",
        "looks_readable",
    ]
