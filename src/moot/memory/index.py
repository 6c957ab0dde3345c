"""A vectorised in-memory hybrid index: dense cosine and BM25 over one numpy matrix per user.

Every user has a shard of their own (vectors, BM25 postings, metadata columns): a search reads
only the asking user's shard, so isolation holds by construction, filters or not. Inside a
shard everything at query time is array arithmetic over all rows: one matrix-vector product for
cosine, one vectorised update per query term for BM25, boolean masks for filters; no Python
loop over items. Items can be added and removed at any time; `to_arrays`/`from_arrays` give a
store a snapshot it can save with `numpy.savez` (no pickle).

Items of a session are kept in order (`meta["seq"]`, else insertion order) and linked to their
previous and next item, which is what neighbour expansion in `retrieval.py` walks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from moot.errors import UsageError
from moot.memory.embedder import count_tokens_batch, embed_query
from moot.memory.retrieval_text import term_counts, terms
from moot.memory.types import Embedder, MemoryItem

Filters = Mapping[str, Any]
_SCALARS = (str, int, float, bool)


class _Postings:
    """One term's rows and frequencies in growable arrays (amortised O(1) append)."""

    __slots__ = ("rows", "tfs", "n")

    def __init__(self) -> None:
        self.rows = np.empty(4, dtype=np.int32)
        self.tfs = np.empty(4, dtype=np.float32)
        self.n = 0

    def append(self, row: int, tf: int) -> None:
        if self.n == len(self.rows):
            self.rows = np.resize(self.rows, 2 * self.n)
            self.tfs = np.resize(self.tfs, 2 * self.n)
        self.rows[self.n] = row
        self.tfs[self.n] = tf
        self.n += 1


