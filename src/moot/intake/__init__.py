"""Intake: read a travel task's slots with code, not with the model.

A 135M model is unreliable at pulling dates, budgets and places out of a sentence, so code reads
what it can, says how it read it (`notes`) and what is wrong (`problems`), and leaves the rest
empty for the intake step to ask for. Every reader is deterministic and built to generalise to
phrasings it has not seen: English patterns plus the caller's own lists (places, cue words,
currencies, flag phrases); no place name is built in.

One concept per module, re-exported here (the public surface):

- `find_stay` (moot.intake.stay): first day, nights, last day, from dates (moot.intake.dates)
  and lengths (moot.intake.durations), read on a text masked of money and traveller counts.
- `find_money` (moot.intake.money), `find_count` (moot.intake.count), `find_flag`
  (moot.intake.flags), `find_places` (moot.intake.places).
- `looks_readable` (moot.intake.readable): whether the English patterns apply at all; when it is
  False, "nothing found" means "could not read", not "not said".

Each value is a `Mention` (moot.intake.mention): the value, and the exact text and offsets it came
from. Measured: the first `find_stay` that needs dateparser pays its start-up (~0.3 s import,
~0.14 s first search); later calls take a few milliseconds, and tasks with no weekday or
"today"/"tomorrow" never call it.
"""

from moot.intake.count import DEFAULT_NOUNS, find_count
from moot.intake.flags import find_flag
from moot.intake.mention import Mention
from moot.intake.money import DEFAULT_CURRENCIES, find_money
from moot.intake.places import PlaceReading, find_places
from moot.intake.readable import looks_readable
from moot.intake.stay import Stay, find_stay

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
