"""Reading a task into slots: parsers first, stated defaults next, a model only for free text.

`read_slots` is the intake's deterministic part (design §3b). Each slot type has a parser
(`moot.intake`): places are matched against the values the MCP servers publish (an enum),
never guessed; dates and lengths go through dateparser against the run's start; money, counts
and flags through patterns. What the task does not say takes the workspace's stated default,
recorded as such; a required slot without a value, an unknown place, an impossible or past date
is a *problem*: the run then ends with "nothing feasible" and says which, before any search.
Only `text` slots marked `extract: model` are left open for the model, and what it writes is
kept only if its words are the task's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from moot.errors import ExpressionError
from moot.expressions import Expression
from moot.intake import DEFAULT_CURRENCIES, find_count, find_flag, find_money, find_places, find_stay, looks_readable
from moot.templates import Value, show
from moot.intake.spec import SlotSpec

PROBLEMS = "problems"
"""The reserved slot that lists what the intake could not read (empty: the task reads fine)."""
DEFAULTED = "defaulted"
"""The reserved slot that lists the slots that took the workspace's default (the task said nothing)."""
RESERVED = (PROBLEMS, DEFAULTED)


@dataclass(frozen=True)
class Slot:
    """A compiled slot: its spec, its default (`=expression` or literal) and its formula."""

    name: str
    spec: SlotSpec
    default: Value | None = None
    compute: Expression | None = None


@dataclass
class SlotReading:
    """The slots read from one task, and how: what a person should know about the reading."""

    values: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)
    """Text slots left to the model (`extract: model`)."""
    unreadable: set[str] = field(default_factory=set)
    """Slots the task names in a way that was not understood (a problem says so already)."""

    def record(self) -> dict[str, Any]:
        return {"slots": dict(self.values), "notes": self.notes, "problems": self.problems, "defaults": self.defaults}


def read_slots(
    task: str,
    slots: Sequence[Slot],
    *,
    now: datetime,
    choices: Mapping[str, Mapping[str, Sequence[str]]],
    names: Mapping[str, Any] | None = None,
) -> SlotReading:
    """Read `task` into `slots` (in order). `choices[slot]` maps a place's value to its aliases."""
    out = SlotReading()
    if not looks_readable(task):
        out.problems.append(
            "moot cannot read this task: write it in English, naming the destination and what you "
            "want, e.g. 'Plan a 3-day trip to Lisbon under 1500 EUR'"
        )
        return _finish(out, slots)
    kinds = {s.spec.type for s in slots}
    stay = find_stay(task, now) if kinds & {"date", "nights"} else None
    if stay is not None:
        out.notes += list(stay.notes)
        out.problems += list(stay.problems)
    places = [s for s in slots if s.spec.type == "place"]
    if places:
        reading = find_places(
            task,
            {value: aliases for s in places for value, aliases in choices.get(s.name, {}).items()},
            {s.name: list(s.spec.cues) for s in places},
        )
        out.notes += list(reading.notes)
        for slot, options in reading.ambiguous:
            out.problems.append(f"the {slot} is ambiguous: the task names {' and '.join(options)}; name one")
            out.unreadable.add(slot)
        for slot, text in reading.unknown:
            known = ", ".join(choices.get(slot, {})) or "none"
            out.problems.append(f"unknown {slot} {text!r}: the servers know {known}")
            out.unreadable.add(slot)
        for s in places:
            mention = reading.assigned.get(s.name)
            if mention is not None and mention.value in choices.get(s.name, {}):
                out.values[s.name] = mention.value
    for s in slots:
        kind = s.spec.type
        if kind == "date" and stay is not None and stay.start is not None:
            out.values[s.name] = _iso(stay.start.value)
        elif kind == "nights" and stay is not None and stay.nights is not None:
            out.values[s.name] = int(stay.nights.value)
        elif kind == "money":
            _money(task, s, out)
        elif kind == "count" and (m := find_count(task)) is not None:
            out.values[s.name] = int(m.value)
        elif kind == "flag":
            flag = find_flag(task, s.spec.phrases)
            out.values[s.name] = bool(flag.value) if flag is not None else False
        elif kind == "text" and s.spec.extract == "model":
            out.open.append(s.name)
    _defaults(slots, out, now, names or {})
    return _finish(out, slots)


