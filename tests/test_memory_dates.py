"""Relative dates resolved against the day an item was said, and dated questions that find them."""

from __future__ import annotations

from datetime import date

import pytest

from moot.memory.embedder import get_embedder
from moot.memory.retrieval import HybridIndex, RecallConfig, Retriever
from moot.memory.retrieval.dates import Span, anchor_of, asks_when, query_keys, resolve
from moot.memory.types import Embedder, MemoryItem

MON_8_MAY = date(2023, 5, 8)  # a Monday


def days(text: str, anchor: date) -> list[tuple[str, str]]:
    return [(span.start.isoformat(), span.grain) for span in resolve(text, anchor)]


@pytest.mark.parametrize(("text", "anchor", "expected"), [
    ("I went to a LGBTQ support group yesterday", MON_8_MAY, [("2023-05-07", "day")]),
    ("we hiked last night", MON_8_MAY, [("2023-05-07", "day")]),
    ("the day before yesterday", MON_8_MAY, [("2023-05-06", "day")]),
    ("see you tomorrow", date(2023, 12, 31), [("2024-01-01", "day")]),
    ("yesterday", date(2024, 3, 1), [("2024-02-29", "day")]),  # leap year
    ("yesterday", date(2023, 3, 1), [("2023-02-28", "day")]),
    ("last Saturday", date(2023, 5, 6), [("2023-04-29", "day")]),  # said on a Saturday: a week ago
    ("last Saturday", date(2023, 5, 7), [("2023-05-06", "day")]),  # said on a Sunday: yesterday
    ("next Friday", date(2023, 5, 5), [("2023-05-12", "day")]),  # said on a Friday: a week on
    ("this Sunday", MON_8_MAY, [("2023-05-14", "day")]),
    ("last month", date(2023, 3, 31), [("2023-02-01", "month")]),  # month ends do not overflow
    ("next month", date(2023, 1, 31), [("2023-02-01", "month")]),
    ("next month", date(2023, 12, 31), [("2024-01-01", "month")]),
    ("last year", MON_8_MAY, [("2022-01-01", "year")]),
    ("two weeks ago", MON_8_MAY, [("2023-04-24", "week")]),
    ("a couple of weeks ago", MON_8_MAY, [("2023-04-24", "week")]),
    ("3 days ago", date(2023, 3, 2), [("2023-02-27", "day")]),
    ("five years ago", MON_8_MAY, [("2018-01-01", "year")]),
    ("in two months", date(2023, 11, 30), [("2024-01-01", "month")]),
    ("last week", MON_8_MAY, [("2023-05-01", "week")]),
    ("this past weekend", MON_8_MAY, [("2023-05-06", "weekend")]),
    ("two weekends ago", MON_8_MAY, [("2023-04-29", "weekend")]),
    ("on 3 June, 2022", MON_8_MAY, [("2022-06-03", "day")]),
    ("on May 7th", MON_8_MAY, [("2023-05-07", "day")]),
    ("back in March", MON_8_MAY, [("2023-03-01", "month")]),
    ("in December", MON_8_MAY, [("2022-12-01", "month")]),  # the last December before it was said
    ("since 2019", MON_8_MAY, [("2019-01-01", "year")]),
    ("on February 29", date(2024, 5, 8), [("2024-02-29", "day")]),
])
def test_resolves_common_expressions(text: str, anchor: date, expected: list[tuple[str, str]]) -> None:
    assert days(text, anchor) == expected


@pytest.mark.parametrize("text", [
    "I may go", "on Saturday we went out", "February 31 does not exist", "on February 29", "a few days ago", "", "\udce9",
])
def test_reads_nothing_it_cannot_resolve_exactly(text: str) -> None:
    assert resolve(text, MON_8_MAY) == []


def test_dates_at_the_ends_of_the_calendar_are_skipped_not_raised() -> None:
    text = "last year, yesterday, this week, next year, tomorrow, in 5 years, 3 days ago, on 1 May"
    for anchor in (date.min, date.max):
        for span in resolve(text, anchor):
            assert span.index_keys()


def test_keys_cover_every_day_of_a_week_and_the_months_it_spans() -> None:
    keys = Span(date(2023, 4, 24), "week").index_keys()
    assert keys[:7] == [f"2023-04-{d}" for d in range(24, 31)]
    assert set(keys[7:]) == {"2023-04", "2023", "m04"}
    assert Span(date(2023, 5, 31), "weekend").index_keys()[:2] == ["2023-05-31", "2023-06-01"]
    assert Span(date(2022, 1, 1), "year").index_keys() == ["2022"]


def test_anchor_is_the_meta_date_else_the_day_of_ts() -> None:
    assert anchor_of("8 May 2023", 0.0) == MON_8_MAY
    assert anchor_of("2023-05-08", 0.0) == MON_8_MAY
    assert anchor_of("not a date", 1_683_504_000.0) == MON_8_MAY
    assert anchor_of(None, 0.0) is None
    assert anchor_of(None, 1e30) is None and anchor_of(None, float("nan")) is None


def test_query_keys_and_when_questions() -> None:
    assert query_keys("What exciting news did Maria share on 16 June, 2023?") == ["2023-06-16"]
    assert query_keys("What did Joanna watch on October 25, 2022?") == ["2022-10-25"]
    assert query_keys("When did Melanie go camping in July?") == ["m07"]
    assert query_keys("Where did Joanna travel to in July 2022?") == ["2022-07"]
    assert query_keys("What may I do?") == []
    assert asks_when("When did Caroline go to the support group?")
    assert asks_when("In what year did Nate adopt a dog?")
    assert asks_when("How long ago did Nate adopt a dog?")
    assert asks_when("What dog did Nate adopt?") is False


# -- recall ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder("minilm")


def said(item_id: str, day: str, text: str) -> MemoryItem:
    return MemoryItem(id=item_id, layer="episodic", text=text, user_id="u", session_id=f"u/{day}",
                      meta={"seq": 0, "speaker": "Caroline", "date": day})


def test_a_dated_question_finds_the_turn_that_said_yesterday(embedder: Embedder) -> None:
    index = HybridIndex(embedder)
    # The same words on two days: only the date the turn resolves to tells them apart. The other
    # one is added first, so that a tie would favour it.
    index.add([said("june", "19 June 2023", "Caroline: I went to a LGBTQ support group yesterday.")])
    index.add([said("may", "8 May 2023", "Caroline: I went to a LGBTQ support group yesterday.")])
    one_item = embedder.count_tokens("[8 May 2023]\nCaroline: I went to a LGBTQ support group yesterday.")
    question = "Where did Caroline go on 7 May 2023?"
    assert Retriever(index).recall("u", question, one_item).ids == ["may"]
    assert Retriever(index).recall("u", "Where did Caroline go on 18 June 2023?", one_item).ids == ["june"]
    off = Retriever(index, RecallConfig(date_boost=1.0, when_boost=0.0))
    assert off.recall("u", question, one_item).ids == ["june"]  # without dates the tie goes to the first


def test_recall_shows_the_turn_as_it_was_said(embedder: Embedder) -> None:
    index = HybridIndex(embedder)
    index.add([said("may", "8 May 2023", "Caroline: I went to a LGBTQ support group yesterday.")])
    recalled = Retriever(index).recall("u", "What did Caroline do on 7 May 2023?", 1000)
    assert recalled.text == "[8 May 2023]\nCaroline: I went to a LGBTQ support group yesterday."
