"""Text analysis for lexical retrieval: terms for BM25, and the capitalised names a query mentions.

Deliberately small and deterministic (no model, no download): lowercase word tokens, English
stop words dropped, a light suffix stemmer so that "painted", "painting" and "paints" meet.
The same function analyses documents and queries, so an imperfect stem still matches itself.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:['’]s)?\b")

_STOP_TEXT = """
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't could couldn't did didn't do does doesn't doing don't
down during each few for from further had hadn't has hasn't have haven't having he he'd he'll
he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is
isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only or
other ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't
so some such than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those through to too under until up very was wasn't we we'd
we'll we're we've were weren't what what's when when's where where's which while who who's whom
why why's will with won't would wouldn't you you'd you'll you're you've your yours yourself
yourselves also just really yeah yes oh hey hi hello thanks thank like got get gonna lot
much many would've one ones thing things something anything kind sure well still even ever
s t ll re ve d m
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_VOWEL = re.compile(r"[aeiouy]")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English suffix stemmer (Porter step-1 flavour); stable, not linguistically exact."""
    w = word
    if len(w) <= 3:
        return w
    if w.endswith(("'s", "’s")):
        w = w[:-2]
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and _VOWEL.search(w[: -len(suffix)]):
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def terms(text: str) -> list[str]:
    """The BM25 terms of a text, in order, repeats kept (term frequency matters)."""
    out = []
    for match in _WORD.finditer(text):
        word = match.group().lower().replace("’", "'")
        if word in STOP_WORDS or (len(word) < 2 and not word.isdigit()):
            continue
        out.append(stem(word))
    return out


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))


def mentioned(query: str, values: dict[str, int]) -> list[int]:
    """Codes of the `values` (lowercased strings → code) named in `query` as whole words.

    Used to find which speakers, people or places a question is about, e.g. the codes of
    "melanie" in "What activities does Melanie partake in?".
    """
    words = {m.group().lower().replace("’", "'") for m in _WORD.finditer(query)}
    words |= {w[:-2] for w in words if w.endswith("'s")}
    return [code for value, code in values.items() if value in words]


def strip_words(text: str, words: set[str]) -> str:
    """`text` without the whole words (lowercase, possessive 's too) in `words`."""

    def keep(match: re.Match[str]) -> str:
        word = match.group().lower().replace("’", "'")
        return "" if word in words or word.removesuffix("'s") in words else match.group()

    return re.sub(r"\s{2,}", " ", _WORD.sub(keep, text)).strip()


_TOGETHER = re.compile(r"\b(?:together|between|each other|one another)\b", re.IGNORECASE)
"""a question about what people did with each other asks about one thing, not one per person"""


def joined(query: str, values: list[str]) -> bool:
    """Whether `query` names two of `values` side by side in a list ("Jon and Gina", "Jon, Gina").

    The sign that a question asks about each of them ("What do Jon and Gina both like?"), not
    about one of them and something of the other's ("What did Jon give Gina?").
    """
    if len(values) < 2 or _TOGETHER.search(query):
        return False
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    pattern = rf"\b(?:{alternatives})(?:['’]s)?\s*(?:,\s*and|,|and|&|or|as well as)\s+(?:{alternatives})\b"
    return re.search(pattern, query, re.IGNORECASE) is not None


def names(text: str) -> list[str]:
    """Capitalised words that are not sentence starts or stop words: cheap proper-noun guesses."""
    found = []
    for match in _NAME.finditer(text):
        start = match.start()
        before = text[:start].rstrip()
        if not before or before[-1] in ".!?\"'":
            continue
        word = match.group().lower().replace("’", "'").removesuffix("'s")
        if word not in STOP_WORDS:
            found.append(word)
    return found


_PRONOUNS = {"he": "I", "she": "I", "him": "me", "his": "my", "her": "my", "hers": "mine",
             "himself": "myself", "herself": "myself", "they": "we", "them": "us", "their": "our",
             "theirs": "ours", "themselves": "ourselves"}
_AGREE = re.compile(r"\b(?:(does|has|is)\s+(I|we)|(I|we)\s+(does|has|is))\b", re.IGNORECASE)
_VERB = {("i", "does"): "do", ("i", "has"): "have", ("i", "is"): "am",
         ("we", "does"): "do", ("we", "has"): "have", ("we", "is"): "are"}


def first_person(query: str, people: list[str], pronouns: bool = True) -> str:
    """The question as the person it asks about would say it: "What activities does Melanie
    partake in?" → "What activities do I partake in?".

    Why: memories of a dialogue are first-person lines ("Melanie: I signed up for a pottery
    class"), while questions about them are third-person. Dropping the name (what recall did
    before) leaves a subjectless query; saying it in the speaker's voice moves the query vector
    towards the lines in which that person tells about themself. `people` are the mentioned
    names (lowercase) in the order to voice them: the first becomes I/my, any other one you/your
    (the other side of a dialogue), names listed together ("Jon and Gina") we/our. With
    `pronouns`, third-person pronouns (he, her, their ...) are voiced too. No model: a word map.
    """
    if not people:
        return query
    alternatives = "|".join(re.escape(p) for p in sorted(people, key=len, reverse=True))
    listed = re.compile(rf"\b(?:{alternatives})(['’]s)?(?:\s*(?:,\s*and|,|and|&)\s+(?:{alternatives})(['’]s)?)+\b",
                        re.IGNORECASE)
    text = listed.sub(lambda m: "our" if m.group(m.lastindex or 1) else "we", query)
    first = people[0]

    def voice(match: re.Match[str]) -> str:
        word = match.group()
        low = word.lower().replace("’", "'")
        base = low.removesuffix("'s")
        if base in people:
            possessive = low.endswith("'s")
            if base == first:
                return "my" if possessive else "I"
            return "your" if possessive else "you"
        if pronouns and low in _PRONOUNS:
            return _PRONOUNS[low]
        return word

    text = _WORD.sub(voice, text)

    def agree(match: re.Match[str]) -> str:
        if match.group(1):
            verb, who = match.group(1), match.group(2)
            fixed = _VERB[(who.lower(), verb.lower())]
            return f"{fixed.capitalize() if verb[0].isupper() else fixed} {who}"
        who, verb = match.group(3), match.group(4)
        return f"{who} {_VERB[(who.lower(), verb.lower())]}"

    return re.sub(r"\s{2,}", " ", _AGREE.sub(agree, text)).strip()


__all__ = ["STOP_WORDS", "first_person", "joined", "mentioned", "names", "stem", "strip_words", "term_counts", "terms"]
