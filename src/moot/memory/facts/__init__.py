"""Knowledge updates (issue 16): which fact a statement sets, and which value is current.

`keys.py` finds (subject, attribute) and value in a statement by patterns, no model;
`ledger.py` keeps every value of each fact in time order (the last is current); `tracker.py`
is what the MemoryManager calls at ingest (annotate, track, mark each stale value where it
stands in the index); `section.py` renders the current facts first in a recalled context,
dated, with the previous value marked as history.
"""

from moot.memory.facts.keys import FactKey, Statement, attribute_terms, canonical_attribute, extract, normalise
from moot.memory.facts.ledger import FactLedger, Superseded, Version, item_date
from moot.memory.facts.section import FACTS_HEADER, HISTORY_MARK, fact_line, history_mark
from moot.memory.facts.tracker import FactTracker, explicit_statement, statements_of

__all__ = [
    "FACTS_HEADER",
    "HISTORY_MARK",
    "FactKey",
    "FactLedger",
    "FactTracker",
    "Statement",
    "Superseded",
    "Version",
    "attribute_terms",
    "canonical_attribute",
    "explicit_statement",
    "extract",
    "fact_line",
    "history_mark",
    "item_date",
    "normalise",
    "statements_of",
]
