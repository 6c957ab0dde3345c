"""Later-said updates without patterns: same topic, later date, different value (issue 16).

The fact patterns of `keys.py` are precise where they fire, but they only fire on phrasings
someone wrote a pattern for: "Write to ana@x.pt from now on" or "The hotel is confirmed" get no
key, and the older value stays on show as if current. This module is the second signal, with
no patterns and no model: at recall time, among the items about to be shown, an item is
*possibly superseded* when the same person said, on a later day, something about the same
thing with a different value:

- **same person**: both are turns of one speaker who is not the assistant (`NOT_THE_USER`);
  statements, not questions;
- **same topic**: the cosine of their vectors (the index's own, nothing is embedded again) is
  at least `TopicConfig.values_cos` when they differ in a value of one shape, else at least
  `TopicConfig.words_cos` (see below);
- **different value**: each has a value the other lacks, of the same shape: a name (a
  capitalised word not opening a sentence, or an all-capital or mixed-case one such as KLM or
  easyJet), a number (digits only compared, so "+351 912 ..." is one number; up to six digits
  and longer ones are two shapes) or an email address. Values with no shape ("vegan", "cancelled") are caught by words instead, when
  neither text has a shaped value: each has one or two content words the other lacks (one
  slot refilled), and they share one or both lack exactly one, with its own cosine bar. The same
  text said twice is a repetition, not an update. The speakers' own names ("Congrats, John!")
  are not values, and when a value differs neither may have more than `values_max_words`
  content words the other lacks (long turns of one person always differ in some name).

The older item is not dropped (marking never removes evidence from a recall): it is shown in
a history mark, `Ana: (was: "I live in Lisbon.", until 2023-06-06)`, the form `section.HISTORY_MARK` matches, so a reader, or the updates
benchmark, never takes it for current. The thresholds were chosen on the `dev` templates of
`bench/memory/updates.py` only (see bench/README.md, "Issue 16: knowledge updates").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from moot.memory.facts.ledger import item_date
from moot.memory.types import MemoryItem

NOT_THE_USER = frozenset({"assistant", "ai", "bot", "system", "moot", "memory", "summary", "tool"})
"""Speakers whose turns state nothing about the person the memory is about (as in `tracker`)."""

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\+?\d(?:[\d,.]|\s(?=\d))*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_OPENER = re.compile(r"(?:^|[.!?:;]\s+|[\"“(]\s*)$")
STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "i'd", "i'll", "i'm", "i've", "if", "in", "into", "is", "it", "it's", "its", "just", "me", "more", "most", "my", "no", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "still", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "we're", "we've", "were", "what", "when", "where", "which", "while", "who", "why", "will", "with", "would", "you", "you're", "your", "yours", "yet", "really", "got", "get", "gets", "one", "new", "well", "oh", "yeah", "yes", "hey", "hi", "thanks", "thank", "like", "lot", "much", "many", "way", "today", "days", "day", "lately", "currently", "anymore", "ago", "since", "these", "always", "never", "ever", "bye", "goodbye", "see", "ya", "soon", "later", "around", "tomorrow", "take", "care", "thanks", "cheers", "agreed", "sure", "totally", "alright", "okay", "ok", "great", "awesome", "cool", "nice", "good", "glad", "go", "keep", "going", "remember", "em", "let", "us"]
)
"""Words that say nothing of a topic (the content-word overlap ignores them), greetings and
cheers included: "See you later!" and "Thanks! See you around!" are not one slot refilled."""


@dataclass(frozen=True)
class TopicConfig:
    """When two turns of one person count as the same topic with different values."""

    values_cos: float = 0.65
    """cosine bar when the two differ in a value of the same shape (name, number, email)"""
    words_cos: float = 0.6
    """cosine bar when no shaped value differs: they must share a content word and differ in one"""
    values_max_words: int = 5
    """at most this many content words of each that the other lacks when a value differs: two
    long turns always differ in some name; a restated fact differs in its value and phrasing"""
    words_max: int = 2
    """at most this many content words of each that the other lacks: one slot refilled, not a new topic"""
    enabled: bool = True


def _body(item: MemoryItem) -> str:
    """The turn's text without its `Speaker: ` prefix."""
    speaker = str(item.meta.get("speaker") or "")
    prefix = f"{speaker}: "
    return item.text[len(prefix):] if speaker and item.text.startswith(prefix) else item.text


