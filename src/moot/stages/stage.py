"""Stages: workflows of agents with stage-level exit and transitions (design §3).

A stage runs its agents in *steps*: in `sequential` mode each listed agent is a step and sees
the outputs of the steps before it; a step may also be a list of agents, run in parallel in one
LangGraph superstep and merged by the channels; `parallel` mode makes the whole stage one step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from moot.expressions import Expression
from moot.stages.rules import ExitRule

ONCE_PER_STAGE = ExitRule()

CANONICAL_STAGES = ("init", "proposal", "synthesis", "booking", "final")


@dataclass(frozen=True)
class Transition:
    """Go to `to` when `when` holds (or always, without `when`).

    A transition back to an earlier stage is a *revision*: it starts a new round, and is skipped
    once `max_rounds` rounds have run, so the next transition of the list applies instead.
    """

    to: str
    when: Expression | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    steps: tuple[tuple[str, ...], ...] = ()
    mode: Literal["sequential", "parallel"] = "sequential"
    weights: Mapping[str, float] = field(default_factory=dict)
    should_exit: Expression | None = None
    transitions: tuple[Transition, ...] = ()
    terminal: bool = False
    approval: bool = False
    """Pause for a human's approval when the router enters this stage (moot.graph.approval)."""

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(name for step in self.steps for name in step)


@dataclass(frozen=True)
class StagePlan:
    """The stage machine of a workspace: its stages, their order, the first stage, the round bound."""

    stages: Mapping[str, Stage]
    order: tuple[str, ...]
    initial: str = "init"
    max_rounds: int = 2
    exit_rules: Mapping[str, ExitRule] = field(default_factory=dict)
    """Each agent's exit rule (its file's `exit:`): when the router stops running it in a stage.
    Held by the plan, not the agent: when an agent runs is the stage machine's business."""

    def __getitem__(self, name: str) -> Stage:
        return self.stages[name]

    def exit_rule(self, agent: str) -> ExitRule:
        """The agent's exit rule; `once_per_stage` for an agent that declares none."""
        return self.exit_rules.get(agent, ONCE_PER_STAGE)

    def is_revision(self, source: str, target: str) -> bool:
        """Going back to a stage at or before `source` in the declared order starts a new round."""
        return self.order.index(target) <= self.order.index(source)


__all__ = ["CANONICAL_STAGES", "Stage", "StagePlan", "Transition"]
