"""Links between items that name the same things: entities at ingest, a link score at query time.

Evidence for a multi-hop question sits in several sessions and rarely shares the question's
words; it shares *things* with the evidence that does: "since I moved from my home country"
(found by the question's words) and "a gift from my grandma in my home country, Sweden" (not
found by them) both name "home country". At ingest every item gets entity keys, without a model:

- `n:` proper-noun sequences not at a sentence start ("Sweden", "Pacific Northwest");
- `p:` pairs of adjacent content words, stemmed, a cheap normalised noun phrase
  ("home country", "support group", "4 year");
- `t:` the dates its time expressions resolve to against the day it was said (`dates.py`);
- `s:` the day it was said (for questions that name a date, never for links).

The shard keeps an inverted map key → rows. At query time the first hop's best rows (and the
question's own keys) name a set of keys; every other row scores the idf-weighted sum of the keys
it shares with that set. A key held by more than `max_rows` live rows links too much to mean
anything ("Caroline", "this year") and is skipped, which also caps the fan-out at 100,000 rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from moot.memory.retrieval.dates import MONTHS, WEEKDAYS, Span, anchor_of, resolve
from moot.memory.retrieval.text import STOP_WORDS, stem
from moot.memory.types import MemoryItem

if TYPE_CHECKING:
    from moot.memory.retrieval.shard import Shard

_CLAUSE = re.compile(r"([.!?;:,()\[\]\"“”—–]+|\s-\s)")
_SENTENCE_END = re.compile(r"[.!?:]")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_PREFIX = re.compile(r"^\s*[A-Z][\w .'-]{0,40}:\s")
"""a "Speaker: " prefix, which names who said it (a metadata field), not what it is about"""

_NOT_NAMES = STOP_WORDS | set(MONTHS) | set(WEEKDAYS)
"""capitalised words that are not names: dates are read by `dates.py`"""

LINK_PREFIXES = ("n:", "p:", "t:")
"""the kinds of key that link items; `s:` (the day an item was said) only answers dated questions"""


def _words(clause: str) -> list[tuple[str, bool]]:
    """(word, capitalised) of a clause, possessive 's dropped."""
    out = []
    for m in _TOKEN.finditer(clause):
        word = m.group().replace("’", "'")
        if word.lower().endswith("'s"):
            word = word[:-2]
        out.append((word, word[:1].isupper()))
    return out


def text_keys(text: str) -> list[str]:
    """`n:` and `p:` keys of a text (see the module docstring), each once, in order."""
    keys: dict[str, None] = {}
    parts = _CLAUSE.split(_PREFIX.sub("", text, count=1))
    for at in range(0, len(parts), 2):
        sentence_start = at == 0 or _SENTENCE_END.search(parts[at - 1]) is not None
        words = _words(parts[at])
        run: list[str] = []
        for i, (word, capital) in enumerate(words + [("", False)]):
            lower = word.lower()
            if capital and (i > 0 or not sentence_start) and lower not in _NOT_NAMES and word != "I":
                run.append(lower)
                continue
            if run:
                keys["n:" + " ".join(run)] = None
                run = []
        content = [(w.lower(), w.lower() not in STOP_WORDS and (len(w) > 2 or w.isdigit())) for w, _ in words]
        for (a, ok_a), (b, ok_b) in zip(content, content[1:]):
            if ok_a and ok_b:
                keys[f"p:{stem(a)} {stem(b)}"] = None
    return list(keys)


def item_keys(item: MemoryItem) -> list[str]:
    """Every key of an item: its text's, its resolved dates (`t:`) and the day it was said (`s:`)."""
    keys = text_keys(item.text)
    anchor = anchor_of(item.meta.get("date"), item.ts) if item.session_id or item.meta.get("date") else None
    if anchor is not None:
        for span in resolve(item.text, anchor):
            keys.extend("t:" + key for key in span.keys())
        keys.extend("s:" + key for key in Span(anchor, "day").keys())
    return list(dict.fromkeys(keys))


def link_scores(shard: Shard, seeds: Iterable[int], extra: Iterable[str], mask: np.ndarray,
                max_rows: int) -> np.ndarray:
    """Per row, the idf-weighted keys it shares with the `seeds` rows' keys and the `extra` keys.

    Seeds score 0 themselves (they are already ranked); the result is scaled to a maximum of 1.
    """
    n = shard.n
    seeds = list(seeds)
    wanted: dict[int, float] = {}
    for row in seeds:
        for key in shard.row_keys[row].tolist():
            wanted[key] = wanted.get(key, 0.0) + 1.0
    for name in extra:
        key = shard.key_ids.get(name)
        if key is not None:
            wanted[key] = wanted.get(key, 0.0) + 1.0
    total = max(int(mask.sum()), 1)
    rows_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    for key, count in wanted.items():
        if not shard.key_names[key].startswith(LINK_PREFIXES):
            continue
        postings = shard.key_postings[key]
        rows = postings.rows[: postings.n]
        rows = rows[mask[rows]]
        if len(rows) < 2 or len(rows) > max_rows:
            continue
        rows_parts.append(rows)
        weight_parts.append(np.full(len(rows), count * math.log(total / len(rows)), dtype=np.float64))
    if not rows_parts:
        return np.zeros(n)
    scores = np.bincount(np.concatenate(rows_parts), weights=np.concatenate(weight_parts), minlength=n)[:n]
    scores[seeds] = 0.0
    top = float(scores.max())
    return scores / top if top > 0 else scores


__all__ = ["LINK_PREFIXES", "item_keys", "link_scores", "text_keys"]
