"""Fact keys (issue 16): which (subject, attribute) a statement sets, by pattern, with no model."""

from __future__ import annotations

import pytest

from moot.memory.facts.keys import FactKey, attribute_terms, canonical_attribute, extract, normalise

STATES = [
    ("I moved to Porto", "home", "Porto"),
    ("My address is now Rua Augusta 12, Lisbon", "home", "Rua Augusta 12"),
    ("I live in Lisbon", "home", "Lisbon"),
    ("Btw, I've just relocated to Berlin.", "home", "Berlin"),
    ("We've been living in Oslo for years.", "home", "Oslo"),
    ("I'm based in Oslo these days", "home", "Oslo"),
    ("Our new address is 5 Main Street.", "home", "5 Main Street"),
    ("my budget is 1500 EUR", "budget", "1500 EUR"),
    ("I can spend up to 2400 EUR in total.", "budget", "2400 EUR"),
    ("I'm vegetarian now", "diet", "vegetarian"),
    ("I eat a vegan diet.", "diet", "vegan"),
    ("we cancelled the hotel booking", "hotel booking", "cancelled"),
    ("We booked the hotel in Faro", "hotel booking", "booked"),
    ("my favourite airline is TAP", "favourite airline", "TAP"),
    ("My favorite airline is Vueling, by far.", "favourite airline", "Vueling"),
    ("TAP is my favourite airline.", "favourite airline", "TAP"),
    ("I work at Siemens now", "employer", "Siemens"),
    ("I work for Siemens as an engineer.", "employer", "Siemens"),
    ("I just joined Google.", "employer", "Google"),
    ("I got hired by Bosch.", "employer", "Bosch"),
    ("my phone number changed to 555-1234", "phone number", "555-1234"),
    ("Call me on +351 912 345 678.", "phone number", "+351 912 345 678"),
    ("My email is zeno.oak86@inbox.net.", "email", "zeno.oak86@inbox.net"),
    ("I switched my phone plan to Vodafone", "phone plan", "Vodafone"),
    ("I've got married!", "relationship", "married"),
]


@pytest.mark.parametrize(("text", "attribute", "value"), STATES)
def test_first_person_statements_set_the_speakers_attribute(text: str, attribute: str, value: str) -> None:
    found = {str(s.key): s.value for s in extract(text, "Ana")}
    assert found.get(f"ana|{attribute}") == value, found


@pytest.mark.parametrize(
    "text",
    [
        "My sister is visiting next week",
        "my flight is delayed",
        "My coffee is getting cold",
        "My phone is almost out of battery.",
        "Where do you live?",
        "I'm not vegan anymore.",
        "I have 3 kids and spend 20 minutes on budget",
        "I always fly with my family.",
        "",
        "   ",
    ],
)
def test_passing_states_questions_and_negations_set_nothing(text: str) -> None:
    assert [str(s.key) for s in extract(text, "ana") if s.key.attribute in ("home", "phone number", "diet", "budget", "favourite airline")] == []


def test_memories_written_about_the_user_use_the_user_as_subject() -> None:
    assert [(str(s.key), s.value) for s in extract("User moved to Madrid.")] == [("user|home", "Madrid")]
    assert [(str(s.key), s.value) for s in extract("The user's budget is 1800 EUR")] == [("user|budget", "1800 EUR")]


def test_one_turn_can_state_several_facts_and_synonyms_fold() -> None:
    found = {str(s.key): s.value for s in extract("My favorite color is blue and I live in Rome", "Ana")}
    assert found == {"ana|home": "Rome", "ana|favourite color": "blue"}
    assert canonical_attribute("Preferred  Airline") == "favourite airline"
    assert canonical_attribute("mobile number") == "phone number"
    assert FactKey.parse(str(FactKey("ana", "home"))) == FactKey("ana", "home")


def test_questions_reach_attributes_by_their_words() -> None:
    assert "live" in attribute_terms("home") and "airline" in attribute_terms("favourite airline")
    assert normalise("Quick update:   I live\nin Porto") == "I live in Porto"


def test_a_huge_turn_is_scanned_only_at_its_start() -> None:
    assert [s.value for s in extract("I live in Lisbon. " + "blah " * 200_000 + "I moved to Porto.", "ana")] == ["Lisbon"]


@pytest.mark.parametrize(
    "text",
    [
        "Last weekend I joined a mentorship program for LGBTQ youth.",
        "I made vegan ice cream last Friday and shared it.",
        "I joined a nearby church.",
    ],
)
def test_memberships_and_dishes_are_not_jobs_or_diets(text: str) -> None:
    """Seen on LoCoMo: 'joined a club' is not an employer, 'vegan ice cream' is not a diet."""
    assert extract(text, "ana") == []
