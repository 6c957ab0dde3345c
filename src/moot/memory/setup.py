"""The process's MemoryManager as `moot run` and the service make it: embedded defaults, or a fleet.

Embedded (the default, no server): episodic records in-process, semantic and procedural memory
in an in-memory LangGraph store snapshotted to `$MOOT_HOME/memory/semantic.json`, and the recall
index snapshotted to `$MOOT_HOME/memory/index.npz`, so a later `moot run --user U` recalls what
earlier runs of U did. With `MOOT_REDIS_URL`, episodic records go to Redis instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from moot.memory.embedder import get_embedder
from moot.memory.episodic import EpisodicStore, InProcessEpisodic
from moot.memory.manager import MemoryManager
from moot.memory.procedural import ProceduralMemory
from moot.memory.semantic import SemanticMemory
from moot.memory.stores import make_store
from moot.settings import moot_home, settings


def episodic_store(redis_url: str | None = None, *, key_prefix: str = "moot:") -> EpisodicStore:
    """Redis at `redis_url` when there is one, else in-process."""
    if redis_url:
        from moot.memory.episodic.redis import RedisEpisodic

        return RedisEpisodic(redis_url, prefix=key_prefix)
    return InProcessEpisodic()


@asynccontextmanager
async def open_memory(
    folder: Path,
    *,
    model: BaseChatModel | None = None,
    semantic: bool = True,
    redis_url: str | None = None,
    key_prefix: str = "moot:",
    postgres_dsn: str | None = None,
    keep_index: bool = False,
) -> AsyncIterator[MemoryManager]:
    """The process's MemoryManager: the one place that assembles the layers, for `moot run` and
    for the service alike.

    Episodic records go to Redis when there is one (`redis_url`), else stay in process; semantic and procedural memory live in a LangGraph store, PostgreSQL at
    `postgres_dsn` or a snapshot file `folder/semantic.json`. `model` extracts semantic memories
    (LangMem); with `semantic=False` there is no semantic layer at all. With `keep_index`, the
    recall index is restored from and saved to `folder/index.npz`, so a later process recalls
    what earlier ones recorded. Everything is flushed and closed when the block ends.
    """
    embedder = get_embedder()
    episodic = episodic_store(redis_url, key_prefix=key_prefix)
    opened = (
        make_store("postgres", embedder=embedder, dsn=postgres_dsn)
        if postgres_dsn
        else make_store("memory", embedder=embedder, path=folder / "semantic.json")
    )
    try:
        async with opened as store:
            layer = SemanticMemory(store, model, embedder=embedder) if semantic else None
            manager = MemoryManager(embedder=embedder, episodic=episodic, semantic=layer, procedural=ProceduralMemory(store))
            if keep_index:
                manager.load(folder / "index.npz")
            try:
                yield manager
            finally:
                if layer is not None:
                    await layer.flush()
                if keep_index:
                    manager.save(folder / "index.npz")
    finally:
        await episodic.aclose()


def embedded_memory(model: BaseChatModel | None, home: Path | None = None) -> AbstractAsyncContextManager[MemoryManager]:
    """`moot run --user`'s memory: files under `home` (default `$MOOT_HOME`), saved when the block
    ends; `model` extracts semantic memories in the background (LangMem); None: no extraction."""
    return open_memory(
        (home or moot_home()) / "memory", model=model, semantic=model is not None, redis_url=settings().redis_url, keep_index=True
    )


__all__ = ["embedded_memory", "episodic_store", "open_memory"]
