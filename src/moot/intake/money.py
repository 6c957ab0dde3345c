"""The budget: the price ceiling a task names ("under 1500 EUR", "€1,500", "max 2k", "budget of 900").

Rules (user-visible):

- An amount counts when a currency is written next to it (before or after: "€2000", "900 euros",
  "EUR 1500"), or when a budget word comes right before it ("budget", "under", "max", "up to",
  "less than", "below", "no more than", "within", "cap", "at most") even without a currency; then
  the currency is None and the caller asks for it.
- A bare number is money only if nothing but a pause or a small word follows it: "under 4 nights",
  "max 2 adults", "within 3 days" are not money, nor is a number under 10 with no currency.
- A range ("800-1000 EUR", "between €800 and €1000") gives its ceiling, 1000.
- "1.5k" is 1500; "1.500" is 1500 (thousands), "1,5k" is 1500 (decimal comma). A thousands
  space counts only as a no-break or thin space: in "Dec 18 500 EUR" the 18 is a day.
- With several amounts, the first one with a budget word wins, else the first one.
  A price per night ("€90 a night") is returned as it is: the caller decides what it caps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from moot.intake.mention import NUMBER_WORDS, Mention, to_number
from moot.intake.words import FUNCTION_WORDS

__all__ = ["DEFAULT_CURRENCIES", "find_money", "money_mentions"]

DEFAULT_CURRENCIES: Mapping[str, Sequence[str]] = {
    "EUR": ("€", "eur", "euro", "euros"),
    "GBP": ("£", "gbp", "pound", "pounds", "quid"),
    "USD": ("$", "us$", "usd", "dollar", "dollars"),
}
"""Currency code to the ways it is written; a caller with other currencies passes its own."""

_AMOUNT = (
    r"(?P<{g}>(?<![\d.,])(?:\d{{1,3}}(?:[,.\u00a0\u202f]\d{{3}})+(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?)(?![\d])"
    r"(?:\s?(?:k\b|K\b|thousand\b))?|\b" + NUMBER_WORDS + r"\b)"
)
_CUES = (
    r"budget(?:\s+(?:of|is|at|around|about))?|spend(?:ing)?(?:\s+(?:of|up\s+to|at\s+most))?|under|max(?:imum|\.)?|"
    r"up\s+to|less\s+than|below|no\s+more\s+than|not\s+more\s+than|not\s+over|within|cap(?:ped)?(?:\s+at)?|at\s+most|"
    r"limit(?:\s+of)?|ceiling(?:\s+of)?|not\s+exceeding"
)
_CUE_BEFORE = re.compile(rf"\b(?:{_CUES})\s*(?::|of|around|about|approx\.?|roughly|a)?\s*(?:[€£$]|\w+\s)?$", re.IGNORECASE)
_RANGE_BEFORE = re.compile(
    rf"(?:between\s+)?(?:[€£$]\s?)?{_AMOUNT.format(g='low')}\s*(?:[A-Za-z€£$]{{1,4}}\s*)?(?:-|–|to|and)\s*$", re.IGNORECASE
)
_AFTER_BARE_OK = FUNCTION_WORDS | {"total", "overall", "budget", "inclusive", "each", "pp", "max", "maximum", "tops", "all-in"}


@dataclass(frozen=True)
class _Candidate:
    mention: Mention
    cue: bool


def _currency_pattern(currencies: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, str]]:
    codes = {alias.lower(): code for code, aliases in currencies.items() for alias in (code, *aliases)}
    parts = []
    for alias in sorted(codes, key=len, reverse=True):
        word = re.escape(alias)
        parts.append(rf"(?<![^\W\d_]){word}(?![^\W\d_])" if alias[-1].isalpha() else word)
    return "(?:" + "|".join(parts) + ")", codes


def _amount(text: str) -> float | None:
    """The number an amount spells: "1,500" 1500, "1.5k" 1500, "two thousand" 2000."""
    raw = text.strip()
    if re.fullmatch(NUMBER_WORDS, raw, re.IGNORECASE):
        number = to_number(raw)
        return float(number) if number is not None else None
    scale = 1.0
    if suffix := re.search(r"\s?(?:k|thousand)$", raw, re.IGNORECASE):
        scale, raw = 1000.0, raw[: suffix.start()]
    grouped = re.fullmatch(r"(\d{1,3}(?:[,.\u00a0\u202f]\d{3})+)(?:[.,](\d{1,2}))?", raw)
    if grouped:
        return (float(re.sub(r"\D", "", grouped[1])) + float(f"0.{grouped[2] or 0}")) * scale
    if re.fullmatch(r"\d+(?:[.,]\d{1,2})?", raw):
        return float(raw.replace(",", ".")) * scale
    return None


def money_mentions(text: str, currencies: Mapping[str, Sequence[str]] = DEFAULT_CURRENCIES) -> list[Mention]:
    """Every amount of money in `text`, in text order (what `find_money` chooses from, and masks)."""
    return [c.mention for c in _candidates(text, currencies)]


def _candidates(text: str, currencies: Mapping[str, Sequence[str]]) -> list[_Candidate]:
    currency, codes = _currency_pattern(currencies)
    amount = _AMOUNT.format(g="amt")
    patterns = (
        re.compile(rf"(?P<cur>{currency})\s?{amount}", re.IGNORECASE),
        re.compile(rf"{amount}\s?(?P<cur>{currency})", re.IGNORECASE),
        re.compile(rf"(?<![\w-])(?P<cue>{_CUES})\s*(?::|of|around|about|approx\.?|roughly)?\s*{amount}", re.IGNORECASE),
    )
    found: list[_Candidate] = []
    for pattern in patterns:
        for match in pattern.finditer(text):
            start, end = match.span("amt")
            value = _amount(match["amt"])
            if value is None or any(start < c.mention.end and c.mention.start < end for c in found):
                continue
            code = codes[match["cur"].lower()] if match.groupdict().get("cur") else None
            if code is None and (value < 10 or not _bare_ok(text[match.end() :])):
                continue  # "under 4 nights", "max 2 adults": not money
            begin = start if match.groupdict().get("cue") else match.start()
            low = _RANGE_BEFORE.search(text[:begin])
            mention = Mention.of(text, low.start() if low else begin, match.end(), (value, code))
            cue = bool(match.groupdict().get("cue")) or bool(_CUE_BEFORE.search(text[: mention.start]))
            found.append(_Candidate(mention, cue))
    def inside(c: _Candidate) -> bool:  # "€800" inside the range "€800-€1000"
        return any(o is not c and o.mention.start <= c.mention.start and c.mention.end <= o.mention.end for o in found)

    return sorted((c for c in found if not inside(c)), key=lambda c: c.mention.start)


def _bare_ok(after: str) -> bool:
    """Whether what follows a number without a currency leaves it a plausible budget."""
    if re.match(r"\s*(?:$|[.,;!?)]\s|[.,;!?)]$)", after):
        return True
    word = re.match(r"\s+([A-Za-z][\w-]*)", after)
    return bool(word) and word[1].lower() in _AFTER_BARE_OK  # type: ignore[index]


def find_money(text: str, currencies: Mapping[str, Sequence[str]] = DEFAULT_CURRENCIES) -> Mention | None:
    """The task's budget: value `(amount, currency code or None)`; see the module for the rules."""
    candidates = _candidates(text, currencies)
    chosen = next((c for c in candidates if c.cue), candidates[0] if candidates else None)
    return chosen.mention if chosen else None
