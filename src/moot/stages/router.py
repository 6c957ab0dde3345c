"""The stage router: from the state alone, which agents run next, or which stage comes next.

`advance` is what the `stage_router` node does (the orchestrator's hand inside the graph, the
only writer of `stage`, `round` and `done`): if the current stage has exited, follow its first
transition that holds, as often as needed, and return the writes. `pending` is what the
conditional edge after it does: the agents of the current step that have not exited. Both are
pure functions of the state, so a resumed or imported run routes exactly as the original would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moot.errors import RunError
from moot.expressions import state_names
from moot.stages.stage import Stage, StagePlan
from moot.history import candidate_ids, pending_intents

TOOL_NODE = "tools"
"""The node that executes tool-call intents (present when the workspace has MCP servers)."""

MAX_HOPS = 32
"""Transitions the router may take in one call before it reports a cycle of empty stages."""


@dataclass
class Advance:
    """What the router writes (`updates`) and which stages it entered on the way (for events)."""

    updates: dict[str, Any] = field(default_factory=dict)
    entered: list[str] = field(default_factory=list)
    revisions: int = 0


def names_for(state: Mapping[str, Any], plan: StagePlan, stage: str, **extra: Any) -> dict[str, Any]:
    """The names an exit or transition expression sees while `stage` is current."""
    executed = list((state.get("executed_agents_per_stage") or {}).get(stage, []))
    return state_names(
        state,
        executed=executed,
        max_rounds=plan.max_rounds,
        candidates=candidate_ids(state.get("history") or []),
        **extra,
    )


def pending(state: Mapping[str, Any], plan: StagePlan, *, tools: bool = False) -> tuple[str, ...]:
    """The nodes to run now: the tool node while intents wait (with `tools`), else the first
    step of the current stage that has agents left to run."""
    if state.get("done"):
        return ()
    if tools and pending_intents(state.get("history") or []):
        return (TOOL_NODE,)
    stage = plan[state.get("stage") or plan.initial]
    names = names_for(state, plan, stage.name)
    if stage.should_exit is not None and stage.should_exit.holds(names):
        return ()
    executed: list[str] = names["executed"]
    for step in stage.steps:
        ready = tuple(
            agent
            for agent in step
            if not plan.exit_rule(agent).exited(executed.count(agent), {**names, "agent": agent, "runs": executed.count(agent)})
        )
        if ready:
            return ready
    return ()


def advance(state: Mapping[str, Any], plan: StagePlan, *, tools: bool = False) -> Advance:
    """Move past every stage that has exited; return the writes of the orchestrator's hand."""
    view: dict[str, Any] = dict(state)
    out = Advance()
    if view.get("done"):
        return out
    if not view.get("stage"):
        _enter(view, out, plan.initial, round_=view.get("round") or 1)
    for _ in range(MAX_HOPS):
        stage = plan[view["stage"]]
        if pending(view, plan, tools=tools):
            return out
        if stage.terminal:
            out.updates["done"] = True
            return out
        target = _transition(view, plan, stage, out)
        _enter(view, out, target, round_=view.get("round") or 1)
    raise RunError(f"the stage machine took {MAX_HOPS} transitions without running an agent; stages: {out.entered}")


def _transition(view: dict[str, Any], plan: StagePlan, stage: Stage, out: Advance) -> str:
    names = names_for(view, plan, stage.name)
    round_ = view.get("round") or 1
    for transition in stage.transitions:
        if transition.when is not None and not transition.when.holds(names):
            continue
        if plan.is_revision(stage.name, transition.to):
            if round_ >= plan.max_rounds:
                continue
            view["round"] = round_ + 1
            out.updates["round"] = round_ + 1
            out.revisions += 1
        return transition.to
    raise RunError(f"stage {stage.name!r}: no transition holds and the stage is not terminal")


def _enter(view: dict[str, Any], out: Advance, stage: str, *, round_: int) -> None:
    view["stage"] = stage
    executed = dict(view.get("executed_agents_per_stage") or {})
    executed[stage] = []
    view["executed_agents_per_stage"] = executed
    out.updates["stage"] = stage
    out.updates.setdefault("executed_agents_per_stage", {})[stage] = None
    if "round" not in out.updates and not view.get("round"):
        out.updates["round"] = round_
        view["round"] = round_
    out.entered.append(stage)


__all__ = ["Advance", "advance", "names_for", "pending"]
