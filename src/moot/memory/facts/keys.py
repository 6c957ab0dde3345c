"""Fact keys: which (subject, attribute) a statement sets, read by a small set of patterns.

A new value supersedes an old one only when both set the same attribute of the same subject
("I live in Lisbon", later "I moved to Porto": both set the speaker's `home`). Finding that key
must not need a model (the embedded chat model has 135M parameters and tests have none), so it
is done here by regular expressions over a normalised sentence, in five families:

- **verbs of state**: live / reside / am based in, moved / relocated to → `home`; work at / for,
  joined <Name> → `employer`; cancelled / booked / confirmed the X → `X booking`;
- **possessives**: "my X is / are / is now / has changed to Y" (and "Y is my X") → attribute `X`,
  for any X that is a short noun phrase (favourite airline, budget, phone number, ...), with
  synonyms folded (`address` and `city` are `home`, `favorite` and `preferred` are `favourite`);
- **states**: "I'm vegetarian now", "I am vegan" → `diet` (a small lexicon of diets and of
  relationship states);
- **typed cues**: an attribute's word and a value of its shape in one sentence ("call me on
  +351 ...", "I can spend up to 2400 EUR", "I've gone vegan");
- **third person**, for memories written about the user (LangMem's facts read "User lives in
  Porto", "The user's budget is 1500 EUR"): the same verbs and possessives with "the user" as
  subject.

Precision matters as much as recall: a false statement marks a true value as history. Passing
states ("my coffee is getting cold"), memberships ("I joined a book club") and dishes ("vegan
ice cream") state nothing; on LoCoMo's 2,760 turns 32 state a fact.

First-person statements are about the speaker: `subject` is the speaker's name, lowercased
(the MemoryManager passes it; semantic facts use "user"). Only the first statement per attribute
in a sentence is kept. The patterns were written against their own examples
(`tests/test_memory_fact_keys.py`) and the `dev` templates of `bench/memory/updates.py`; its
held-out template sets were written apart, and their numbers (bench/README.md, issue 16) say
how far the patterns generalise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SCAN = 2_000
"""Characters of a text that are scanned: statements sit in ordinary turns, not in pasted files."""


@dataclass(frozen=True, order=True)
class FactKey:
    """What a statement sets: an attribute of a subject, both lowercase."""

    subject: str
    attribute: str

    def __str__(self) -> str:
        return f"{self.subject}|{self.attribute}"

    @classmethod
    def parse(cls, text: str) -> FactKey:
        """The inverse of `str(key)` (keys travel in JSON metadata as strings)."""
        subject, _, attribute = text.partition("|")
        return cls(subject, attribute)


@dataclass(frozen=True)
class Statement:
    """One statement found in a text: its key and the value it sets (as written)."""

    key: FactKey
    value: str


SYNONYMS: dict[str, str] = {
    "address": "home", "home address": "home", "city": "home", "home city": "home", "residence": "home",
    "place": "home", "home town": "home", "hometown": "home", "current city": "home", "location": "home",
    "job": "employer", "company": "employer", "workplace": "employer", "work": "employer", "office": "employer",
    "phone": "phone number", "number": "phone number", "mobile": "phone number", "mobile number": "phone number",
    "cell": "phone number", "cell number": "phone number", "telephone number": "phone number",
    "email address": "email", "e-mail": "email", "e-mail address": "email", "mail": "email",
    "travel budget": "budget", "trip budget": "budget", "total budget": "budget", "max budget": "budget",
    "eating": "diet", "food preference": "diet", "dietary preference": "diet",
}
"""Attribute names that mean the same thing, folded to one (after `favourite` spelling is folded)."""

TRIGGERS: dict[str, tuple[str, ...]] = {
    "home": ("live", "lives", "living", "home", "address", "city", "moved", "reside", "based", "where"),
    "employer": ("work", "works", "working", "employer", "job", "company"),
    "diet": ("diet", "eat", "eats", "vegetarian", "vegan", "food"),
    "phone number": ("phone", "number", "call"),
    "email": ("email", "mail"),
    "relationship": ("relationship", "married", "single", "partner"),
}
"""Words of a question that ask about an attribute without naming it ("where does Ana live")."""

DIETS = (
    "vegetarian", "vegan", "pescatarian", "pescetarian", "flexitarian", "omnivore", "omnivorous", "keto", "paleo",
)
"""Diets, one at a time (restrictions such as gluten-free or kosher can hold beside one, so they
are not values of `diet`)."""
RELATIONSHIP = ("married", "single", "engaged", "divorced", "widowed", "in a relationship")

_FILLER = re.compile(
    r"^(?:(?:well|so|oh|ok|okay|hey|hi|btw|by the way|fyi|actually|also|anyway|quick update|update|news|"
    r"just so you know|just to let you know|heads up|small change|one more thing|oh and|and)[\s,:;!-]+)+",
    re.I,
)
_END = r"(?=\s*(?:[.,;!?)](?!\w)|\s(?:and|but|because|since|so|which|where|who|as of|from now|starting|until|for now|"
_END += r"with|for|as|now|again|anymore|these days|at the moment|currently|nowadays|instead|too|though)\b|$))"
_VALUE = r"(?P<value>[^\s.,;!?](?:[^.,;!?]|[.,](?=\w)){0,60}?)" + _END
"""a value ends at a clause boundary; a dot or comma inside a word (an email, 1,500) does not end it"""
_WE = r"(?:i|we)"
_HAVE = r"(?:'ve|\s+have|\s+had)?(?:\s+been)?"
_ADV = r"(?:\s+(?:just|recently|finally|now|currently|still|actually|officially|already|also))*"
_THIRD = r"(?:the\s+)?user"

_BE = r"(?:'m|'re|\s+am|\s+are|\s+is)"
_DIET = "|".join(re.escape(d) for d in DIETS)
_NAME = r"(?-i:[A-Z][\w&-]*(?:\s[A-Z][\w&-]*)*)"
"""a proper name, capitalised even in a case-blind pattern"""


def _verb(attribute: str, subject: str, before: str, verbs: str, after: str) -> tuple[str, re.Pattern[str]]:
    """`<subject><before><adverbs> <verbs><after>`: one statement whose verb names the attribute."""
    return attribute, re.compile(rf"\b(?P<subj>{subject}){before}{_ADV}\s+(?:{verbs}){after}", re.I)


_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    _verb("home", rf"{_WE}|{_THIRD}", _HAVE, r"moved|relocated|moving|relocating|moves|relocates",
          rf"(?:\s+(?:back|over|house|home))?\s+(?:to|into)\s+(?:the\s+)?{_VALUE}"),
    _verb("home", rf"{_WE}|{_THIRD}", f"{_BE}?{_HAVE}", r"live|lives|living|reside|resides|residing|based|settled|located",
          rf"\s+(?:now\s+)?in\s+{_VALUE}"),
    _verb("employer", rf"{_WE}|{_THIRD}", rf"(?:'m|\s+am|\s+is|\s+got|\s+was|\s+were|\s+get)?{_HAVE}",
          r"work|works|working|employed|hired", rf"(?:\s+now)?\s+(?:at|for|by|with)\s+{_VALUE}"),
    _verb("employer", rf"{_WE}|{_THIRD}", _HAVE, r"joined|joins", rf"\s+(?P<value>{_NAME})"),
    _verb("employer", rf"{_WE}|{_THIRD}", _HAVE, r"started\s+(?:working\s+)?at|(?:started|took|got|accepted|"
          r"landed)\s+a\s+(?:new\s+)?(?:job|position|role)\s+(?:at|with)", rf"\s+{_VALUE}"),
    _verb("diet", rf"i|{_THIRD}", r"(?:'m|\s+am|\s+is)", rf"(?:(?:a|an|fully|strictly|now)\s+)*(?P<value>{_DIET})", r"\b"),
    _verb("favourite airline", rf"{_WE}|{_THIRD}", r"(?:\s+(?:always|usually|mostly|only))?",
          r"fly|flies|prefer\s+flying|prefers\s+flying", rf"\s+(?:with\s+)?(?P<value>{_NAME})"),
    _verb("relationship", rf"i|{_THIRD}", r"(?:'m|\s+am|\s+is|\s+got|'ve\s+got|\s+have\s+got)",
          f"(?P<value>{'|'.join(re.escape(r) for r in RELATIONSHIP)})", r"\b"),
]
"""(attribute, pattern) for statements whose attribute the verb names."""

_BOOKING = re.compile(
    rf"\b(?P<subj>{_WE}|{_THIRD}){_HAVE}{_ADV}\s+(?P<value>cancell?ed|booked|rebooked|confirmed|reserved|postponed|"
    rf"rescheduled|called off|dropped)\s+(?:the|my|our|their|his|her)\s+(?P<attr>[a-z][a-z -]{{1,30}}?)"
    rf"(?:\s+(?:booking|reservation))?{_END}",
    re.I,
)
_POSSESSIVE = re.compile(
    rf"\b(?P<subj>my|our|(?:the\s+)?user's)\s+(?:new\s+|current\s+|updated\s+|present\s+)?(?P<attr>[a-z][a-z -]{{1,30}}?)"
    rf"\s+(?:is|are|'s|has\s+(?:now\s+)?(?:changed|switched|moved)\s+to|has\s+become|became|changed\s+to|"
    rf"switched\s+to|will\s+be|is\s+going\s+to\s+be)\s+(?:now\s+|actually\s+|officially\s+|no\s+longer\s+\S+\s+but\s+)*"
    rf"(?:in\s+|at\s+)?{_VALUE}",
    re.I,
)
_INVERTED = re.compile(
    rf"(?P<value>\b[A-Z][\w&.@-]*(?:\s[A-Z][\w&.@-]*)*)\s+(?:is|are)\s+(?:now\s+|still\s+)?(?P<subj>my|our|the\s+user's)\s+"
    rf"(?:new\s+)?(?P<attr>[a-z][a-z -]{{1,30}}?){_END}"
)
"""'TAP is my favourite airline': the value first (a name, capitalised), then the possessive."""
_SWITCH = re.compile(
    rf"\b(?P<subj>{_WE}|{_THIRD}){_HAVE}{_ADV}\s+(?:switched|changed|moved|updated)\s+(?:my|our|the|their)\s+"
    rf"(?P<attr>[a-z][a-z -]{{1,30}}?)\s+to\s+{_VALUE}",
    re.I,
)

_MONEY = (r"(?:[$€£]\s?\d[\d,.]*k?|\d[\d,.]*\s?k?\s?(?:eur|euros?|usd|dollars?|gbp|pounds?|chf)\b|\d{3,}[\d,.]*)")
_CUES: list[tuple[str, re.Pattern[str], re.Pattern[str]]] = [
    ("phone number", re.compile(r"\b(?:phone|number|mobile|cell|call me|text me|reach me|whatsapp)\b", re.I),
     re.compile(r"\+?\d[\d ()-]{6,}\d")),
    ("email", re.compile(r"\b(?:e-?mail|mail|reach me|contact me|write to me|write me)\b", re.I),
     re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("budget", re.compile(r"\b(?:budget|spend|afford)\b", re.I), re.compile(_MONEY, re.I)),
    ("diet", re.compile(r"\b(?:i|i'm|i've|me|my|we|we're)\b", re.I),
     re.compile(rf"\b(?:(?:been|being|become|became|gone|went|turned|stay|stayed|eat|eats|eating|follow|follows|"
                rf"following|on)\s+(?:a\s+|an\s+)?(?:(?:strict|strictly|fully|mostly)\s+)?(?P<value>{_DIET})\b|"
                rf"(?P<diet>{_DIET})\s+(?:diet|lifestyle)\b)", re.I)),
]
"""Typed attributes found by a cue word and a value of the right shape anywhere in the sentence
("call me on +351 912 ...", "I can spend up to 2400 EUR", "I eat a vegan diet"), for
phrasings the verb patterns do not know. The shape keeps the cue honest: "my email inbox is a
mess" has no address in it; a diet needs a verb of being, becoming or eating before it ("I made
vegan ice cream" is about ice cream)."""
_NEGATED = re.compile(r"\b(?:not|no longer|n't|never|stopped being|quit being|gave up being)\b", re.I)

