"""Places in a task, matched against the caller's choices and assigned to slots by cue words.

The caller owns both lists: `choices` (canonical value to aliases, from a server's enum) and
`cues` (slot to the words that introduce it, the required slot first). The rules:

- An alias matches as whole words in any case; an upper-case alias of up to four letters (an
  airport code, "LIS") matches only in upper case, so "lis" in a word or "to" never does. An
  alias that is an everyday English word ("nice", "split", "reading") counts in lower case only
  right after a cue.
- A misspelling ("Lisbn", "Barcelonna", "Lsibon") is accepted when it is capitalised or right after
  a cue, at least four letters long, starts with the same letter, and is close to one alias only:
  at least 85% similar (difflib's ratio), or, for aliases of five letters or more, one typo away
  (a swap of two letters is one typo); a note says how it was read.
- A mention takes the slot of the cue before it, up to three filler words back ("to the lovely
  city of Porto"), within its clause. A cue after a travel word ("trip to", "fly from") or a
  "visit" is strong; when two places claim one slot, the strong cue wins, and a tie is ambiguous
  (nothing assigned, the candidates reported): "to Lisbon or Porto".
- A mention right after "or", "and", "/" or a comma that follows a cued mention shares its cue.
- "X to Y" (or "X - Y", "X -> Y") with no cue before X: X takes the slot whose cues hold "from",
  Y the one whose cues hold "to".
- A mention with no cue takes the first slot, in `cues` order, that is still free.
- The same place named twice counts once.
- For a slot still empty: a capitalised name after one of its cues that is not a choice, a month,
  a weekday, a holiday or an everyday word is `unknown` (slot, name): "a trip to Bahia"; names of
  several words are taken whole ("New York", "Rio de Janeiro"). After a strong cue a lower-case
  word right after the cue counts too ("trip to bahia"). "Springfield to Lisbon" makes
  Springfield the unknown "from" place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from moot.intake.mention import Mention, phrase_pattern
from moot.intake.words import COMMON_WORDS, HOLIDAYS, MONTHS, WEEKDAYS

__all__ = ["FUZZY_THRESHOLD", "PlaceReading", "find_places"]

FUZZY_THRESHOLD = 0.85
"""The least difflib ratio at which a word is read as a misspelt choice ("Lisbn" to "Lisbon" is 0.91)."""
_MAX_EDITS = 1
"""Or: at most this many edits, a swap of two letters counting as one ("Lsibon", "Madird"), from five letters."""


@dataclass(frozen=True)
class PlaceReading:
    """The places read from a task: by slot, unknown names, ambiguous slots, and how they were read."""

    assigned: dict[str, Mention]
    """Slot to the mention whose value is the canonical choice."""
    unknown: tuple[tuple[str, str], ...]
    """(slot, name) for a name after the slot's cue that is not among the choices."""
    ambiguous: tuple[tuple[str, tuple[str, ...]], ...]
    """(slot, canonical candidates) when two places claim one slot equally; the slot is not assigned."""
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Found:
    mention: Mention
    slot: str | None
    strength: int  # 0 no cue, 1 cue, 2 strong cue


_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_CLAUSE = re.compile(r"[.;:!?()\n,]")
_TRAVEL = frozenset(
    """trip trips fly flying flight flights go going travel travelling traveling journey holiday vacation
    getaway heading head move moving drive driving train bus ticket tickets tour get return returning
    ride sail cruise""".split()
)
_STRONG_CUES = frozenset({"visit", "visiting"})
_CONNECTORS = frozenset("de da do dos das del della di la le les el upon on am sur en of y".split())
_NOT_NAMES = COMMON_WORDS | frozenset(MONTHS) | frozenset(WEEKDAYS) | HOLIDAYS | frozenset(
    "i i'm eur usd gbp chf euro euros dollar dollars pound pounds aunt uncle grandma grandpa parents family friends".split()
)
_JOINER = re.compile(r"^\s*(?:,|/|&|or|and|or\s+maybe|or\s+perhaps|maybe)\s*$", re.IGNORECASE)
_ARROW = re.compile(r"^\s*(?:to|-|–|—|→|->|>)\s*$", re.IGNORECASE)