class Shard:
    """One user's items as parallel arrays; rows are never reused, removal clears `alive`."""

    def __init__(self, dim: int, capacity: int = 256) -> None:
        self.dim = dim
        self.n = 0
        self.vecs = np.zeros((capacity, dim), dtype=np.float32)
        self.alive = np.zeros(capacity, dtype=bool)
        self.ntok = np.zeros(capacity, dtype=np.int32)
        self.doclen = np.zeros(capacity, dtype=np.float32)
        self.ts = np.zeros(capacity, dtype=np.float64)
        self.seq = np.zeros(capacity, dtype=np.float64)
        self.prev = np.full(capacity, -1, dtype=np.int64)
        self.next = np.full(capacity, -1, dtype=np.int64)
        self.items: list[MemoryItem | None] = []
        self.postings: dict[str, _Postings] = {}
        self.columns: dict[str, np.ndarray] = {}
        self.codes: dict[str, dict[Any, int]] = {}
        self.session_rows: dict[str, list[int]] = {}
        """rows of each session, sorted by seq (alive rows only)"""
        self.dead = 0

    # -- writing ------------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = len(self.alive)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        self.vecs = np.resize(self.vecs, (new, self.dim))
        for name in ("alive", "ntok", "doclen", "ts", "seq"):
            old = getattr(self, name)
            grown = np.zeros(new, dtype=old.dtype)
            grown[:cap] = old
            setattr(self, name, grown)
        for name in ("prev", "next"):
            old = getattr(self, name)
            grown = np.full(new, -1, dtype=old.dtype)
            grown[:cap] = old
            setattr(self, name, grown)
        for key, col in self.columns.items():
            grown = np.full(new, -1, dtype=np.int32)
            grown[:cap] = col
            self.columns[key] = grown

    def _set_column(self, key: str, row: int, value: Any) -> None:
        book = self.codes.setdefault(key, {})
        if key not in self.columns:
            self.columns[key] = np.full(len(self.alive), -1, dtype=np.int32)
        code = book.setdefault(_norm(value), len(book))
        self.columns[key][row] = code

    def append(self, item: MemoryItem, vec: np.ndarray, ntok: int) -> int:
        row = self.n
        self._grow(row + 1)
        self.n += 1
        self.items.append(item)
        self.vecs[row] = vec
        self.alive[row] = True
        self.ntok[row] = ntok
        self.ts[row] = item.ts
        self._set_column("layer", row, item.layer)
        self._set_column("session_id", row, item.session_id)
        for key, value in item.meta.items():
            if isinstance(value, _SCALARS) and key != "seq":
                self._set_column(key, row, value)
        counts = term_counts(item.text)
        self.doclen[row] = sum(counts.values())
        for term, tf in counts.items():
            postings = self.postings.get(term)
            if postings is None:
                postings = self.postings[term] = _Postings()
            postings.append(row, tf)
        self._link(row, item)
        return row

    def _link(self, row: int, item: MemoryItem) -> None:
        rows = self.session_rows.setdefault(item.session_id, [])
        seq = item.meta.get("seq")
        self.seq[row] = float(seq) if isinstance(seq, (int, float)) else (self.seq[rows[-1]] + 1 if rows else 0.0)
        pos = len(rows)
        if rows and self.seq[rows[-1]] > self.seq[row]:  # out of order: find its place
            pos = int(np.searchsorted(self.seq[np.asarray(rows)], self.seq[row], side="right"))
        rows.insert(pos, row)
        before = rows[pos - 1] if pos > 0 else -1
        after = rows[pos + 1] if pos + 1 < len(rows) else -1
        self.prev[row], self.next[row] = before, after
        if before >= 0:
            self.next[before] = row
        if after >= 0:
            self.prev[after] = row

    def remove(self, row: int) -> None:
        item = self.items[row]
        if item is None:
            return
        before, after = int(self.prev[row]), int(self.next[row])
        if before >= 0:
            self.next[before] = after
        if after >= 0:
            self.prev[after] = before
        self.session_rows[item.session_id].remove(row)
        self.alive[row] = False
        self.prev[row] = self.next[row] = -1
        self.items[row] = None
        self.dead += 1

    # -- reading ------------------------------------------------------------------------------
    def mask(self, filters: Filters | None = None) -> np.ndarray:
        """Alive rows that match every filter (a value, or any of a list/tuple/set of values)."""
        mask = self.alive[: self.n].copy()
        for key, wanted in (filters or {}).items():
            col = self.columns.get(key)
            book = self.codes.get(key, {})
            values = wanted if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
            codes = [book[_norm(v)] for v in values if _norm(v) in book]
            if col is None or not codes:
                return np.zeros(self.n, dtype=bool)
            mask &= np.isin(col[: self.n], codes)
        return mask

    def dense(self, qvec: np.ndarray) -> np.ndarray:
        """Cosine of every row with a unit query vector (rows are unit vectors too)."""
        return self.vecs[: self.n] @ qvec

    def bm25(self, query_terms: Iterable[str], mask: np.ndarray, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
        """Okapi BM25 of every row, statistics (N, df, avgdl) taken over the masked rows."""
        scores = np.zeros(self.n, dtype=np.float32)
        total = int(mask.sum())
        if total == 0:
            return scores
        doclen = self.doclen[: self.n]
        avgdl = max(float(doclen[mask].mean()), 1.0)
        for term in set(query_terms):
            postings = self.postings.get(term)
            if postings is None:
                continue
            rows = postings.rows[: postings.n]
            valid = mask[rows]
            df = int(valid.sum())
            if df == 0:
                continue
            idf = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
            tf = postings.tfs[: postings.n]
            gain = idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * doclen[rows] / avgdl))
            scores[rows] += np.where(valid, gain, 0.0).astype(np.float32)
        return scores

    def idf(self, term: str, mask: np.ndarray) -> float:
        postings = self.postings.get(term)
        total = int(mask.sum())
        df = int(mask[postings.rows[: postings.n]].sum()) if postings else 0
        return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class HybridIndex:
    """Items of many users, searchable by meaning and by words; see the module docstring."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._shards: dict[str, Shard] = {}
        self._where: dict[str, tuple[str, int]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._where

    def count(self, user_id: str) -> int:
        shard = self._shards.get(user_id)
        return 0 if shard is None else int(shard.alive[: shard.n].sum())

    def shard(self, user_id: str) -> Shard | None:
        """The user's shard (None if they have no items); only retrieval code should need it."""
        if not user_id:
            raise UsageError("memory index: user_id is required; every read is scoped to one user")
        return self._shards.get(user_id)

    def get(self, item_id: str) -> MemoryItem | None:
        where = self._where.get(item_id)
        return None if where is None else self._shards[where[0]].items[where[1]]

    def add(self, items: Sequence[MemoryItem], vectors: np.ndarray | None = None) -> None:
        """Index items (embedding their texts in batches unless `vectors` is given).

        An item whose id is already indexed replaces the old one. Items of one session may come
        in any order; `meta["seq"]` orders them, insertion order otherwise.
        """
        if not items:
            return
        for item in items:
            if not item.user_id:
                raise UsageError(f"memory index: item {item.id!r} has no user_id; every item belongs to one user")
            if not item.id:
                raise UsageError("memory index: an item has an empty id")
        if vectors is None:
            vectors = self.embedder.embed([item.text for item in items])
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(items), self.embedder.dim):
            raise UsageError(
                f"memory index: got vectors of shape {vectors.shape} for {len(items)} items of "
                f"dimension {self.embedder.dim}"
            )
        ntoks = count_tokens_batch(self.embedder, [item.text for item in items])
        self.remove([item.id for item in items if item.id in self._where])
        for item, vec, ntok in zip(items, vectors, ntoks, strict=True):
            shard = self._shards.get(item.user_id)
            if shard is None:
                shard = self._shards[item.user_id] = Shard(self.embedder.dim)
            self._where[item.id] = (item.user_id, shard.append(item, vec, ntok))

    def remove(self, ids: Iterable[str]) -> int:
        """Forget items by id; unknown ids are ignored. Returns how many were removed."""
        removed = 0
        touched = set()
        for item_id in ids:
            where = self._where.pop(item_id, None)
            if where is None:
                continue
            self._shards[where[0]].remove(where[1])
            touched.add(where[0])
            removed += 1
        for user_id in touched:
            shard = self._shards[user_id]
            if shard.dead > 1024 and shard.dead > shard.n // 2:
                self._compact(user_id)
        return removed

    def _compact(self, user_id: str) -> None:
        """Rebuild a shard without its removed rows (vectors are reused, nothing re-embedded)."""
        old = self._shards[user_id]
        rows = [r for r in range(old.n) if old.items[r] is not None]
        fresh = Shard(self.embedder.dim, capacity=max(256, len(rows)))
        for row in rows:
            item = old.items[row]
            assert item is not None
            self._where[item.id] = (user_id, fresh.append(item, old.vecs[row], int(old.ntok[row])))
        self._shards[user_id] = fresh

    def search(self, user_id: str, query: str, k: int = 10, filters: Filters | None = None) -> list[MemoryItem]:
        """The user's k best items for `query` by fused cosine and BM25 (no hops, no budget)."""
        shard = self.shard(user_id)
        if shard is None or k <= 0:
            return []
        mask = shard.mask(filters)
        scores = fuse_scores(shard.dense(embed_query(self.embedder, query)), shard.bm25(terms(query), mask), mask)
        top = top_rows(scores, mask, k)
        return [replace(shard.items[r], score=float(scores[r])) for r in top]  # type: ignore[arg-type]

    # -- snapshots ----------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every live item as plain arrays (`numpy.savez`-able without pickle)."""
        items: list[MemoryItem] = []
        vecs: list[np.ndarray] = []
        for shard in self._shards.values():
            rows = np.flatnonzero(shard.alive[: shard.n])
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
    def from_arrays(cls, embedder: Embedder, arrays: Mapping[str, np.ndarray]) -> HybridIndex:
        """Rebuild an index from `to_arrays` output without re-embedding anything."""
        saved = str(arrays["embedder"]) if "embedder" in arrays else None
        name = getattr(embedder, "name", type(embedder).__name__)
        if saved is not None and saved != name:
            raise UsageError(
                f"memory index: the snapshot was embedded with {saved!r}, not {name!r}; "
                f"re-index the items with the current embedder"
            )
        index = cls(embedder)
        items = [
            MemoryItem(id=str(i), layer=str(layer), text=str(text), user_id=str(u), session_id=str(s),  # type: ignore[arg-type]
                       ts=float(ts), meta=json.loads(str(meta)))
            for i, u, s, layer, text, ts, meta in zip(
                arrays["ids"], arrays["user_ids"], arrays["session_ids"], arrays["layers"],
                arrays["texts"], arrays["ts"], arrays["meta"], strict=True)
        ]
        index.add(items, vectors=np.asarray(arrays["vectors"], dtype=np.float32))
        return index


