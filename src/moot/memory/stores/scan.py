"""`ScanIndexStore`: search by meaning over a LangGraph store that has no vector index.

SQLite here cannot load sqlite-vec (this Python's sqlite3 has no loadable extensions) and the
PostgreSQL server has no pgvector; the wrapped store keeps the items, and this wrapper ranks a
namespace's items with the process embedder, caching their vectors. It suits per-user memory
(thousands of items), not a large shared corpus.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np
from langgraph.store.base import (
    BaseStore,
    Item,
    Op,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path

from moot.memory.stores.embeddings import DEFAULT_FIELDS
from moot.memory.types import Embedder

log = logging.getLogger(__name__)

class ScanIndexStore(BaseStore):
    """Semantic search over a store that has no vector index: scan the namespace, rank here.

    A search with a `query` reads every item under the prefix (matching the filter), embeds the
    first of `fields` each value has (vectors are kept, least recently used out, by key and
    update time), and ranks by
    cosine similarity. Every other operation goes to the inner store unchanged.
    """

    PAGE = 500

    def __init__(self, inner: BaseStore, embedder: Embedder, *, fields: Sequence[str] = DEFAULT_FIELDS, cache_size: int = 50_000) -> None:
        self.inner = inner
        self.embedder = embedder
        self.fields = [tokenize_path(f) for f in fields]
        self.index_config = {"dims": embedder.dim, "fields": list(fields)}
        self.supports_ttl = inner.supports_ttl
        self.ttl_config = inner.ttl_config
        self._cache: OrderedDict[tuple[tuple[str, ...], str, str], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()  # searches rank in worker threads

    def __getattr__(self, name: str) -> Any:  # setup(), TTL sweeper, conn ...: the inner store's
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        ranked = {i: op for i, op in enumerate(ops) if isinstance(op, SearchOp) and op.query}
        rest = [i for i in range(len(ops)) if i not in ranked]
        results: list[Result] = [None] * len(ops)
        for i, result in zip(rest, self.inner.batch([ops[i] for i in rest]) if rest else [], strict=True):
            results[i] = result
        for i, op in ranked.items():
            results[i] = self._rank(op, self._scan_sync(op))
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        ranked = {i: op for i, op in enumerate(ops) if isinstance(op, SearchOp) and op.query}
        rest = [i for i in range(len(ops)) if i not in ranked]
        results: list[Result] = [None] * len(ops)
        if rest:
            for i, result in zip(rest, await self.inner.abatch([ops[i] for i in rest]), strict=True):
                results[i] = result
        for i, op in ranked.items():
            candidates = await self._scan(op)
            results[i] = await asyncio.to_thread(self._rank, op, candidates)
        return results

    def _page(self, op: SearchOp, offset: int) -> SearchOp:
        return SearchOp(op.namespace_prefix, op.filter, self.PAGE, offset, None, op.refresh_ttl)

    async def _scan(self, op: SearchOp) -> list[SearchItem]:
        found: list[SearchItem] = []
        while True:
            (page,) = await self.inner.abatch([self._page(op, len(found))])
            page = cast(list[SearchItem], page)
            found.extend(page)
            if len(page) < self.PAGE:
                return found

    def _scan_sync(self, op: SearchOp) -> list[SearchItem]:
        found: list[SearchItem] = []
        while True:
            (page,) = self.inner.batch([self._page(op, len(found))])
            page = cast(list[SearchItem], page)
            found.extend(page)
            if len(page) < self.PAGE:
                return found

    def _rank(self, op: SearchOp, candidates: list[SearchItem]) -> list[SearchItem]:
        if not candidates:
            return []
        texts = [self._text(item) for item in candidates]
        keys = [(item.namespace, item.key, item.updated_at.isoformat()) for item in candidates]
        with self._cache_lock:
            vectors: list[np.ndarray | None] = [self._cache.get(key) for key in keys]
            for key, vector in zip(keys, vectors, strict=True):
                if vector is not None:
                    self._cache.move_to_end(key)
        missing = [i for i, vector in enumerate(vectors) if vector is None and texts[i] is not None]
        if missing:
            made = self.embedder.embed([texts[i] for i in missing])  # type: ignore[misc]
            with self._cache_lock:
                for i, vector in zip(missing, made, strict=True):
                    vectors[i] = self._cache[keys[i]] = np.asarray(vector, dtype=np.float32)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        query = np.asarray(self.embedder.embed([str(op.query)])[0], dtype=np.float32)
        scored = [
            (float(vector @ query) if vector is not None else None, item)
            for vector, item in zip(vectors, candidates, strict=True)
        ]
        scored.sort(key=lambda pair: -1e9 if pair[0] is None else -pair[0])
        return [
            SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at, score)
            for score, item in scored[op.offset : op.offset + op.limit]
        ]

    def _text(self, item: Item) -> str | None:
        for tokens in self.fields:
            texts = get_text_at_path(item.value, tokens)
            if texts:
                return " ".join(texts)
        return None


__all__ = ["ScanIndexStore"]
