"""Procedural memory: each agent's learned instructions and rules, versioned in the store.

An agent's prompt is its base prompt (from the workspace) followed by the rules of its latest
version. Versions are never overwritten: `set()` and `improve()` add one, `history()` lists them
all with the reason for each, so a bad update can be traced and rolled back (`set()` an old text).

`improve()` turns feedback into a new version. With a capable chat model it runs LangMem's prompt
optimizer (`create_prompt_optimizer`, metaprompt kind: the model rewrites the rules given the
feedback and the sessions it concerns). Without one (no model, the embedded 135M model, or an
optimizer failure) the feedback is appended as a rule, a mechanical update that cannot go wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from langchain_core.language_models import BaseChatModel
from langgraph.store.base import BaseStore, Item
from langmem import create_prompt_optimizer

from moot.errors import UsageError
from moot.memory.rules import RULES_HEADING, build_prompt
from moot.memory.types import Procedure, Source

log = logging.getLogger(__name__)

UPDATE_INSTRUCTIONS = (
    "These are the learned rules of the agent {agent!r}; they are appended to its fixed base "
    "prompt, which you cannot change:\n<base_prompt>\n{base}\n</base_prompt>\n"
    "Change the rules minimally so that the feedback is addressed: add, edit or remove rules; keep "
    "the rules that still hold. Answer with the complete new rules, one per line."
)
EMPTY_RULES = "(no rules yet)"


def _label(name: str) -> str:
    if not name:
        raise UsageError("procedural memory: every call needs a non-empty agent name")
    return quote(name, safe="").replace(".", "%2E")


def _key(version: int) -> str:
    return f"{version:08d}"


def _procedure(item: Item) -> Procedure:
    value = item.value
    return Procedure(
        agent=value["agent"],
        version=int(value["version"]),
        text=value["text"],
        reason=value.get("reason", ""),
        source=value.get("source", "manual"),
        ts=float(value.get("ts", item.created_at.timestamp())),
    )


def is_capable(model: BaseChatModel | None) -> bool:
    """Whether `model` can be trusted to rewrite rules: any provider model, not the embedded 135M."""
    if model is None:
        return False
    from moot.models.local import LocalLLMChatModel

    return not isinstance(model, LocalLLMChatModel)


def _unescape(text: str) -> str:
    """LangMem's optimizer doubles braces of prompts without template variables; ours have none."""
    return text.replace("{{", "{").replace("}}", "}")


class ProceduralMemory:
    """Versioned per-agent instructions and rules under `(*namespace, agent)` in a store."""

    def __init__(self, store: BaseStore, *, namespace: tuple[str, ...] = ("procedural",)) -> None:
        self.store = store
        self.prefix = tuple(namespace)
        self._lock: asyncio.Lock | None = None

    def namespace(self, agent: str) -> tuple[str, ...]:
        return (*self.prefix, _label(agent))

    async def history(self, agent: str) -> list[Procedure]:
        """Every version of the agent's rules, oldest first."""
        namespace = self.namespace(agent)
        items: list[Item] = []
        while True:
            page = await self.store.asearch(namespace, limit=200, offset=len(items))
            items.extend(page)
            if len(page) < 200:
                break
        return sorted((_procedure(item) for item in items if item.namespace == namespace), key=lambda p: p.version)

    async def get(self, agent: str) -> Procedure | None:
        """The latest version, or None if the agent has none."""
        versions = await self.history(agent)
        return versions[-1] if versions else None

    async def set(self, agent: str, text: str, reason: str, *, source: Source = "manual") -> Procedure:
        """Add a new version with `text`; the previous ones stay as they were."""
        if not reason.strip():
            raise UsageError(f"procedural memory: give a reason for the new version of {agent!r}'s rules")
        if self._lock is None:
            self._lock = asyncio.Lock()
        namespace = self.namespace(agent)
        async with self._lock:
            current = await self.get(agent)
            version = current.version + 1 if current else 1
            while await self.store.aget(namespace, _key(version)) is not None:  # never overwrite
                version += 1
            procedure = Procedure(agent, version, text.strip(), reason.strip(), source, time.time())
            value = {
                "agent": agent,
                "version": version,
                "text": procedure.text,
                "reason": procedure.reason,
                "source": source,
                "ts": procedure.ts,
            }
            await self.store.aput(namespace, _key(version), value, index=False)
        return procedure

    async def prompt(self, agent: str, base_prompt: str) -> str:
        """The agent's prompt built from its base prompt and its current rules."""
        return build_prompt(base_prompt, await self.get(agent))

    async def improve(
        self,
        agent: str,
        feedback: str,
        model: BaseChatModel | None = None,
        *,
        base_prompt: str = "",
        sessions: Sequence[Sequence[Any]] = (),
        config: dict[str, Any] | None = None,
    ) -> Procedure:
        """A new version of the agent's rules that addresses `feedback`.

        `sessions` are the conversations (message lists) the feedback is about; the optimizer
        reads them. `config` is LangMem's metaprompt optimizer config (default: one call).
        """
        if not feedback.strip():
            raise UsageError(f"procedural memory: feedback for {agent!r} is empty; nothing to learn from")
        current = await self.get(agent)
        rules = current.text if current else ""
        if is_capable(model):
            try:
                text = await self._optimize(agent, rules, feedback, model, base_prompt, sessions, config)  # type: ignore[arg-type]
                return await self.set(agent, text, f"feedback: {feedback}", source="optimizer")
            except Exception as exc:  # a model that cannot follow the optimizer: fall back, keep the lesson
                log.warning("procedural memory: the prompt optimizer failed for %r (%s); appending the feedback as a rule", agent, exc, exc_info=True)
        text = f"{rules}\n- {feedback.strip()}" if rules else f"- {feedback.strip()}"
        return await self.set(agent, text, f"feedback: {feedback}", source="feedback")

    async def _optimize(
        self,
        agent: str,
        rules: str,
        feedback: str,
        model: BaseChatModel,
        base_prompt: str,
        sessions: Sequence[Sequence[Any]],
        config: dict[str, Any] | None,
    ) -> str:
        optimizer = create_prompt_optimizer(
            model, kind="metaprompt", config=config or {"max_reflection_steps": 1, "min_reflection_steps": 0}  # type: ignore[arg-type]
        )
        trajectories = [(list(session), feedback) for session in sessions] or [([], feedback)]
        prompt = {
            "name": agent,
            "prompt": rules or EMPTY_RULES,
            "update_instructions": UPDATE_INSTRUCTIONS.format(agent=agent, base=base_prompt or "(none)"),
        }
        improved = _unescape(await optimizer.ainvoke({"trajectories": trajectories, "prompt": prompt}))  # type: ignore[arg-type]
        if not improved.strip() or improved.strip() == EMPTY_RULES:
            raise ValueError("the optimizer returned no rules")
        return improved


__all__ = ["RULES_HEADING", "ProceduralMemory", "Procedure", "build_prompt", "is_capable"]
