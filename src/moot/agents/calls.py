"""Tool calls computed by code: a scout's searches and the actions derived from a decision.

A 135M model given a tool's schema still wrote `origin="L-B-L-L-B-B-L-B-L-1"`; code that knows
the slots and the winning bundle writes `origin="London"` every time. A `Call` is a tool name and
arguments whose `=expressions` are evaluated over the slots and the candidate (see
`moot.templates.Value`); the ToolRuntime still validates them against the server's own schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moot.errors import ExpressionError
from moot.expressions import Expression
from moot.templates import Value


@dataclass(frozen=True)
class Call:
    """One computed call: `render(names)` gives its arguments, or why it is not made."""

    label: str
    tool: str
    arguments: Value
    when: Expression | None = None

    def needed(self, names: Mapping[str, Any]) -> bool:
        """Whether the call applies at all: its `when` holds (or it has none). A `when` that
        cannot be evaluated counts as needed, so `render` reports the missing value."""
        return self.when is None or self.when.holds_or(names, True)

    def render(self, names: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """(arguments, "") when the call can be made, else (None, why not).

        A call is made only if every argument has a value: a search for a destination the task
        never named is not made, and the reason says which value is missing. Callers ask
        `needed` first; a call that is not needed is not a failure.
        """
        try:
            arguments = self.arguments.render(names)
        except ExpressionError as exc:
            return None, f"its arguments could not be computed: {exc.reason}"
        missing = [name for name, value in arguments.items() if value is None]
        if missing:
            return None, f"no value for {', '.join(missing)}"
        return arguments, ""


def intent(call: Call, arguments: dict[str, Any], *, position: int, purpose: str) -> dict[str, Any]:
    """The content of a `tool_call` history entry for a computed call."""
    return {
        "tool": call.tool,
        "arguments": arguments,
        "status": "intent",
        "position": position,
        "label": call.label,
        "purpose": purpose,
    }


__all__ = ["Call", "intent"]
