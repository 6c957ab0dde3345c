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
question's own keys) name a set of keys; every other row scores the scaled idf of the keys it
shares with that set, summed and capped at 1. A key held by more than `max_rows` live rows
links too much to mean anything ("Caroline", "this year") and is skipped, which also caps the
fan-out at 100,000 rows. Most word pairs are noise, so links are a light nudge: measured on
LoCoMo at weight 0.1, multi-hop all-evidence recall 0.479 → 0.500 (MiniLM), 0.352 → 0.387
(WordLlama); at 0.3 they hurt (bench/README.md, "Issue 16").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Protocol

import numpy as np

from moot.memory.retrieval.dates import MONTHS, WEEKDAYS, Span, anchor_of, resolve
from moot.memory.retrieval.text import STOP_WORDS, stem
from moot.memory.types import MemoryItem



class _Rows(Protocol):
    """A postings list: its first `n` entries of `rows` are the rows holding the term or key."""

    n: int
    rows: np.ndarray


class KeyedRows(Protocol):
    """What `link_scores` reads of a shard (moot.memory.retrieval.shard.Shard). A protocol, not
    an import: the shard imports this module to key its items at ingest."""

    n: int
    postings: Mapping[str, _Rows]
    key_ids: Mapping[str, int]
    key_names: Sequence[str]
    key_postings: Sequence[_Rows]
    row_keys: Sequence[np.ndarray]

_CLAUSE = re.compile(r"([.!?;:,()\[\]\"“”—–]+|\s-\s)")
_SENTENCE_END = re.compile(r"[.!?:]")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_PREFIX = re.compile(r"^\s*[A-Z][\w .'-]{0,40}:\s")
"""a "Speaker: " prefix, which names who said it (a metadata field), not what it is about"""

_NOT_NAMES = STOP_WORDS | set(MONTHS) | set(WEEKDAYS)
"""capitalised words that are not names: dates are read by `dates.py`"""

KEY_CHARS = 4_000
"""keys are read from an item's first characters: a turn is far shorter, and a 1 MB paste would
take seconds to analyse for links it cannot make (it never fits a recall budget anyway)"""

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
        for (a, ok_a), (b, ok_b) in pairwise(content):
            if ok_a and ok_b:
                keys[f"p:{stem(a)} {stem(b)}"] = None
    return list(keys)


def item_keys(item: MemoryItem) -> list[str]:
    """Every key of an item: its text's, its resolved dates (`t:`) and the day it was said (`s:`)."""
    text = item.text[:KEY_CHARS]
    keys = text_keys(text)
    anchor = anchor_of(item.meta.get("date"), item.ts) if item.session_id or item.meta.get("date") else None
    if anchor is not None:
        for span in resolve(text, anchor):
            keys.extend("t:" + key for key in span.index_keys())
        keys.extend("s:" + key for key in Span(anchor, "day").index_keys())
    return list(dict.fromkeys(keys))


def _idf(shard: KeyedRows, term: str, mask: np.ndarray, total: int) -> float:
    postings = shard.postings.get(term)
    df = int(mask[postings.rows[: postings.n]].sum()) if postings else 0
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


def link_scores(shard: KeyedRows, seeds: Iterable[int], extra: Iterable[str], mask: np.ndarray,
                max_rows: int) -> np.ndarray:
    """Per row, how much it shares with the `seeds` rows' keys and the `extra` (query) keys.

    Each shared key adds its idf scaled to [0, 1] (a key of one other row adds nearly 1), a
    word pair also times its commoner word's scaled idf; the sum is capped at 1. Not scaled by
    the best row: one rare shared key is a link whatever else shares more. Seeds score 0
    (they are ranked already).
    """
    n = shard.n
    seeds = list(seeds)
    wanted = {key for row in seeds for key in shard.row_keys[row].tolist()}
    wanted.update(shard.key_ids[name] for name in extra if name in shard.key_ids)
    total = max(int(mask.sum()), 1)
    rows_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    scale = math.log(total + 1)
    for key in wanted:
        postings = shard.key_postings[key]
        if not shard.key_names[key].startswith(LINK_PREFIXES) or postings.n > 4 * max_rows:
            continue  # (removed rows stay in postings: a key far over the cap is not even masked)
        rows = postings.rows[: postings.n]
        rows = rows[mask[rows]]
        if len(rows) < 2 or len(rows) > max_rows:
            continue
        weight = math.log(total / len(rows)) / scale
        name = shard.key_names[key]
        if name.startswith("p:"):  # "super thankful" is rare as a pair, not as words: weigh by its commoner word
            weight *= min(_idf(shard, word, mask, total) for word in name[2:].split(" ")) / scale
        rows_parts.append(rows)
        weight_parts.append(np.full(len(rows), weight, dtype=np.float64))
    if not rows_parts:
        return np.zeros(n)
    scores = np.bincount(np.concatenate(rows_parts), weights=np.concatenate(weight_parts), minlength=n)[:n]
    scores[seeds] = 0.0
    return np.minimum(scores, 1.0)


__all__ = ["KEY_CHARS", "LINK_PREFIXES", "KeyedRows", "item_keys", "link_scores", "text_keys"]
