"""Tool-call intents in a run's history, and which of them still wait for an outcome.

The booking agent records intents (`tool_call` entries); the tool node appends one outcome
(`tool_result` or `tool_error`, with `content.call` = the intent's number) per executed intent.
The stage router routes to the tool node while intents are pending, so a stage with intents does
not exit before they are executed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OUTCOME_TYPES = ("tool_result", "tool_error")


def intents(history: list[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """The run's tool-call intents, numbered in history order (the call position of the key)."""
    return list(enumerate(e for e in history if e.get("type") == "tool_call"))


def pending_intents(history: list[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """Intents that have no outcome entry yet."""
    done = {e["content"].get("call") for e in history if e.get("type") in OUTCOME_TYPES}
    return [(n, e) for n, e in intents(history) if n not in done]


__all__ = ["OUTCOME_TYPES", "intents", "pending_intents"]
