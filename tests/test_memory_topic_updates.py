"""Knowledge updates without patterns (issue 16, `moot.memory.facts.topics`): a later turn of the
same person on the same topic with a different value shows the earlier one as history, for
phrasings no fact pattern knows; different facts on similar topics and repetitions are left alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from memorytools import CHATTER, DAY, T0

from moot.memory.embedder import get_embedder
from moot.memory.facts import HISTORY_MARK, extract
from moot.memory.facts.topics import (
    TopicConfig,
    content_words,
    differs,
    earlier_mark,
    later_said,
    values,
)
from moot.memory.manager import MemoryManager
from moot.memory.types import MemoryItem


@pytest.fixture(scope="module")
def embedder() -> Any:
    return get_embedder("wordllama")


def said(manager: MemoryManager, lines: list[tuple[int, str]], speaker: str = "Ana") -> None:
    for i, (day, text) in enumerate(lines):
        manager.add_turn("ana", f"s{day}", speaker, text, ts=T0 + day * DAY + i,
                         date=f"2023-{5 + day // 30:02d}-{7 + day % 30:02d}", turn_id=f"t{i}")
    for i, text in enumerate(CHATTER):
        manager.add_turn("ana", "s1", speaker, text, ts=T0 + DAY + i, date="2023-05-08", turn_id=f"c{i}")


def shown_as_current(text: str, value: str) -> bool:
    return value in HISTORY_MARK.sub("", text)


async def test_an_update_no_pattern_knows_shows_the_earlier_value_as_history(embedder: Any) -> None:
    old, new = "The hotel is confirmed.", "Just so you know, the hotel got cancelled."
    assert not extract(old, "Ana") and not extract(new, "Ana")  # the patterns see nothing here
    manager = MemoryManager(embedder=embedder)
    said(manager, [(0, old), (40, new)])

    text = (await manager.recall("s9", "ana", "What is the status of Ana's hotel booking?", 400)).text
    assert shown_as_current(text, "cancelled")
    assert not shown_as_current(text, "confirmed")
    assert "Ana: (was: \"The hotel is confirmed.\", until 2023-06-17)" in text
    # nothing is dropped: the earlier turn is still in the recall, as history
    assert "confirmed" in text


async def test_a_current_fact_a_later_unkeyed_turn_contradicts_leaves_the_current_facts(embedder: Any) -> None:
    """The patterns key the first statement; the update has no key: the fact line must not stay "current"."""
    old, new = "My favourite airline is KLM.", "Honestly my favourite airline is Finnair these days."
    manager = MemoryManager(embedder=embedder)
    said(manager, [(0, old), (40, new)])
    text = (await manager.recall("s9", "ana", "Which airline does Ana prefer now?", 400)).text
    assert shown_as_current(text, "Finnair")
    assert not shown_as_current(text, "KLM")


@pytest.mark.parametrize("first, second", [
    ("I booked a flight to Porto.", "I booked a hotel in Porto."),  # two facts, one place
    ("I mostly fly KLM.", "I mostly fly KLM, always."),  # the same value again
    ("I mostly fly KLM.", "I mostly fly KLM."),  # said again word for word
])
async def test_near_misses_are_not_marked(embedder: Any, first: str, second: str) -> None:
    manager = MemoryManager(embedder=embedder)
    said(manager, [(0, first), (40, second)])
    found = await manager.recall("s9", "ana", "Tell me about Ana's trip and flights.", 400)
    assert "(was: \"" not in found.text
    assert first in found.text


async def test_the_assistant_and_other_speakers_supersede_nothing(embedder: Any) -> None:
    manager = MemoryManager(embedder=embedder)
    manager.add_turn("ana", "s0", "Ana", "The hotel is confirmed.", ts=T0, date="2023-05-07", turn_id="a")
    manager.add_turn("ana", "s1", "Assistant", "The hotel is cancelled.", ts=T0 + 9 * DAY, date="2023-05-16", turn_id="b")
    manager.add_turn("ana", "s2", "Bo", "The hotel got cancelled.", ts=T0 + 19 * DAY, date="2023-05-26", turn_id="c")
    text = (await manager.recall("s9", "ana", "What is the status of the hotel booking?", 400)).text
    assert "(was: \"" not in text


def test_same_day_and_questions_are_not_updates() -> None:
    def item(i: str, text: str, day: str, ts: float) -> MemoryItem:
        return MemoryItem(id=i, layer="episodic", text=f"Ana: {text}", user_id="ana", session_id="s", ts=ts,
                          meta={"speaker": "Ana", "date": day})

    v = np.ones(4, dtype=np.float32) / 2.0
    same_day = [item("a", "I live in Lisbon.", "2023-05-07", 1.0), item("b", "I live in Porto.", "2023-05-07", 2.0)]
    assert later_said(same_day, {"a": v, "b": v}) == {}
    asked = [item("a", "I live in Lisbon.", "2023-05-07", 1.0), item("b", "Do you live in Porto?", "2023-06-07", 2.0)]
    assert later_said(asked, {"a": v, "b": v}) == {}
    moved = [item("a", "I live in Lisbon.", "2023-05-07", 1.0), item("b", "I live in Porto.", "2023-06-07", 2.0)]
    assert later_said(moved, {"a": v, "b": v})["a"].id == "b"
    assert later_said(moved, {"a": v, "b": v}, TopicConfig(enabled=False)) == {}
    mark = earlier_mark(moved[0], moved[1])
    assert mark.startswith("Ana: ") and HISTORY_MARK.fullmatch(mark.removeprefix("Ana:")) and "Lisbon" in mark


def test_values_and_slots() -> None:
    assert values("Write to ana.sun3@mail.pt, or call +351 912 345 678.") == {
        ("email", "ana.sun3@mail.pt"), ("long number", "351912345678")}
    assert values("Budget's gone up to 1800 EUR, and we fly KLM to Porto.") == {
        ("number", "1800"), ("name", "EUR"), ("name", "KLM"), ("name", "Porto")}
    assert values("Work has been hectic lately.") == set()  # a capital that opens a sentence is not a name
    assert content_words("My diet is keto these days.") == {"diet", "keto"}
    assert differs("I live in Lisbon.", "I moved to Porto.", 0.7)
    assert not differs("I live in Lisbon.", "I moved to Porto.", 0.5)
    assert not differs("My phone is +351 912 345 678.", "My budget is 1800 EUR.", 0.9)  # a phone is not an amount
    assert not differs("We booked the hotel.", "It was sunny at the beach.", 0.7)  # two new topics, not a slot
    assert differs("I'm pescatarian.", "I'm vegetarian now.", 0.7)  # one slot refilled
    assert not differs("Congrats, John! I live in Lisbon.", "Hey Joanna! I live in Lisbon.", 0.9,
                       ignore=frozenset({("name", "John"), ("name", "Joanna")}))  # names of the speakers
    assert not differs("I went to Lisbon with my sister and we saw the old castle and the river.",
                       "I went to Porto for a concert, the band played all night and it was loud.", 0.8)  # long turns
