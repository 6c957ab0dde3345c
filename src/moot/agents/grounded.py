"""Grounded candidates: bundles of offers that searches actually returned (design §3b).

A grounded proposer does not invent plans. Its options are the combinations of the offers the
scout's labelled searches returned (flight out × hotel × flight back); each option's `facts`
(the total price, ...) are computed from its offers and its title and summary written from them,
so every id, price and name a person reads came from a tool. Hard constraints exclude options
before the model sees them; the model then only picks among what exists and argues for it.

The menu is small (a 135M model reads a handful of lines well, not a hundred): at most
`options` feasible bundles, cheapest first by the workspace's `order`, chosen so that each
adds offers the earlier ones did not use, which keeps the choice a real one.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moot.constraints import Constraint, candidate_names
from moot.errors import ExpressionError
from moot.expressions import Expression
from moot.history import intents, results_by_label, skipped_calls, unneeded_calls
from moot.templates import Template, show

EXCLUDED_KEPT = 5
"""Excluded options recorded in history, closest to feasible first (the rest are counted)."""


@dataclass(frozen=True)
class Part:
    """A part of a bundle: the search label it takes its offers from, and when it may be left out."""

    label: str
    optional: Expression | None = None


@dataclass(frozen=True)
class Grounding:
    """A compiled `grounded:` spec (see `moot.workspace.spec_decide.GroundedSpec`)."""

    parts: Mapping[str, Part]
    facts: Mapping[str, Expression] = field(default_factory=dict)
    title: Template | None = None
    summary: Template | None = None
    order: Expression | None = None
    options: int = 6
    max_combinations: int = 500


@dataclass
class Menu:
    """What a grounded proposer may choose from, and what was excluded on the way."""

    options: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    counts: dict[str, int]
    """Excluded combinations per reason (the constraint's name), over all of them."""
    combinations: int
    why_empty: list[str]
    left_out: dict[str, str] = field(default_factory=dict)
    """Optional parts no offer could fill (part → why), left out of every bundle."""

    def record(self) -> dict[str, Any]:
        """The proposal's account of the menu, for history."""
        record: dict[str, Any] = {"combinations": self.combinations, "feasible": len(self.options), "excluded_by": dict(self.counts)}
        if self.left_out:
            record["left_out"] = dict(self.left_out)
        return record


def build_menu(
    grounding: Grounding,
    constraints: Sequence[Constraint],
    history: list[Mapping[str, Any]],
    slots: Mapping[str, Any] | None,
    **names: Any,
) -> Menu:
    """The feasible options of a grounded proposer, from the labelled search results in `history`."""
    offers, why, left_out = _offers(grounding, history, candidate_names({}, slots, **names))
    if why or not offers:
        return Menu([], [], {}, 0, why or ["no search the bundles need was made"], left_out)
    combos = list(itertools.islice(itertools.product(*offers.values()), grounding.max_combinations))
    feasible: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for combo in combos:
        cand: dict[str, Any] = {"parts": dict(zip(offers, combo, strict=True))}
        if left_out:
            cand["left_out"] = dict(left_out)
        reasons, failed = _assess(grounding, constraints, cand, slots, names)
        if reasons:
            for name in failed:
                counts[name] = counts.get(name, 0) + 1
            excluded.append({**cand, "reasons": reasons})
        else:
            feasible.append(cand)
    all_facts = [c["facts"] for c in feasible]
    key = _sort_key(grounding, slots, names, all_facts)
    feasible.sort(key=key)
    excluded.sort(key=key)
    chosen = _varied(feasible, grounding.options)
    for i, cand in enumerate(chosen, 1):
        cand["id"] = f"plan-{i}"
    kept = [{"id": _ids(c), "title": c.get("title", ""), "reasons": c["reasons"]} for c in excluded[:EXCLUDED_KEPT]]
    why_empty = [] if chosen else _why_none(len(combos), counts, kept)
    return Menu(chosen, kept, counts, len(combos), why_empty, left_out)


def _offers(
    grounding: Grounding, history: list[Mapping[str, Any]], names: Mapping[str, Any]
) -> tuple[dict[str, list[Any]], list[str], dict[str, str]]:
    """Each part's offers; why a required part has none (the search failed, returned nothing, never
    ran); and which optional parts are left out for the same reasons."""
    results = results_by_label(history)
    calls = {(e.get("content") or {}).get("label"): e["content"] for _, e in intents(history)}
    skipped = skipped_calls(history)
    unneeded = unneeded_calls(history)
    offers: dict[str, list[Any]] = {}
    why: list[str] = []
    left_out: dict[str, str] = {}
    for part, spec in grounding.parts.items():
        label = spec.label
        if label in unneeded:  # the task does not need this part (a hotel-only trip): bundles go without it
            continue
        outcome = results.get(label)
        call = calls.get(label) or {}
        asked = f"{call.get('tool', label)}({_args(call.get('arguments'))})"
        if outcome is None:
            missing = f"the search {label!r} was not made" + (f" ({skipped[label]})" if label in skipped else "")
        elif not outcome.get("ok"):
            missing = f"{asked} failed: {outcome.get('error')}"
        elif not _as_list(outcome.get("content")):
            missing = f"{asked} found none"
        else:
            offers[part] = _as_list(outcome.get("content"))
            continue
        if _may_leave_out(spec, names):
            left_out[part] = missing
        else:
            why.append(f"no {part} offers: {missing}")
    return offers, why, left_out


def _may_leave_out(part: Part, names: Mapping[str, Any]) -> bool:
    return part.optional is not None and part.optional.holds_or(names, False)


def _assess(
    grounding: Grounding,
    constraints: Sequence[Constraint],
    cand: dict[str, Any],
    slots: Mapping[str, Any] | None,
    names: Mapping[str, Any],
) -> tuple[list[str], list[str]]:
    """Compute a bundle's facts, title and summary; return the constraints it breaks (reasons, names)."""
    scope = candidate_names(cand, slots, **names)
    facts: dict[str, Any] = {}
    try:
        for fact, expr in grounding.facts.items():
            facts[fact] = expr.evaluate({**scope, "facts": facts})
    except ExpressionError as exc:
        cand["facts"] = facts
        return [f"a fact could not be computed: {exc.reason}"], ["facts"]
    cand["facts"] = facts
    scope = {**scope, "facts": facts}
    for key, template in (("title", grounding.title), ("summary", grounding.summary)):
        if template is not None:
            try:
                cand[key] = template.render(scope)[:200]
            except ExpressionError as exc:
                cand[key] = f"({key} could not be written: {exc.reason})"
    reasons, failed = [], []
    for constraint in constraints:
        why = constraint.violation(scope)
        if why is not None:
            reasons.append(why)
            failed.append(constraint.name)
    return reasons, failed


def _sort_key(grounding: Grounding, slots: Mapping[str, Any] | None, names: Mapping[str, Any], all_facts: list[Any]) -> Any:
    if grounding.order is None:
        return lambda cand: 0

    def key(cand: Mapping[str, Any]) -> tuple[int, Any]:
        try:
            value = grounding.order.evaluate(candidate_names(cand, slots, **{**names, "all_facts": all_facts}))
            return (0, float(value))
        except (ExpressionError, TypeError, ValueError):
            return (1, 0.0)

    return key


def _varied(feasible: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` options, best first, each preferring offers the earlier ones did not use."""
    chosen: list[dict[str, Any]] = []
    used: set[tuple[str, str]] = set()
    rest = list(feasible)
    while rest and len(chosen) < limit:
        best = max(range(len(rest)), key=lambda i: (len(_part_ids(rest[i]) - used), -i))
        cand = rest.pop(best)
        used |= _part_ids(cand)
        chosen.append(cand)
    return chosen


def _part_ids(cand: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(part, str(offer.get("id") if isinstance(offer, Mapping) else offer)) for part, offer in cand["parts"].items()}


def _ids(cand: Mapping[str, Any]) -> str:
    return " + ".join(sorted(str(o.get("id") if isinstance(o, Mapping) else o) for o in cand["parts"].values()))


def _why_none(combinations: int, counts: Mapping[str, int], kept: list[dict[str, Any]]) -> list[str]:
    if not combinations:
        return ["no combination of offers to choose from"]
    broken = ", ".join(f"{name} ({n})" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    why = [f"none of the {combinations} combination(s) of offers is feasible: {broken}"]
    if kept:
        why.append(f"closest: {kept[0]['title'] or kept[0]['id']}: {'; '.join(kept[0]['reasons'])}")
    return why


def _as_list(content: Any) -> list[Any]:
    if isinstance(content, list):
        return content
    if isinstance(content, Mapping) and isinstance(content.get("result"), list):
        return list(content["result"])
    return []


def _args(arguments: Any) -> str:
    if not isinstance(arguments, Mapping):
        return ""
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())


def describe(cand: Mapping[str, Any]) -> str:
    """One line of a grounded option for a prompt or a terminal: id, title, summary."""
    summary = f" — {cand['summary']}" if cand.get("summary") else ""
    return f"{cand.get('id')}: {cand.get('title', '')}{summary}"


__all__ = ["Grounding", "Menu", "Part", "build_menu", "describe", "show"]
