"""Which KeyStore a process gets, from a database URL: PostgreSQL, or a SQLite file."""

from __future__ import annotations


from moot.errors import UsageError
from moot.service.keys.base import KeyStore, redact_url
from moot.service.keys.postgres import PostgresKeyStore
from moot.service.keys.sqlite import SqliteKeyStore
from moot.settings import settings


def database_url(url: str | None = None) -> str | None:
    """`url`, else `$MOOT_DATABASE_URL`, else None (the SQLite default)."""
    return url or settings().database_url


def key_store(url: str | None = None, *, table: str = "moot_api_keys") -> KeyStore:
    """PostgreSQL for `postgresql://...`, else SQLite: `sqlite:///PATH`, a plain path, or `$MOOT_HOME/keys.db`.

    `url` defaults to `$MOOT_DATABASE_URL`.
    """
    url = database_url(url)
    if not url:
        return SqliteKeyStore(None, table=table)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresKeyStore(url, table=table)
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.lower().startswith("sqlite:///") else ""
        if not path:
            raise UsageError(f"{url!r}: write a SQLite URL as sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return SqliteKeyStore(path, table=table)
    if scheme:
        raise UsageError(f"unsupported key database {redact_url(url)!r}: use postgresql://... or a SQLite file path")
    return SqliteKeyStore(url, table=table)


__all__ = ["database_url", "key_store"]
