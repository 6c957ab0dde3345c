"""moot's embedder as the index of a LangGraph store: the one piece every store kind shares.

LangGraph stores embed through LangChain's `Embeddings`; `index_config` wraps the process's
`Embedder` in one, so a store searches with the same vectors as recall. Every store embeds the
value's `text` field (else `content`, what LangMem's own tools write), so what a memory says is
what search compares, not its JSON metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from moot.memory.types import Embedder

DEFAULT_FIELDS: tuple[str, ...] = ("text", "content")


class EmbedderEmbeddings(Embeddings):
    """moot's `Embedder` as the LangChain `Embeddings` a LangGraph store index calls."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return np.asarray(self.embedder.embed(list(texts)), dtype=np.float32).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def index_config(embedder: Embedder, fields: Sequence[str] = DEFAULT_FIELDS) -> dict[str, Any]:
    """A LangGraph `index` config (`dims`, `embed`, `fields`) over `embedder`."""
    fields = list(fields)
    # AsyncSqliteStore reads `text_fields` where the other stores read `fields`: give both.
    return {"dims": embedder.dim, "embed": EmbedderEmbeddings(embedder), "fields": fields, "text_fields": fields}


def default_embedder(embedder: Embedder | None) -> Embedder:
    if embedder is not None:
        return embedder
    from moot.memory.embedder import get_embedder

    return get_embedder()


__all__ = ["DEFAULT_FIELDS", "EmbedderEmbeddings", "default_embedder", "index_config"]
