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

Every store embeds the value's `text` field (else `content`, what LangMem's own tools write), so
what a memory says is what search compares, not its JSON metadata.
"""

from __future__ import annotations

import asyncio

import base64
import json
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    Item,
    Op,
    PutOp,
    Result,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path
from langgraph.store.memory import InMemoryStore

from moot.errors import ConfigError, UsageError
from moot.memory.scan_store import ScanIndexStore
from moot.memory.types import Embedder
from moot.settings import settings

log = logging.getLogger(__name__)

StoreKind = Literal["memory", "sqlite", "postgres"]
DEFAULT_FIELDS: tuple[str, ...] = ("text", "content")
SNAPSHOT_FORMAT = "moot-store-snapshot/1"
INSTALL_POSTGRES = "pip install 'langgraph-checkpoint-postgres>=3.2' 'psycopg[binary]>=3.2'"


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


def _default_embedder(embedder: Embedder | None) -> Embedder:
    if embedder is not None:
        return embedder
    from moot.memory.embedder import get_embedder

    return get_embedder()


class SnapshotStore(InMemoryStore):
    """An `InMemoryStore` that saves its items and vectors to one JSON file and loads them back.

    With `path` set and `autosave` on, every batch that writes saves the whole store (atomically:
    a temporary file, then a rename). That is cheap for memory about users; for bulk ingest turn
    `autosave` off and call `snapshot()` at the end.
    """

    def __init__(self, *, index: dict[str, Any] | None = None, path: str | Path | None = None, autosave: bool = True) -> None:
        super().__init__(index=index)  # type: ignore[arg-type]
        self.path = Path(path) if path is not None else None
        self.autosave = autosave
        self._lock = threading.RLock()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        with self._lock:
            results = super().batch(ops)
        self._after(ops)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results = await super().abatch(ops)
        self._after(ops)
        return results

    def _after(self, ops: list[Op]) -> None:
        if self.path is not None and self.autosave and any(isinstance(op, PutOp) for op in ops):
            self.snapshot()

    def snapshot(self, path: str | Path | None = None) -> Path:
        """Write every item, with its vectors, to `path` (default: the store's own path)."""
        target = self._target(path)
        with self._lock:
            items = [
                {
                    **item.dict(),
                    "vectors": {p: _pack(v) for p, v in self._vectors.get(ns, {}).get(key, {}).items()},
                }
                for ns, by_key in self._data.items()
                for key, item in by_key.items()
            ]
        dims = (self.index_config or {}).get("dims")
        payload = {"format": SNAPSHOT_FORMAT, "dims": dims, "items": items}
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)
        return target

    def restore(self, path: str | Path | None = None) -> int:
        """Replace the store's contents with a snapshot's; returns the number of items.

        Vectors are reused when the snapshot was made with an index of the same size, and made
        again from the same fields otherwise (the embedder changed), so search keeps working.
        """
        source = self._target(path)
        try:
            payload = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{source}: no store snapshot there (write one with snapshot())") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{source}:{exc.lineno}: the store snapshot is not valid JSON: {exc.msg}") from None
        if not isinstance(payload, dict) or payload.get("format") != SNAPSHOT_FORMAT:
            raise UsageError(f"{source}: not a moot store snapshot (expected format {SNAPSHOT_FORMAT!r})")
        dims = (self.index_config or {}).get("dims")
        reuse = dims is not None and payload.get("dims") == dims
        to_embed: list[tuple[tuple[str, ...], str, str, str]] = []
        with self._lock:
            self._data.clear()
            self._vectors.clear()
            for raw in payload["items"]:
                item = Item(
                    value=raw["value"],
                    key=raw["key"],
                    namespace=tuple(raw["namespace"]),
                    created_at=raw["created_at"],
                    updated_at=raw["updated_at"],
                )
                self._data[item.namespace][item.key] = item
                for field_path, packed in raw.get("vectors", {}).items():
                    if reuse:
                        self._vectors[item.namespace][item.key][field_path] = _unpack(packed)
                    elif dims is not None:
                        to_embed.extend(_texts_at(item, field_path))
        if to_embed and self.embeddings is not None:
            vectors = self.embeddings.embed_documents([text for *_, text in to_embed])
            with self._lock:
                for (ns, key, field_path, _), vector in zip(to_embed, vectors, strict=True):
                    self._vectors[ns][key][field_path] = vector
        return len(payload["items"])

    def _target(self, path: str | Path | None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise UsageError("store snapshot: no path given and the store has none (memory_store(path=...))")
        return target


def _pack(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _unpack(packed: str) -> list[float]:
    return np.frombuffer(base64.b64decode(packed), dtype="<f4").tolist()


def _texts_at(item: Item, field_path: str) -> list[tuple[tuple[str, ...], str, str, str]]:
    """The text a stored vector was made from (`path` or `path.i` for the i-th of a list)."""
    base, _, index = field_path.rpartition(".")
    if base and index.isdigit():
        texts = get_text_at_path(item.value, tokenize_path(base))
        return [(item.namespace, item.key, field_path, texts[int(index)])] if int(index) < len(texts) else []
    texts = get_text_at_path(item.value, field_path if field_path == "$" else tokenize_path(field_path))
    return [(item.namespace, item.key, field_path, texts[0])] if texts else []


def memory_store(
    path: str | Path | None = None,
    *,
    embedder: Embedder | None = None,
    fields: Sequence[str] = DEFAULT_FIELDS,
    autosave: bool = True,
) -> SnapshotStore:
    """The default store: in memory with a vector index, restored from `path` if it exists."""
    store = SnapshotStore(index=index_config(_default_embedder(embedder), fields), path=path, autosave=autosave)
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
    embedder = _default_embedder(embedder)
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


__all__ = [
    "DEFAULT_FIELDS",
    "EmbedderEmbeddings",
    "ScanIndexStore",
    "SnapshotStore",
    "StoreKind",
    "index_config",
    "make_store",
    "memory_store",
]
