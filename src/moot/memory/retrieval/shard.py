"""One user's items as parallel numpy arrays: vectors, BM25 postings, metadata columns, links.

Beside the words, every row has entity and date keys (`links.py`): the row's key ids
(`row_keys`) and an inverted map key → rows (`key_postings`), which multi-hop linking and dated
questions read.

A `Shard` is what `HybridIndex` keeps per user and what the retrieval code scores: every query
step is array arithmetic over all of its rows. Rows are appended and never reused; removing
an item clears its `alive` flag and unlinks it from its session's neighbours.

A row whose item carries `meta["expires_at"]` (its episodic record's TTL) is masked out of every
query from that time on; `soonest` (the earliest expiry among live rows) lets a query skip the
comparison while nothing can have expired, and `expired` hands the rows to remove.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from moot.memory.retrieval.links import item_keys
from moot.memory.retrieval.text import term_counts
from moot.memory.types import EXPIRES_AT, MemoryItem

Filters = Mapping[str, Any]
_SCALARS = (str, int, float, bool)

COARSE_MIN_ROWS = 20_000
"""from this many rows on, cosine is computed coarse-to-fine (see `Shard.dense`)"""
COARSE_DIMS = 96
COARSE_POOL = 4_000


class _Postings:
    """One term's rows and frequencies in growable arrays (amortised O(1) append)."""

    __slots__ = ("n", "rows", "tfs")

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
        self.expires = np.full(capacity, np.inf, dtype=np.float64)
        """when each row's item expires (+inf: never)"""
        self.soonest = np.inf
        """no live row expires before this (a lower bound: rows removed since may have set it)"""
        self.seq = np.zeros(capacity, dtype=np.float64)
        self.prev = np.full(capacity, -1, dtype=np.int64)
        self.next = np.full(capacity, -1, dtype=np.int64)
        self.items: list[MemoryItem | None] = []
        self.ids: dict[str, int] = {}
        """row of each live item id (ids are unique within a user, not across users)"""
        self.postings: dict[str, _Postings] = {}
        self.dated = np.zeros(capacity, dtype=bool)
        """rows whose text names a time (a `t:` key): what "When did ...?" asks for"""
        self.columns: dict[str, np.ndarray] = {}
        self.codes: dict[str, dict[Any, int]] = {}
        self.session_rows: dict[str, list[int]] = {}
        """rows of each session, sorted by seq (alive rows only)"""
        self.key_ids: dict[str, int] = {}
        self.key_names: list[str] = []
        self.key_postings: list[_Postings] = []
        self.row_keys: list[np.ndarray] = []
        """entity and date key ids of each row (`links.item_keys`)"""
        self.dead = 0
        self.basis: np.ndarray | None = None
        self.coarse = np.zeros((0, COARSE_DIMS), dtype=np.float32)
        self._fitted_at = 0
        self._projected = 0

    # -- writing ------------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        cap = len(self.alive)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        self.vecs = np.resize(self.vecs, (new, self.dim))
        for name in ("alive", "ntok", "doclen", "ts", "seq", "dated"):
            old = getattr(self, name)
            grown = np.zeros(new, dtype=old.dtype)
            grown[:cap] = old
            setattr(self, name, grown)
        for name, fill in (("prev", -1), ("next", -1), ("expires", np.inf)):
            old = getattr(self, name)
            grown = np.full(new, fill, dtype=old.dtype)
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
        if item.id in self.ids:
            self.remove(self.ids[item.id])
        row = self.n
        self._grow(row + 1)
        self.n += 1
        self.items.append(item)
        self.ids[item.id] = row
        self.vecs[row] = vec
        self.alive[row] = True
        self.ntok[row] = ntok
        self.ts[row] = item.ts
        expires = item.meta.get(EXPIRES_AT)
        self.expires[row] = float(expires) if isinstance(expires, (int, float)) else np.inf
        self.soonest = min(self.soonest, float(self.expires[row]))
        self._set_column("layer", row, item.layer)
        self._set_column("session_id", row, item.session_id)
        for key, value in item.meta.items():
            if isinstance(value, _SCALARS) and key not in ("seq", EXPIRES_AT):  # no filter asks for them
                self._set_column(key, row, value)
        counts = term_counts(item.text)
        self.doclen[row] = sum(counts.values())
        for term, tf in counts.items():
            postings = self.postings.get(term)
            if postings is None:
                postings = self.postings[term] = _Postings()
            postings.append(row, tf)
        self._add_keys(row, item_keys(item))
        self._link(row, item)
        return row

    def _add_keys(self, row: int, names: list[str]) -> None:
        ids = np.empty(len(names), dtype=np.int32)
        for i, name in enumerate(names):
            key = self.key_ids.get(name)
            if key is None:
                key = self.key_ids[name] = len(self.key_names)
                self.key_names.append(name)
                self.key_postings.append(_Postings())
            self.key_postings[key].append(row, 1)
            ids[i] = key
            if name.startswith("t:"):
                self.dated[row] = True
        self.row_keys.append(ids)

    def _link(self, row: int, item: MemoryItem) -> None:
        rows = self.session_rows.setdefault(item.session_id, [])
        seq = item.meta.get("seq")
        self.seq[row] = float(seq) if isinstance(seq, (int, float)) else (self.seq[rows[-1]] + 1 if rows else 0.0)
        pos = len(rows)
        if rows and self.seq[rows[-1]] > self.seq[row]:  # out of order: find its place
            pos = int(np.searchsorted(self.seq[np.asarray(rows)], self.seq[row], side="right"))
        rows.insert(pos, row)
        if not item.session_id:  # facts outside any session have no neighbours
            return
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
        del self.ids[item.id]
        self.alive[row] = False
        self.prev[row] = self.next[row] = -1
        self.items[row] = None
        self.dead += 1

    # -- reading ------------------------------------------------------------------------------
    def mask(self, filters: Filters | None = None, now: float | None = None) -> np.ndarray:
        """Alive rows that match every filter (a value, or any of a list/tuple/set of values) and,
        given `now`, have not expired by then (one comparison, and only once one may have)."""
        mask = self.alive[: self.n].copy()
        if now is not None and now >= self.soonest:
            mask &= self.expires[: self.n] > now
        for key, wanted in (filters or {}).items():
            col = self.columns.get(key)
            book = self.codes.get(key, {})
            values = wanted if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
            codes = [book[_norm(v)] for v in values if _norm(v) in book]
            if col is None or not codes:
                return np.zeros(self.n, dtype=bool)
            mask &= np.isin(col[: self.n], codes)
        return mask

    def expired(self, now: float) -> np.ndarray:
        """Live rows whose item has expired by `now` (the caller removes them); `soonest` then
        moves to the next expiry of the rows left, so later calls cost nothing until it."""
        if now < self.soonest:
            return np.zeros(0, dtype=np.int64)
        live = self.alive[: self.n]
        gone = live & (self.expires[: self.n] <= now)
        left = self.expires[: self.n][live & ~gone]
        self.soonest = float(left.min()) if len(left) else np.inf
        return np.flatnonzero(gone)

    def dense(self, qvec: np.ndarray) -> np.ndarray:
        """Cosine of every row with a unit query vector (rows are unit vectors too).

        A scan of 100,000 x 384 floats is bound by memory bandwidth (~16 ms here). From
        `COARSE_MIN_ROWS` rows on, rows are first scored on their projection onto the top
        `COARSE_DIMS` principal directions (a quarter of the bytes), and the best `COARSE_POOL`
        get their exact cosine; other rows keep the coarse score (an approximation). Measured
        on 100,000 generated memories: the exact top 200 were all in the pool.
        """
        if self.n < COARSE_MIN_ROWS:
            return self.vecs[: self.n] @ qvec
        self._project()
        assert self.basis is not None
        scores = self.coarse[: self.n] @ (qvec @ self.basis)
        rows = np.argpartition(-scores, COARSE_POOL - 1)[:COARSE_POOL]
        scores[rows] = self.vecs[rows] @ qvec
        return scores

    def _project(self) -> None:
        """Fit the principal directions when the shard has doubled since the last fit, project new rows."""
        if self.basis is None or self.n >= 2 * self._fitted_at:
            sample = self.vecs[: self.n]
            if self.n > 50_000:
                sample = sample[np.random.default_rng(0).choice(self.n, 50_000, replace=False)]
            _, vectors = np.linalg.eigh(sample.T.astype(np.float64) @ sample)
            self.basis = np.ascontiguousarray(vectors[:, ::-1][:, :COARSE_DIMS], dtype=np.float32)
            self._fitted_at, self._projected = self.n, 0
            self.coarse = np.zeros((len(self.alive), COARSE_DIMS), dtype=np.float32)
        if len(self.coarse) < self.n:
            self.coarse = np.resize(self.coarse, (len(self.alive), COARSE_DIMS))
        if self._projected < self.n:
            self.coarse[self._projected : self.n] = self.vecs[self._projected : self.n] @ self.basis
            self._projected = self.n

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

    def keyed(self, names: Iterable[str]) -> np.ndarray:
        """Rows that hold any of the keys `names` (removed rows too: combine with a mask)."""
        hit = np.zeros(self.n, dtype=bool)
        for name in names:
            key = self.key_ids.get(name)
            if key is not None:
                postings = self.key_postings[key]
                hit[postings.rows[: postings.n]] = True
        return hit

    def idf(self, term: str, mask: np.ndarray) -> float:
        postings = self.postings.get(term)
        total = int(mask.sum())
        df = int(mask[postings.rows[: postings.n]].sum()) if postings else 0
        return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


__all__ = ["COARSE_DIMS", "COARSE_MIN_ROWS", "COARSE_POOL", "Filters", "Shard"]
