"""Compile the expressions of a workspace's decision specs at load, each problem at its file:line:col.

The specs of `moot.workspace.spec_decide` hold expressions and templates as text; here they become
`Expression`s, `Template`s and `Value`s (`moot.expressions`, `moot.templates`), so a typo in a
constraint, a fact, a score or an argument is reported when the workspace loads — with every other
problem of the workspace — and a run never fails on one. Fields that are always expressions
(`check`, `when`, `facts`, `scores`, `order`, `compute`) may be written with or without a leading
`=`; in values (`arguments`, `default`) a leading `=` is what makes a string an expression.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from moot.agents.calls import Call
from moot.agents.grounded import Grounding, Part
from moot.constraints import Constraint
from moot.errors import ExpressionError
from moot.expressions import Expression
from moot.intake.slots import Slot
from moot.templates import Template, Value
from moot.workspace.problems import Problems
from moot.workspace.spec import AgentSpec
from moot.workspace.spec_decide import NAMES, CallSpec, ConstraintSpec
from moot.workspace.yamlio import Located

T = TypeVar("T")

_FIX = "write a Python-like expression over slots, parts and facts, e.g. \"facts['total_eur'] <= slots['budget_eur']\""


class _Compiler:
    """Compiles the pieces of one file, recording a located problem for each that does not parse."""

    def __init__(self, located: Located, problems: Problems, prefix: tuple[object, ...] = ()) -> None:
        self.located = located
        self.problems = problems
        self.prefix = prefix
        self.failed = False

    def _where(self, loc: tuple[object, ...]) -> str:
        line, column = self.located.position(*self.prefix, *loc)
        return f"{self.located.path}:{line}:{column}"

    def attempt(self, make: Callable[[str], T], loc: tuple[object, ...]) -> T | None:
        try:
            return make(self._where(loc))
        except ExpressionError as exc:
            self.failed = True
            self.problems.add(self.located.problem(f"invalid expression {exc.expression!r}: {exc.reason}", _FIX, *self.prefix, *loc))
            return None

    def expr(self, source: str | None, *loc: object) -> Expression | None:
        if source is None:
            return None
        text = source[1:] if source.startswith("=") else source
        return self.attempt(lambda where: Expression.parse(text, where=where, names=NAMES), loc)

    def template(self, source: str | None, *loc: object) -> Template | None:
        if not source:
            return None
        return self.attempt(lambda where: Template.parse(source, where=where, names=NAMES), loc)

    def value(self, source: Any, *loc: object) -> Value | None:
        return self.attempt(lambda where: Value.parse(source, where=where, names=NAMES), loc)

    def call(self, label: str, spec: CallSpec, *loc: object) -> Call | None:
        # each argument at its own place, so a bad one is reported (and fails) where it is written
        parts = {name: self.value(value, *loc, "arguments", name) for name, value in spec.arguments.items()}
        arguments = None if any(p is None for p in parts.values()) else Value(spec.arguments, {k: p.compiled for k, p in parts.items()})  # type: ignore[union-attr]
        when = self.expr(spec.when, *loc, "when")
        if arguments is None or (spec.when is not None and when is None):
            return None
        return Call(label=spec.label or label, tool=spec.tool, arguments=arguments, when=when)


def compile_agent(spec: AgentSpec, located: Located, problems: Problems) -> dict[str, Any] | None:
    """The compiled options of an agent's decision specs (None when one of them does not parse)."""
    c = _Compiler(located, problems)
    options: dict[str, Any] = {}
    if spec.slots is not None:
        slots = []
        for name, slot in spec.slots.items():
            default = c.value(slot.default, "slots", name, "default") if slot.default is not None else None
            slots.append(Slot(name, slot, default=default, compute=c.expr(slot.compute, "slots", name, "compute")))
        options["slots"] = tuple(slots)
    if spec.calls is not None:
        options["calls"] = tuple(c.call(label, call, "calls", label) for label, call in spec.calls.items())
    if spec.actions is not None:
        options["actions"] = tuple(c.call(f"{call.tool} #{i + 1}", call, "actions", i) for i, call in enumerate(spec.actions))
    if spec.grounded is not None:
        g = spec.grounded
        options["grounded"] = Grounding(
            parts={
                name: Part(p, None) if isinstance(p, str) else Part(p.label, c.expr(p.optional, "grounded", "parts", name, "optional"))
                for name, p in g.parts.items()
            },
            facts={name: c.expr(src, "grounded", "facts", name) for name, src in g.facts.items()},  # type: ignore[misc]
            title=c.template(g.title, "grounded", "title"),
            summary=c.template(g.summary, "grounded", "summary"),
            order=c.expr(g.order, "grounded", "order"),
            options=g.options,
            max_combinations=g.max_combinations,
        )
    if spec.scores is not None:
        options["scores"] = {dim: c.expr(src, "scores", dim) for dim, src in spec.scores.items()}
    return None if c.failed else options


def compile_constraints(specs: list[ConstraintSpec], located: Located, problems: Problems) -> tuple[Constraint, ...] | None:
    """moot.yaml's `constraints:`, compiled (None when one of them does not parse)."""
    c = _Compiler(located, problems, ("constraints",))
    out = []
    for i, spec in enumerate(specs):
        check = c.expr(spec.check, i, "check")
        when = c.expr(spec.when, i, "when")
        reason = c.template(spec.reason, i, "reason")
        if check is not None:
            out.append(Constraint(spec.name, check, when, reason))
    return None if c.failed else tuple(out)


__all__ = ["compile_agent", "compile_constraints"]
