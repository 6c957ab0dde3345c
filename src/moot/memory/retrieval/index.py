"""A vectorised in-memory hybrid index: dense cosine and BM25 over one numpy matrix per user.

Every user has a shard of their own (vectors, BM25 postings, metadata columns): a search reads
only the asking user's shard, so isolation holds by construction, filters or not. Inside a
shard everything at query time is array arithmetic over all rows: one matrix-vector product for
cosine, one vectorised update per query term for BM25, boolean masks for filters; no Python
loop over items. Items can be added and removed at any time; `to_arrays`/`from_arrays` give a
store a snapshot it can save with `numpy.savez` (no pickle).

An item whose episodic record has a TTL carries its expiry (`meta["expires_at"]`); from then on
no read returns it (`clock` tells the time: the episodic store's, so both agree on what has
expired), and `expire` removes it (the MemoryManager calls it before each recall of the user).

Items of a session are kept in order (`meta["seq"]`, else insertion order) and linked to their
previous and next item, which is what neighbour expansion in `retriever.py` walks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from moot.errors import UsageError
from moot.memory.embedder import count_tokens_batch, embed_query
from moot.memory.retrieval.rank import fuse_scores, top_rows
from moot.memory.retrieval.shard import Filters, Shard
from moot.memory.retrieval.text import terms
from moot.memory.types import Embedder, MemoryItem

COMPACT_MIN_DEAD = 1024
"""a shard is rebuilt without its removed rows once it has this many, and they are half of it"""


def _check_text(item: MemoryItem) -> None:
    """Refuse, before anything is written, a text the tokenizer cannot read."""
    if not isinstance(item.text, str):
        raise UsageError(f"memory index: item {item.id!r} has a {type(item.text).__name__} text; "
                         f"decode it to str first (e.g. bytes.decode('utf-8', errors='replace'))")
    try:
        item.text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"memory index: item {item.id!r} is not valid Unicode at character {exc.start} "
            f"({item.text[exc.start:exc.end]!r}, a byte that was not UTF-8); decode its source with "
            f"errors='replace' before adding it. Nothing of this batch was added."
        ) from None


def clean_query(query: str) -> str:
    """A query as the tokenizer can read it: undecodable characters become U+FFFD (a query is not kept)."""
    try:
        query.encode("utf-8")
        return query
    except UnicodeEncodeError:
        return query.encode("utf-8", errors="replace").decode("utf-8")


class HybridIndex:
    """Items of many users, searchable by meaning and by words; see the module docstring."""

    def __init__(self, embedder: Embedder, clock: Callable[[], float] = time.time) -> None:
        self.embedder = embedder
        self.clock = clock
        """wall-clock seconds against which items expire (the episodic store's clock)"""
        self._shards: dict[str, Shard] = {}
        self.lock = threading.RLock()
        """held by writers and by readers while they touch a shard (never while embedding)"""

    def __len__(self) -> int:
        return sum(len(shard.ids) for shard in list(self._shards.values()))

    def count(self, user_id: str) -> int:
        shard = self._shards.get(user_id)
        return 0 if shard is None else len(shard.ids)

    def shard(self, user_id: str) -> Shard | None:
        """The user's shard (None if they have no items); only retrieval code should need it."""
        if not user_id:
            raise UsageError("memory index: user_id is required; every read is scoped to one user")
        return self._shards.get(user_id)

    def items(self, user_id: str, session_id: str | None = None) -> list[MemoryItem]:
        """The user's live, unexpired items (of one session, in session order, if `session_id` is given)."""
        with self.lock:
            shard = self.shard(user_id)
            if shard is None:
                return []
            now = self.clock()
            if session_id is not None:
                rows = shard.session_rows.get(session_id, [])
            else:
                rows = [r for r, item in enumerate(shard.items) if item is not None]
            return [shard.items[r] for r in rows if shard.expires[r] > now]  # type: ignore[misc]

    def remove_user(self, user_id: str) -> int:
        """Forget every item of a user. Returns how many were removed."""
        with self.lock:
            shard = self.shard(user_id)
            if shard is None:
                return 0
            removed = len(shard.ids)
            del self._shards[user_id]
            return removed

    def get(self, user_id: str, item_id: str) -> MemoryItem | None:
        """The user's item `item_id`, if it is indexed and has not expired."""
        with self.lock:
            shard = self.shard(user_id)
            row = shard.ids.get(item_id) if shard is not None else None
            if row is None or shard.expires[row] <= self.clock():  # type: ignore[union-attr]
                return None
            return shard.items[row]  # type: ignore[union-attr]

    def expire(self, user_id: str) -> list[MemoryItem]:
        """Remove the user's items that have expired; returns them (nothing to do, and no array
        pass, until the user's earliest expiry: `Shard.soonest`)."""
        with self.lock:
            shard = self.shard(user_id)
            if shard is None:
                return []
            rows = shard.expired(self.clock())
            if len(rows) == 0:
                return []
            gone = [shard.items[r] for r in rows.tolist()]
            for row in rows.tolist():
                shard.remove(row)
            if shard.dead > COMPACT_MIN_DEAD and shard.dead > shard.n // 2:
                self._compact(user_id)
            return gone  # type: ignore[return-value]

    def vectors(self, user_id: str, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored (unit) vectors of the user's items `ids` that are in the index, copied:
        callers compare items without embedding them again."""
        with self.lock:
            shard = self.shard(user_id)
            if shard is None:
                return {}
            rows = {item_id: shard.ids.get(item_id) for item_id in ids}
            return {item_id: shard.vecs[row].copy() for item_id, row in rows.items() if row is not None}

    def add(self, items: Sequence[MemoryItem], vectors: np.ndarray | None = None) -> None:
        """Index items (embedding their texts in batches unless `vectors` is given).

        An item whose id the same user already has replaces the old one (ids are scoped by user:
        no write can touch another user's item). Items of one session may come in any order;
        `meta["seq"]` orders them, insertion order otherwise.
        """
        if not items:
            return
        for item in items:
            if not item.user_id:
                raise UsageError(f"memory index: item {item.id!r} has no user_id; every item belongs to one user")
            if not item.id:
                raise UsageError("memory index: an item has an empty id")
            _check_text(item)
        if vectors is None:
            vectors = self.embedder.embed([item.text for item in items])
        vectors = np.asarray(vectors, dtype=np.float32)
        if not np.isfinite(vectors).all():  # e.g. a static embedder's empty text: 0/0 on normalising
            vectors = np.nan_to_num(vectors, nan=0.0, posinf=0.0, neginf=0.0)
        if vectors.shape != (len(items), self.embedder.dim):
            raise UsageError(
                f"memory index: got vectors of shape {vectors.shape} for {len(items)} items of "
                f"dimension {self.embedder.dim}"
            )
        ntoks = count_tokens_batch(self.embedder, [item.text for item in items])
        with self.lock:
            for item, vec, ntok in zip(items, vectors, ntoks, strict=True):
                shard = self._shards.get(item.user_id)
                if shard is None:
                    shard = self._shards[item.user_id] = Shard(self.embedder.dim)
                shard.append(item, vec, ntok)  # replaces a live item of the same id

    def remove(self, ids: Iterable[str], user_id: str | None = None) -> int:
        """Forget items by id; unknown ids are ignored. Returns how many were removed.

        Ids are unique within a user only: pass `user_id` (the MemoryManager always should).
        Without it, an id is removed from every user that has it.
        """
        removed = 0
        with self.lock:
            if user_id is not None:
                shard = self.shard(user_id)
                shards = {user_id: shard} if shard is not None else {}
            else:
                shards = dict(self._shards)
            wanted = list(ids)
            for owner, shard in shards.items():
                for item_id in wanted:
                    row = shard.ids.get(item_id)
                    if row is not None:
                        shard.remove(row)
                        removed += 1
                if shard.dead > COMPACT_MIN_DEAD and shard.dead > shard.n // 2:
                    self._compact(owner)
        return removed

    def _compact(self, user_id: str) -> None:
        """Rebuild a shard without its removed rows (vectors are reused, nothing re-embedded)."""
        old = self._shards[user_id]
        rows = [r for r in range(old.n) if old.items[r] is not None]
        fresh = Shard(self.embedder.dim, capacity=max(256, len(rows)))
        for row in rows:
            fresh.append(old.items[row], old.vecs[row], int(old.ntok[row]))  # type: ignore[arg-type]
        self._shards[user_id] = fresh

    def search(self, user_id: str, query: str, k: int = 10, filters: Filters | None = None) -> list[MemoryItem]:
        """The user's k best items for `query` by fused cosine and BM25 (no hops, no budget)."""
        self.shard(user_id)  # validates user_id
        if k <= 0:
            return []
        qvec = embed_query(self.embedder, clean_query(query))
        with self.lock:
            shard = self._shards.get(user_id)
            if shard is None:
                return []
            mask = shard.mask(filters, now=self.clock())
            scores = fuse_scores(shard.dense(qvec), shard.bm25(terms(query), mask), mask)
            top = top_rows(scores, mask, k)
            return [replace(shard.items[r], score=float(scores[r])) for r in top]

    # -- snapshots ----------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every live, unexpired item as plain arrays (`numpy.savez`-able without pickle); each
        keeps its expiry in its `meta`, so a loaded index lets it expire at the same time."""
        items: list[MemoryItem] = []
        vecs: list[np.ndarray] = []
        with self.lock:
            now = self.clock()
            for shard in self._shards.values():
                rows = np.flatnonzero(shard.mask(now=now))
                items.extend(shard.items[r] for r in rows)  # type: ignore[misc]
                vecs.append(shard.vecs[rows])
        return {
            "vectors": np.concatenate(vecs) if vecs else np.zeros((0, self.embedder.dim), np.float32),
            "ids": np.array([i.id for i in items], dtype=str),
            "user_ids": np.array([i.user_id for i in items], dtype=str),
            "session_ids": np.array([i.session_id for i in items], dtype=str),
            "layers": np.array([i.layer for i in items], dtype=str),
            "texts": np.array([i.text for i in items], dtype=str),
            "ts": np.array([i.ts for i in items], dtype=np.float64),
            "meta": np.array([json.dumps(i.meta, default=str) for i in items], dtype=str),
            "embedder": np.array(getattr(self.embedder, "name", type(self.embedder).__name__)),
        }

    @classmethod
    def from_arrays(cls, embedder: Embedder, arrays: Mapping[str, np.ndarray],
                    clock: Callable[[], float] = time.time) -> HybridIndex:
        """Rebuild an index from `to_arrays` output without re-embedding anything."""
        saved = str(arrays["embedder"]) if "embedder" in arrays else None
        name = getattr(embedder, "name", type(embedder).__name__)
        if saved is not None and saved != name:
            raise UsageError(
                f"memory index: the snapshot was embedded with {saved!r}, not {name!r}; "
                f"re-index the items with the current embedder"
            )
        index = cls(embedder, clock)
        items = [
            MemoryItem(id=str(i), layer=str(layer), text=str(text), user_id=str(u),  # type: ignore[arg-type]
                       session_id=str(s), ts=float(ts), meta=json.loads(str(meta)))
            for i, u, s, layer, text, ts, meta in zip(
                arrays["ids"], arrays["user_ids"], arrays["session_ids"], arrays["layers"],
                arrays["texts"], arrays["ts"], arrays["meta"], strict=True)
        ]
        index.add(items, vectors=np.asarray(arrays["vectors"], dtype=np.float32))
        return index


__all__ = ["COMPACT_MIN_DEAD", "HybridIndex", "clean_query"]
