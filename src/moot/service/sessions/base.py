"""Sessions of the service: who owns a LangGraph thread, for how long, and who may see it.

A session is a LangGraph thread (`thread_id == session_id`) owned by one tenant and one user. Every
call names the caller's tenant, and a session of another tenant is answered exactly like one that
never existed (`SessionNotFound`), so ids cannot be probed across tenants. A session lives `ttl_s`
seconds after its last use: `touch` (resume) slides the expiry. Ids are `session-` and 32 hex digits
of `uuid4` (122 random bits), so they are unique without coordination between API workers.

`SessionControl` validates and decides expiry; a backend stores and indexes. Three backends pass
the same test suite: `InProcessSessions` (`in_process.py`, one process), `SqliteSessions`
(`sqlite.py`, the embedded service's sessions outlive a restart) and `RedisSessions` (`redis.py`,
shared by any number of stateless API workers); `session_control()` (`factory.py`) picks one.
"""

from __future__ import annotations

import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moot.errors import UsageError
from moot.settings import settings

DEFAULT_TTL_S = 7 * 24 * 3600
MAX_TTL_S = 365 * 24 * 3600
MAX_LIST = 1000
_MAX_NAME = 128
_MAX_METADATA = 16 * 1024


class SessionNotFound(UsageError):
    """No such session for this tenant: unknown, expired, deleted, or another tenant's (never said which)."""

    def __init__(self, tenant: str, session_id: str) -> None:
        self.tenant = tenant
        self.session_id = session_id
        super().__init__(
            f"no session {session_id[:_MAX_NAME]!r} for tenant {tenant!r}: it does not exist or has expired; "
            "create a new session"
        )


class SessionExists(UsageError):
    """The tenant already has a session with the id the caller chose."""

    def __init__(self, tenant: str, session_id: str) -> None:
        self.tenant = tenant
        self.session_id = session_id
        super().__init__(f"tenant {tenant!r} already has a session {session_id[:_MAX_NAME]!r}; choose another id")


class WorkspaceMismatch(UsageError):
    """A session bound to one workspace was asked to run another's graph."""

    def __init__(self, session: Session, workspace: str) -> None:
        self.session_id = session.session_id
        self.bound = session.workspace
        self.workspace = workspace
        super().__init__(
            f"session {session.session_id!r} belongs to workspace {session.workspace!r}, not {workspace!r}: "
            "a session runs one workspace; create another session for this one"
        )


class Session(BaseModel):
    """One session: a LangGraph thread with an owner and an expiry (times are Unix seconds)."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    tenant: str
    user_id: str
    workspace: str
    """The workspace it runs; "" while unbound (created without one, bound at its first run)."""
    title: str = ""
    created_at: float
    last_active: float
    ttl_s: int
    expires_at: float
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def thread_id(self) -> str:
        """The LangGraph thread that holds the session's checkpoints (the same id)."""
        return self.session_id


def check_name(value: object, what: str) -> str:
    """A tenant, user or key id: 1-128 printable characters without whitespace (they end up in keys and logs)."""
    if not isinstance(value, str) or not value:
        raise UsageError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > _MAX_NAME or not value.isprintable() or any(c.isspace() for c in value):
        raise UsageError(f"{what} {value[:40]!r} is invalid: use 1-{_MAX_NAME} printable characters without spaces")
    return value


def check_ttl(value: object, what: str = "ttl_s") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TTL_S:
        raise UsageError(f"{what} must be a whole number of seconds from 1 to {MAX_TTL_S} (365 days), got {value!r}")
    return value


def _check_workspace(workspace: object) -> str:
    if not isinstance(workspace, str) or not workspace.strip():
        raise UsageError(f"workspace must name a workspace (a built-in name or a folder), got {workspace!r}")
    return _check_text(workspace, "workspace", 512)


def _check_text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise UsageError(f"{what} must be printable text of at most {limit} characters, got {str(value)[:40]!r}")
    return value


def _check_metadata(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"metadata must be a JSON object (a dict), got {type(value).__name__}")
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise UsageError(f"metadata must be JSON-serialisable: {exc}") from None
    if size > _MAX_METADATA:
        raise UsageError(f"metadata is {size} bytes as JSON; the limit is {_MAX_METADATA}: keep large data out of sessions")
    return dict(value)


def new_session_id() -> str:
    return f"session-{uuid.uuid4().hex}"


