"""Text and values computed from safe expressions: `{expr}` templates and `=expr` values.

Workspaces say what code computes — a candidate's title from the offers it bundles, the reason a
constraint gives, the arguments of a tool call derived from the decision — in YAML, with the same
safe evaluator as exit rules (`moot.expressions`). Everything is parsed when the workspace loads,
so a typo is a `file:line:col` problem, never a failed run.

- A **template** is text with `{expression}` placeholders: `"{parts['hotel']['name']}, {slots['nights']} nights"`.
- A **value** is a YAML value in which a string starting with `=` is an expression
  (`item_id: "=parts['hotel']['id']"`); everything else is taken literally, nested in lists and maps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moot.errors import ExpressionError
from moot.expressions import Expression

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def show(value: Any) -> str:
    """A value as a person reads it in a sentence: 478.0 → "478", 12.5 → "12.50", None → "—"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    return str(value)


@dataclass(frozen=True)
class Template:
    """Text with `{expression}` placeholders, parsed once."""

    source: str
    parts: tuple[str | Expression, ...]

    @classmethod
    def parse(cls, source: str, *, where: str | None = None, names: frozenset[str] | None = None) -> Template:
        parts: list[str | Expression] = []
        last = 0
        for match in _PLACEHOLDER.finditer(source):
            parts.append(source[last : match.start()])
            parts.append(Expression.parse(match.group(1), where=where, names=names))
            last = match.end()
        parts.append(source[last:])
        return cls(source, tuple(p for p in parts if p != ""))

    def render(self, names: Mapping[str, Any]) -> str:
        """The text with every placeholder evaluated; a failing placeholder raises `ExpressionError`."""
        return "".join(p if isinstance(p, str) else show(p.evaluate(names)) for p in self.parts)


@dataclass(frozen=True)
class Value:
    """A YAML value whose `=expr` strings are computed; the rest is literal."""

    source: Any
    compiled: Any

    @classmethod
    def parse(cls, source: Any, *, where: str | None = None, names: frozenset[str] | None = None) -> Value:
        return cls(source, _compile(source, where, names))

    def render(self, names: Mapping[str, Any]) -> Any:
        return _render(self.compiled, names)


def _compile(value: Any, where: str | None, names: frozenset[str] | None) -> Any:
    if isinstance(value, str) and value.startswith("="):
        return Expression.parse(value[1:], where=where, names=names)
    if isinstance(value, Mapping):
        return {k: _compile(v, where, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_compile(v, where, names) for v in value]
    return value


def _render(value: Any, names: Mapping[str, Any]) -> Any:
    if isinstance(value, Expression):
        return value.evaluate(names)
    if isinstance(value, dict):
        return {k: _render(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, names) for v in value]
    return value


__all__ = ["ExpressionError", "Template", "Value", "show"]
