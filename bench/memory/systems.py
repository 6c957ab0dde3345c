"""The memory systems the LoCoMo benchmark compares, all on the same embedder.

- `moot`: `HybridIndex` + `Retriever` (hybrid ranking, second hop, neighbours, packing).
- `dense`: plain top-k cosine over the same numpy matrix (the ranking every dense store gives).
- `store`: LangGraph's `InMemoryStore` with a vector index, searched as LangMem searches it.
- `rag`: chunked RAG: consecutive turns of a session in chunks of ~`chunk_tokens`, top-k cosine.
- `mem0`: mem0's `Memory` with `infer=False`, its local vector store and this embedder, if it
  can run here (see `Mem0System`).

A baseline packs its ranked results in rank order, each with its own date, skipping what no
longer fits, until the budget is full; the same greedy rule as moot's packer.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from locomo_data import Conversation

from moot.memory.embedder import embed_query
from moot.memory.retrieval.index import HybridIndex
from moot.memory.retrieval import RecallConfig, Retriever
from moot.memory.retrieval.rank import top_rows
from moot.memory.types import Embedder, MemoryItem


class System:
    name = "?"

    def ingest(self, conv: Conversation) -> None:
        raise NotImplementedError

    def recall(self, user_id: str, query: str, budget: int) -> tuple[list[str], int]:
        """Ids of the turns in the recalled context, and its exact token count."""
        raise NotImplementedError


def pack_ranked(embedder: Embedder, ranked: list[tuple[list[str], str]], budget: int) -> tuple[list[str], int]:
    """Greedy in rank order: (turn ids, rendered text) entries, each taken if it still fits.

    As in moot's packer, the joined text is counted exactly at the end and the last entries go
    while it is over budget (a tokenizer may merge across the newlines).
    """
    chosen: list[tuple[list[str], str]] = []
    used = 0
    for turn_ids, text in ranked:
        cost = embedder.count_tokens(text)
        if used + cost <= budget:
            used += cost
            chosen.append((turn_ids, text))
    while True:
        tokens = embedder.count_tokens("\n".join(text for _, text in chosen)) if chosen else 0
        if tokens <= budget:
            return [i for turn_ids, _ in chosen for i in turn_ids], tokens
        chosen.pop()


def dated(item: MemoryItem) -> str:
    return f"[{item.meta['date']}] {item.text}"


class MootSystem(System):
    name = "moot"

    def __init__(self, embedder: Embedder, config: RecallConfig | None = None) -> None:
        self.index = HybridIndex(embedder)
        self.retriever = Retriever(self.index, config)

    def ingest(self, conv: Conversation) -> None:
        for session in conv.sessions:
            self.index.add(session)

    def recall(self, user_id: str, query: str, budget: int) -> tuple[list[str], int]:
        result = self.retriever.recall(user_id, query, budget)
        return result.ids, result.tokens


class DenseSystem(MootSystem):
    """Top-k cosine over the same matrix: no BM25, no hops, no neighbours, a date per line."""

    name = "dense"

    def recall(self, user_id: str, query: str, budget: int) -> tuple[list[str], int]:
        shard = self.index.shard(user_id)
        assert shard is not None
        mask = shard.mask()
        rows = top_rows(shard.dense(embed_query(self.index.embedder, query)), mask, 80)
        ranked = [([shard.items[r].id], dated(shard.items[r])) for r in rows.tolist()]  # type: ignore[union-attr]
        return pack_ranked(self.index.embedder, ranked, budget)


class StoreSystem(System):
    """LangGraph `InMemoryStore(index=...)`: what LangMem's search tool runs over."""

    name = "store"

    def __init__(self, embedder: Embedder) -> None:
        from langgraph.store.memory import InMemoryStore

        self.embedder = embedder

        def embed(texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts)).tolist()

        self.store = InMemoryStore(index={"dims": embedder.dim, "embed": embed, "fields": ["text"]})

    def ingest(self, conv: Conversation) -> None:
        from langgraph.store.base import PutOp

        for session in conv.sessions:
            self.store.batch([
                PutOp(("memories", conv.sample_id), item.id, {"text": item.text, "date": item.meta["date"]})
                for item in session
            ])

    def recall(self, user_id: str, query: str, budget: int) -> tuple[list[str], int]:
        hits = self.store.search(("memories", user_id), query=query, limit=80)
        ranked = [([h.key], f"[{h.value['date']}] {h.value['text']}") for h in hits]
        return pack_ranked(self.embedder, ranked, budget)


class RagSystem(System):
    """Chunked RAG: each session cut into chunks of consecutive turns up to `chunk_tokens`."""

    name = "rag"

    def __init__(self, embedder: Embedder, chunk_tokens: int = 128) -> None:
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.chunks: dict[str, list[tuple[list[str], str]]] = {}
        self.vectors: dict[str, np.ndarray] = {}

    def ingest(self, conv: Conversation) -> None:
        chunks: list[tuple[list[str], str]] = []
        for session in conv.sessions:
            header = f"[{session[0].meta['date']}]"
            ids: list[str] = []
            lines: list[str] = []
            used = self.embedder.count_tokens(header)
            for item in session:
                cost = self.embedder.count_tokens(item.text)
                if lines and used + cost > self.chunk_tokens:
                    chunks.append((ids, "\n".join([header, *lines])))
                    ids, lines, used = [], [], self.embedder.count_tokens(header)
                ids.append(item.id)
                lines.append(item.text)
                used += cost
            if lines:
                chunks.append((ids, "\n".join([header, *lines])))
        self.chunks[conv.sample_id] = chunks
        self.vectors[conv.sample_id] = self.embedder.embed([text for _, text in chunks])

    def recall(self, user_id: str, query: str, budget: int) -> tuple[list[str], int]:
        scores = self.vectors[user_id] @ embed_query(self.embedder, query)
        order = np.argsort(-scores)[:40]
        return pack_ranked(self.embedder, [self.chunks[user_id][i] for i in order.tolist()], budget)


class Mem0System(System):
    """mem0 `Memory` with infer=False (no LLM call), its local vector store, this embedder."""

    name = "mem0"

    def __init__(self, embedder: Embedder, workdir: str) -> None:
        from mem0_adapter import make_memory  # imported late: mem0 is optional

        self.embedder = embedder
        self.memory: Any = make_memory(embedder, workdir)
        self.dates: dict[str, str] = {}

    def ingest(self, conv: Conversation) -> None:
        for session in conv.sessions:
            for item in session:
                self.memory.add(item.text, user_id=conv.sample_id, infer=False,
                                metadata={"turn": item.id, "date": item.meta["date"]})

    def recall(self, user_id: str, query: str, budget: int) -> tuple[list[str], int]:
        found = self.memory.search(query, filters={"user_id": user_id}, top_k=80, threshold=0.0)
        hits = found["results"] if isinstance(found, dict) else found
        ranked = [([h["metadata"]["turn"]], f"[{h['metadata']['date']}] {h['memory']}") for h in hits]
        return pack_ranked(self.embedder, ranked, budget)


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


__all__ = ["DenseSystem", "Mem0System", "MootSystem", "RagSystem", "StoreSystem", "System", "pack_ranked", "timed"]