@lru_cache(maxsize=8192)
def values(text: str) -> frozenset[tuple[str, str]]:
    """The shaped values of `text`: ("email", ...), ("number", digits), ("name", word).
    Cached: a recall compares each of its items with every other."""
    out: set[tuple[str, str]] = set()

    def email(match: re.Match[str]) -> str:
        out.add(("email", match.group().lower()))
        return " "

    def number(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if digits:  # an amount and a phone number are not one slot
            out.add(("number" if len(digits) <= 6 else "long number", digits))
        return " "

    rest = _NUMBER.sub(number, _EMAIL.sub(email, text))
    for match in _WORD.finditer(rest):
        word = match.group()
        if word.lower() in STOPWORDS or word.islower():
            continue
        mixed = any(c.isupper() for c in word[1:])
        if mixed or not _OPENER.search(rest[: match.start()]):
            out.add(("name", word))
    return frozenset(out)


@lru_cache(maxsize=8192)
def content_words(text: str) -> frozenset[str]:
    """Lower-cased words that are not stopwords (a crude topic: no stemming, no lexicon)."""
    return frozenset({w for w in (m.group().lower().strip("'-") for m in _WORD.finditer(_EMAIL.sub(" ", text))) if w and w not in STOPWORDS})


def differs(older: str, newer: str, cos: float, config: TopicConfig = TopicConfig(),
            ignore: frozenset[tuple[str, str]] = frozenset()) -> bool:
    """Do two same-person texts of similarity `cos` say different values of one thing?

    `ignore`: values that are no value (the speakers' names: "Congrats, John!").
    """
    if older.strip().lower() == newer.strip().lower():
        return False  # said again: a repetition, not an update
    va, vb = values(older) - set(ignore), values(newer) - set(ignore)
    shapes = {shape for shape, _ in va - vb} & {shape for shape, _ in vb - va}
    names = {value.lower() for _, value in ignore}
    wa, wb = content_words(older) - names, content_words(newer) - names
    pa, pb = wa - wb, wb - wa
    if shapes:
        return cos >= config.values_cos and max(len(pa), len(pb)) <= config.values_max_words
    if va or vb:
        return False  # the same values, or values of other shapes: "a flight to Porto", "a hotel in Porto"
    one_slot = 0 < len(pa) <= config.words_max and 0 < len(pb) <= config.words_max and (
        bool(wa & wb) or len(pa) == len(pb) == 1)
    return one_slot and cos >= config.words_cos


def _speaks(item: MemoryItem) -> str | None:
    speaker = str(item.meta.get("speaker") or "").strip()
    if item.layer != "episodic" or not speaker or speaker.lower() in NOT_THE_USER:
        return None
    return speaker


def later_said(items: Sequence[MemoryItem], vectors: Mapping[str, np.ndarray],
               config: TopicConfig = TopicConfig()) -> dict[str, MemoryItem]:
    """For each item some later item possibly supersedes: the newest such item, by id.

    Only `items` are compared (what a recall is about to show): one matrix product gives every
    pair's cosine, and only pairs above the lower bar are read. Items without a vector in
    `vectors` are left alone.
    """
    if not config.enabled:
        return {}
    said = [(item, who, item_date(item)) for item in items if (who := _speaks(item)) is not None
            and item.id in vectors and not _body(item).rstrip().endswith("?")]
    if len(said) < 2:
        return {}
    speakers = frozenset(("name", who.split()[0]) for _, who, _ in said if who.split())
    bodies = [_body(item) for item, _, _ in said]
    matrix = np.stack([vectors[item.id] for item, _, _ in said])
    cosines = matrix @ matrix.T

    def codes(keys: list[object]) -> np.ndarray:
        seen: dict[object, int] = {}
        return np.array([seen.setdefault(key, len(seen)) for key in keys])

    who, day, text = (codes([row[1] for row in said]), codes([row[2] for row in said]),
                      codes([body.strip().lower() for body in bodies]))
    ts = np.array([item.ts for item, _, _ in said])
    pairs = ((cosines >= min(config.values_cos, config.words_cos)) & (who[:, None] == who[None, :])
             & (day[:, None] != day[None, :]) & (ts[None, :] > ts[:, None])  # said later, on another day
             & (text[:, None] != text[None, :]))  # said again is no update
    out: dict[str, MemoryItem] = {}
    for a, b in zip(*np.nonzero(pairs), strict=True):
        old, new = said[a][0], said[b][0]
        if differs(bodies[a], bodies[b], float(cosines[a, b]), config, speakers):
            best = out.get(old.id)
            if best is None or (new.ts, new.id) > (best.ts, best.id):
                out[old.id] = new
    return out


def _plain(text: str) -> str:
    return text.replace("(", "[").replace(")", "]").replace('"', "'")


def earlier_mark(item: MemoryItem, newer: MemoryItem) -> str:
    """The item as history: `Ana: (was: "I live in Lisbon.", until 2023-06-06)`.

    The same mark as a superseded fact value (`section.history_mark`, which `HISTORY_MARK`
    matches), around the whole turn: it may say more than the value that changed, and it is
    kept. The newer turn is in the same recall (only recalled items are compared), under that
    date; the mark costs a few tokens, which a full budget takes from its last item.
    """
    speaker = str(item.meta.get("speaker") or "")
    prefix = f"{speaker}: " if speaker else ""
    return f'{prefix}(was: "{_plain(_body(item))}", until {item_date(newer)})'


def as_history(facts: list[tuple[str, MemoryItem]], episodic: list[MemoryItem], later: Mapping[str, MemoryItem]
               ) -> tuple[list[tuple[str, MemoryItem]], list[MemoryItem]]:
    """A recall's current-fact lines and episodic items, every item in `later` shown as history.

    A current fact whose item a later turn possibly supersedes leaves the current facts (it is
    no longer sure to be current) and joins the episodic items, in time order; an episodic item
    is marked where it stands. Nothing is dropped.
    """
    if not later:
        return facts, episodic
    demoted = [item for _, item in facts if item.id in later]
    marked = [replace(item, text=earlier_mark(item, later[item.id])) if item.id in later else item
              for item in [*episodic, *demoted]]
    if demoted:
        marked.sort(key=lambda item: (item.ts, item.id))
    return [(line, item) for line, item in facts if item.id not in later], marked


__all__ = ["STOPWORDS", "TopicConfig", "as_history", "content_words", "differs", "earlier_mark", "later_said", "values"]
