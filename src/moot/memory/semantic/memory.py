"""Semantic memory: what moot knows about a user (facts, preferences, profile), kept by LangMem.

LangMem's memory manager reads the new turns beside the memories they may touch and answers with
inserts and with patches to existing ids (trustcall's `PatchDoc`); a patch is written back under
the same key, so "the user now prefers trains" replaces "prefers flights" instead of standing
beside it. Which memories it sees is the store's semantic search over the user's namespace, plus
the profile, which is one document a user.

Extraction runs in the background: `schedule()` returns at once and a reply never waits for the
model; `flush()` waits for what is pending. A failed extraction is logged and kept in `failures`,
never raised into the caller.

Every memory of a user lives under `("memories", user_key(user_id), kind)`; every call path
(search, forget, LangMem's own search tool configured with `langmem_config(user_id)`) searches
that prefix only, so no user's memory can reach another user.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.store.base import BaseStore, Item
from langmem import create_memory_manager
from pydantic import BaseModel

from moot.errors import UsageError
from moot.memory.semantic.writer import Writer, kind_of
from moot.memory.semantic.kinds import (
    INSTRUCTIONS,
    PROFILE_KEY,
    PROFILE_KIND,
    SCHEMAS,
    SUBSPACES,
    Change,
    Fact,
    render,
    user_key,
)
from moot.memory.facts.keys import FactKey
from moot.memory.types import Embedder, MemoryItem

log = logging.getLogger(__name__)

ROOT = "memories"


def _as_messages(messages: Sequence[BaseMessage | dict[str, Any]] | str, outcome: str | None) -> list[Any]:
    listed: list[Any] = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
    if outcome:
        listed.append({"role": "assistant", "content": f"Outcome of the run: {outcome}"})
    return listed


def _role_and_text(message: BaseMessage | dict[str, Any]) -> tuple[str, str]:
    if isinstance(message, BaseMessage):
        return message.type, message.text() if callable(getattr(message, "text", None)) else str(message.content)
    return str(message.get("role", "")), str(message.get("content", ""))


class SemanticMemory:
    """Facts, preferences and profile per user in a LangGraph store, extracted by LangMem.

    `model` is any LangChain chat model that can `bind_tools` (providers, the embedded model,
    `ScriptedChatModel`); `None` makes a read-only memory (search, forget, remember). `embedder`
    (default: the shared one, loaded on first need) catches near-duplicate inserts that a weak
    model makes instead of a patch.
    """

    def __init__(
        self,
        store: BaseStore,
        model: BaseChatModel | None,
        *,
        embedder: Embedder | None = None,
        schemas: Sequence[type[BaseModel]] = SCHEMAS,
        instructions: str = INSTRUCTIONS,
        existing_limit: int = 8,
        duplicate_threshold: float = 0.95,
        enable_deletes: bool = False,
        concurrency: int = 2,
    ) -> None:
        self.store = store
        self.model = model
        self._embedder = embedder
        self.schemas = tuple(schemas)
        self.kinds = {schema.__name__ for schema in self.schemas}
        self.existing_limit = existing_limit
        self.duplicate_threshold = duplicate_threshold
        self.manager = (
            create_memory_manager(
                model, schemas=self.schemas, instructions=instructions, enable_deletes=enable_deletes
            )
            if model is not None
            else None
        )
        self.failures: deque[tuple[str, BaseException]] = deque(maxlen=100)
        """The latest extraction errors (user id, error); they are logged too, never raised."""
        self._pending: set[asyncio.Task[list[Change]]] = set()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._slots = asyncio.Semaphore(concurrency)

    # -- namespaces -------------------------------------------------------------------------

    @staticmethod
    def namespace(user_id: str) -> tuple[str, ...]:
        """The prefix under which every memory of `user_id` lives."""
        return (ROOT, user_key(user_id))

    @staticmethod
    def langmem_config(user_id: str) -> dict[str, Any]:
        """The config for LangMem's tools made with namespace `("memories", "{langgraph_user_id}")`."""
        return {"configurable": {"langgraph_user_id": user_key(user_id)}}

    # -- extraction -------------------------------------------------------------------------

    def schedule(
        self,
        user_id: str,
        messages: Sequence[BaseMessage | dict[str, Any]] | str,
        *,
        session_id: str = "",
        outcome: str | None = None,
    ) -> asyncio.Task[list[Change]]:
        """Extract memories from user turns (and a run's `outcome`) in the background.

        Returns at once, from inside a running event loop; the task never raises (errors are
        logged and kept in `failures`). Extractions of one user run in order.
        """
        task = asyncio.get_running_loop().create_task(
            self._guarded(user_id, _as_messages(messages, outcome), session_id, "outcome" if outcome else "turn"),
            name=f"moot-semantic-extract:{user_id}",
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def flush(self) -> None:
        """Wait until every scheduled extraction (including ones scheduled meanwhile) is done."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _guarded(self, user_id: str, messages: list[Any], session_id: str, source: str) -> list[Change]:
        try:
            lock = self._locks.setdefault(user_id, asyncio.Lock())
            async with lock, self._slots:  # a user's turn first, then a free slot
                return await self._extract(user_id, messages, session_id, source)
        except Exception as exc:  # a background failure must never reach the reply
            log.warning("semantic memory: extraction for user %r failed: %s", user_id, exc, exc_info=True)
            self.failures.append((user_id, exc))
            return []

    async def extract(
        self,
        user_id: str,
        messages: Sequence[BaseMessage | dict[str, Any]] | str,
        *,
        session_id: str = "",
        outcome: str | None = None,
    ) -> list[Change]:
        """Extract now and return the writes made (what `schedule` runs in the background)."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            return await self._extract(user_id, _as_messages(messages, outcome), session_id, "outcome" if outcome else "turn")

    async def _extract(self, user_id: str, messages: list[Any], session_id: str, source: str) -> list[Change]:
        if self.manager is None:
            raise UsageError("semantic memory: no chat model configured, so nothing can be extracted (pass model=...)")
        namespace = self.namespace(user_id)
        said = [text for role, text in map(_role_and_text, messages) if role in ("user", "human") and text.strip()]
        if not said and source != "outcome":
            return []
        existing = await self._existing(namespace, "\n".join(said)[-2000:] or _role_and_text(messages[-1])[1])
        extracted = await self.manager.ainvoke(
            {"messages": messages, "existing": [(item.key, item.value["kind"], item.value["content"]) for item in existing]},
            config={"run_name": "moot-semantic-memory", "metadata": {"moot_agent": "semantic-memory"}},
        )
        writer = Writer(self, user_id, session_id, source, existing)
        for memory in extracted:
            await writer.apply(memory.id, memory.content)
        return writer.changes

    async def _existing(self, namespace: tuple[str, ...], query: str) -> list[Item]:
        """The memories the model may patch: the nearest to what was said, and the profile."""
        found = await self.store.asearch(namespace, query=query, limit=self.existing_limit)
        profile = await self.store.aget((*namespace, SUBSPACES[PROFILE_KIND]), PROFILE_KEY)
        items: dict[str, Item] = {}
        for item in ([profile] if profile else []) + list(found):
            if item.namespace[:2] == namespace and _is_ours(item, self.kinds):
                items.setdefault(item.key, item)
        return list(items.values())

    # -- direct writes ----------------------------------------------------------------------

    async def remember(
        self, user_id: str, memory: BaseModel | str, *, session_id: str = "", key: FactKey | None = None
    ) -> Change | None:
        """Store one memory without the model (a `str` is a `Fact`).

        A near-duplicate of a memory the user has updates it, and so does a fact with the same
        key (`key`, for a caller who knows it, else the one its text states: "User moved to
        Porto" sets the user's `home`); `None` means it was already there.
        """
        content = Fact(content=memory) if isinstance(memory, str) else memory
        namespace = self.namespace(user_id)
        existing = await self._existing(namespace, render(kind_of(content), content.model_dump(mode="json")))
        writer = Writer(self, user_id, session_id, "direct", existing)
        await writer.apply(str(uuid.uuid4()), content, key=key)
        return writer.changes[-1] if writer.changes else None

    # -- reading ----------------------------------------------------------------------------

    async def search(self, user_id: str, query: str, limit: int = 5, *, kind: str | None = None) -> list[MemoryItem]:
        """The user's memories nearest to `query`, best first (semantic search of the store)."""
        namespace = self.namespace(user_id)
        prefix = (*namespace, SUBSPACES.get(kind, kind.lower())) if kind else namespace
        found = await self.store.asearch(prefix, query=query, limit=limit)
        return [self._item(user_id, item) for item in found if item.namespace[:2] == namespace]

    async def items(self, user_id: str) -> list[MemoryItem]:
        """Every memory of the user, in no particular order."""
        namespace = self.namespace(user_id)
        return [self._item(user_id, item) for item in await self._all_items(namespace)]

    async def profile(self, user_id: str) -> dict[str, Any] | None:
        item = await self.store.aget((*self.namespace(user_id), SUBSPACES[PROFILE_KIND]), PROFILE_KEY)
        return dict(item.value["content"]) if item else None

    async def forget(self, user_id: str, memory_id: str) -> bool:
        """Delete one of the user's memories by id; False if the user has no such memory."""
        namespace = self.namespace(user_id)
        for space in await self.store.alist_namespaces(prefix=namespace, limit=1000):
            if await self.store.aget(space, memory_id) is not None:
                await self.store.adelete(space, memory_id)
                return True
        return False

    async def delete_user(self, user_id: str) -> int:
        """Delete every memory of the user; returns how many there were."""
        items = await self._all_items(self.namespace(user_id))
        for item in items:
            await self.store.adelete(item.namespace, item.key)
        return len(items)

    async def _all_items(self, namespace: tuple[str, ...]) -> list[Item]:
        items: list[Item] = []
        while True:
            page = await self.store.asearch(namespace, limit=500, offset=len(items))
            items.extend(page)
            if len(page) < 500:
                return [item for item in items if item.namespace[:2] == namespace]

    def _item(self, user_id: str, item: Item) -> MemoryItem:
        value = item.value
        kind = str(value.get("kind", ""))
        text = value.get("text") or (render(kind, value["content"]) if isinstance(value.get("content"), dict) else str(value.get("content", "")))
        return MemoryItem(
            id=item.key,
            layer="semantic",
            text=text,
            user_id=user_id,
            session_id=str(value.get("session_id", "")),
            ts=item.updated_at.timestamp(),
            meta={"kind": kind, "namespace": list(item.namespace), "source": value.get("source", "")},
            score=float(getattr(item, "score", None) or 0.0),
        )

    def embedder(self) -> Embedder:
        if self._embedder is None:
            from moot.memory.embedder import get_embedder

            self._embedder = get_embedder()
        return self._embedder


def _is_ours(item: Item, kinds: set[str]) -> bool:
    return isinstance(item.value.get("content"), dict) and item.value.get("kind") in kinds


__all__ = ["ROOT", "SemanticMemory"]
