"""Recall within a token budget over a per-user hybrid index (dense cosine and BM25).

`HybridIndex` (`index.py`) keeps one `Shard` (`shard.py`) of numpy arrays per user; the
`Retriever` (`retriever.py`) ranks a query over it (`rank.py`, `text.py`) and `Packer`
(`pack.py`) fits the best items into the budget.
"""

from moot.memory.retrieval.index import HybridIndex
from moot.memory.retrieval.pack import Packer, Recall, session_header
from moot.memory.retrieval.rank import fuse_scores, rrf, top_rows
from moot.memory.retrieval.retriever import RecallConfig, Retriever
from moot.memory.retrieval.shard import Filters, Shard
from moot.memory.retrieval.text import mentioned, stem, strip_words, terms

__all__ = [
    "Filters",
    "HybridIndex",
    "Packer",
    "Recall",
    "RecallConfig",
    "Retriever",
    "Shard",
    "fuse_scores",
    "mentioned",
    "rrf",
    "session_header",
    "stem",
    "strip_words",
    "terms",
    "top_rows",
]
