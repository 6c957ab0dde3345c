"""Load a task set, or report every problem in it at once (`file:line:col: message (fix: ...)`).

A task set is read before anything runs, and completely: YAML syntax, each part's fields
(`moot.eval.spec`), unique slugs, check groups that exist, every predicate and every `=`
argument parsed (`Expression.parse` with the names they will see), and, when the caller passes
the workspace's name and tools, the `workspace:` it names and each call's tool and literal
arguments. An eval that fails on its third task because of a typo in its checker wastes the two
runs before it, which on a small local model is many minutes; so a typo is a located problem here.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from moot.errors import ExpressionError, UsageError
from moot.eval.predicates import ARGUMENT_NAMES, PREDICATE_NAMES, RESERVED
from moot.eval.spec import SLUG, CallSpec, TaskSetSpec, TaskSpec
from moot.expressions import METHODS, Expression
from moot.tools.errors import ToolArgumentsError, UnknownToolError
from moot.workspace import yamlio
from moot.workspace.problems import Problem, Problems, WorkspaceInvalid

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ToolChecker(Protocol):
    """What the loader needs of the workspace's tools (a `ToolRuntime` is one)."""

    def tool(self, name: str) -> Any: ...

    def validate(self, tool: str, arguments: Any) -> None: ...


@dataclass(frozen=True)
class Predicate:
    """A predicate of a task: from a check group (its name) or the task's `expect` ("expect")."""

    group: str
    expression: Expression


@dataclass(frozen=True)
class ToolCall:
    """A probe's or a setup step's call; argument values may hold `Expression`s (from `=`)."""

    tool: str
    arguments: Mapping[str, Any]
    where: str
    loc: tuple[Any, ...] = ()

    @property
    def literal(self) -> bool:
        """True when no argument is an expression (so the arguments can be checked at load)."""
        return not any(True for _ in _expressions(self.arguments))


