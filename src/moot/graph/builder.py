"""Build a moot deliberation as a LangGraph `StateGraph` and compile it.

The result is an ordinary compiled LangGraph graph: LangGraph's tools can run it, inspect it
(`get_graph()`) and draw it (`draw_mermaid()`). Shape: START → stage_router; stage_router →
(conditional) the agents of the current step, or END; every agent → stage_router. The checks
that can be made before a run are made here: two writers of one LastValue key in a parallel
step is a `PolicyConfigError` now, not an `InvalidUpdateError` in the middle of a deliberation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from moot.agents.base import Agent
from moot.errors import PolicyConfigError
from moot.graph.node import STAGE_ROUTER, make_agent_node, make_router_node
from moot.graph.tools_node import ToolCaller, make_tool_node
from moot.memory.protocols import Memory
from moot.policy import TOOL_RUNTIME, WritePolicy
from moot.stages.router import TOOL_NODE, pending
from moot.stages.stage import StagePlan
from moot.state import MootState


def validate(agents: Mapping[str, Agent], plan: StagePlan, policy: WritePolicy) -> None:
    """Build-time checks of agents, stages and policy together."""
    for stage in plan.stages.values():
        for name in stage.agents:
            if name not in agents:
                raise PolicyConfigError(f"stage {stage.name!r} names an unknown agent {name!r}")
        for step in stage.steps:
            if len(step) > 1:
                policy.check_parallel_stage(stage.name, {name: agents[name].writes for name in step})
    for agent in agents.values():
        policy.check_declared(agent.name, agent.writes)
        if agent.name in (STAGE_ROUTER, TOOL_NODE):
            raise PolicyConfigError(f"{agent.name!r} is reserved; rename the agent")


def build_graph(
    agents: Mapping[str, Agent],
    plan: StagePlan,
    policy: WritePolicy,
    models: Mapping[str, BaseChatModel],
    *,
    checkpointer: BaseCheckpointSaver | None = None,
    max_repairs: int = 2,
    token_budget: int | None = None,
    tools: ToolCaller | None = None,
    tool_errors: Literal["continue", "fail"] = "continue",
    memory: Memory | None = None,
    memory_budget: int = 0,
    name: str = "moot",
) -> CompiledStateGraph:
    """Compile the deliberation graph of a workspace; with `tools`, a tool node executes intents."""
    validate(agents, plan, policy)
    if tools is not None and not policy.may_write(TOOL_RUNTIME, "history"):
        raise PolicyConfigError(f"the workspace has MCP tools but its policy does not let {TOOL_RUNTIME!r} write 'history'")
    graph: StateGraph[Any] = StateGraph(MootState)
    graph.add_node(STAGE_ROUTER, make_router_node(plan, tools=tools is not None, policy=policy))
    used = [a for a in agents.values() if any(a.name in s.agents for s in plan.stages.values())]
    for agent in used:
        graph.add_node(
            agent.name,
            make_agent_node(
                agent,
                policy=policy,
                plan=plan,
                model=model_for(agent, models),
                max_repairs=max_repairs,
                token_budget=token_budget,
                memory=memory,
                memory_budget=memory_budget,
            ),
        )
        graph.add_edge(agent.name, STAGE_ROUTER)

    targets = [a.name for a in used] + [END]
    if tools is not None:
        graph.add_node(TOOL_NODE, make_tool_node(tools, policy=policy, on_error=tool_errors))
        graph.add_edge(TOOL_NODE, STAGE_ROUTER)
        targets.insert(0, TOOL_NODE)

    def route(state: MootState) -> list[str] | str:
        return list(pending(state, plan, tools=tools is not None)) or END

    graph.add_edge(START, STAGE_ROUTER)
    graph.add_conditional_edges(STAGE_ROUTER, route, targets)
    return graph.compile(checkpointer=checkpointer, name=name)


def model_for(agent: Agent, models: Mapping[str, BaseChatModel]) -> BaseChatModel:
    """The chat model an agent names, falling back to the workspace default."""
    model = models.get(agent.model_name) or models.get("default")
    if model is None:
        raise PolicyConfigError(
            f"agent {agent.name!r} uses model {agent.model_name!r}, which the workspace does not define "
            f"(models: {', '.join(sorted(models)) or 'none'})"
        )
    return model


__all__ = ["build_graph", "model_for", "validate"]
