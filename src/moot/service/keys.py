"""API keys of the service: each maps to one tenant, and only a hash of it is stored.

A key reads `moot_<key_id>_<secret>`: `key_id` is 16 hex digits that name the key in listings and
logs (not secret), `secret` is 64 hex digits, 256 bits from `secrets`. The plaintext is returned
once, by `create`; the table keeps `SHA-256(secret)`. Verifying looks the row up by `key_id` (the
primary key) and compares digests with `hmac.compare_digest`, so a request costs one indexed read
and one hash whatever it presents.

Why a plain SHA-256 and not bcrypt or argon2: slow, salted hashes exist to protect *low-entropy*
secrets (passwords people choose) against guessing from a stolen table. A 256-bit random secret
cannot be guessed at any hash speed, so a slow hash would add nothing but ~100 ms of CPU to every
request, which is a denial-of-service lever on an API that verifies a key per call. A leaked table
gives an attacker the tenants and labels, never a usable key.

Two SQL backends, one behaviour: a SQLite file (default `$MOOT_HOME/keys.db`) and PostgreSQL (when
given a `postgresql://` URL, shared by every API worker). `key_store(url)` picks one; `url` defaults
to `$MOOT_DATABASE_URL`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosqlite
from pydantic import BaseModel, ConfigDict

from moot.errors import UsageError
from moot.service.sessions import check_name
from moot.settings import moot_home, settings

_KEY = re.compile(r"moot_([0-9a-f]{16})_([0-9a-f]{64})")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_USED_EVERY_S = 60.0  # last_used_at is refreshed at most this often: verifying must not write per request
_DUMMY = hashlib.sha256(b"no such key").hexdigest()


class ApiKeyNotFound(UsageError):
    """`revoke` named a key id that is not in the store."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"no API key with id {key_id[:40]!r}; `moot keys list` shows the key ids")


class ApiKeyInfo(BaseModel):
    """What the store says about a key; never its secret or hash. Times are Unix seconds."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant: str
    label: str = ""
    created_at: float
    revoked_at: float | None = None
    last_used_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    """SHA-256 of the key's secret part, as hex (see the module docstring for why SHA-256)."""
    return hashlib.sha256(secret.encode()).hexdigest()


_COLUMNS = "key_id, tenant, label, created_at, revoked_at, last_used_at"


class KeyStore(ABC):
    """Create, verify, list and revoke API keys in one SQL table (`table`, created on first use).

    The logic lives here; a backend runs SQL (written with `?` placeholders) on its driver.
    """

    def __init__(self, *, table: str = "moot_api_keys", clock: Callable[[], float] = time.time) -> None:
        if not _TABLE.fullmatch(table):
            raise UsageError(f"table name {table!r} is invalid: use letters, digits and _ (at most 63)")
        self.table = table
        self.clock = clock
        self._ready = False
        self._lock = asyncio.Lock()

    def schema(self) -> list[str]:
        """The DDL, valid on both SQLite and PostgreSQL."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
            "label TEXT NOT NULL DEFAULT '', secret_sha256 TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
            "revoked_at DOUBLE PRECISION, last_used_at DOUBLE PRECISION)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_tenant ON {self.table} (tenant)",
        ]

    async def create(self, tenant: str, *, label: str = "") -> tuple[ApiKeyInfo, str]:
        """A new key of `tenant`: its info and the plaintext key, which nothing can show again."""
        check_name(tenant, "tenant")
        if not isinstance(label, str) or len(label) > 200 or not label.isprintable():
            raise UsageError(f"label must be printable text of at most 200 characters, got {str(label)[:40]!r}")
        await self._setup()
        while True:  # a key id collision (1 in 2^64 per pair) only means drawing again
            key_id, secret = secrets.token_hex(8), secrets.token_hex(32)
            info = ApiKeyInfo(key_id=key_id, tenant=tenant, label=label, created_at=self.clock())
            added = await self._execute(
                f"INSERT INTO {self.table} (key_id, tenant, label, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (key_id) DO NOTHING",
                (key_id, tenant, label, hash_secret(secret), info.created_at),
            )
            if added:
                return info, f"moot_{key_id}_{secret}"

    async def verify(self, presented: str) -> ApiKeyInfo | None:
        """The key's info if `presented` is a live key, else None (malformed, unknown, wrong or revoked).

        The comparison is constant-time, and an unknown id still costs a hash and a comparison.
        """
        match = _KEY.fullmatch(presented) if isinstance(presented, str) else None
        await self._setup()
        rows = []
        if match:
            rows = await self._fetch(f"SELECT {_COLUMNS}, secret_sha256 FROM {self.table} WHERE key_id = ?", (match[1],))
        stored = rows[0][-1] if rows else _DUMMY
        ok = hmac.compare_digest(stored, hash_secret(match[2] if match else ""))
        if not ok or not rows:
            return None
        info = _info(rows[0])
        if not info.active:
            return None
        now = self.clock()
        if info.last_used_at is None or now - info.last_used_at >= _USED_EVERY_S:
            await self._execute(f"UPDATE {self.table} SET last_used_at = ? WHERE key_id = ?", (now, info.key_id))
            info = info.model_copy(update={"last_used_at": now})
        return info

    async def list(self, tenant: str | None = None) -> list[ApiKeyInfo]:
        """Keys of every tenant, or of one, newest first; revoked keys included (see `active`)."""
        await self._setup()
        where, params = ("WHERE tenant = ? ", (check_name(tenant, "tenant"),)) if tenant is not None else ("", ())
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM {self.table} {where}ORDER BY created_at DESC, key_id", params)
        return [_info(row) for row in rows]

    async def revoke(self, key_id: str) -> None:
        """Revoke a key for good (revoking it again keeps the first time); unknown ids raise `ApiKeyNotFound`."""
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            raise ApiKeyNotFound(str(key_id))
        await self._setup()
        changed = await self._execute(
            f"UPDATE {self.table} SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (self.clock(), key_id)
        )
        if not changed and not await self._fetch(f"SELECT key_id FROM {self.table} WHERE key_id = ?", (key_id,)):
            raise ApiKeyNotFound(key_id)

    async def _setup(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                await self._open()
                self._ready = True

    async def __aenter__(self) -> KeyStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- what a backend implements -------------------------------------------------------

    @abstractmethod
    async def _open(self) -> None:
        """Connect and create the table if needed."""

    @abstractmethod
    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement, committed; the number of rows it changed."""

    @abstractmethod
    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    async def aclose(self) -> None: ...


