"""The process's MemoryManager as `moot run` and the service make it: embedded defaults, or a fleet.

Embedded (the default, no server): episodic records in-process, semantic and procedural memory
in an in-memory LangGraph store snapshotted to `$MOOT_HOME/memory/semantic.json`, and the recall
index snapshotted to `$MOOT_HOME/memory/index.npz`, so a later `moot run --user U` recalls what
earlier runs of U did. With `MOOT_REDIS_URL`, episodic records go to Redis instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from moot.memory.embedder import get_embedder
from moot.memory.episodic import EpisodicStore, InProcessEpisodic
from moot.memory.manager import MemoryManager
from moot.memory.procedural import ProceduralMemory
from moot.memory.semantic import SemanticMemory
from moot.memory.stores import memory_store
from moot.settings import moot_home, settings


def episodic_store() -> EpisodicStore:
    """Redis when `MOOT_REDIS_URL` is set, else in-process."""
    url = settings().redis_url
    if url:
        from moot.memory.episodic.redis import RedisEpisodic

        return RedisEpisodic(url)
    return InProcessEpisodic()


@asynccontextmanager
async def embedded_memory(model: BaseChatModel | None, home: Path | None = None) -> AsyncIterator[MemoryManager]:
    """A MemoryManager over files under `home` (default `$MOOT_HOME`), saved when the block ends.

    `model` extracts semantic memories in the background (LangMem); None: no extraction.
    """
    folder = (home or moot_home()) / "memory"
    embedder = get_embedder()
    store = memory_store(folder / "semantic.json", embedder=embedder)
    episodic = episodic_store()
    manager = MemoryManager(
        embedder=embedder,
        episodic=episodic,
        semantic=SemanticMemory(store, model, embedder=embedder) if model is not None else None,
        procedural=ProceduralMemory(store),
    )
    manager.load(folder / "index.npz")
    try:
        yield manager
    finally:
        if manager.semantic is not None:
            await manager.semantic.flush()
        manager.save(folder / "index.npz")
        await episodic.aclose()


__all__ = ["embedded_memory", "episodic_store"]
