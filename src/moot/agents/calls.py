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

    def render(self, names: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """(arguments, "") when the call is to be made, else (None, why not).

        Without `when`, a call is made only if every argument has a value: a search for a
        destination the task never named is not made, and the reason says which value is missing.
        """
        try:
            if self.when is not None and not self.when.holds(names):
                return None, f"its condition {self.when.source!r} does not hold"
            arguments = self.arguments.render(names)
        except ExpressionError as exc:
            return None, f"its arguments could not be computed: {exc.reason}"
        missing = [name for name, value in arguments.items() if value is None]
        if missing and self.when is None:
            return None, f"no value for {', '.join(missing)}"
        return {k: v for k, v in arguments.items() if v is not None}, ""


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
