"""Prompts that fit: every prompt is budgeted against the model's context and the answer's room.

A run crashed when a booking prompt grew to 4,230 tokens over the embedded model's 4,096: nothing
budgeted it. Now an agent's prompt is counted (by the model's own tokenizer where it has one)
before it is sent, with room kept for the answer (`max_tokens`) and for the output schema the
provider receives beside it. When it does not fit, the brief's sections are trimmed in a fixed
order — recalled memory first, then tool results, reviews, earlier candidates and the last
decision, newest lines kept — and the instructions, the task and the schema never. If even
that does not fit, the agent fails with a message that says by how much and what to change.

The context comes from the model's LangChain `profile` (`max_input_tokens`; moot's embedded
model sets its per-request share there); a model without one is not budgeted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from moot.errors import ModelError

TRIM_ORDER = ("memory", "results", "reviews", "candidates", "decision")
"""Brief sections that may be shortened, first to last; any other section is kept whole."""

MARGIN = 0.03
"""Share of the context kept free for what counting cannot see (template tokens, rounding)."""


def context_limit(model: BaseChatModel) -> int | None:
    """Tokens a prompt and its answer may use together, from the model's profile (None: unknown)."""
    profile = getattr(model, "profile", None) or {}
    limit = profile.get("max_input_tokens") if isinstance(profile, dict) else None
    return int(limit) if limit else None


def answer_room(model: BaseChatModel, default: int = 1024) -> int:
    """Tokens kept for the answer: the model's `max_tokens` when it has one."""
    value = getattr(model, "max_tokens", None) or getattr(model, "num_predict", None)
    return int(value) if isinstance(value, int) and value > 0 else default


def count(model: BaseChatModel, messages: Sequence[BaseMessage]) -> int:
    """Prompt tokens by the model's own tokenizer, or an estimate of 1 token per 3 characters
    where it has none offline (a provider's tokenizer may need a download)."""
    try:
        return int(model.get_num_tokens_from_messages(list(messages)))
    except Exception:  # no tokenizer here: estimate on the safe side
        return sum(len(str(m.content)) // 3 + 4 for m in messages)


def fit(
    model: BaseChatModel,
    build: Callable[[dict[str, str]], list[BaseMessage]],
    values: dict[str, str],
    *,
    schema: dict[str, Any] | None = None,
    agent: str = "agent",
) -> tuple[list[BaseMessage], list[str]]:
    """Messages from `build(values)` that fit the model's context; also the sections trimmed.

    `build` turns the prompt values into messages; trimming shortens `values[section]` (its
    oldest lines first) until the count, the answer's room and the schema fit the context.
    """
    limit = context_limit(model)
    messages = build(values)
    if limit is None:
        return messages, []
    budget = int(limit * (1 - MARGIN)) - answer_room(model) - _schema_tokens(model, schema)
    used = count(model, messages)
    trimmed: list[str] = []
    for section in TRIM_ORDER:
        if used <= budget:
            break
        original = values.get(section) or ""
        lines = [line for line in original.split("\n") if line]
        while lines and used > budget:
            lines = lines[len(lines) // 2 :] if len(lines) > 1 else []  # keep the newest half
            values = {**values, section: "\n".join(lines)}
            messages = build(values)
            used = count(model, messages)
        if (values.get(section) or "") != original:
            trimmed.append(section)
    if used > budget:
        raise ModelError(
            f"agent {agent!r}: its prompt needs {used} tokens, but the model's context of {limit} "
            f"leaves {max(budget, 0)} after the answer's {answer_room(model)} and the output schema; "
            f"shorten the agent's prompt or the task, or use a model with a larger context"
        )
    return messages, trimmed


def _schema_tokens(model: BaseChatModel, schema: dict[str, Any] | None) -> int:
    if not schema:
        return 0
    text = json.dumps(schema, separators=(",", ":"))
    try:
        return int(model.get_num_tokens(text)) + 16
    except Exception:
        return len(text) // 3 + 16


__all__ = ["MARGIN", "TRIM_ORDER", "answer_room", "context_limit", "count", "fit"]
