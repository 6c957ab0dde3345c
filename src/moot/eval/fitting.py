"""Fit a single agent's conversation into its model's context window.

The single arm's conversation grows by one tool exchange per turn (the model's call and the tool's
answer). Before each model call it is fitted: the system message and the task stay, and the
oldest exchanges go first until what is left, plus room for the answer (`max_tokens`), fits the
window. An exchange goes whole: a tool answer without the call it answers is refused by most
providers, and a call without its answer invites the model to repeat it.

Windows: `LocalLLMChatModel.n_ctx` for the embedded model; 16,000 tokens for any other model (a
provider's window is not discoverable through LangChain, and 16k is below every current one).
Counting: `model.get_num_tokens_from_messages` where it works; LangChain's default for it needs
`transformers` and downloads GPT-2's tokenizer, so when that fails the count is characters / 3
(about right for English and JSON under BPE tokenizers, and on the safe side).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

DEFAULT_WINDOW = 16_000
DEFAULT_ANSWER_ROOM = 1_024
"""Tokens kept free for the answer when the model does not say its `max_tokens`."""

Counter = Callable[[Sequence[BaseMessage]], int]


def window_of(model: BaseChatModel) -> int:
    """The model's context window in tokens."""
    local = sys.modules.get("moot.models.local")  # imported already if the model is the embedded one
    if local is not None and isinstance(model, local.LocalLLMChatModel):
        return int(model.n_ctx)
    return DEFAULT_WINDOW


def answer_room(model: BaseChatModel) -> int:
    """Tokens to leave for the model's answer: its `max_tokens` when it has one."""
    value = getattr(model, "max_tokens", None)
    return value if isinstance(value, int) and value > 0 else DEFAULT_ANSWER_ROOM


def counter_for(model: BaseChatModel) -> Counter:
    """The model's own token count if it has one that works here, else characters / 3."""
    probe: list[BaseMessage] = [AIMessage(content="probe")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.get_num_tokens_from_messages(probe)
    except Exception:  # NotImplementedError, ImportError (no transformers), a tokenizer download failing
        return approximate_tokens

    def count(messages: Sequence[BaseMessage]) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(model.get_num_tokens_from_messages(list(messages)))

    return count


def approximate_tokens(messages: Sequence[BaseMessage]) -> int:
    """Characters / 3 of the messages' text and tool calls."""
    chars = 0
    for m in messages:
        chars += len(m.content if isinstance(m.content, str) else str(m.content))
        chars += sum(len(str(c.get("name", ""))) + len(str(c.get("args", ""))) for c in getattr(m, "tool_calls", None) or [])
    return chars // 3 + 4 * len(messages)


def exchanges(messages: Sequence[BaseMessage]) -> list[list[BaseMessage]]:
    """The messages grouped into exchanges: each AI message with the tool messages after it."""
    groups: list[list[BaseMessage]] = []
    for m in messages:
        if isinstance(m, AIMessage) or not groups:
            groups.append([m])
        else:
            groups[-1].append(m)
    return groups


def fit(messages: Sequence[BaseMessage], *, limit: int, count: Counter, keep: int = 2) -> list[BaseMessage]:
    """The first `keep` messages and as many of the latest exchanges as fit in `limit` tokens."""
    head, rest = list(messages[:keep]), exchanges(messages[keep:])
    while rest and count(head + [m for group in rest for m in group]) > limit:
        rest.pop(0)
    return head + [m for group in rest for m in group]


class Fitter:
    """`fit` with one model's window, answer room and counter, measured once."""

    def __init__(self, model: BaseChatModel) -> None:
        self.limit = max(window_of(model) - answer_room(model), 1)
        self.count = counter_for(model)

    def __call__(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        return fit(messages, limit=self.limit, count=self.count)


__all__ = ["DEFAULT_WINDOW", "Fitter", "answer_room", "approximate_tokens", "counter_for", "exchanges", "fit", "window_of"]
