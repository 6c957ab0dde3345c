"""Intake: read a travel task's slots with code (dates, nights, budget, travellers, places, flags).

A 135M model is unreliable at pulling these out of a sentence, so code reads what it can and says
what it could not; the intake step asks the model (or the user) only for the rest.
"""

from moot.intake.parse import (
    DEFAULT_CURRENCIES,
    DEFAULT_NOUNS,
    Mention,
    PlaceReading,
    Stay,
    find_count,
    find_flag,
    find_money,
    find_places,
    find_stay,
    looks_readable,
)

__all__ = [
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