def _info(row: Sequence[Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row[0], tenant=row[1], label=row[2], created_at=row[3], revoked_at=row[4], last_used_at=row[5]
    )


class SqliteKeyStore(KeyStore):
    """Keys in a SQLite file (WAL; a busy timeout lets CLI calls and a server share it)."""

    def __init__(self, path: Path | str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.path = Path(path) if path else moot_home() / "keys.db"
        self._conn: aiosqlite.Connection | None = None

    async def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self.path)
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.execute("PRAGMA journal_mode = WAL")
            for statement in self.schema():
                await conn.execute(statement)
            await conn.commit()
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        assert self._conn is not None
        cursor = await self._conn.execute(sql, params)
        await self._conn.commit()
        return cursor.rowcount

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        assert self._conn is not None
        async with self._conn.execute(sql, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
            self._ready = False


class PostgresKeyStore(KeyStore):
    """Keys in PostgreSQL, through a small psycopg connection pool (every API worker shares the table)."""

    def __init__(self, url: str, *, max_connections: int = 4, **options: Any) -> None:
        super().__init__(**options)
        self.url = url
        self.max_connections = max_connections
        self._pool: Any = None

    async def _open(self) -> None:
        try:
            import psycopg
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("API keys in PostgreSQL need psycopg: pip install 'moot[postgres]'") from exc
        try:  # connect once first: a wrong URL fails now, clearly, not after the pool's timeout
            async with await psycopg.AsyncConnection.connect(self.url, connect_timeout=10) as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))  # concurrent first starts
                for statement in self.schema():
                    await conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.Error as exc:  # unreachable, refused, bad URL, no right to create the table
            raise UsageError(f"cannot use the key database {_redact(self.url)}: {str(exc).strip()}") from None
        pool = AsyncConnectionPool(self.url, min_size=1, max_size=self.max_connections, kwargs={"autocommit": True}, open=False)
        await pool.open()
        self._pool = pool

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql.replace("?", "%s"), params)
            return int(cursor.rowcount)

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql.replace("?", "%s"), params)
            return [tuple(row) for row in await cursor.fetchall()]

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
            self._ready = False


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


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
        raise UsageError(f"unsupported key database {_redact(url)!r}: use postgresql://... or a SQLite file path")
    return SqliteKeyStore(url, table=table)


__all__ = [
    "ApiKeyInfo", "ApiKeyNotFound", "KeyStore", "PostgresKeyStore", "SqliteKeyStore", "database_url", "hash_secret",
    "key_store",
]