def fuse_scores(dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray, *, w_dense: float = 1.0,
                w_lexical: float = 0.5) -> np.ndarray:
    """Weighted sum of min-max-scaled cosine and max-scaled BM25 over the masked rows.

    Measured on LoCoMo it beats reciprocal-rank fusion (0.79 against 0.76 all-evidence recall):
    rank fusion throws away how far apart scores are, and lexical evidence is often decisive
    for one or two rows and meaningless for the rest.
    """
    if not mask.any():
        return np.zeros(len(mask))
    d = np.where(mask, dense, np.inf)
    low = float(d.min())
    d = np.where(mask, dense, low)
    high = float(d.max())
    scaled = (d - low) / max(high - low, 1e-9)
    top = float(lexical.max()) if len(lexical) else 0.0
    fused = w_dense * scaled + (w_lexical / top) * lexical if top > 0 else w_dense * scaled
    return np.where(mask, fused, 0.0)


def rrf(dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray, *, k0: float = 60.0,
        w_dense: float = 1.0, w_lexical: float = 1.0, depth: int = 1000) -> np.ndarray:
    """Reciprocal-rank fusion of two score vectors over the masked rows' top `depth`, vectorised."""
    fused = np.zeros(len(mask), dtype=np.float64)
    for scores, weight, rows_mask in ((dense, w_dense, mask), (lexical, w_lexical, mask & (lexical > 0))):
        if weight:
            order = top_rows(scores, rows_mask, depth)
            fused[order] += weight / (k0 + np.arange(1, len(order) + 1))
    return fused


def top_rows(scores: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest masked scores, best first (argpartition, then a small sort)."""
    rows = np.flatnonzero(mask)
    if len(rows) > k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    return rows[np.argsort(-scores[rows], kind="stable")]


__all__ = ["Filters", "HybridIndex", "Shard", "fuse_scores", "rrf", "top_rows"]
