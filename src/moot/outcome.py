"""What a run came to, read from its final state: decided and done, nothing feasible, or actions failed.

A run that "finished" has only run to its end; whether it did what was asked is another question,
and the one a user asks first. `outcome_of` answers it from the state alone (so the CLI, the
service, `moot eval` and a resumed run all say the same), with the reasons a person needs:

- `done`: the decision stands and every action it led to succeeded (or it needed none);
- `infeasible`: nothing could satisfy the task (a slot the servers do not know, no offers, every
  candidate excluded by a hard constraint): nothing was done, and the reasons say why;
- `actions_failed`: the decision stands but some of its tool calls failed; which, and why;
- `undecided`: the run ended without a decision (a human rejected it, or a workspace without a
  deciding agent).

A run whose every action was refused never reports plain `done`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from moot.history import candidates_of, excluded_of, intents, tool_outcomes, why_nothing_feasible

Status = Literal["done", "infeasible", "actions_failed", "undecided"]


@dataclass(frozen=True)
class Outcome:
    """The outcome of a run; `headline` is the one line a person reads."""

    status: Status
    headline: str
    reasons: tuple[str, ...] = ()
    chosen: dict[str, Any] | None = None
    """The winning candidate as proposed (grounded ones carry `parts` and `facts`)."""
    actions: tuple[dict[str, Any], ...] = ()
    """The decision's tool calls: `{tool, arguments, ok, result | error, label}` each."""
    excluded: tuple[dict[str, Any], ...] = ()
    """Candidates a hard constraint excluded: `{id, title, reasons}` each."""
    slots: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def outcome_of(state: Mapping[str, Any]) -> Outcome:
    """Read the outcome of a finished (or stopped) run from its state."""
    history = list(state.get("history") or [])
    decision = dict(state.get("decision") or {})
    slots = dict(state.get("slots") or {})
    excluded = tuple(excluded_of(history))
    if not decision:
        return Outcome("undecided", "no decision was reached", tuple(why_nothing_feasible(history)), excluded=excluded, slots=slots)
    if decision.get("outcome") == "infeasible" or not decision.get("winner"):
        reasons = tuple(decision.get("reasons") or ()) or tuple(why_nothing_feasible(history)) or ("no candidate could be proposed",)
        return Outcome("infeasible", f"nothing feasible: {reasons[0]}", reasons, excluded=excluded, slots=slots)
    winner = decision["winner"]
    chosen = next((c for c in candidates_of(history) if c.get("id") == winner), None) or decision.get("chosen")
    actions = tuple(_actions(history))
    failed = [a for a in actions if not a["ok"]]
    label = _label(winner, chosen)
    if failed:
        reasons = tuple(f"{_call(a)}: {a.get('error')}" for a in failed)
        made = len(actions) - len(failed)
        headline = f"actions failed for {label}: {made} of {len(actions)} succeeded; {reasons[0]}"
        return Outcome("actions_failed", headline, reasons, chosen, actions, excluded, slots)
    if actions:
        headline = f"done: {label}; {len(actions)} action(s) succeeded"
    else:
        headline = f"decided: {label}"
    return Outcome("done", headline, (), chosen, actions, excluded, slots)


def _actions(history: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `act` calls of the run with their outcomes; an intent never executed counts as failed."""
    outcomes = {o.get("call"): o for o in tool_outcomes(history)}
    out = []
    for n, intent in intents(history):
        content = intent.get("content") or {}
        if content.get("purpose", "act") != "act":
            continue
        done = outcomes.get(n)
        record: dict[str, Any] = {
            "tool": content.get("tool"),
            "arguments": dict(content.get("arguments") or {}),
            "label": content.get("label"),
            "ok": bool(done and done.get("ok")),
        }
        if done is None:
            record["error"] = "not executed"
        elif done.get("ok"):
            record["result"] = done.get("content")
        else:
            record["error"] = done.get("error")
        out.append(record)
    for entry in history:  # actions whose arguments could not even be computed
        if entry.get("type") == "actions":
            for label, why in ((entry.get("content") or {}).get("failed") or {}).items():
                out.append({"tool": label, "arguments": {}, "label": label, "ok": False, "error": why})
    return out


def _label(winner: str, chosen: Mapping[str, Any] | None) -> str:
    if not chosen:
        return winner
    title = chosen.get("title") or ""
    return f"{winner} ({title})" if title else winner


def _call(action: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in (action.get("arguments") or {}).items())
    return f"{action.get('tool')}({args[:100]})"


__all__ = ["Outcome", "Status", "outcome_of"]
