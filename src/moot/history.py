"""Readers of a run's `history`: the one place that knows the shapes of its entries.

`history` is a Topic of entries `{type, agent, stage, round, content}` (design §2). Agents, the
stage router, the tool node, the live view and the outcome all read it; they do so through these
functions, so an entry's shape is written down once:

- `intake`: `{slots, notes, problems, defaults}`: the task read as slots (moot.agents.intake);
- `tool_call`: an intent `{tool, arguments, status: "intent", position, label?, purpose}`;
  `purpose` is `gather` (a search before anyone proposes) or `act` (what the decision does);
- `tool_result` / `tool_error`: one outcome per executed intent, `{..., call: n, label, purpose}`;
- `gather`: a scout's searches `{calls: [labels], skipped: {label: why}, not_needed: [labels]}`;
- `proposal`: `{candidates: [...], excluded: [{id, title, reasons}], infeasible?: {reasons}}`; a
  grounded candidate carries `parts` (the offers it bundles) and `facts` (computed from them);
- `review`, `measure` (scores), `decision`, `note`, `approval`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OUTCOME_TYPES = ("tool_result", "tool_error")

Entry = Mapping[str, Any]


def candidate_ids(history: list[Entry]) -> list[str]:
    """Ids of the candidates proposed so far in this run, in order of first proposal.

    Excluded candidates (a hard constraint refused them) are never among them: they are kept in
    the proposal's `excluded` list, so no reviewer scores them and no synthesizer can pick one.
    """
    ids: list[str] = []
    for entry in history:
        if entry.get("type") == "proposal":
            for cand in (entry.get("content") or {}).get("candidates", []):
                if cand.get("id") and cand["id"] not in ids:
                    ids.append(cand["id"])
    return ids


def candidates_of(history: list[Entry]) -> list[dict[str, Any]]:
    """The latest version of every candidate proposed in this run."""
    latest: dict[str, dict[str, Any]] = {}
    for entry in history:
        if entry.get("type") == "proposal":
            for cand in (entry.get("content") or {}).get("candidates", []):
                latest[cand["id"]] = cand
    return [latest[cid] for cid in candidate_ids(history)]


def excluded_of(history: list[Entry]) -> list[dict[str, Any]]:
    """Candidates a hard constraint excluded in this run, each with its reasons."""
    return [
        dict(item)
        for entry in history
        if entry.get("type") == "proposal"
        for item in (entry.get("content") or {}).get("excluded", [])
    ]


def intents(history: list[Entry]) -> list[tuple[int, Entry]]:
    """The run's tool-call intents, numbered in history order (the call position of the key)."""
    return list(enumerate(e for e in history if e.get("type") == "tool_call"))


def pending_intents(history: list[Entry]) -> list[tuple[int, Entry]]:
    """Intents that have no outcome entry yet."""
    done = {e["content"].get("call") for e in history if e.get("type") in OUTCOME_TYPES}
    return [(n, e) for n, e in intents(history) if n not in done]


def tool_outcomes(history: list[Entry], *, purpose: str | None = None, label: str | None = None) -> list[dict[str, Any]]:
    """Outcomes of executed tool calls (`content` of `tool_result`/`tool_error` entries), in order."""
    out = []
    for entry in history:
        if entry.get("type") not in OUTCOME_TYPES:
            continue
        content = dict(entry.get("content") or {})
        if purpose is not None and content.get("purpose", "act") != purpose:
            continue
        if label is not None and content.get("label") != label:
            continue
        out.append(content)
    return out


def results_by_label(history: list[Entry]) -> dict[str, dict[str, Any]]:
    """The latest outcome of each labelled gather call (`label` → outcome content)."""
    return {c["label"]: c for c in tool_outcomes(history, purpose="gather") if c.get("label")}


def why_nothing_feasible(history: list[Entry]) -> list[str]:
    """Why the run has no candidate: what the intake could not read, searches that failed or
    were not made, and what the grounded proposers found infeasible, in that order."""
    reasons: list[str] = []
    for entry in history:
        content = entry.get("content") or {}
        if entry.get("type") == "intake":
            reasons += [str(p) for p in content.get("problems", [])]
        elif entry.get("type") == "proposal" and content.get("infeasible"):
            reasons += [str(r) for r in content["infeasible"].get("reasons", [])]
    if not reasons:
        for outcome in tool_outcomes(history, purpose="gather"):
            if not outcome.get("ok"):
                reasons.append(f"{outcome.get('tool')} failed: {outcome.get('error')}")
    return list(dict.fromkeys(reasons))


def skipped_calls(history: list[Entry]) -> dict[str, str]:
    """Searches a scout could not make (label → why), from its `gather` entries."""
    out: dict[str, str] = {}
    for entry in history:
        if entry.get("type") == "gather":
            out.update((entry.get("content") or {}).get("skipped", {}))
    return out


def unneeded_calls(history: list[Entry]) -> set[str]:
    """Searches a scout left out because the task does not need them (their `when` is false)."""
    return {
        label
        for entry in history
        if entry.get("type") == "gather"
        for label in (entry.get("content") or {}).get("not_needed", [])
    }


def reviews_of(history: list[Entry]) -> list[dict[str, Any]]:
    """Every review comment of the run: `{agent, candidate, comment}` (the `reviews` of actions)."""
    return [
        {"agent": entry.get("agent"), "candidate": r.get("candidate"), "comment": r.get("comment")}
        for entry in history
        if entry.get("type") == "review"
        for r in (entry.get("content") or {}).get("reviews", [])
    ]


def gathered(history: list[Entry]) -> dict[str, Any]:
    """What each successful labelled search returned (`label` → content): the `results` name of
    constraints, scores and actions."""
    return {label: o.get("content") for label, o in results_by_label(history).items() if o.get("ok")}


def latest(history: list[Entry], type_: str) -> Entry | None:
    """The last entry of a type, or None."""
    for entry in reversed(history):
        if entry.get("type") == type_:
            return entry
    return None


__all__ = [
    "OUTCOME_TYPES",
    "candidate_ids",
    "candidates_of",
    "excluded_of",
    "gathered",
    "reviews_of",
    "intents",
    "latest",
    "pending_intents",
    "results_by_label",
    "skipped_calls",
    "tool_outcomes",
    "unneeded_calls",
    "why_nothing_feasible",
]