def keep_grounded(task: str, value: str, max_length: int) -> str:
    """A model's text for a slot, kept only if every word of it is a word of the task."""
    value = " ".join(str(value).split())[:max_length]
    words = set(_words(task))
    return value if value and all(w in words for w in _words(value)) else ""


CURRENCY_WORDS: dict[str, tuple[str, ...]] = {
    "CHF": ("chf", "franc", "francs"),
    "JPY": ("¥", "jpy", "yen"),
    "SEK": ("sek", "kronor"),
    "NOK": ("nok", "kroner"),
    "DKK": ("dkk",),
    "CAD": ("cad", "c$"),
    "AUD": ("aud", "a$"),
    "PLN": ("pln", "zloty", "zł"),
}
"""How some currencies are written, for a money slot whose `rates` name them (EUR, GBP and USD
are the parser's own)."""


def currencies_of(spec: SlotSpec) -> dict[str, tuple[str, ...]]:
    """The currencies a money slot reads: the parser's, its own and those it has a rate for."""
    out = {code: tuple(words) for code, words in DEFAULT_CURRENCIES.items()}
    for code in [spec.currency, *spec.rates]:
        if code and code not in out:
            out[code] = CURRENCY_WORDS.get(code, ()) + (code.lower(),)
    return out


def _money(task: str, slot: Slot, out: SlotReading) -> None:
    mention = find_money(task, currencies_of(slot.spec))
    if mention is None:
        return
    amount, currency = mention.value
    want = slot.spec.currency
    if want is None or currency in (None, want):
        out.values[slot.name] = amount
        if currency is None and want is not None:
            out.notes.append(f"{mention.text.strip()!r} read as {show(amount)} {want}")
        return
    rate = slot.spec.rates.get(currency)
    if rate is None:
        out.problems.append(f"the {slot.name} is in {currency}, but prices are in {want}; give it in {want}")
        return
    converted = round(amount * rate, 2)
    out.values[slot.name] = converted
    out.notes.append(f"{mention.text.strip()!r} read as {show(converted)} {want} (1 {currency} = {rate} {want})")


def _defaults(slots: Sequence[Slot], out: SlotReading, now: datetime, names: Mapping[str, Any]) -> None:
    for s in slots:
        if out.values.get(s.name) is not None or s.compute is not None or s.name in out.open:
            continue
        if s.default is None:
            if s.spec.required and s.name not in out.unreadable:
                what = f" ({s.spec.description})" if s.spec.description else ""
                out.problems.append(f"the task does not say the {s.name}{what}")
            continue
        value = _default_value(s, now, {**names, "slots": dict(out.values)}, out)
        if value is not None:
            out.values[s.name] = value
            out.defaulted.append(s.name)
            out.defaults.append(f"{s.name}: {show(value)} (the workspace's default; the task does not say)")
    for s in slots:
        if s.compute is None:
            continue
        try:
            out.values[s.name] = s.compute.evaluate({**names, "slots": dict(out.values)})
        except ExpressionError:
            out.values[s.name] = None  # its inputs are missing; their problems say why


def _default_value(slot: Slot, now: datetime, names: Mapping[str, Any], out: SlotReading) -> Any:
    assert slot.default is not None
    try:
        value = slot.default.render(names)
    except ExpressionError as exc:
        out.problems.append(f"the default of {slot.name} could not be computed: {exc.reason}")
        return None
    if slot.spec.type == "date" and isinstance(value, str):
        stay = find_stay(value, now)
        if stay.start is None:
            out.problems.append(f"the default of {slot.name}, {value!r}, is not a date")
            return None
        return _iso(stay.start.value)
    return value


def _finish(out: SlotReading, slots: Sequence[Slot]) -> SlotReading:
    for s in slots:
        out.values.setdefault(s.name, None)
    out.values[PROBLEMS] = list(dict.fromkeys(out.problems))
    out.problems = out.values[PROBLEMS]
    out.values[DEFAULTED] = list(out.defaulted)
    return out


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2]


__all__ = ["DEFAULTED", "PROBLEMS", "RESERVED", "Slot", "SlotReading", "keep_grounded", "read_slots"]
