"""The one LangGraph state of a deliberation, declared with LangGraph's own channels.

Every key's channel is fixed here (design §2); who may write it is data, in the workspace's
write policy (`moot.policy`). The reducers are plain functions so that LangGraph wraps them in
its own `BinaryOperatorAggregate`, and they are associative so parallel writers in one superstep
merge to the same result in any order.

Where a session's history lives (issue 2, `bench/checkpoints.py`): `history` holds **this run's**
narratives only. A session is one LangGraph thread that runs many deliberations; if `history`
carried every run of the session, each checkpoint would rewrite the whole session (raw LangGraph:
241.6 MB of SQLite after 200 runs, quadratic). So the orchestrator opens each run by resetting
`history` (LangGraph's `Overwrite` on its reducer channel), earlier runs live in episodic memory and
in the per-run summaries the orchestrator keeps outside the graph state, and a checkpoint's size is
bounded by one run. We considered LangGraph's `DeltaChannel` (beta): it stores writes instead of
snapshots, but agents would still read an ever-growing session history into their prompts, which
is the token cost that the memory layer exists to avoid.
"""

from __future__ import annotations

from typing import Annotated, Any, get_type_hints

from typing_extensions import TypedDict  # pydantic (the graph's JSON schemas) needs it on Python < 3.12

from langgraph.channels.topic import Topic

Scores = dict[str, dict[str, float]]
"""Scores of one contribution: candidate id → dimension → score."""


def append_entries(left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """`history`'s reducer: this run's entries, then the update's, in the order LangGraph applies them.

    As a plain reducer it lives in LangGraph's own `BinaryOperatorAggregate`, which also handles
    the orchestrator's `Overwrite([])` at the start of each run (and, as LangGraph does
    everywhere, refuses two overwrites in one superstep with `InvalidUpdateError`), so moot needs
    no channel class of its own. The same as the design's accumulating Topic for every append.
    """
    return [*(left or ()), *(right or ())]


def merge_rewards(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Sum reward contributions, keeping the totals, each agent's own share, and their counts.

    Value and update share one shape: `{"totals": Scores, "by_agent": {agent: Scores},
    "counts": {agent: Scores}}`. Totals answer "how much support in all"; `by_agent` keeps the
    disagreement between agents (seed: "rewards preserve disagreement"); `counts` says how many
    scores each agent gave a candidate on a dimension (one per round), so the synthesizer ranks
    on means and a candidate reviewed again in a revision round is not counted twice. Scores are
    rounded to 6 decimals on the way in, so sums are exact and the merge order never matters.
    """
    out: dict[str, Any] = {}
    for part in ("totals", "by_agent", "counts"):
        out[part] = _copy_part(part, (left or {}).get(part, {}))
    if right:
        _add_scores(out["totals"], right.get("totals", {}))
        for part in ("by_agent", "counts"):
            for agent, scores in right.get(part, {}).items():
                _add_scores(out[part].setdefault(agent, {}), scores)
    return out


def reward_update(agent: str, scores: Scores) -> dict[str, Any]:
    """The update an evaluating agent's scores become on the `rewards` channel."""
    clean = {cand: {dim: round(float(v), 6) for dim, v in dims.items()} for cand, dims in scores.items()}
    ones = {cand: {dim: 1 for dim in dims} for cand, dims in clean.items()}
    return {"totals": clean, "by_agent": {agent: clean}, "counts": {agent: ones}}


def merge_executed(left: dict[str, list[str]] | None, right: dict[str, Any] | None) -> dict[str, list[str]]:
    """Append agent names per stage; a value of `None` for a stage starts that stage afresh.

    The orchestrator writes `{stage: None}` when it (re-)enters a stage, so exit rules such as
    `once_per_stage` count the runs of the current visit (a revision round starts clean). Appends
    merge associatively; a reset acts on the value it is applied to, which is how LangGraph uses
    a reducer (it folds each update into the channel's value, one at a time, in step order).
    """
    out = {stage: list(names or []) for stage, names in (left or {}).items()}
    for stage, names in (right or {}).items():
        if names is None:
            out[stage] = []
        else:
            out.setdefault(stage, []).extend(names)
    return out


def merge_usage(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Sum token usage per agent, nested per stage: numbers add up, labels (the model) are kept.

    Shape: `{agent: {prompt_tokens, completion_tokens, calls, latency_s, model, stages: {stage:
    {prompt_tokens, ...}}}}`; `moot.accounting` derives totals per stage and per model from it.
    """
    out: dict[str, Any] = _deep_copy(left or {})
    _deep_add(out, right or {})
    return out


def _deep_copy(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in value.items()}


def _deep_add(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict):
            _deep_add(into.setdefault(key, {}), value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(into.get(key, 0), (int, float)):
            total = into.get(key, 0) + value
            into[key] = round(total, 6) if isinstance(total, float) else total
        else:
            into[key] = value


class MootState(TypedDict, total=False):
    """The state of one deliberation run (design §2). Channel types are fixed; writers are policy."""

    task: str
    session_id: str
    user_id: str
    run_id: str
    stage: str
    done: bool
    round: int
    history: Annotated[list[dict[str, Any]], append_entries]
    rewards: Annotated[dict[str, Any], merge_rewards]
    winner: str | None
    decision: dict[str, Any] | None
    slots: dict[str, Any] | None
    """The task read as typed slots by an intake agent (design §3b): destination, dates, budget..."""
    started_at: str
    """When the run started (ISO 8601, local time with its offset): relative dates in the task
    ("next Friday") resolve against it, so a resumed or replayed run reads them the same way."""
    executed_agents_per_stage: Annotated[dict[str, list[str]], merge_executed]
    usage: Annotated[dict[str, Any], merge_usage]


STATE_KEYS: tuple[str, ...] = tuple(MootState.__annotations__)


def channel_kind(key: str) -> str:
    """`topic`, `binop` or `last_value`: the kind of LangGraph channel that holds `key`.

    (No key is a Topic today: `history` appends through a reducer, see `append_entries`.)

    Read from the schema's own annotations, so the policy can never disagree with the state.
    """
    hint = get_type_hints(MootState, include_extras=True)[key]
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, Topic):
            return "topic"
        if callable(meta):
            return "binop"
    return "last_value"


def _copy_part(part: str, value: Any) -> Any:
    if part == "totals":
        return {cand: dict(dims) for cand, dims in value.items()}
    return {agent: {cand: dict(dims) for cand, dims in scores.items()} for agent, scores in value.items()}


def _add_scores(into: Scores, scores: Scores) -> None:
    for cand, dims in scores.items():
        slot = into.setdefault(cand, {})
        for dim, value in dims.items():
            slot[dim] = round(slot.get(dim, 0) + round(float(value), 6), 6)


__all__ = [
    "STATE_KEYS",
    "MootState",
    "Scores",
    "append_entries",
    "channel_kind",
    "merge_executed",
    "merge_rewards",
    "merge_usage",
    "reward_update",
]