@dataclass(frozen=True)
class Task:
    id: str
    task: str
    feasible: bool
    vars: Mapping[str, Any]
    predicates: tuple[Predicate, ...]
    setup: tuple[ToolCall, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class TaskSet:
    path: Path
    workspace: str | None
    probes: Mapping[str, ToolCall]
    tasks: tuple[Task, ...]
    located: yamlio.Located | None = field(default=None, repr=False, compare=False)

    def select(self, substring: str | None) -> TaskSet:
        """The tasks whose id contains `substring` (`-k`); a selection of none is a usage error."""
        if not substring:
            return self
        chosen = tuple(t for t in self.tasks if substring in t.id)
        if not chosen:
            ids = ", ".join(t.id for t in self.tasks)
            raise UsageError(f"-k {substring!r} selects no task of {self.path}; its task ids are: {ids}")
        return replace(self, tasks=chosen)


def load_taskset(
    path: str | Path,
    *,
    workspace: str | None = None,
    tools: ToolChecker | None = None,
    check_task: Callable[[str], object] | None = None,
) -> TaskSet:
    """Load `path`; raise `WorkspaceInvalid` listing every problem.

    `workspace`: the evaluated workspace's name (a `workspace:` in the file must match it);
    `tools`: its tools, to check each call's tool name and literal arguments; `check_task`: raises
    `UsageError` for a task text a run would refuse (empty, too long).
    """
    loader = _Loader(Path(path), workspace, tools, check_task)
    taskset = loader.load()
    loader.problems.raise_if_any()
    assert taskset is not None  # no problems means every part was built
    return taskset


class _Loader:
    def __init__(
        self, path: Path, workspace: str | None, tools: ToolChecker | None, check_task: Callable[[str], object] | None
    ) -> None:
        self.path = path
        self.workspace = workspace
        self.tools = tools
        self.check_task = check_task
        self.problems = Problems()
        self.located: yamlio.Located | None = None

    def load(self) -> TaskSet | None:
        located = self.problems.attempt(yamlio.load, self.path)
        if located is None:
            return None
        self.located = located
        for loc in located.duplicates:
            self._add(f"key {loc[-1]!r} is given twice; YAML keeps only this one", "remove one of them", *loc, key=True)
        data = self.problems.attempt(yamlio.as_mapping, located, "a task set")
        if data is None:
            return None
        # the top level's own problems (an unknown key, no tasks) do not stop the parts' checks
        top = self.problems.attempt(yamlio.validate, TaskSetSpec, located, data)
        workspace = top.workspace if top is not None else _part(data, "workspace", str, None)
        self._check_workspace(workspace)
        probes = self._probes(top.probes if top is not None else _part(data, "probes", Mapping, {}))
        groups = self._groups(top.checks if top is not None else _lists(_part(data, "checks", Mapping, {})))
        tasks = self._tasks(top.tasks if top is not None else _part(data, "tasks", list, []), groups)
        if self.problems:
            return None
        return TaskSet(self.path, workspace, probes, tuple(tasks), located)

    # -- parts ------------------------------------------------------------------------------

    def _check_workspace(self, named: str | None) -> None:
        if named is not None and self.workspace is not None and named != self.workspace:
            self._add(
                f"workspace: the task set is for workspace {named!r}, but the evaluated workspace is {self.workspace!r}",
                f"evaluate workspace {named!r}, or change this line to 'workspace: {self.workspace}'",
                "workspace",
            )

    def _probes(self, raw: Mapping[str, Any]) -> dict[str, ToolCall]:
        probes: dict[str, ToolCall] = {}
        for name, value in raw.items():
            if not isinstance(name, str) or not _IDENTIFIER.match(name) or keyword.iskeyword(name):
                fix = "use letters, digits and _, starting with a letter"
                self._add(f"probes: {name!r} is not a name a predicate can use", fix, "probes", name, key=True)
                continue
            if name in RESERVED:
                fix = "choose another name for this probe"
                self._add(f"probes: {name!r} is already a name predicates see", fix, "probes", name, key=True)
                continue
            call = self._call(value, ("probes", name), f"probes.{name}")
            if call is not None:
                probes[name] = call
        return probes

    def _groups(self, raw: Mapping[str, list[Any]]) -> dict[str, tuple[Predicate, ...]]:
        groups: dict[str, tuple[Predicate, ...]] = {}
        for group, sources in raw.items():
            if not sources:
                fix = "list at least one predicate, or remove the group"
                self._add(f"checks.{group}: the group has no predicates", fix, "checks", group, key=True)
            parsed = [self._predicate(group, src, "checks", group, i) for i, src in enumerate(sources)]
            groups[group] = tuple(p for p in parsed if p is not None)
        return groups

    def _tasks(self, raw: list[Any], groups: Mapping[str, tuple[Predicate, ...]]) -> list[Task]:
        tasks: list[Task] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(raw):
            spec = self._validated(TaskSpec, item, ("tasks", i), f"tasks[{i}]")
            if spec is None:
                continue
            if not re.match(SLUG, spec.id):
                fix = "use lowercase letters, digits, - and _, e.g. lisbon-3d"
                self._add(f"tasks[{i}].id: {spec.id!r} is not a slug", fix, "tasks", i, "id")
            elif spec.id in seen:
                message = f"tasks[{i}].id: {spec.id!r} is also the id of tasks[{seen[spec.id]}]"
                self._add(message, "give every task its own id", "tasks", i, "id")
            seen.setdefault(spec.id, i)
            tasks.append(self._task(i, spec, groups))
        return tasks

    def _task(self, i: int, spec: TaskSpec, groups: Mapping[str, tuple[Predicate, ...]]) -> Task:
        self._check_text(spec.task, i)
        predicates: list[Predicate] = []
        for j, group in enumerate(spec.checks):
            if group not in groups:
                known = ", ".join(sorted(groups)) or "none are defined"
                message = f"tasks[{i}].checks[{j}]: unknown check group {group!r} (groups: {known})"
                self._add(message, "define it under checks:, or correct the name", "tasks", i, "checks", j)
            predicates += groups.get(group, ())
        for j, src in enumerate(spec.expect):
            found = self._predicate("expect", src, "tasks", i, "expect", j)
            predicates += [found] if found is not None else []
        if not spec.checks and not spec.expect:
            fix = "add checks: [GROUP] or expect: [PREDICATE]"
            self._add(f"tasks[{i}]: task {spec.id!r} checks nothing, so it could never fail", fix, "tasks", i)
        setup = [self._call(c.model_dump(), ("tasks", i, "setup", j), f"tasks[{i}].setup[{j}]") for j, c in enumerate(spec.setup)]
        return Task(
            id=spec.id,
            task=spec.task,
            feasible=spec.feasible,
            vars=dict(spec.vars),
            predicates=tuple(predicates),
            setup=tuple(c for c in setup if c is not None),
            where=self._where("tasks", i),
        )

    def _predicate_names(self) -> frozenset[str]:
        """What predicates may name: the fixed names and every probe written (a probe with a problem
        of its own still counts, so that its predicates are not reported a second time)."""
        assert self.located is not None
        raw = self.located.get("probes")
        probes = {n for n in raw if isinstance(n, str)} if isinstance(raw, Mapping) else set()
        return frozenset(PREDICATE_NAMES | probes)

    def _check_text(self, text: str, i: int) -> None:
        if self.check_task is None:
            return
        try:
            self.check_task(text)
        except UsageError as exc:
            self._add(f"tasks[{i}].task: {exc}", "shorten the task, or raise the workspace's limits.task_max_chars", "tasks", i, "task")

    # -- pieces -----------------------------------------------------------------------------

    def _call(self, value: Any, loc: tuple[Any, ...], label: str) -> ToolCall | None:
        spec = self._validated(CallSpec, value, loc, label)
        if spec is None:
            return None
        before = len(self.problems)
        arguments = {k: self._argument(v, (*loc, "arguments", k), label) for k, v in spec.arguments.items()}
        call = ToolCall(spec.tool, arguments, self._where(*loc), loc)
        if self.tools is not None:  # arguments with a broken expression are not checked a second time
            self._check_tool(call, label, arguments=len(self.problems) == before)
        return call

    def _argument(self, value: Any, loc: tuple[Any, ...], label: str) -> Any:
        if isinstance(value, Mapping):
            return {k: self._argument(v, (*loc, k), label) for k, v in value.items()}
        if isinstance(value, list):
            return [self._argument(v, (*loc, n), label) for n, v in enumerate(value)]
        if not isinstance(value, str) or not value.startswith("="):
            return value
        if value.startswith("=="):
            return value[1:]  # an escaped literal "=..."
        field_name = ".".join(str(p) for p in loc[loc.index("arguments"):])
        try:
            return Expression.parse(value[1:], where=self._where(*loc), names=ARGUMENT_NAMES)
        except ExpressionError as exc:
            fix = _fix(exc.reason, ARGUMENT_NAMES, example="vars['checkin']")
            self._add(f"{label}.{field_name}: invalid expression {exc.expression!r}: {exc.reason}", fix, *loc)
            return value

    def _check_tool(self, call: ToolCall, label: str, *, arguments: bool) -> None:
        assert self.tools is not None
        try:
            self.tools.tool(call.tool)
            if arguments and call.literal:
                self.tools.validate(call.tool, dict(call.arguments))
        except UnknownToolError as exc:
            self._add(f"{label}.tool: {exc}", "name one of the tools listed", *call.loc, "tool")
        except ToolArgumentsError as exc:
            at = f" at {exc.path}" if exc.path else ""
            fix = "give the arguments the tool's input schema asks for"
            self._add(f"{label}.arguments: {call.tool}{at}: {exc.reason}", fix, *call.loc, "arguments")

    def _predicate(self, group: str, source: Any, *loc: Any) -> Predicate | None:
        names = self._predicate_names()
        try:
            return Predicate(group, Expression.parse(source, where=self._where(*loc), names=names))
        except ExpressionError as exc:
            label = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
            fix = _fix(exc.reason, names, example="len(bookings) >= 1")
            self._add(f"{label}: invalid predicate {exc.expression!r}: {exc.reason}", fix, *loc)
            return None

    def _validated(self, model: type[Any], value: Any, loc: tuple[Any, ...], label: str) -> Any:
        """`value` validated with `model`; its problems are recorded under `label` (e.g. `tasks[2]`)."""
        assert self.located is not None
        try:
            return yamlio.validate(model, self.located, value, prefix=loc)
        except WorkspaceInvalid as exc:
            for p in exc.problems:
                field_name, _, message = p.message.partition(": ")
                text = f"{label}: {message}" if field_name == "(top level)" else f"{label}.{p.message}"
                self.problems.add(Problem(p.file, p.line, p.column, text, p.fix))
            return None

    def _where(self, *loc: Any) -> str:
        assert self.located is not None
        line, column = self.located.position(*loc)
        return f"{self.path}:{line}:{column}"

    def _add(self, message: str, fix: str, *loc: Any, key: bool = False) -> None:
        assert self.located is not None
        self.problems.add(self.located.problem(message, fix, *loc, key=key))


def _fix(reason: str, names: frozenset[str], *, example: str) -> str:
    if reason.startswith("syntax error"):
        return f"correct the expression's syntax (a Python expression, e.g. \"{example}\")"
    if reason.startswith("unknown name"):
        return "use one of the names listed (a probe gives predicates a tool's result)"
    if reason.startswith("attribute"):
        return f"call only {', '.join(sorted(METHODS))}"
    return "write a Python expression over " + ", ".join(sorted(names)) + f", e.g. \"{example}\""


def _part(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """`data[key]` if it has the right kind (its problem, if any, was reported), else `default`."""
    value = data.get(key)
    return value if isinstance(value, kind) else default


def _lists(groups: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {name: value for name, value in groups.items() if isinstance(value, list)}


def _expressions(value: Any) -> Iterator[Expression]:
    if isinstance(value, Expression):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


__all__ = ["Predicate", "Task", "TaskSet", "ToolCall", "ToolChecker", "load_taskset"]
