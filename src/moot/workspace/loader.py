"""Load a workspace folder into agents, a stage plan and a write policy, or fail with file and line.

A workspace is `moot.yaml`, `agents/*.yaml`, `stages.yaml` and optionally `policy.yaml`
(design §8). Everything is checked before anything runs: YAML syntax, field types, agent names
used by stages, transition targets, expressions, policy writers, and LastValue keys written by
two agents of one parallel step. The built-in demo workspace ships inside the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from moot.agents.kinds import KINDS
from moot.agents.skill import SkillAgent
from moot.errors import ConfigError, PolicyConfigError, WorkspaceError
from moot.expressions import Expression
from moot.policy import WritePolicy
from moot.stages.rules import ExitRule
from moot.stages.stage import Stage, StagePlan, Transition
from moot.workspace import yamlio
from moot.workspace.spec import AgentSpec, StagesSpec, StageSpec, WorkspaceSpec

BUILTIN = ("demo",)


@dataclass(frozen=True)
class Workspace:
    """A loaded, validated workspace: what a runtime needs to build its graph."""

    name: str
    root: Path
    spec: WorkspaceSpec
    agents: Mapping[str, SkillAgent]
    plan: StagePlan
    policy: WritePolicy


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("moot") / "builtin" / name))


def resolve(name_or_path: str | None) -> Path:
    """A workspace folder from a built-in name (default `demo`) or a path."""
    if not name_or_path or name_or_path in BUILTIN:
        return builtin_path(name_or_path or "demo")
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    raise WorkspaceError(
        f"unknown workspace {name_or_path!r}: not a built-in ({', '.join(BUILTIN)}) and not a folder"
    )


def load_workspace(name_or_path: str | Path | None = None) -> Workspace:
    """Load and validate a whole workspace."""
    root = resolve(str(name_or_path) if name_or_path is not None else None)
    if not (root / "moot.yaml").is_file():
        raise WorkspaceError("not a workspace: moot.yaml is missing", path=str(root))
    main = yamlio.load(root / "moot.yaml")
    spec = yamlio.validate(WorkspaceSpec, main, yamlio.as_mapping(main, "moot.yaml"))
    agents = _load_agents(root)
    plan = _load_stages(root, agents)
    policy = _load_policy(root, agents, plan)
    return Workspace(name=spec.name, root=root, spec=spec, agents=agents, plan=plan, policy=policy)


def _load_agents(root: Path) -> dict[str, SkillAgent]:
    folder = root / "agents"
    if not folder.is_dir():
        raise WorkspaceError("the agents/ folder is missing", path=str(root))
    agents: dict[str, SkillAgent] = {}
    for path in sorted(folder.glob("*.y*ml")):
        located = yamlio.load(path)
        spec = yamlio.validate(AgentSpec, located, yamlio.as_mapping(located, "an agent file"))
        if spec.name in agents:
            raise located.error(f"agent {spec.name!r} is defined twice", "name")
        where = f"{path}:{located.line('exit')}"
        try:
            exit_rule = ExitRule.parse(spec.exit, where=where)
        except ConfigError as exc:
            raise located.error(str(exc).split(": ", 1)[-1], "exit") from None
        agents[spec.name] = KINDS[spec.kind](
            spec.name,
            prompt=spec.prompt,
            reads=tuple(spec.reads),
            writes=tuple(spec.writes),
            exit_rule=exit_rule,
            model_name=spec.model,
            description=spec.description,
            dimensions=tuple(spec.dimensions),
            options={"tools": spec.tools, "max_candidates": spec.max_candidates},
        )
    if not agents:
        raise WorkspaceError("no agent files (agents/*.yaml)", path=str(folder))
    return agents


def _load_stages(root: Path, agents: Mapping[str, SkillAgent]) -> StagePlan:
    located = yamlio.load(root / "stages.yaml")
    spec = yamlio.validate(StagesSpec, located, yamlio.as_mapping(located, "stages.yaml"))
    if spec.initial not in spec.stages:
        raise located.error(f"initial stage {spec.initial!r} is not defined", "initial")
    stages = {name: _stage(name, s, agents, spec, located) for name, s in spec.stages.items()}
    if not any(s.terminal for s in stages.values()):
        raise located.error("no stage is terminal: mark the last stage (e.g. final) with 'terminal: true'", "stages")
    return StagePlan(stages=stages, order=tuple(spec.stages), initial=spec.initial, max_rounds=spec.max_rounds)


def _stage(
    name: str, spec: StageSpec, agents: Mapping[str, SkillAgent], plan: StagesSpec, located: yamlio.Located
) -> Stage:
    at = ("stages", name)
    steps: list[tuple[str, ...]] = []
    for i, item in enumerate(spec.agents):
        step = (item,) if isinstance(item, str) else tuple(item)
        for agent in step:
            if agent not in agents:
                known = ", ".join(sorted(agents))
                raise located.error(f"stage {name!r} names an unknown agent {agent!r} (agents: {known})", *at, "agents", i)
        steps.append(step)
    if spec.mode == "parallel" and steps:
        steps = [tuple(a for step in steps for a in step)]

    def expr(source: str, *loc: object) -> Expression:
        return Expression.parse(source, where=f"{located.path}:{located.line(*at, *loc)}")

    transitions = []
    for i, t in enumerate(spec.transitions):
        if t.to not in plan.stages:
            raise located.error(f"stage {name!r}: transition to an unknown stage {t.to!r}", *at, "transitions", i, "to")
        transitions.append(Transition(to=t.to, when=expr(t.when, "transitions", i, "when") if t.when else None))
    if not spec.terminal and (not transitions or transitions[-1].when is not None):
        raise located.error(
            f"stage {name!r} is not terminal, so its last transition must have no 'when' (the fallback)", *at
        )
    return Stage(
        name=name,
        steps=tuple(steps),
        mode=spec.mode,
        weights=dict(spec.weights),
        should_exit=expr(spec.should_exit, "should_exit") if spec.should_exit else None,
        transitions=tuple(transitions),
        terminal=spec.terminal,
        approval=spec.approval,
    )


def _load_policy(root: Path, agents: Mapping[str, SkillAgent], plan: StagePlan) -> WritePolicy:
    path = root / "policy.yaml"
    located = yamlio.load(path) if path.is_file() else None
    data = yamlio.as_mapping(located, "policy.yaml") if located else {}
    try:
        policy = WritePolicy.from_mapping(data, agents=agents, where=str(path))
    except PolicyConfigError as exc:
        line = located.line(*exc.loc) if located else None
        raise WorkspaceError(str(exc).split(": ", 1)[-1], path=str(path), line=line) from None
    stages_file = root / "stages.yaml"
    for stage in plan.stages.values():
        for step in stage.steps:
            if len(step) > 1:
                try:
                    policy.check_parallel_stage(stage.name, {a: agents[a].writes for a in step})
                except ConfigError as exc:
                    raise WorkspaceError(str(exc), path=str(stages_file), line=yamlio.load(stages_file).line("stages", stage.name)) from None
    return policy


__all__ = ["BUILTIN", "Workspace", "builtin_path", "load_workspace", "resolve"]
