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

Two SQL backends, one behaviour: a SQLite file (`sqlite.py`, default `$MOOT_HOME/keys.db`) and
PostgreSQL (`postgres.py`, shared by every API worker). `key_store(url)` (`factory.py`) picks one.
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
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from moot.errors import UsageError
from moot.service.sessions.base import check_name

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
        info = key_row(rows[0])
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
        return [key_row(row) for row in rows]

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


def key_row(row: Sequence[Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row[0], tenant=row[1], label=row[2], created_at=row[3], revoked_at=row[4], last_used_at=row[5]
    )


def redact_url(url: str) -> str:
    """`url` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


__all__ = ["ApiKeyInfo", "ApiKeyNotFound", "KeyStore", "hash_secret", "key_row", "redact_url"]