_NOT_ATTRIBUTES = frozenset(
    "day week weekend trip flight time life mood head back coffee tea dog cat kid kids son daughter wife husband "
    "friend friends sister brother mother father mom dad mum parents family boss team plan plans idea question "
    "point guess feeling opinion problem issue bad fault pleasure turn".split()
)
"""Possessive heads that name a thing or a person, not an attribute ("my sister is visiting")."""
_NOT_VALUES = re.compile(
    r"^(?:so|very|really|too|quite|almost|nearly|about to|a bit|kind of|sort of|out of|getting|going|not|great|good|"
    r"fine|ok|okay|nice|bad|terrible|awesome|amazing|lovely|late|early|cold|hot|busy|tired|broken|delayed|over|"
    r"done|that|this|it|[a-z]+ing)\b"
)
"""Values that read as a passing state, not a fact ("my coffee is getting cold"); lowercase only,
so names ending in -ing ("Vueling", "Beijing") are still values."""
SHAPES: dict[str, re.Pattern[str]] = {
    "phone number": re.compile(r"(?:\d\D?){5,}"),
    "email": re.compile(r"\S@\S"),
    "budget": re.compile(r"\d"),
}
"""What a value of these attributes must look like ("my phone is almost out of battery" is not a number)."""
_SPACES = re.compile(r"\s+")
_PLACE = re.compile(r"\s+(?:in|at|for|on|with|from|to|near)\s.*$", re.I)
"""what follows the thing booked ("the hotel in Faro" books the hotel)"""
_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)


