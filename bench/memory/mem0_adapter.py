"""mem0 (`mem0ai`) set up to run offline: this embedder, local Qdrant, no LLM call, no telemetry.

mem0 is not a moot dependency. Install it apart from the project's venv so that its
dependencies (qdrant-client, grpcio, protobuf, SQLAlchemy, posthog) cannot change what moot runs
on, and point `MEM0_PATH` at that folder (default `/tmp/mem0-lib`):

    .venv/bin/pip install --target /tmp/mem0-lib 'mem0ai==2.2.1'

The folder goes at the *end* of `sys.path`, so the venv's own packages win. `infer=False` stores
each turn as it is, without the LLM extraction step, so the chat model configured here (moot's
scripted model, a real LangChain `BaseChatModel`) is never called.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from moot.memory.types import Embedder


def make_memory(embedder: Embedder, workdir: str) -> Any:
    path = os.environ.get("MEM0_PATH", "/tmp/mem0-lib")
    if Path(path).is_dir() and path not in sys.path:
        sys.path.append(path)
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("MEM0_DIR", str(Path(workdir, "mem0")))
    from langchain_core.embeddings import Embeddings
    from mem0 import Memory
    from mem0.configs.base import MemoryConfig

    from moot.models.scripted import ScriptedChatModel

    class Adapter(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts)).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0].tolist()

    config = MemoryConfig(
        embedder={"provider": "langchain", "config": {"model": Adapter(), "embedding_dims": embedder.dim}},
        vector_store={"provider": "qdrant", "config": {
            "collection_name": "locomo", "embedding_model_dims": embedder.dim,
            "path": str(Path(workdir, "qdrant")), "on_disk": False}},
        llm={"provider": "langchain", "config": {"model": ScriptedChatModel(script=["{}"])}},
        history_db_path=str(Path(workdir, "history.db")),
    )
    return Memory(config)
