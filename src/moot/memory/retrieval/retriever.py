"""Recall within a token budget: hybrid ranking, a second hop, neighbours, packing.

A query goes through these steps, all array arithmetic over the asking user's shard:

1. **Mentions.** Values of metadata fields (by default `speaker`) that the query names as a
   word, e.g. "Melanie" in "What activities does Melanie partake in?", raise the rows that carry
   them: facts about a person are mostly said by that person. The embedded query is then said
   in that person's voice ("What activities do I partake in?", `query_voice`): a name in it
   would pull in every line that merely addresses Melanie, and the lines that hold her facts
   are her own first-person ones.
   A question that lists several people ("What do Jon and Gina both like?") is ranked once per
   person and the rankings, each scaled to its best row, summed: boosting both at once lets the
   person whose lines score higher take the whole budget.
   **Dates.** Rows said on, or naming, a date the query names ("on 16 June, 2023", "in July")
   are raised, and rows that name a time when the query asks "when" (`dates.py`: relative
   times were resolved against each item's date at ingest).
2. **First hop.** Cosine and BM25 over the user's rows (after filters), fused by score.
3. **Second hop** (multi-hop). The first hop's best rows drive a second query: their mean
   vector pulls the dense query towards what was found, and their rarest words that the query
   lacks join the BM25 query. Evidence spread over several sessions rarely shares the
   question's wording, but it shares words and topics with the evidence that does.
   **Links.** Rows that share rare names, word pairs or resolved dates with the first hop's
   best rows (or with the question) gain a link score (`links.py`): the same things, named in
   another session.
4. **Context.** A row gains a share of its session's best score and of its neighbours' scores
   (the previous and next item of the same session): the answer to a question usually sits in
   the conversation where the topic came up, next to the line that names it. The best rows then
   bring their adjacent items along, at a discount.
5. **Packing** under the budget (`pack.py`).

Above `full_scan_limit` rows the second hop re-scores only the first hop's best
`second_hop_pool` rows, which keeps recall at 100,000 items within one matrix pass.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from moot.errors import UsageError
from moot.memory.embedder import embed_query
from moot.memory.retrieval.dates import asks_when, query_keys
from moot.memory.retrieval.index import HybridIndex, clean_query
from moot.memory.retrieval.links import link_scores, text_keys
from moot.memory.retrieval.pack import Packer, Recall
from moot.memory.retrieval.rank import fuse_scores, rrf, top_rows
from moot.memory.retrieval.shard import Filters, Shard
from moot.memory.retrieval.text import (
    first_person,
    joined,
    mentioned,
    strip_words,
    terms,
)


VOICES = ("first", "names", "strip")
"""the values of `RecallConfig.query_voice`"""


@dataclass(frozen=True)
class RecallConfig:
    """Knobs of the recall pipeline; the defaults are the ones measured in bench/README.md."""

    fusion: str = "score"
    """"score" (weighted scaled scores) or "rrf" (reciprocal rank, k=60): score measured better"""
    w_dense: float = 1.0
    w_lexical: float = 0.5
    mention_fields: tuple[str, ...] = ("speaker",)
    mention_boost: float = 2.0
    """multiplier for rows whose mention field holds a name the query mentions"""
    query_voice: str = "first"
    """how the embedded query says the people it mentions: "first" voices the first one as I/my,
    others as you/your, listed ones as we/our, and third-person pronouns too ("What did she
    paint?" → "What did I paint?"); "names" voices only the names; "strip" drops the names"""
    hops: int = 2
    feedback_rows: int = 5
    """first-hop rows that drive the second hop"""
    feedback_weight: float = 0.5
    """weight of the first hop's mean vector in the second dense query"""
    expansion_terms: int = 6
    """rare words of the first hop's rows added to the second BM25 query"""
    second_hop_weight: float = 0.5
    session_boost: float = 0.15
    """share of the session's best score added to each of its rows"""
    neighbour_smoothing: float = 0.15
    """share of the previous and next rows' scores added to a row's own"""
    neighbour_top: int = 2
    """the best rows bring their adjacent items along"""
    neighbour_discount: float = 0.6
    link_weight: float = 0.1
    """weight of the link score (keys shared with the first hop's best rows, `links.py`); 0: off"""
    link_seeds: int = 5
    """first-hop rows whose entity keys drive the link score"""
    link_max_rows: int = 20
    """a key held by more live rows links nothing (too common to mean anything; caps fan-out)"""
    date_boost: float = 1.5
    """multiplier for rows said on, or naming, a date the query names ("on 16 June, 2023")"""
    when_boost: float = 0.2
    """rows that name a time get x(1 + this) when the query asks when"""
    split_mentions: bool = True
    """a question that lists people ("What do Jon and Gina both like?") is ranked per person and
    the scaled rankings summed, instead of boosting both at once"""
    candidates: int = 200
    """ranked rows handed to the packer"""
    full_scan_limit: int = 20_000
    second_hop_pool: int = 2_000

    def __post_init__(self) -> None:
        # refused when the config is made, not at the first query that happens to name someone
        if self.query_voice not in VOICES:
            raise UsageError(f"RecallConfig.query_voice: {self.query_voice!r} is not one of {', '.join(VOICES)}")


class Retriever:
    """`recall(user_id, query, budget_tokens)` over a `HybridIndex`; safe for concurrent reads."""

    def __init__(self, index: HybridIndex, config: RecallConfig | None = None) -> None:
        self.index = index
        self.config = config or RecallConfig()
        self.packer = Packer(index.embedder)

    def recall(self, user_id: str, query: str, budget_tokens: int = 1000,
               filters: Filters | None = None) -> Recall:
        """The user's most relevant items for `query`, packed under `budget_tokens` (a hard cap).

        `filters` narrow the user's items by `layer`, `session_id` or any scalar `meta` key
        (a value, or a list of accepted values). Another user's items are never read.
        """
        started = time.perf_counter()
        query = clean_query(query)
        empty = Recall(items=[], text="", tokens=0, budget=budget_tokens)
        index = self.index
        with index.lock:
            shard = index.shard(user_id)
            if shard is None or budget_tokens <= 0 or not query.strip():
                return empty
            dense_query = self.dense_query(shard, query, self._mentions(shard, query))
        qvec = embed_query(index.embedder, dense_query)  # outside the lock: the slow part
        embedded = time.perf_counter()
        with index.lock:
            shard = index.shard(user_id)  # again: the user may have been forgotten meanwhile
            mask = shard.mask(filters, now=index.clock()) if shard is not None else None
            if shard is None or mask is None or not mask.any():
                return empty
            scores = self.score(shard, query, qvec, mask, self._mentions(shard, query))
            rows = top_rows(scores, mask, self.config.candidates)
            rows, scores = self._with_neighbours(shard, rows, scores, mask)
            ranked = time.perf_counter()
            result = self.packer.pack(shard, rows, scores, budget_tokens)
        done = time.perf_counter()
        result.timings.update(embed=embedded - started, rank=ranked - embedded, pack=done - ranked,
                              total=done - started)
        return result

    # -- ranking ------------------------------------------------------------------------------
    def score(self, shard: Shard, query: str, qvec: np.ndarray, mask: np.ndarray,
              mentions: dict[str, list[int]]) -> np.ndarray:
        """Relevance of every row (0 outside `mask`); `qvec` embeds the query without mentions.

        A question about several people is ranked once per person (`split_mentions`); each
        ranking is scaled to its best row and the rankings summed, so each person's evidence
        keeps its weight. (Keeping each row's best share instead lost a LoCoMo question.)
        """
        parts = split_mentions(query, shard, mentions) if self.config.split_mentions else [mentions]
        if len(parts) == 1:
            return self._score(shard, query, qvec, mask, mentions)
        merged = np.zeros(shard.n)
        for part in parts:
            scores = self._score(shard, query, qvec, mask, part)
            merged = merged + scores / max(float(scores.max()), 1e-9)
        return merged

    def _score(self, shard: Shard, query: str, qvec: np.ndarray, mask: np.ndarray,
               mentions: dict[str, list[int]]) -> np.ndarray:
        cfg = self.config
        n = shard.n
        qterms = terms(query)
        prior = self._date_prior(shard, query)
        for key, codes in mentions.items():
            prior[np.isin(shard.columns[key][:n], codes)] *= cfg.mention_boost
        first = self._fuse(shard.dense(qvec), shard.bm25(qterms, mask), mask) * prior
        total = first
        if cfg.hops > 1:
            total = first + cfg.second_hop_weight * self._second_hop(shard, qvec, qterms, first, mask) * prior
        if cfg.link_weight:
            seeds = top_rows(first, mask, cfg.link_seeds).tolist()
            links = link_scores(shard, seeds, text_keys(query), mask, cfg.link_max_rows)
            total = total + cfg.link_weight * float(first.max()) * links * prior
        if cfg.session_boost:
            sessions = shard.columns["session_id"][:n]
            best = np.zeros(len(shard.codes["session_id"]))
            np.maximum.at(best, sessions, total)
            sessionless = shard.codes["session_id"].get("")
            if sessionless is not None:
                best[sessionless] = 0.0  # items outside any session get no session boost
            total = total + cfg.session_boost * best[sessions]
        if cfg.neighbour_smoothing:
            padded = np.append(total, 0.0)  # a missing neighbour (-1) reads the trailing 0
            total = total + cfg.neighbour_smoothing * (padded[shard.prev[:n]] + padded[shard.next[:n]])
        return np.where(mask, total, 0.0)

    def _date_prior(self, shard: Shard, query: str) -> np.ndarray:
        """x`date_boost` for rows said on or naming a date the query names; x(1 + `when_boost`)
        for rows that name a time when the query asks when."""
        cfg = self.config
        prior = np.ones(shard.n)
        keys = query_keys(query)
        if keys and cfg.date_boost != 1.0:
            prior[shard.keyed([kind + key for key in keys for kind in ("s:", "t:")])] *= cfg.date_boost
        if cfg.when_boost and asks_when(query):
            prior[shard.dated[: shard.n]] *= 1.0 + cfg.when_boost
        return prior

    def _fuse(self, dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray) -> np.ndarray:
        cfg = self.config
        if cfg.fusion == "rrf":
            return rrf(dense, lexical, mask, w_dense=cfg.w_dense, w_lexical=cfg.w_lexical)
        return fuse_scores(dense, lexical, mask, w_dense=cfg.w_dense, w_lexical=cfg.w_lexical)

    def _mentions(self, shard: Shard, query: str) -> dict[str, list[int]]:
        found = {}
        for key in self.config.mention_fields:
            book = shard.codes.get(key)
            if book:
                codes = mentioned(query, {v: c for v, c in book.items() if isinstance(v, str)})
                if codes:
                    found[key] = codes
        return found

    def dense_query(self, shard: Shard, query: str, mentions: dict[str, list[int]]) -> str:
        """The text embedded for `query`: the people it mentions voiced (`query_voice`) or dropped."""
        if not mentions:
            return query
        named = {value for key, codes in mentions.items()
                 for value, code in shard.codes[key].items() if code in codes and isinstance(value, str)}
        voice = self.config.query_voice
        if voice == "strip":
            return strip_words(query, named) or query
        lowered = query.lower()
        people = sorted(named, key=lambda name: (_position(lowered, name), name))
        return first_person(query, people, pronouns=voice == "first") or query

    def _second_hop(self, shard: Shard, qvec: np.ndarray, qterms: list[str], first: np.ndarray,
                    mask: np.ndarray) -> np.ndarray:
        """A query built from what the first hop found: its mean vector and its rarest words."""
        cfg = self.config
        seeds = top_rows(first, mask, cfg.feedback_rows)
        if len(seeds) == 0:
            return np.zeros(shard.n)
        centroid = shard.vecs[seeds].mean(axis=0)
        q2 = qvec + cfg.feedback_weight * centroid / max(float(np.linalg.norm(centroid)), 1e-9)
        q2 /= max(float(np.linalg.norm(q2)), 1e-9)
        have = set(qterms)
        counts: dict[str, int] = {}
        for row in seeds.tolist():
            for term in set(terms(shard.items[row].text)) - have:
                counts[term] = counts.get(term, 0) + 1
        expansion = sorted(counts, key=lambda t: (-counts[t] * shard.idf(t, mask), t))[: cfg.expansion_terms]
        lexical = shard.bm25(qterms + expansion, mask)
        if shard.n <= cfg.full_scan_limit:
            return self._fuse(shard.dense(q2), lexical, mask)
        # Large shard: re-score only the best rows of the first hop and of the expanded BM25.
        rows = np.union1d(top_rows(first, mask, cfg.second_hop_pool),
                          top_rows(lexical, mask & (lexical > 0), cfg.second_hop_pool))
        pool = np.zeros(shard.n, dtype=bool)
        pool[rows] = True
        dense = np.zeros(shard.n, dtype=np.float32)
        dense[rows] = shard.vecs[rows] @ q2
        return self._fuse(dense, np.where(pool, lexical, 0.0), pool)

    def _with_neighbours(self, shard: Shard, rows: np.ndarray, scores: np.ndarray,
                         mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bring the adjacent items of the best rows along, ranked just below them."""
        cfg = self.config
        if cfg.neighbour_top <= 0 or len(rows) == 0:
            return rows, scores
        scores = scores.copy()
        added: list[int] = []
        for row in rows[: cfg.neighbour_top].tolist():
            for at in (int(shard.prev[row]), int(shard.next[row])):
                weight = scores[row] * cfg.neighbour_discount
                if at >= 0 and mask[at] and weight > scores[at]:
                    scores[at] = weight
                    added.append(at)
        pool = np.unique(np.concatenate([rows, np.asarray(added, dtype=rows.dtype)]))
        return pool[np.argsort(-scores[pool], kind="stable")], scores


def _position(text: str, name: str) -> int:
    """Where `name` first stands as a word in `text` (lowercase both), or past the end."""
    match = re.search(rf"\b{re.escape(name)}\b", text)
    return match.start() if match else len(text)


def split_mentions(query: str, shard: Shard, mentions: dict[str, list[int]]) -> list[dict[str, list[int]]]:
    """One mention set per person when the query lists several of one field side by side."""
    for key, codes in mentions.items():
        named = [value for value, code in shard.codes[key].items() if code in codes and isinstance(value, str)]
        if len(codes) > 1 and joined(query, named):
            return [{**mentions, key: [code]} for code in codes]
    return [mentions]


__all__ = ["RecallConfig", "Retriever", "split_mentions"]
