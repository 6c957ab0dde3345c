"""A decision and a run's outcome as a person reads them in the terminal.

Not the debate's mechanics but its result: the chosen plan with each offer and its price, the
total against the budget, what was excluded and why, what was booked (with the server's own
booking ids), or why nothing was feasible or which action failed. Everything shown comes from
the state (offers from the tools, totals computed by code), never from a model's prose; the
model's words appear only as its rationale, marked as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel

from moot.templates import show

_STYLE = {"done": "green", "infeasible": "yellow", "actions_failed": "red", "undecided": "red"}


def decision_panel(decision: Mapping[str, Any], candidates: Mapping[str, Mapping[str, Any]]) -> Panel:
    """The synthesizer's decision: the winner (with its offers' facts), the ranking, the rationale."""
    if decision.get("outcome") == "infeasible":
        lines = "\n".join(f"• {escape(str(r))}" for r in decision.get("reasons") or [])
        return Panel(f"[bold yellow]nothing feasible[/]\n{lines}", title="decision")
    winner = str(decision.get("winner"))
    cand = candidates.get(winner) or {}
    ranking = ", ".join(f"{r['candidate']} {r['score']:.2f}" for r in decision.get("ranking") or [])
    body = [f"winner: [bold green]{escape(winner)}[/] {escape(cand.get('title', ''))}"]
    if cand.get("summary"):
        body.append(escape(cand["summary"]))
    if decision.get("why"):
        body.append(f"why: {escape(str(decision['why']))}")
    elif ranking:
        body.append(f"[dim]ranking by weighted score: {escape(ranking)}[/]")
    if says_something(decision.get("rationale")):
        body.append(f"[dim]rationale (model): {escape(str(decision.get('rationale', '')))}[/]")
    return Panel("\n".join(body), title="decision")


def outcome_panel(outcome: Mapping[str, Any]) -> Panel:
    """What the run came to, with the plan, the budget, the bookings and what was excluded."""
    status = str(outcome.get("status"))
    parts: list[Any] = [f"[bold {_STYLE.get(status, 'red')}]{escape(str(outcome.get('headline', '')))}[/]"]
    chosen = outcome.get("chosen") or {}
    offers = chosen.get("parts") or {}
    if offers:
        parts += _offers(offers, chosen.get("facts") or {}, outcome.get("slots") or {})
    for part, why in (chosen.get("left_out") or {}).items():
        parts.append(f"[yellow]  {escape(part)} left out:[/] {escape(why)}")
    actions = outcome.get("actions") or []
    for action in actions:
        parts.append(_action_line(action))
    headline = str(outcome.get("headline", ""))
    for reason in outcome.get("reasons") or []:
        if not headline.endswith(str(reason)):  # the headline already says the first one
            parts.append(f"[yellow]•[/] {escape(str(reason))}")
    excluded = outcome.get("excluded") or []
    if excluded and status == "done":
        first = excluded[0]
        parts.append(f"[dim]excluded by the constraints: {len(excluded)}, e.g. {escape(_name(first))}: {escape('; '.join(first.get('reasons', [])))}[/]")
    for line in _slot_notes(outcome.get("slots") or {}):
        parts.append(f"[dim]{escape(line)}[/]")
    return Panel(Group(*parts), title="outcome", border_style=_STYLE.get(status, "red"))


def _offers(offers: Mapping[str, Any], facts: Mapping[str, Any], slots: Mapping[str, Any]) -> list[str]:
    """One line per offer of the chosen plan, its price at the end, then the total against the budget."""
    lines = []
    for part, offer in offers.items():
        text = _offer_text(offer) if isinstance(offer, Mapping) else str(offer)
        price = _money(offer.get("total_eur", offer.get("price_eur"))) if isinstance(offer, Mapping) else ""
        lines.append(f"  {escape(part):<9} {escape(text)}  [bold]{price}[/]")
    total = facts.get("total_eur")
    if total is not None:
        budget = slots.get("budget_eur")
        against = f" (budget {show(budget)} EUR)" if budget is not None else ""
        lines.append(f"  {'total':<9} [bold]{_money(total)}[/]{against}")
    return lines


def _offer_text(offer: Mapping[str, Any]) -> str:
    if "flight" in offer:
        return f"{offer.get('carrier', '')} {offer['flight']} {offer.get('origin', '')}→{offer.get('destination', '')} {offer.get('date', '')} {offer.get('departs', '')}"
    if "checkin" in offer:
        return f"{offer.get('name', '')}, {offer.get('nights')} night(s) from {offer['checkin']}"
    return str(offer.get("name") or offer.get("title") or offer.get("id", ""))


def _action_line(action: Mapping[str, Any]) -> str:
    label = escape(str(action.get("label") or action.get("tool")))
    if not action.get("ok"):
        return f"[red]✖ {label}[/]: {escape(str(action.get('error')))}"
    result = action.get("result")
    if isinstance(result, Mapping):
        ids = [str(v) for k, v in result.items() if k.endswith("_id") and v]
        what = result.get("description") or result.get("file") or ""
        price = f" · {_money(result.get('price_eur'))}" if result.get("price_eur") is not None else ""
        done = f"{escape(ids[0])} · " if ids else ""
        return f"[green]✔ {label}[/]: {done}{escape(str(what))}{price}"
    return f"[green]✔ {label}[/]"


def _name(item: Mapping[str, Any]) -> str:
    """An excluded candidate by its id and, when it says more, its title."""
    ident, title = str(item.get("id", "")), str(item.get("title") or "")
    return f"{ident} ({title})" if title and title != ident and len(title) > 3 else ident or title


def _slot_notes(slots: Mapping[str, Any]) -> list[str]:
    defaulted = set(slots.get("defaulted") or ())
    hidden = ("problems", "defaulted", "preferences")
    read = [f"{k} {show(v)}" for k, v in slots.items() if k not in hidden and k not in defaulted and v not in (None, "", [], False)]
    taken = [f"{k} {show(slots[k])}" for k in defaulted if slots.get(k) not in (None, "")]
    lines = ["read from the task: " + "; ".join(read)] if read else []
    return lines + (["the workspace's defaults (the task does not say): " + "; ".join(taken)] if taken else [])


def _money(value: Any) -> str:
    return f"{show(value)} EUR" if value is not None else ""


def says_something(text: Any) -> bool:
    """Whether a model's free text is an argument worth showing: a few words, not an id or a number
    (a 135M model, asked for a pitch, often copies an option's id)."""
    words = [w for w in str(text or "").split() if any(ch.isalpha() for ch in w) and not any(ch.isdigit() for ch in w)]
    return len(words) >= 3


def result_line(outcome: Mapping[str, Any]) -> str:
    """A tool result in one short line: how many offers a search found, or what a call returned."""
    content = outcome.get("content")
    if isinstance(content, list):
        ids = ", ".join(str(i.get("id")) for i in content[:4] if isinstance(i, Mapping) and "id" in i)
        more = f" …(+{len(content) - 4})" if len(content) > 4 else ""
        return f"{outcome.get('tool')}: {len(content)} result(s)" + (f": {ids}{more}" if ids else "")
    if isinstance(content, Mapping) and content.get("booking_id"):
        return f"{outcome.get('tool')}: {content['booking_id']} {content.get('description', '')}"
    text = str(content)
    return f"{outcome.get('tool')}: {text[:200]}{'…' if len(text) > 200 else ''}"


__all__ = ["decision_panel", "outcome_panel", "result_line", "says_something"]