class SessionControl(ABC):
    """Create, get, resume (`touch`), list and delete sessions; expiry follows `clock`.

    The public methods validate and decide expiry; a backend stores and indexes sessions through
    five small methods. Use it as `async with` or call `aclose()`.
    """

    def __init__(self, *, default_ttl_s: int = DEFAULT_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self.default_ttl_s = check_ttl(default_ttl_s, "default_ttl_s")
        self.clock = clock

    async def create(
        self, *, tenant: str, user_id: str, workspace: str | None, ttl_s: int | None = None, title: str = "",
        metadata: dict[str, Any] | None = None, session_id: str | None = None,
    ) -> Session:
        """A new session; `workspace=None` leaves it unbound until `bind` (a LangGraph thread is
        created before any run names its graph); `session_id` is the caller's own id (LangGraph's
        `thread_id`), refused with `SessionExists` when the tenant already has that session."""
        check_name(tenant, "tenant")
        check_name(user_id, "user_id")
        if workspace is not None:
            _check_workspace(workspace)
        if session_id is not None:
            check_name(session_id, "session_id")
            if await self._load(tenant, session_id) is not None:
                raise SessionExists(tenant, session_id)
        ttl = self.default_ttl_s if ttl_s is None else check_ttl(ttl_s)
        now = self.clock()
        session = Session(
            session_id=session_id or new_session_id(), tenant=tenant, user_id=user_id, workspace=workspace or "",
            title=_check_text(title, "title", 200), created_at=now, last_active=now, ttl_s=ttl,
            expires_at=now + ttl, metadata=_check_metadata(metadata),
        )
        await self._insert(session, now)
        return session

    async def get(self, tenant: str, session_id: str) -> Session:
        """The tenant's live session; `SessionNotFound` for anything else, whatever the reason."""
        found = await self._load(check_name(tenant, "tenant"), session_id) if plausible_id(session_id) else None
        if found is None or found.expires_at <= self.clock():
            raise SessionNotFound(tenant, str(session_id))
        return found

    async def touch(self, tenant: str, session_id: str) -> Session:
        """Resume: the session stays alive `ttl_s` from now. An expired session cannot be revived."""
        check_name(tenant, "tenant")
        found = await self._touch(tenant, session_id) if plausible_id(session_id) else None
        if found is None:
            raise SessionNotFound(tenant, str(session_id))
        return found

    async def list(self, tenant: str, user_id: str | None = None, *, limit: int = 100) -> list[Session]:
        """The tenant's live sessions (of one user, if given), newest first (by `created_at`)."""
        check_name(tenant, "tenant")
        if user_id is not None:
            check_name(user_id, "user_id")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise UsageError(f"limit must be a whole number from 1 to {MAX_LIST}, got {limit!r}")
        return await self._list(tenant, user_id, limit, self.clock())

    async def bind(self, tenant: str, session_id: str, workspace: str) -> Session:
        """The session bound to `workspace`: an unbound one binds now (at its first run), a bound
        one must already be bound to it (`WorkspaceMismatch` otherwise)."""
        check_name(tenant, "tenant")
        _check_workspace(workspace)

        def change(session: Session) -> Session:
            if session.workspace and session.workspace != workspace:
                raise WorkspaceMismatch(session, workspace)
            return session if session.workspace else session.model_copy(update={"workspace": workspace})

        return await self.update(tenant, session_id, change)

    async def set_metadata(self, tenant: str, session_id: str, metadata: dict[str, Any]) -> Session:
        """Merge `metadata` into the session's, key by key (LangGraph's PATCH of a thread)."""
        check_name(tenant, "tenant")
        extra = _check_metadata(metadata)

        def change(session: Session) -> Session:
            return session.model_copy(update={"metadata": _check_metadata({**session.metadata, **extra})})

        return await self.update(tenant, session_id, change)

    async def update(self, tenant: str, session_id: str, change: Callable[[Session], Session]) -> Session:
        """Store `change(session)` atomically (it may raise to refuse); `SessionNotFound` when it is gone.

        Expiry is not touched: an update is not a use.
        """
        found = await self._update(tenant, session_id, change, self.clock()) if plausible_id(session_id) else None
        if found is None:
            raise SessionNotFound(tenant, str(session_id))
        return found

    async def delete(self, tenant: str, session_id: str) -> None:
        check_name(tenant, "tenant")
        if not plausible_id(session_id) or not await self._delete(tenant, session_id, self.clock()):
            raise SessionNotFound(tenant, str(session_id))

    async def aclose(self) -> None:
        """Release connections (the in-process store has none)."""

    async def __aenter__(self) -> SessionControl:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @staticmethod
    def touched(session: Session, now: float) -> Session | None:
        """The session resumed at `now`, or None if it had already expired.

        Time never runs backwards for a session: of two racing touches, the one that read the
        clock first may commit last, and must not undo the other's later expiry.
        """
        if session.expires_at <= now:
            return None
        now = max(now, session.last_active)
        return session.model_copy(update={"last_active": now, "expires_at": now + session.ttl_s})

    # -- what a backend implements -------------------------------------------------------

    @abstractmethod
    async def _insert(self, session: Session, now: float) -> None: ...

    @abstractmethod
    async def _load(self, tenant: str, session_id: str) -> Session | None:
        """The stored session, expired or not (the caller checks), or None."""

    @abstractmethod
    async def _touch(self, tenant: str, session_id: str) -> Session | None:
        """Store and return `touched(session, self.clock())` atomically; None if missing or expired."""

    @abstractmethod
    async def _list(self, tenant: str, user_id: str | None, limit: int, now: float) -> list[Session]: ...

    @abstractmethod
    async def _update(
        self, tenant: str, session_id: str, change: Callable[[Session], Session], now: float
    ) -> Session | None:
        """Store and return `change(session)` atomically (no write when it raises); None if missing or expired."""

    @abstractmethod
    async def _delete(self, tenant: str, session_id: str, now: float) -> bool:
        """Remove a live session; False if there was none."""


def plausible_id(session_id: object) -> bool:
    return isinstance(session_id, str) and 0 < len(session_id) <= _MAX_NAME


def creation_key(session: Session) -> tuple[float, str]:
    return (session.created_at, session.session_id)


__all__ = [
    "DEFAULT_TTL_S", "MAX_LIST", "MAX_TTL_S", "Session", "SessionControl", "SessionExists", "SessionNotFound",
    "WorkspaceMismatch", "check_name",
    "check_ttl", "new_session_id", "creation_key", "plausible_id",
]
