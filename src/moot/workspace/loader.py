"""Load a workspace folder into agents, a stage plan and a write policy, or report every problem.

A workspace is `moot.yaml`, `agents/*.yaml`, `stages.yaml` and optionally `policy.yaml`
(design §8). Everything is checked before anything runs: YAML syntax, field types, agent names
used by stages, transition targets, expressions, the stage machine's shape (`checks`), policy
writers, and LastValue keys written by two agents of one parallel step. A problem does not stop
the checks: each file and each stage is checked on its own, and what depends on a broken part is
skipped rather than reported twice. `load_workspace` raises one `WorkspaceInvalid` with all the
problems; `validate_workspace` returns them. The built-in workspaces ship inside the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from moot.agents.kinds import KINDS
from moot.agents.skill import SkillAgent
from moot.constraints import Constraint
from moot.errors import ExpressionError, PolicyConfigError, WorkspaceError
from moot.expressions import METHODS, Expression
from moot.policy import WritePolicy
from moot.stages.rules import ExitRule
from moot.stages.stage import Stage, StagePlan, Transition
from moot.workspace import yamlio
from moot.workspace.compile import compile_agent, compile_constraints
from moot.workspace.checks import Step, check_declared_writes, check_parallel_steps, check_stage_machine
from moot.workspace.problems import Problem, Problems, WorkspaceInvalid
from moot.workspace.spec import AgentSpec, PolicySpec, StagesSpec, StageSpec, WorkspaceSpec

BUILTIN = ("demo", "code_review", "research")


@dataclass(frozen=True)
class Workspace:
    """A loaded, validated workspace: what a runtime needs to build its graph."""

    name: str
    root: Path
    spec: WorkspaceSpec
    agents: Mapping[str, SkillAgent]
    plan: StagePlan
    policy: WritePolicy
    constraints: tuple[Constraint, ...] = ()
    """moot.yaml's hard constraints (they reach the proposers through their options)."""


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
    """Load and validate a whole workspace; raise `WorkspaceInvalid` listing every problem."""
    loader = _Loader(resolve(str(name_or_path) if name_or_path is not None else None))
    workspace = loader.load()
    loader.problems.raise_if_any()
    assert workspace is not None  # no problems means every part was built
    return workspace


def validate_workspace(name_or_path: str | Path) -> list[Problem]:
    """Every problem of a workspace (empty when it loads), each with file, line, column and fix."""
    loader = _Loader(resolve(str(name_or_path)))
    loader.load()
    return list(loader.problems)


def _expression_fix(reason: str) -> str:
    if reason.startswith("syntax error"):
        return "correct the expression's syntax (a Python condition, e.g. \"round < max_rounds\")"
    if reason.startswith("unknown name"):
        return "use a state key or one of the names listed"
    if reason.startswith("attribute"):
        return f"call only {', '.join(sorted(METHODS))}"
    return "write a condition over the state, e.g. \"decision.get('next_stage') == 'final'\""