def normalise(text: str) -> str:
    """One line, curly quotes straightened, leading fillers ("btw,", "quick update:") removed."""
    text = text[:MAX_SCAN].replace("’", "'").replace("‘", "'").replace("`", "'")
    return _FILLER.sub("", _SPACES.sub(" ", text).strip())


def canonical_attribute(attr: str) -> str:
    """`attr` lowercased, single-spaced, favourite spelled one way, synonyms folded."""
    attr = _SPACES.sub(" ", attr.lower().strip(" -"))
    attr = re.sub(r"\b(?:favorite|preferred|fave|fav)\b", "favourite", attr)
    return SYNONYMS.get(attr, attr)


def value_norm(value: str) -> str:
    """A value as compared for equality: lowercase, single-spaced, no leading article."""
    return _ARTICLE.sub("", _SPACES.sub(" ", value.lower()).strip())


def _subject(word: str, speaker: str) -> str:
    word = word.lower()
    return "user" if "user" in word else speaker


def _clean_value(value: str) -> str:
    return _ARTICLE.sub("", value.strip(" '\"-")).strip()


def extract(text: str, speaker: str = "user") -> list[Statement]:
    """The statements of `text` said by `speaker` (first person means the speaker), in order.

    At most one statement per attribute of a sentence; a value that reads as a passing state
    ("my flight is delayed", "my coffee is getting cold") is not a fact and is skipped.
    """
    speaker = speaker.strip().lower() or "user"
    found: list[Statement] = []
    for sentence in _SENTENCES.split(normalise(text)):
        sentence = normalise(sentence)
        if not sentence or sentence.endswith("?"):
            continue  # a question asks, it does not state
        seen: set[str] = set()
        for attribute, value, subject in _matches(sentence):
            key = FactKey(_subject(subject, speaker), attribute)
            if attribute in seen or not value:
                continue
            seen.add(attribute)
            found.append(Statement(key, value))
    return found


