"""Opening the store: the checkpointer, the run index and the tool ledger, on one database.

The database is named by a URL: a file path or `sqlite:///path` for one machine (the default,
`$MOOT_HOME/moot.db`), `postgresql://...` for a fleet of workers that must see each other's runs.
`$MOOT_DATABASE_URL` names it when the caller does not. The three parts always share the
database (on SQLite, the very connection), because a tool outcome and a run record are only
useful beside the checkpoints they belong to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from moot.errors import UsageError
from moot.persistence.ledger import PostgresLedger, SqliteLedger
from moot.persistence.records import default_db
from moot.persistence.runs import RunIndex
from moot.persistence.sqlite import SqliteRunIndex, compact_sqlite
from moot.settings import env_var, settings
from moot.tools.types import Ledger

DATABASE_URL_ENV = env_var("database_url")
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Persistence:
    """An open store. Valid inside the `open_persistence` block that made it."""

    checkpointer: BaseCheckpointSaver
    index: RunIndex
    ledger: Ledger
    backend: Literal["sqlite", "postgres"]
    where: str
    """The file, or the URL without its password."""


def resolve(url: str | Path | None) -> tuple[Literal["sqlite", "postgres"], str]:
    """`(backend, target)` of a database URL or path; `None` means `$MOOT_DATABASE_URL`, else
    the default file. `sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute (SQLAlchemy's
    convention)."""
    if url is None:
        url = settings().database_url or default_db()
    if isinstance(url, Path):
        return "sqlite", str(url)
    text = url.strip()
    if not text:
        raise UsageError(f"the database URL is empty; give a file path, sqlite:///PATH or postgresql://... (or unset ${DATABASE_URL_ENV})")
    if text.startswith(_POSTGRES_SCHEMES):
        return "postgres", text
    if text.startswith("sqlite:///"):
        path = text[len("sqlite:///") :]
        if not path:
            raise UsageError(f"{text!r} names no file; write sqlite:///relative.db or sqlite:////absolute.db")
        return "sqlite", path
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise UsageError(f"unknown database scheme {scheme!r} in {text!r}; use a file path, sqlite:///PATH or postgresql://...")
    return "sqlite", text


@asynccontextmanager
async def open_persistence(
    url: str | Path | None = None, *, pool_size: int | None = None, connect_timeout_s: float = 10.0
) -> AsyncIterator[Persistence]:
    """Open (and create or migrate) the store named by `url`; see the module docstring.

    On PostgreSQL, `pool_size` (default `$MOOT_DATABASE_POOL_SIZE`, else 10) bounds the
    connections of this process (LangGraph's saver serialises its own calls on one of them),
    and a server that cannot be reached within `connect_timeout_s` is a `ConfigError`.
    """
    backend, target = resolve(url)
    if backend == "sqlite":
        async with _open_sqlite(target) as persistence:
            yield persistence
    else:
        size = settings().database_pool_size if pool_size is None else pool_size
        async with _open_postgres(target, size, connect_timeout_s) as persistence:
            yield persistence


@asynccontextmanager
async def _open_sqlite(target: str) -> AsyncIterator[Persistence]:
    if target != ":memory:":
        Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
        target = str(Path(target).expanduser())
    async with AsyncSqliteSaver.from_conn_string(target) as saver:
        await saver.setup()
        await saver.conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        index = SqliteRunIndex.from_saver(saver, where=target)
        await index.setup()
        ledger = SqliteLedger.from_saver(saver)
        await ledger.setup()
        yield Persistence(saver, index, ledger, "sqlite", target)


@asynccontextmanager
async def _open_postgres(url: str, pool_size: int, timeout: float) -> AsyncIterator[Persistence]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from moot.persistence.postgres import PostgresRunIndex, open_pool, redact, setup_saver

    where = redact(url)
    async with open_pool(url, size=pool_size, timeout=timeout) as pool:
        await setup_saver(pool)
        index = PostgresRunIndex(pool, where=where)
        await index.setup()
        ledger = PostgresLedger(pool)
        await ledger.setup()
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]  # the pool makes dict rows
        yield Persistence(saver, index, ledger, "postgres", where)


@asynccontextmanager
async def open_store(path: Path | str | None = None) -> AsyncIterator[tuple[BaseCheckpointSaver, RunIndex]]:
    """The checkpointer and the run index (the older API; `open_persistence` adds the ledger)."""
    async with open_persistence(path) as persistence:
        yield persistence.checkpointer, persistence.index


async def compact_run(saver: Any, thread_id: str, run_id: str) -> int:
    """Keep only the last checkpoint of a *finished* run; return how many checkpoints went.

    Intermediate checkpoints matter while a run can still resume; once it has finished, its last
    checkpoint holds everything the run produced (exportable with `moot state export`), and the
    session's memory lives in episodic memory. Without this, a long session stores every
    superstep of every run: about 75 kB a run on the demo, 15 MB after 200 runs. LangGraph's
    `prune` keeps a thread's latest checkpoint, not each run's, so this deletes rows of the
    savers' tables directly (SQLite and PostgreSQL); other savers keep everything (the
    in-memory saver lives only as long as its process).
    """
    if isinstance(saver, AsyncSqliteSaver):
        return await compact_sqlite(saver, thread_id, run_id)
    if type(saver).__module__.startswith("langgraph.checkpoint.postgres"):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        from moot.persistence.postgres import compact_postgres

        if isinstance(saver, AsyncPostgresSaver):
            return await compact_postgres(saver, thread_id, run_id)
    return 0


__all__ = [
    "DATABASE_URL_ENV",
    "Persistence",
    "compact_run",
    "open_persistence",
    "open_store",
    "resolve",
]