class _Loader:
    """One pass over a workspace folder that records problems in `problems` and goes on."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems = Problems()
        self.agent_files: dict[str, yamlio.Located] = {}
        self.exit_rules: dict[str, ExitRule] = {}
        self.broken_agents: set[str] = set()
        """Names of agents whose file has problems: stages may name them without a second report."""
        self.steps: list[Step] = []

    def load(self) -> Workspace | None:
        if not (self.root / "moot.yaml").is_file():
            fix = "create it, or start from a working workspace with `moot workspace new NAME`"
            self.problems.add(Problem(str(self.root), None, None, "not a workspace: moot.yaml is missing", fix))
            return None
        spec = self._file(WorkspaceSpec, self.root / "moot.yaml", "moot.yaml")
        constraints = self._constraints(spec)
        agents = self._agents(constraints)
        plan, stages_file = self._stages(agents)
        policy = self._policy(agents)
        if policy is not None and agents is not None:
            if stages_file is not None:
                self.problems.extend(check_parallel_steps(self.steps, agents, policy, stages_file))
            self.problems.extend(check_declared_writes(agents, self.agent_files, policy))
        if self.problems or spec is None or agents is None or plan is None or policy is None:
            return None
        return Workspace(
            name=spec.name, root=self.root, spec=spec, agents=agents, plan=plan, policy=policy, constraints=constraints or ()
        )

    def _constraints(self, spec: WorkspaceSpec | None) -> tuple[Constraint, ...] | None:
        """moot.yaml's hard constraints, compiled (their expressions' problems located in moot.yaml)."""
        if spec is None or not spec.constraints:
            return ()
        located = yamlio.load(self.root / "moot.yaml")
        return compile_constraints(spec.constraints, located, self.problems)

    def _read(self, path: Path, what: str) -> tuple[yamlio.Located, Mapping[str, Any]] | None:
        """A YAML file and its top-level mapping, or None after recording why not."""
        located = self.problems.attempt(yamlio.load, path)
        if located is None:
            return None
        for loc in located.duplicates:
            self.problems.add(
                located.problem(f"key {loc[-1]!r} is given twice; YAML keeps only this one", "remove one of them", *loc, key=True)
            )
        data = self.problems.attempt(yamlio.as_mapping, located, what)
        return (located, data) if data is not None else None

    def _file(self, model: type[Any], path: Path, what: str) -> Any:
        read = self._read(path, what)
        return self.problems.attempt(yamlio.validate, model, read[0], read[1]) if read else None

    # ----------------------------------------------------------------------------------------
    # agents

    def _agents(self, constraints: tuple[Constraint, ...] | None) -> dict[str, SkillAgent] | None:
        """The agents that are valid (None when the folder itself is missing or empty)."""
        folder = self.root / "agents"
        if not folder.is_dir():
            self.problems.add(Problem(str(self.root), None, None, "the agents/ folder is missing", "create agents/ with one <name>.yaml per agent"))
            return None
        paths = sorted(folder.glob("*.y*ml"))
        if not paths:
            self.problems.add(Problem(str(folder), None, None, "no agent files (agents/*.yaml)", "add one <name>.yaml per agent"))
            return None
        agents: dict[str, SkillAgent] = {}
        seen: set[str] = set()
        for path in paths:
            read = self._read(path, "an agent file")
            if read is None:
                self.broken_agents.add(path.stem)
                continue
            located, data = read
            spec = self.problems.attempt(yamlio.validate, AgentSpec, located, data)
            name = spec.name if spec is not None else data.get("name")
            if isinstance(name, str):
                if name in seen:
                    self.problems.add(located.problem(f"agent {name!r} is defined twice", "give each agent a unique name", "name"))
                    continue
                seen.add(name)
            exit_rule = self._exit_rule(data.get("exit"), located)  # `exit` is free-form to pydantic
            compiled = compile_agent(spec, located, self.problems) if spec is not None else None
            if spec is None or exit_rule is None or compiled is None:
                self.broken_agents.add(name if isinstance(name, str) else path.stem)
                continue
            self.agent_files[spec.name] = located
            self.exit_rules[spec.name] = exit_rule
            agents[spec.name] = KINDS[spec.kind](
                spec.name,
                prompt=spec.prompt,
                reads=tuple(spec.reads),
                writes=tuple(spec.writes),
                model_name=spec.model,
                description=spec.description,
                dimensions=tuple(spec.dimensions or (spec.scores or {})),
                options={
                    "tools": spec.tools,
                    "max_candidates": spec.max_candidates,
                    "output": spec.output,
                    "candidates": spec.candidates,
                    "next_stages": spec.next_stages,
                    "bind": spec.bind,
                    "constraints": constraints or (),
                    **compiled,
                },
            )
        return agents

    def _exit_rule(self, raw: Any, located: yamlio.Located) -> ExitRule | None:
        line, column = located.position("exit")
        try:
            return ExitRule.parse(raw, where=f"{located.path}:{line}:{column}")
        except ExpressionError as exc:
            when = raw.get("when") if isinstance(raw, Mapping) else None
            if when is not None and exc.expression == when:
                message = f"exit.when: invalid expression {exc.expression!r}: {exc.reason}"
                self.problems.add(located.problem(message, _expression_fix(exc.reason), "exit", "when"))
            else:
                fix = "write once_per_stage, {max_runs: N} or {when: EXPR}"
                self.problems.add(located.problem(f"exit: {exc.reason} (got {exc.expression})", fix, "exit"))
            return None

    # ----------------------------------------------------------------------------------------
    # stages

    def _stages(self, agents: Mapping[str, SkillAgent] | None) -> tuple[StagePlan | None, yamlio.Located | None]:
        read = self._read(self.root / "stages.yaml", "stages.yaml")
        if read is None:
            return None, None
        located, data = read
        spec = self.problems.attempt(yamlio.validate, StagesSpec, located, data)
        # a stage that is valid on its own is still checked when a sibling is not
        raw = data.get("stages")
        specs: dict[str, StageSpec] = spec.stages if spec is not None else _valid_stages(raw)
        names = set(spec.stages if spec is not None else raw if isinstance(raw, Mapping) else ())
        stages = {name: self._stage(name, s, agents, names, located) for name, s in specs.items()}
        if spec is None:
            return None, located
        self.problems.extend(check_stage_machine(spec, located))
        plan = StagePlan(
            stages=stages, order=tuple(spec.stages), initial=spec.initial, max_rounds=spec.max_rounds,
            exit_rules={name: rule for name, rule in self.exit_rules.items() if agents is None or name in agents},
        )
        return plan, located

    def _stage(
        self, name: str, spec: StageSpec, agents: Mapping[str, SkillAgent] | None, names: set[str], located: yamlio.Located
    ) -> Stage:
        at = ("stages", name)
        steps: list[list[tuple[str, tuple[object, ...]]]] = []
        for i, item in enumerate(spec.agents):
            members = [(item, (*at, "agents", i))] if isinstance(item, str) else [(a, (*at, "agents", i, j)) for j, a in enumerate(item)]
            for agent, loc in members:
                if agents is not None and agent not in agents and agent not in self.broken_agents:
                    known = ", ".join(sorted({*agents, *self.broken_agents}))
                    self.problems.add(
                        located.problem(
                            f"stage {name!r} names an unknown agent {agent!r} (agents: {known})",
                            "use the 'name' of a file in agents/, or add that agent",
                            *loc,
                        )
                    )
            steps.append(members)
        if spec.mode == "parallel" and steps:
            steps = [[member for step in steps for member in step]]
        self.steps.extend(Step(name, tuple(step)) for step in steps if len(step) > 1)

        transitions = []
        for i, t in enumerate(spec.transitions):
            if t.to not in names:
                self.problems.add(
                    located.problem(
                        f"stage {name!r}: transition to an unknown stage {t.to!r} (stages: {', '.join(sorted(names))})",
                        "name a stage defined under 'stages'",
                        *at, "transitions", i, "to",
                    )
                )
            when = self._expression(t.when, located, *at, "transitions", i, "when") if t.when else None
            transitions.append(Transition(to=t.to, when=when))
        if not spec.terminal and (not transitions or transitions[-1].when is not None):
            self.problems.add(
                located.problem(
                    f"stage {name!r} is not terminal, so its last transition must have no 'when' (the fallback)",
                    "add a last transition without 'when', or mark the stage 'terminal: true'",
                    *at, key=True,
                )
            )
        return Stage(
            name=name,
            steps=tuple(tuple(agent for agent, _ in step) for step in steps),
            mode=spec.mode,
            weights=dict(spec.weights),
            should_exit=self._expression(spec.should_exit, located, *at, "should_exit") if spec.should_exit else None,
            transitions=tuple(transitions),
            terminal=spec.terminal,
            approval=spec.approval,
        )

    def _expression(self, source: str, located: yamlio.Located, *loc: object) -> Expression | None:
        line, column = located.position(*loc)
        try:
            return Expression.parse(source, where=f"{located.path}:{line}:{column}")
        except ExpressionError as exc:
            message = f"invalid expression {exc.expression!r}: {exc.reason}"
            self.problems.add(located.problem(message, _expression_fix(exc.reason), *loc))
            return None

    # ----------------------------------------------------------------------------------------
    # policy

    def _inline_policy(self) -> tuple[yamlio.Located, Mapping[str, Any]] | None:
        """`policy:` of moot.yaml (design §8 lists the policy among moot.yaml's sections), if any."""
        try:
            main = yamlio.load(self.root / "moot.yaml")
        except WorkspaceInvalid:
            return None  # moot.yaml's own problems are reported with it
        data = main.data.get("policy") if isinstance(main.data, Mapping) else None
        return (main, _mapping_or_empty(data)) if data is not None else None

    def _policy(self, agents: Mapping[str, SkillAgent] | None) -> WritePolicy | None:
        """The policy from `policy.yaml` over the defaults. With problems in the file, the policy
        of its valid entries: what it lets the real agents write is the same, so the checks of
        agents against it stay right."""
        path = self.root / "policy.yaml"
        names = set(agents or ()) | self.broken_agents
        inline = self._inline_policy()
        if inline is not None and path.is_file():
            main, _ = inline
            self.problems.add(main.problem(
                "the policy is given twice: here and in policy.yaml", "keep one of them", "policy", key=True
            ))
            return None
        prefix: tuple[str, ...] = ()
        if inline is not None:  # `policy:` in moot.yaml; its shape was checked with moot.yaml
            (located, data), prefix = inline, ("policy",)
        elif not path.is_file():
            return WritePolicy.from_mapping({}, agents=names)
        else:
            read = self._read(path, "policy.yaml")
            if read is None:
                return None
            located, data = read
            self.problems.attempt(yamlio.validate, PolicySpec, located, data)  # shapes and types
        if agents is None:  # without the agents, no writer can be told from a typo
            return None
        where = str(located.path)

        def accepted(piece: dict[str, Any], fix: str, *loc: object) -> bool:
            try:
                WritePolicy.from_mapping(piece, agents=names, where=where)
            except PolicyConfigError as exc:
                self.problems.add(located.problem(str(exc).removeprefix(f"{where}: "), fix, *prefix, *loc, key=len(loc) == 2))
                return False
            return True

        usable: dict[str, Any] = {}
        if data.get("on_violation") in ("fail", "skip"):
            usable["on_violation"] = data["on_violation"]
        writers = data.get("writers")
        for key, listed in (writers.items() if isinstance(writers, Mapping) else ()):
            if not isinstance(listed, list) or not accepted({"writers": {key: []}}, "use one of the state keys listed", "writers", key):
                continue
            fix = "name an agent of the workspace or a system writer"
            usable.setdefault("writers", {})[key] = [
                w for i, w in enumerate(listed) if isinstance(w, str) and accepted({"writers": {key: [w]}}, fix, "writers", key, i)
            ]
        memory = data.get("memory_writers")
        usable["memory_writers"] = [
            w
            for i, w in enumerate(memory if isinstance(memory, list) else ())
            if isinstance(w, str) and accepted({"memory_writers": [w]}, "name an agent of the workspace", "memory_writers", i)
        ]
        return WritePolicy.from_mapping(usable, agents=names, where=where)


def _mapping_or_empty(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _valid_stages(raw: Any) -> dict[str, StageSpec]:
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for name, value in raw.items():
        try:
            out[name] = StageSpec.model_validate(value)
        except ValidationError:
            continue
    return out


__all__ = ["BUILTIN", "Workspace", "builtin_path", "load_workspace", "resolve", "validate_workspace"]
