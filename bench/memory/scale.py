"""Recall latency with 100,000 stored memories (query embedding included).

Memories are generated from the LoCoMo turns so that their words (BM25 postings) and vectors
are shaped like real ones: each generated memory joins two sentences of different real turns,
and its vector is the normalised mix of theirs plus a little noise (embedding 100,000 texts
would take 12 minutes and measures ingest, not recall). They are grouped in sessions of 20
items with dates, like dialogue. The queries are the LoCoMo questions, embedded per query.

Two layouts: all memories owned by one user (the worst case: one shard of 100,000 rows) and
the same memories spread over 100 users (1,000 each). Optionally a few searches of LangGraph's
`InMemoryStore` at the same size for comparison.

    python bench/memory/scale.py [--items 100000] [--queries 300] [--store-queries 3]

Target (issue 5): recall p95 < 50 ms at 100,000 items.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from locomo_data import load

from moot.memory.embedder import get_embedder
from moot.memory.retrieval.index import HybridIndex
from moot.memory.retrieval import Retriever
from moot.memory.types import MemoryItem

SENTENCE = re.compile(r"(?<=[.!?])\s+")
DAY = 86_400.0


def generate(n: int, users: int, seed: int = 7) -> tuple[list[MemoryItem], np.ndarray, list[str]]:
    embedder = get_embedder()
    convs = load()
    turns = [item for c in convs for s in c.sessions for item in s]
    print(f"embedding {len(turns)} LoCoMo turns to generate from ...", flush=True)
    base = embedder.embed([t.text for t in turns])
    rng = np.random.default_rng(seed)
    parts = [SENTENCE.split(t.text.partition(": ")[2]) for t in turns]
    speakers = [t.meta["speaker"] for t in turns]
    a = rng.integers(0, len(turns), n)
    b = rng.integers(0, len(turns), n)
    mix = rng.uniform(0.5, 0.8, n).astype(np.float32)[:, None]
    vecs = mix * base[a] + (1 - mix) * base[b] + rng.normal(0, 0.02, (n, base.shape[1])).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    items = []
    for i in range(n):
        user = f"user-{i % users}"
        k = i // users
        text = f"{speakers[a[i]]}: {rng.choice(parts[a[i]])} {rng.choice(parts[b[i]])}"
        items.append(MemoryItem(
            id=f"m{i}", layer="episodic", text=text, user_id=user, session_id=f"{user}/s{k // 20}",
            ts=1.68e9 + (k // 20) * DAY + k % 20, meta={"seq": k % 20, "speaker": speakers[a[i]]},
        ))
    return items, vecs, [q.text for c in convs for q in c.questions]


def measure(retriever: Retriever, users: list[str], queries: list[str], budget: int) -> dict[str, float]:
    times, tokens = [], []
    for i, query in enumerate(queries):
        start = time.perf_counter()
        result = retriever.recall(users[i % len(users)], query, budget)
        times.append((time.perf_counter() - start) * 1e3)
        tokens.append(result.tokens)
        assert result.tokens <= budget
    return {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
            "max_tokens": float(max(tokens))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--store-queries", type=int, default=3, help="InMemoryStore searches (0: skip)")
    args = parser.parse_args()

    embedder = get_embedder()
    items, vecs, questions = generate(args.items, users=1)
    queries = (questions * (args.queries // len(questions) + 1))[: args.queries]
    rows = [("one user", items, ["user-0"]), ("100 users", None, [f"user-{u}" for u in range(100)])]
    for label, batch, users in rows:
        if batch is None:
            batch = [MemoryItem(id=i.id, layer=i.layer, text=i.text, user_id=f"user-{n % 100}",
                                session_id=f"user-{n % 100}/s{(n // 100) // 20}", ts=i.ts, meta=i.meta)
                     for n, i in enumerate(items)]
        index = HybridIndex(embedder)
        start = time.perf_counter()
        for lo in range(0, len(batch), 10_000):
            index.add(batch[lo : lo + 10_000], vectors=vecs[lo : lo + 10_000])
        built = time.perf_counter() - start
        retriever = Retriever(index)
        measure(retriever, users, queries[:20], args.budget)  # warm up
        stats = measure(retriever, users, queries, args.budget)
        print(f"{args.items:,} items, {label}: recall p50 {stats['p50']:.1f} ms, p95 {stats['p95']:.1f} ms "
              f"({len(queries)} queries, query embedding included; max tokens {stats['max_tokens']:.0f}); "
              f"indexing without embedding {len(batch) / built:,.0f} items/s", flush=True)
        del index, retriever
    if args.store_queries:
        from langgraph.store.memory import InMemoryStore

        lookup = {f"{item.text} #{item.id}": vec for item, vec in zip(items, vecs, strict=True)}

        def embed(texts: list[str]) -> list[list[float]]:
            return [lookup[t].tolist() if t in lookup else embedder.embed([t])[0].tolist() for t in texts]

        store = InMemoryStore(index={"dims": embedder.dim, "embed": embed, "fields": ["text"]})
        from langgraph.store.base import PutOp

        for lo in range(0, len(items), 10_000):
            store.batch([PutOp(("memories", "user-0"), i.id, {"text": f"{i.text} #{i.id}"})
                         for i in items[lo : lo + 10_000]])
        times = []
        for query in queries[: args.store_queries]:
            start = time.perf_counter()
            store.search(("memories", "user-0"), query=query, limit=30)
            times.append(time.perf_counter() - start)
        print(f"{args.items:,} items, InMemoryStore search: mean {np.mean(times) * 1e3:,.0f} ms "
              f"over {len(times)} queries")


if __name__ == "__main__":
    main()
