"""Graph nodes: the agent node wrapper and the stage router node.

The wrapper is where the rules of design §2–4 hold: it gives an agent only the keys it declares
in `reads`, checks the agent's whole update against the write policy *before* LangGraph sees it
(a refused update contributes nothing), stamps provenance on history entries, adds the runtime's
own bookkeeping (`executed_agents_per_stage`, `usage`), stops the run before an agent once the
token budget is spent, and emits lifecycle events (`events.node_emitter`: the orchestrator's sink,
or LangGraph's `custom` stream). Agents therefore never emit lifecycle events themselves.
"""

from __future__ import annotations

from dataclasses import replace
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel

from moot.agents.base import Agent, AgentContext
from moot.accounting import used_tokens
from moot.errors import PolicyViolation, TokenBudgetExceeded
from moot.graph import approval
from moot.graph.events import node_emitter
from moot.memory.protocols import Memory
from moot.policy import HUMAN, WritePolicy
from moot.stages.router import advance
from moot.stages.stage import StagePlan
from moot.state import MootState
from moot import telemetry

STAGE_ROUTER = "stage_router"

NodeFn = Callable[[MootState], Any]


def make_agent_node(
    agent: Agent,
    *,
    policy: WritePolicy,
    plan: StagePlan,
    model: BaseChatModel,
    max_repairs: int,
    token_budget: int | None = None,
    memory: Memory | None = None,
    memory_budget: int = 0,
) -> NodeFn:
    """The LangGraph node that runs `agent` under the write policy."""

    async def node(state: MootState) -> dict[str, Any]:
        emit = node_emitter()
        stage = state.get("stage") or plan.initial
        round_ = state.get("round") or 1
        ctx = AgentContext(
            agent=agent.name,
            stage=stage,
            round=round_,
            run_id=state.get("run_id", ""),
            session_id=state.get("session_id", ""),
            model=model,
            stage_weights=plan[stage].weights,
            max_repairs=max_repairs,
        )
        if token_budget is not None and (used := used_tokens(state.get("usage"))) >= token_budget:
            raise TokenBudgetExceeded(used, token_budget, agent=agent.name, stage=stage)
        with telemetry.agent_turn(ctx.run_id, stage, round_, agent.name) as span:
            updates = await turn(state, ctx, emit)
            telemetry.turn_usage(span, updates["usage"][agent.name])
        return updates

    async def turn(state: MootState, ctx: AgentContext, emit: Any) -> dict[str, Any]:
        stage, round_ = ctx.stage, ctx.round
        recalled = ""
        if memory is not None and memory_budget > 0 and state.get("user_id"):
            found = await memory.recall(state.get("session_id", ""), state["user_id"], state.get("task") or "", memory_budget)
            recalled = found.text
        rules = ""
        procedures = memory.procedural if memory is not None else None
        if procedures is not None:
            procedure = await procedures.get(agent.name)
            rules = procedure.text if procedure is not None else ""
        if recalled or rules:
            ctx = replace(ctx, memory=recalled, rules=rules)
        snapshot = {key: state.get(key) for key in agent.reads}
        emit({"type": "agent_started", "agent": agent.name, "stage": stage, "data": {"round": round_}})
        result = await agent(snapshot, ctx)
        updates = dict(result.updates)
        try:
            policy.check(agent.name, updates, stage=stage, declared=agent.writes)
        except PolicyViolation as violation:
            telemetry.violation(agent.name, violation.key, list(violation.allowed), str(violation))
            emit(
                {
                    "type": "policy_violation",
                    "agent": agent.name,
                    "stage": stage,
                    "data": {"key": violation.key, "allowed": list(violation.allowed), "message": str(violation)},
                }
            )
            if policy.on_violation == "fail":
                raise
            updates = {}
        if "history" in updates:
            updates["history"] = [_stamp(e, agent.name, stage, round_) for e in _as_list(updates["history"])]
        for event in result.events if updates else ():
            emit({**event, "agent": agent.name, "stage": stage})
        updates["executed_agents_per_stage"] = {stage: [agent.name]}
        spent = result.usage.as_dict()
        updates["usage"] = {agent.name: {**spent, "model": result.usage.model, "stages": {stage: spent}}}
        # no `agent_finished` here: the orchestrator reads it from this update on the `updates`
        # stream (`finished_data`), which costs nothing
        return updates

    node.__name__ = agent.name
    return node


def make_router_node(plan: StagePlan, *, tools: bool = False, policy: WritePolicy | None = None) -> NodeFn:
    """The stage router: the orchestrator's hand in the graph, sole writer of stage/round/done.

    Entering a stage marked `approval` pauses the run for a human (LangGraph `interrupt`). The
    router emits no event itself: the stages it entered and a human's answer are in its update
    (`router_events` reads them), which arrives once, after the answer.
    """

    def stage_router(state: MootState) -> dict[str, Any]:
        step = advance(state, plan, tools=tools)
        updates = step.updates
        gated = [name for name in step.entered if plan[name].approval]
        if gated and policy is not None:
            updates = approval.request(gated[-1], state, updates, policy)
        return updates

    return stage_router


def router_events(update: Mapping[str, Any], round_: int) -> list[dict[str, Any]]:
    """The events of a stage router's update, in order: `stage_entered` for each stage it entered
    (the router resets each entered stage's count, `executed_agents_per_stage: {stage: None}`),
    then `approval_given` when a human answered. Read from the update on the `updates` stream,
    they cost no event of their own from the node."""
    round_ = update.get("round", round_)
    events: list[dict[str, Any]] = [
        {"type": "stage_entered", "stage": stage, "agent": None, "data": {"round": round_}}
        for stage, count in (update.get("executed_agents_per_stage") or {}).items()
        if count is None
    ]
    for entry in update.get("history") or ():
        if entry.get("type") == approval.APPROVAL:
            events.append({"type": "approval_given", "stage": entry.get("stage"), "agent": HUMAN, "data": entry.get("content") or {}})
    return events


def finished_data(agent: str, update: Mapping[str, Any], duration_s: float) -> dict[str, Any]:
    """The data of an agent's `agent_finished` event, read from the update its node returned:
    the keys it wrote (bookkeeping aside), its token usage, and how long it ran."""
    spent = dict((update.get("usage") or {}).get(agent) or {})
    spent.pop("model", None)
    spent.pop("stages", None)
    return {
        "keys": sorted(k for k in update if k not in ("executed_agents_per_stage", "usage")),
        "usage": spent,
        "duration_s": round(duration_s, 6),
    }


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _stamp(entry: Any, agent: str, stage: str, round_: int) -> dict[str, Any]:
    """Provenance is the runtime's word, not the agent's: an agent cannot speak as another."""
    entry = dict(entry) if isinstance(entry, Mapping) else {"type": "note", "content": {"text": str(entry)}}
    entry.update(agent=agent, stage=stage, round=round_)
    return entry


__all__ = ["STAGE_ROUTER", "finished_data", "make_agent_node", "make_router_node", "router_events"]
