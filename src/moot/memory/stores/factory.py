"""LangGraph stores for semantic and procedural memory, with moot's embedder as their index.

Three kinds, one contract (LangGraph's `BaseStore`, which LangMem's managers and tools use too):

- `memory` (default): an `InMemoryStore` with a vector index, saved to a file so memory survives
  a restart (`SnapshotStore`: `snapshot()`/`restore()`; with a path it saves after every write).
- `sqlite`: LangGraph's `AsyncSqliteStore`, vectors in sqlite-vec.
- `postgres`: LangGraph's `AsyncPostgresStore`, vectors in pgvector.

A native vector index is not always there: sqlite-vec needs a Python whose sqlite3 can load
extensions (this machine's pyenv build cannot), pgvector needs the server's `vector` extension
(Debian 12 has no package for it). Then the store is wrapped in a `ScanIndexStore`, which ranks a
namespace's items by the embedder on the client: right for per-user memory (hundreds of items a
namespace), not for a corpus.

`embeddings.py` gives every kind the same index over moot's embedder; `snapshot.py` is the
`memory` kind's file format; `scan.py` the client-side ranking.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from langgraph.store.base import BaseStore

from moot.errors import ConfigError
from moot.memory.stores.embeddings import DEFAULT_FIELDS, default_embedder, index_config
from moot.memory.stores.scan import ScanIndexStore
from moot.memory.stores.snapshot import SnapshotStore
from moot.memory.types import Embedder
from moot.settings import settings

log = logging.getLogger(__name__)

StoreKind = Literal["memory", "sqlite", "postgres"]
INSTALL_POSTGRES = "pip install 'langgraph-checkpoint-postgres>=3.2' 'psycopg[binary]>=3.2'"


def memory_store(
    path: str | Path | None = None,
    *,
    embedder: Embedder | None = None,
    fields: Sequence[str] = DEFAULT_FIELDS,
    autosave: bool = True,
) -> SnapshotStore:
    """The default store: in memory with a vector index, restored from `path` if it exists."""
    store = SnapshotStore(index=index_config(default_embedder(embedder), fields), path=path, autosave=autosave)
    if store.path is not None and store.path.exists():
        count = store.restore()
        log.info("memory store: restored %d items from %s", count, store.path)
    return store


@asynccontextmanager
async def make_store(
    kind: StoreKind = "memory",
    *,
    embedder: Embedder | None = None,
    path: str | Path | None = None,
    dsn: str | None = None,
    fields: Sequence[str] = DEFAULT_FIELDS,
    vector: Literal["auto", "native", "scan"] = "auto",
) -> AsyncIterator[BaseStore]:
    """Open a store of `kind`, set up and indexed by `embedder` (default: the shared one).

    `path` is the snapshot file (`memory`, saved again on exit) or the database file (`sqlite`);
    `dsn` is the PostgreSQL connection string (default `$MOOT_POSTGRES_DSN`). For `sqlite` and
    `postgres`, `vector` chooses the database's own vector index (sqlite-vec, pgvector), the
    client-side scan (`ScanIndexStore`), or (`auto`) the native index where it can be loaded.
    """
    embedder = default_embedder(embedder)
    if kind == "memory":
        store = memory_store(path, embedder=embedder, fields=fields)
        try:
            yield store
        finally:
            if store.path is not None:
                store.snapshot()
    elif kind == "sqlite":
        async with _sqlite(embedder, path, fields, vector) as sqlite_store:
            yield sqlite_store
    elif kind == "postgres":
        async with _postgres(embedder, dsn, fields, vector) as pg_store:
            yield pg_store
    else:
        raise ConfigError(f"memory store: unknown kind {kind!r}; choose one of 'memory', 'sqlite', 'postgres'")


@asynccontextmanager
async def _sqlite(embedder: Embedder, path: str | Path | None, fields: Sequence[str], vector: str) -> AsyncIterator[BaseStore]:
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    loadable = hasattr(sqlite3.Connection, "enable_load_extension")
    if vector == "native" and not loadable:
        raise ConfigError(
            "memory store: vector='native' needs sqlite-vec, but this Python's sqlite3 cannot load "
            "extensions (it was built without them); use vector='scan' (client-side ranking)"
        )
    target = str(path) if path is not None else ":memory:"
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    native = vector == "native" or (vector == "auto" and loadable)
    async with AsyncSqliteStore.from_conn_string(target, index=index_config(embedder, fields) if native else None) as inner:  # type: ignore[arg-type]
        await inner.setup()
        yield inner if native else ScanIndexStore(inner, embedder, fields=fields)


@asynccontextmanager
async def _postgres(
    embedder: Embedder, dsn: str | None, fields: Sequence[str], vector: str
) -> AsyncIterator[BaseStore]:
    try:
        from langgraph.store.postgres.aio import AsyncPostgresStore
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool
    except ImportError as exc:
        raise ConfigError(f"memory store: the PostgreSQL store is not installed ({exc}); install it with `{INSTALL_POSTGRES}`") from exc
    dsn = dsn or settings().postgres_dsn
    if not dsn:
        raise ConfigError("memory store: kind 'postgres' needs a connection string: pass dsn=... or set $MOOT_POSTGRES_DSN")
    pool = AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=4,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    try:
        await pool.open(wait=True, timeout=10)  # a server that is down fails here, loudly
        has_pgvector = await _has_pgvector(pool)
        if vector == "native" and not has_pgvector:
            raise ConfigError(
                "memory store: vector='native' but the PostgreSQL server has no `vector` extension; "
                "install pgvector on the server, or use vector='scan' (client-side ranking)"
            )
        native = vector == "native" or (vector == "auto" and has_pgvector)
        if native:
            config = {**index_config(embedder, fields), "distance_type": "cosine"}
            pg = AsyncPostgresStore(pool, index=config)  # type: ignore[arg-type]  # dict rows
            await pg.setup()
            store: BaseStore = pg
        else:
            pg = AsyncPostgresStore(pool)  # type: ignore[arg-type]  # the pool makes dict rows
            await pg.setup()
            store = ScanIndexStore(pg, embedder, fields=fields)
        try:
            yield store
        finally:
            # the store batches its calls in a background task that it stops only when it is
            # garbage-collected; a process exiting with the store still referenced would leave
            # it pending ("Task was destroyed but it is pending"), so stop it with the store
            batcher = getattr(pg, "_task", None)
            if batcher is not None and not batcher.done():
                batcher.cancel()
                await asyncio.gather(batcher, return_exceptions=True)
    finally:
        await pool.close()


async def _has_pgvector(pool: Any) -> bool:
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        return await cursor.fetchone() is not None


__all__ = ["INSTALL_POSTGRES", "StoreKind", "make_store", "memory_store"]