def _matches(sentence: str) -> list[tuple[str, str, str]]:
    """(attribute, value, subject word) of every pattern that matches, verbs of state first."""
    out: list[tuple[str, str, str]] = []
    for attribute, pattern in _PATTERNS:
        m = pattern.search(sentence)
        if m:
            out.append((attribute, _clean_value(m.group("value")), m.group("subj")))
    m = _BOOKING.search(sentence)
    if m:
        attr = canonical_attribute(_PLACE.sub("", re.sub(r"\s+(?:booking|reservation)$", "", m.group("attr"))))
        out.append((f"{attr} booking", m.group("value").lower().replace("canceled", "cancelled"), m.group("subj")))
    for pattern in (_SWITCH, _POSSESSIVE, _INVERTED):
        for m in pattern.finditer(sentence):
            attr = canonical_attribute(m.group("attr"))
            value = _clean_value(m.group("value"))
            if not attr or attr in _NOT_ATTRIBUTES or len(attr.split()) > 3 or _NOT_VALUES.match(value):
                continue
            out.append((attr, value, m.group("subj")))
    third = "user" if re.search(r"\buser\b", sentence, re.I) else "i"
    for attr, cue, shape in _CUES:
        value_at = shape.search(sentence)
        if value_at and cue.search(sentence) and not _NEGATED.search(sentence[: value_at.start()]):
            named = [value_at.group(g) for g in shape.groupindex if value_at.group(g)]
            out.append((attr, (named[0] if named else value_at.group()).strip(), third))
    return [(attr, value, subj) for attr, value, subj in out if attr not in SHAPES or SHAPES[attr].search(value)]


def attribute_terms(attribute: str) -> set[str]:
    """Words a question may use for `attribute`: its own words and its trigger words."""
    words = set(re.findall(r"[a-z]+", attribute)) | set(TRIGGERS.get(attribute, ()))
    if attribute.endswith(" booking"):
        words |= {"booking", "booked", "reservation", "cancelled", "status"}
    return words - {"favourite"} if len(words) > 1 else words


__all__ = [
    "DIETS", "MAX_SCAN", "RELATIONSHIP", "SHAPES", "SYNONYMS", "TRIGGERS", "FactKey", "Statement", "attribute_terms",
    "canonical_attribute", "extract", "normalise", "value_norm",
]