def _is_code(alias: str) -> bool:
    return alias.isalpha() and alias.isupper() and len(alias) <= 4


def _normal(alias: str) -> str:
    return re.sub(r"[\s-]+", " ", alias.strip().lower())


@lru_cache(maxsize=32)
def _alias_index(key: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[list[tuple[re.Pattern[str], bool]], dict[str, str]]:
    """Two patterns (names in any case, codes in upper case) and matched text to canonical value.

    One alternation per kind, longest alias first, compiled once per set of choices: a server's
    enum can hold hundreds of places, and a pattern per alias would overflow `re`'s cache.
    """
    lookup: dict[str, str] = {}
    names: list[str] = []
    codes: list[str] = []
    for canonical, aliases in key:
        for alias in dict.fromkeys([canonical, *aliases]):
            if not alias.strip():
                continue
            code = _is_code(alias)
            lookup.setdefault(alias if code else _normal(alias), canonical)
            (codes if code else names).append(alias)
    patterns = []
    for group, is_code in ((names, False), (codes, True)):
        if group:
            body = "|".join(r"[\s-]+".join(map(re.escape, a.split())) for a in sorted(set(group), key=len, reverse=True))
            patterns.append((re.compile(rf"(?<!\w)(?:{body})(?!\w)", 0 if is_code else re.IGNORECASE), is_code))
    return patterns, lookup


def _exact(text: str, choices: Mapping[str, Sequence[str]]) -> list[Mention]:
    """Every alias occurrence, longest first where they overlap; value is the canonical choice."""
    patterns, lookup = _alias_index(tuple((c, tuple(a)) for c, a in choices.items()))
    hits = [
        Mention.of(text, m.start(), m.end(), lookup[m[0] if is_code else _normal(m[0])])
        for pattern, is_code in patterns
        for m in pattern.finditer(text)
    ]
    kept: list[Mention] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
        if not any(hit.start < k.end and k.start < hit.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


class _Cues:
    """The caller's cue words, and where one stands before a position in the text."""

    def __init__(self, text: str, cues: Mapping[str, Sequence[str]]) -> None:
        self.text = text
        self.slots = list(cues)
        self.phrases = [(slot, tuple(c.lower().split())) for slot, words in cues.items() for c in words if c.strip()]
        self.cue_words = {w for _, phrase in self.phrases for w in phrase}
        self.to_slot = next((s for s, p in self.phrases if p == ("to",)), None)
        self.from_slot = next((s for s, p in self.phrases if p == ("from",)), None)

    def before(self, start: int, floor: int = 0) -> tuple[str, int] | None:
        """(slot, strength) of the cue before `start`, skipping up to three filler words."""
        clause = self.text[floor:start]
        cut = max((m.end() for m in _CLAUSE.finditer(clause)), default=0)
        words = [w.lower() for w in _TOKEN.findall(clause[cut:])]
        for skip in range(0, min(3, len(words)) + 1):
            if skip and words[-skip].isdigit():
                break  # a number is no filler: "to 3 days Porto" has no cue
            head = words[: len(words) - skip]
            matches = [(slot, p) for slot, p in self.phrases if len(p) <= len(head) and tuple(head[-len(p) :]) == p]
            if matches:
                slot, phrase = max(matches, key=lambda item: len(item[1]))
                prior = head[-len(phrase) - 1] if len(head) > len(phrase) else ""
                strong = prior in _TRAVEL or phrase[-1] in _STRONG_CUES
                return slot, 2 if strong else 1
        return None


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _fuzzy(text: str, choices: Mapping[str, Sequence[str]], exact: list[Mention], cues: _Cues) -> list[tuple[Mention, str]]:
    """Misspelt choices: (mention, note) for each close-enough capitalised or cued word run."""
    tokens = list(_TOKEN.finditer(text))
    aliases = [(c, a.lower()) for c, al in choices.items() for a in dict.fromkeys([c, *al]) if not _is_code(a)]
    found: list[tuple[Mention, str]] = []
    for i, token in enumerate(tokens):
        word = token[0]
        if word.lower() in _NOT_NAMES or len(word) < 4 or not word[0].isalpha():
            continue
        if any(token.start() < m.end and m.start < token.end() for m in exact + [f[0] for f in found]):
            continue
        if not (word[0].isupper() or cues.before(token.start())):
            continue
        scores: dict[str, tuple[float, int]] = {}
        for canonical, alias in aliases:
            n = alias.count(" ") + 1
            if i + n > len(tokens):
                continue
            window = text[token.start() : tokens[i + n - 1].end()]
            candidate = re.sub(r"[\s-]+", " ", window.lower())
            if candidate[0] != alias[0] or abs(len(candidate) - len(alias)) > 2 or candidate == alias:
                continue
            ratio = SequenceMatcher(None, candidate, alias).ratio()
            if ratio < FUZZY_THRESHOLD and len(alias) >= 5 and _edits(candidate, alias) <= _MAX_EDITS:
                ratio = FUZZY_THRESHOLD  # one typo; a swap is one, where difflib counts two
            if ratio >= FUZZY_THRESHOLD and ratio > scores.get(canonical, (0.0, 0))[0]:
                scores[canonical] = (ratio, tokens[i + n - 1].end())
        ranked = sorted(scores.items(), key=lambda item: -item[1][0])
        if ranked and (len(ranked) == 1 or ranked[0][1][0] - ranked[1][1][0] > 0.02):
            canonical, (_, end) = ranked[0]
            mention = Mention.of(text, token.start(), end, canonical)
            found.append((mention, f"'{mention.text}' read as {canonical}"))
    return found


def _name_after(text: str, at: int, strong: bool, taken: list[Mention]) -> tuple[int, int] | None:
    """The span of an unknown place name starting after position `at`, or None."""
    tokens = list(_TOKEN.finditer(text, at))
    i = 0
    gap = text[at : tokens[0].start()] if tokens else ""
    if not tokens or _CLAUSE.search(gap):
        return None
    while i < min(3, len(tokens)) and tokens[i][0].islower() and tokens[i][0] in _NOT_NAMES:
        i += 1  # fillers: "to the lovely Algarve"
    run: list[re.Match[str]] = []
    lower = i == 0 and strong and tokens[0][0].islower()
    for token in tokens[i:]:
        word = token[0]
        if run and _CLAUSE.search(text[run[-1].end() : token.start()]):
            break
        if any(token.start() < m.end and m.start < token.end() for m in taken) or word.isdigit():
            break
        if lower:
            if word.lower() in _NOT_NAMES and word.lower() not in _CONNECTORS or len(run) == 3 or not word.isalpha():
                break
        elif not word[0].isupper():
            if not (run and word in _CONNECTORS):
                break
        elif word.lower() in MONTHS or word.lower() in WEEKDAYS:
            break
        run.append(token)
    while run and run[-1][0] in _CONNECTORS:
        run.pop()
    if not run or all(t[0].lower() in _NOT_NAMES for t in run) or (lower and len(run[0][0]) < 3):
        return None
    return run[0].start(), run[-1].end()


def find_places(text: str, choices: Mapping[str, Sequence[str]], cues: Mapping[str, Sequence[str]]) -> PlaceReading:
    """Read the places of a task and assign them to the caller's slots (rules in the module docstring)."""
    reader = _Cues(text, cues)
    notes: list[str] = []
    exact = [
        m for m in _exact(text, choices) if not (m.text.islower() and m.text in COMMON_WORDS and not reader.before(m.start))
    ]  # "a nice trip" is not Nice
    fuzzy = _fuzzy(text, choices, exact, reader)
    notes += [note for _, note in fuzzy]
    mentions = sorted(exact + [m for m, _ in fuzzy], key=lambda m: m.start)

    found: list[_Found] = []
    for i, mention in enumerate(mentions):
        floor = mentions[i - 1].end if i else 0
        cue = reader.before(mention.start, floor)
        if cue is None and found and found[-1].slot and _JOINER.match(text[mentions[i - 1].end : mention.start]):
            cue = (found[-1].slot, found[-1].strength)
        found.append(_Found(mention, *(cue or (None, 0))))
    for i in range(len(found) - 1):  # "X to Y"
        x, y = found[i], found[i + 1]
        if x.slot is None and reader.from_slot and reader.to_slot and _ARROW.match(text[x.mention.end : y.mention.start]):
            found[i] = _Found(x.mention, reader.from_slot, 1)
            if y.slot is None:
                found[i + 1] = _Found(y.mention, reader.to_slot, 1)

    claim: dict[str, _Found] = {}  # one claim per place: the strongest cue, else the first
    for f in found:
        if f.slot and f.strength > (claim[f.mention.value].strength if f.mention.value in claim else 0):
            claim[f.mention.value] = f
    found = [f for f in found if f.slot is None or claim.get(f.mention.value) is f]

    assigned: dict[str, Mention] = {}
    ambiguous: list[tuple[str, tuple[str, ...]]] = []
    used: set[str] = set()
    for slot in reader.slots:
        claims = [f for f in found if f.slot == slot and f.mention.value not in used]
        if not claims:
            continue
        best = max(f.strength for f in claims)
        top = list(dict.fromkeys(f.mention.value for f in claims if f.strength == best))
        if len(top) > 1:
            ambiguous.append((slot, tuple(top)))
            used.update(top)
            continue
        assigned[slot] = next(f.mention for f in claims if f.mention.value == top[0])
        used.add(top[0])
        for f in claims:
            if f.mention.value not in used:
                notes.append(f"'{f.mention.text}' was not used: '{assigned[slot].text}' is the {slot}")
                used.add(f.mention.value)
    blocked = {slot for slot, _ in ambiguous}
    for group in _uncued_groups(text, [f for f in found if f.slot is None and f.mention.value not in used]):
        group = [m for m in group if m.value not in used]  # the same place named twice counts once
        values = tuple(dict.fromkeys(m.value for m in group))
        if not values:
            continue
        used.update(values)
        free = next((s for s in reader.slots if s not in assigned and s not in blocked), None)
        if free is None:
            notes += [f"'{m.text}' was not used: every place slot is already filled" for m in group]
        elif len(values) > 1:  # "Lisbon, Porto or Faro": a choice the user has to make
            ambiguous.append((free, values))
            blocked.add(free)
        else:
            assigned[free] = group[0]

    unknown = _unknown(text, reader, cues, mentions, assigned, blocked)
    return PlaceReading(assigned, tuple(unknown), tuple(ambiguous), tuple(dict.fromkeys(notes)))


def _uncued_groups(text: str, found: list[_Found]) -> list[list[Mention]]:
    """Mentions without a cue, grouped when a comma, "or" or "and" joins them ("Lisbon or Porto")."""
    groups: list[list[Mention]] = []
    for f in found:
        if groups and _JOINER.match(text[groups[-1][-1].end : f.mention.start]):
            groups[-1].append(f.mention)
        else:
            groups.append([f.mention])
    return groups


def _unknown(
    text: str,
    reader: _Cues,
    cues: Mapping[str, Sequence[str]],
    mentions: list[Mention],
    assigned: dict[str, Mention],
    blocked: set[str],
) -> list[tuple[str, str]]:
    """(slot, name) for names after the cues of slots that are still empty."""
    unknown: list[tuple[str, str]] = []
    for slot, words in cues.items():
        if slot in assigned or slot in blocked:
            continue
        for cue in words:
            for match in re.finditer(phrase_pattern(cue), text, re.IGNORECASE):
                prior = _TOKEN.findall(text[: match.start()])[-1:]
                strong = bool(prior and prior[0].lower() in _TRAVEL) or cue.lower() in _STRONG_CUES
                span = _name_after(text, match.end(), strong, mentions)
                if span and (slot, text[span[0] : span[1]]) not in unknown:
                    unknown.append((slot, text[span[0] : span[1]]))
    origin, destination = reader.from_slot, reader.to_slot
    if origin and destination and origin not in assigned and origin not in blocked and destination in assigned:
        target = assigned[destination]
        before = re.search(r"((?:[A-Z][^\W\d_]*(?:['’-][^\W\d_]+)*\s+){1,3})to\s+$", text[: target.start])
        if before and reader.before(before.start()) is None:
            names = [w for w in before[1].split() if w.lower() not in _NOT_NAMES]
            if names and not any(n == (origin, " ".join(names)) for n in unknown):
                unknown.append((origin, " ".join(names)))
    return unknown
