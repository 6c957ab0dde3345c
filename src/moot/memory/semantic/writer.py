"""Store writes of semantic memory: patches overwrite, inserts dedupe, a fact with a known key updates.

LangMem's manager answers with patches to existing ids (trustcall's `PatchDoc`) and with new
memories. A strong model patches "User lives in Lisbon" when the user moves; a weak one inserts
"User moved to Porto" beside it, and the store then holds two homes. Two code-side guarantees
keep one value per fact whatever the model does:

- **near-duplicates**: an insert that says nearly what a memory of the same kind says (cosine
  >= `duplicate_threshold`) updates that memory;
- **fact keys** (issue 16): an insert of a `Fact` whose (subject, attribute) equals an existing
  fact's updates that fact in place, found among the memories the model saw or, for the
  ones it did not see, by the key stored with every fact (`value["fact_key"]`, a store filter,
  so the search is exact and does not depend on the embedding). The key is the caller's
  (`SemanticMemory.remember(key=...)`) or the one the text states (`moot.memory.facts.keys`).
  The replaced text is kept in `value["previous"]` (newest first, with the date it ended):
  history, never recalled as current.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from langgraph.store.base import BaseStore, Item
from pydantic import BaseModel

from moot.memory.facts.keys import FactKey, extract
from moot.memory.semantic.kinds import PROFILE_KEY, PROFILE_KIND, SUBSPACES, Change, render
from moot.memory.types import Embedder

KEYED_KINDS = frozenset({"Fact"})
"""Kinds whose memories carry a fact key (a preference of a category may rightly have many values)."""
MAX_PREVIOUS = 5
"""replaced values a fact keeps as history"""


def kind_of(model: BaseModel) -> str:
    return type(model).__name__


def _now() -> str:
    return datetime.now(UTC).isoformat()


def fact_key(kind: str, text: str, names: frozenset[str] = frozenset()) -> FactKey | None:
    """The key a memory's text states, if it is a keyed kind and states exactly one.

    Facts are about the user, often by name ("Ana lives in Porto"): a leading word that is one
    of the user's `names` (their id, their profile's first name) reads as "User". Any other
    name ("Rita lives in Porto") is someone else, and states no key of the user's.
    """
    if kind not in KEYED_KINDS:
        return None
    first = re.match(r"\s*([A-Z][\w-]*)(?:'s)?\b", text)
    if first and first.group(1).lower() in names:
        text = "User" + text[first.end(1):]
    keys = {statement.key for statement in extract(text, "user")}
    return keys.pop() if len(keys) == 1 else None


class Owner(Protocol):
    """What a Writer needs of its SemanticMemory (a Protocol: the memory imports the writer)."""

    store: BaseStore
    duplicate_threshold: float

    def namespace(self, user_id: str) -> tuple[str, ...]: ...

    def embedder(self) -> Embedder: ...


class Writer:
    """Turns the manager's answer (or one direct memory) into store writes; see the module docstring."""

    def __init__(self, memory: Owner, user_id: str, session_id: str, source: str, existing: list[Item]) -> None:
        self.memory = memory
        self.store = memory.store
        self.namespace = memory.namespace(user_id)
        self.user_id = user_id
        self.session_id = session_id
        self.source = source
        self.items = {item.key: item for item in existing}
        self.changes: list[Change] = []
        self._vectors: dict[str, np.ndarray] = {}
        profile = next((item for item in existing if item.value.get("kind") == PROFILE_KIND), None)
        name = str((profile.value.get("content") or {}).get("name") or "") if profile else ""
        self.names = frozenset(n for n in (user_id.lower(), *name.lower().split()[:1]) if n)
        """how the user may be named at the start of a fact"""

    async def apply(self, memory_id: str, content: Any, *, key: FactKey | None = None) -> None:
        if isinstance(content, BaseModel) and kind_of(content) == "RemoveDoc":
            doc = getattr(content, "json_doc_id", memory_id)
            if (old := self.items.pop(doc, None)) is not None:
                await self.store.adelete(old.namespace, old.key)
                self.changes.append(Change("delete", doc, old.value["kind"], old.value.get("text", "")))
            return
        if not isinstance(content, BaseModel):
            return  # trustcall hands back the memories it did not touch as they came: no change
        kind, data = kind_of(content), content.model_dump(mode="json")
        if memory_id in self.items:
            old = self.items[memory_id]
            if data != old.value["content"] or kind != old.value["kind"]:
                await self._put(old.namespace, old.key, kind, data, old, key)
            return
        if kind == PROFILE_KIND:
            old = next((item for item in self.items.values() if item.value.get("kind") == PROFILE_KIND), None)
            if old is not None:  # a second profile is an update of the first: merge its fields in
                data = {**old.value["content"], **{k: v for k, v in data.items() if v not in (None, "")}}
                if data != old.value["content"]:
                    await self._put(old.namespace, old.key, kind, data, old, None)
                return
            await self._put((*self.namespace, SUBSPACES[kind]), PROFILE_KEY, kind, data, None, None)
            return
        text = render(kind, data)
        key = key or fact_key(kind, text, self.names)
        twin = (await self._same_key(kind, key) if key is not None else None) or self._twin(kind, text)
        if twin is not None:
            if data != twin.value["content"]:
                await self._put(twin.namespace, twin.key, kind, data, twin, key)
            return
        subspace = SUBSPACES.get(kind, kind.lower())
        await self._put((*self.namespace, subspace), str(uuid.uuid4()), kind, data, None, key)

    async def _same_key(self, kind: str, key: FactKey) -> Item | None:
        """The user's memory of `kind` with the same fact key: among those seen, else by the stored key."""
        for item in self.items.values():
            if item.value.get("kind") != kind:
                continue
            stored = item.value.get("fact_key")
            if stored == str(key) or (stored is None and fact_key(kind, item.value.get("text", ""), self.names) == key):
                return item
        subspace = (*self.namespace, SUBSPACES.get(kind, kind.lower()))
        found = await self.store.asearch(subspace, filter={"fact_key": str(key)}, limit=1)
        return found[0] if found and found[0].namespace[:2] == self.namespace else None

    def _twin(self, kind: str, text: str) -> Item | None:
        """An existing memory of the same kind that says nearly the same thing, if any."""
        same = [item for item in self.items.values() if item.value.get("kind") == kind]
        if not same:
            return None
        exact = next((item for item in same if item.value.get("text", "").strip().lower() == text.strip().lower()), None)
        if exact is not None or self.memory.duplicate_threshold > 1.0:
            return exact
        embedder = self.memory.embedder()
        missing = [item for item in same if item.key not in self._vectors]
        if missing:
            for item, vector in zip(missing, embedder.embed([item.value.get("text", "") for item in missing]), strict=True):
                self._vectors[item.key] = vector
        query = embedder.embed([text])[0]
        best = max(same, key=lambda item: float(self._vectors[item.key] @ query))
        return best if float(self._vectors[best.key] @ query) >= self.memory.duplicate_threshold else None

    async def _put(self, namespace: tuple[str, ...], key: str, kind: str, data: dict[str, Any], old: Item | None,
                   fact: FactKey | None) -> None:
        text = render(kind, data)
        now = _now()
        fact = fact or fact_key(kind, text, self.names)
        previous = list(old.value.get("previous", [])) if old else []
        if old is not None and old.value.get("text") and old.value.get("text") != text:
            previous = [{"text": old.value["text"], "until": now}, *previous][:MAX_PREVIOUS]
        value = {
            "kind": kind,
            "content": data,
            "text": text,
            "user_id": self.user_id,
            "session_id": self.session_id or (old.value.get("session_id", "") if old else ""),
            "source": self.source,
            "created": old.value.get("created", now) if old else now,
            "updated": now,
        }
        if fact is not None:
            value["fact_key"] = str(fact)
        if previous:
            value["previous"] = previous
        await self.store.aput(namespace, key, value, index=["text"])
        self._vectors.pop(key, None)
        stamp = datetime.now(UTC)
        self.items[key] = Item(value=value, key=key, namespace=namespace, created_at=stamp, updated_at=stamp)
        self.changes.append(Change("update" if old else "insert", key, kind, text))


__all__ = ["KEYED_KINDS", "MAX_PREVIOUS", "Writer", "fact_key", "kind_of"]
