"""Checks that look at a whole workspace: the shape of the stage machine and the write policy
against what the agents declare. Each returns problems; none stops at the first.

What bounds a loop is decided by the router (`moot.stages.router`), so these checks follow it:

- A transition to a stage at or before its source in the declared order is a *revision*: the
  router counts it in `round`, which never decreases during a run, and skips it once `round`
  has reached `max_rounds`. Every cycle of the transition graph has at least one such edge (a
  cycle cannot only move forward in a linear order), so **every cycle is bounded** by the round
  counter; the router can never loop forever.
- What the bound does *not* guarantee is a way out. Once the rounds are spent only forward
  transitions remain, and a stage with no forward transition that leads to a terminal stage
  then has nothing left to take: the run fails with "no transition holds". So the unbounded
  cycles reported here are the ones that cannot be left: a cycle from which no terminal stage is
  reachable at all, and a stage of a cycle that reaches a terminal stage only through revisions.
- Transitions of a terminal stage are never followed (the router ends the run there).

Conditions (`when`) are not evaluated: an edge counts as possible when its target exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from moot.agents.skill import SkillAgent
from moot.policy import WritePolicy
from moot.stages.stage import StagePlan
from moot.state import STATE_KEYS, channel_kind
from moot.workspace.problems import Problem
from moot.workspace.spec import StagesSpec
from moot.workspace.yamlio import Located


@dataclass(frozen=True)
class Step:
    """Agents that run in one superstep of `stage`, with the path of each in `stages.yaml`."""

    stage: str
    agents: tuple[tuple[str, tuple[object, ...]], ...]


def check_stage_machine(spec: StagesSpec, located: Located) -> list[Problem]:
    """Initial stage, terminal stages, reachability and cycles that cannot be left."""
    order = tuple(spec.stages)
    names = ", ".join(order)
    terminal = {name for name, s in spec.stages.items() if s.terminal}
    edges = {
        name: tuple(t.to for t in s.transitions if t.to in spec.stages) for name, s in spec.stages.items() if not s.terminal
    }
    # a stage with a transition to an unknown stage is reported already; assume the fix leads on
    unsure = {name for name, s in spec.stages.items() if any(t.to not in spec.stages for t in s.transitions)}
    problems: list[Problem] = []
    if spec.initial not in spec.stages:
        problems.append(
            located.problem(f"initial stage {spec.initial!r} is not defined (stages: {names})", "set 'initial' to one of the stages", "initial")
        )
    if not terminal:
        problems.append(
            located.problem("no stage is terminal, so no run can finish", "mark the last stage (e.g. final) with 'terminal: true'", "stages", key=True)
        )
    if problems:
        return problems
    reachable = _closure([spec.initial], edges)
    for name in order:
        if name not in reachable:
            problems.append(
                located.problem(
                    f"stage {name!r} is unreachable: no chain of transitions from the initial stage {spec.initial!r} leads to it",
                    f"add a transition to {name!r} from a reachable stage, or remove it",
                    "stages", name, key=True,
                )
            )
    revision = StagePlan(stages={}, order=order).is_revision
    forward = {s: tuple(t for t in targets if not revision(s, t)) for s, targets in edges.items()}
    finishing = _reaching(terminal | unsure, edges)
    finishing_forward = _reaching(terminal | unsure, forward)
    for cycle in _cycles(reachable, edges, order):
        first = cycle[0]
        listed = ", ".join(repr(s) for s in cycle)
        if not finishing & set(cycle):
            problems.append(
                located.problem(
                    f"stages {listed} form a cycle with no way to a terminal stage: a run goes round it "
                    f"until max_rounds ({spec.max_rounds}) stops the revisions, then fails",
                    f"add a transition from {first!r} to a stage that leads to a terminal stage",
                    "stages", first, key=True,
                )
            )
            continue
        for name in cycle:
            back = [t for t in edges[name] if revision(name, t)]
            if back and name not in finishing_forward:
                problems.append(
                    located.problem(
                        f"stage {name!r} leaves its cycle ({listed}) only by revision (to {', '.join(map(repr, back))}), "
                        f"which the router skips once max_rounds ({spec.max_rounds}) rounds have run; no forward "
                        f"transition leads on to a terminal stage, so the run would fail there",
                        f"add a forward transition from {name!r} towards a terminal stage after the revision "
                        f"(e.g. '- to: {sorted(terminal)[0]}')",
                        "stages", name, key=True,
                    )
                )
    return problems


def check_declared_writes(
    agents: Mapping[str, SkillAgent], files: Mapping[str, Located], policy: WritePolicy
) -> list[Problem]:
    """An agent that declares a key its policy does not let it write would be refused at run
    time, on its first write: say so now, at the declaration."""
    problems = []
    for name, agent in agents.items():
        for i, key in enumerate(agent.writes):
            if key in STATE_KEYS and not policy.may_write(name, key):
                allowed = ", ".join(sorted(policy.allowed(key))) or "nobody"
                problems.append(
                    files[name].problem(
                        f"agent {name!r} declares {key!r} in 'writes', but the policy lets only {allowed} write it",
                        f"remove {key!r} from 'writes', or add {name!r} to 'writers: {{{key}: [...]}}' in policy.yaml",
                        "writes", i,
                    )
                )
    return problems


def check_parallel_steps(
    steps: Iterable[Step], agents: Mapping[str, SkillAgent], policy: WritePolicy, located: Located
) -> list[Problem]:
    """Two agents of one superstep that may write one LastValue key: LangGraph would refuse the
    second value mid-run. "May write" is what an agent declares or what the policy allows it,
    as in `WritePolicy.check_parallel_stage`, which the graph builder runs again."""
    problems = []
    for step in steps:
        first_writer: dict[str, str] = {}
        for agent, loc in step.agents:
            if agent not in agents:
                continue
            keys = dict.fromkeys([*agents[agent].writes, *(k for k in STATE_KEYS if agent in policy.allowed(k))])
            for key in keys:
                if key not in STATE_KEYS or channel_kind(key) != "last_value":
                    continue
                if key in first_writer and first_writer[key] != agent:
                    problems.append(
                        located.problem(
                            f"stage {step.stage!r}: agents {first_writer[key]!r} and {agent!r} run in one parallel "
                            f"step and may both write the LastValue key {key!r}; only one value can win a superstep",
                            f"run them one after the other, or let only one of them write {key!r}",
                            *loc,
                        )
                    )
                first_writer.setdefault(key, agent)
    return problems


def _closure(start: Iterable[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges.get(name, ()))
    return seen


def _reaching(goals: set[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
    """Stages from which some stage of `goals` is reachable (goals included)."""
    back: dict[str, list[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            back.setdefault(target, []).append(source)
    return _closure(goals, back)


def _cycles(among: set[str], edges: Mapping[str, Sequence[str]], order: Sequence[str]) -> list[tuple[str, ...]]:
    """The strongly connected components of `among` that contain a cycle, each in declared order."""
    reach = {name: _closure(edges.get(name, ()), edges) for name in among}
    done: set[str] = set()
    out = []
    for name in order:
        if name in among and name not in done and name in reach[name]:
            component = tuple(s for s in order if s in among and s in reach[name] and name in reach[s])
            done.update(component)
            out.append(component)
    return out


__all__ = ["Step", "check_declared_writes", "check_parallel_steps", "check_stage_machine"]
