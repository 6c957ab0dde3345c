"""Sessions in this process's memory: `moot serve` alone with `durable=False`, and tests."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from moot.service.sessions.base import DEFAULT_TTL_S, Session, SessionControl, SessionExists, creation_key


class InProcessSessions(SessionControl):
    """Sessions in this process's memory: for one process (`moot serve` alone, tests).

    Expired sessions are dropped as new ones arrive (a heap of expiries), so memory follows the
    number of live sessions, not of all sessions ever made.
    """

    def __init__(self, *, default_ttl_s: int = DEFAULT_TTL_S, clock: Callable[[], float] = time.time) -> None:
        super().__init__(default_ttl_s=default_ttl_s, clock=clock)
        self._sessions: dict[tuple[str, str], Session] = {}
        self._by_user: dict[tuple[str, str], set[str]] = {}
        self._by_tenant: dict[str, set[str]] = {}
        self._expiries: list[tuple[float, str, str]] = []  # (expires_at, tenant, id); stale entries allowed

    def _drop(self, tenant: str, session_id: str) -> None:
        session = self._sessions.pop((tenant, session_id))
        user_key = (tenant, session.user_id)
        self._by_user[user_key].discard(session_id)
        if not self._by_user[user_key]:
            del self._by_user[user_key]
        self._by_tenant[tenant].discard(session_id)
        if not self._by_tenant[tenant]:
            del self._by_tenant[tenant]

    def _sweep(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            _, tenant, session_id = heapq.heappop(self._expiries)
            session = self._sessions.get((tenant, session_id))
            if session is not None and session.expires_at <= now:  # else it was touched since
                self._drop(tenant, session_id)

    async def _insert(self, session: Session, now: float) -> None:
        self._sweep(now)
        if (session.tenant, session.session_id) in self._sessions:
            raise SessionExists(session.tenant, session.session_id)
        self._sessions[(session.tenant, session.session_id)] = session
        self._by_user.setdefault((session.tenant, session.user_id), set()).add(session.session_id)
        self._by_tenant.setdefault(session.tenant, set()).add(session.session_id)
        heapq.heappush(self._expiries, (session.expires_at, session.tenant, session.session_id))

    async def _load(self, tenant: str, session_id: str) -> Session | None:
        return self._sessions.get((tenant, session_id))

    async def _touch(self, tenant: str, session_id: str) -> Session | None:
        session = self._sessions.get((tenant, session_id))
        resumed = self.touched(session, self.clock()) if session is not None else None
        if resumed is not None:
            self._sessions[(tenant, session_id)] = resumed
            heapq.heappush(self._expiries, (resumed.expires_at, tenant, session_id))
        return resumed

    async def _update(
        self, tenant: str, session_id: str, change: Callable[[Session], Session], now: float
    ) -> Session | None:
        session = self._sessions.get((tenant, session_id))
        if session is None or session.expires_at <= now:
            return None
        changed = change(session)
        self._sessions[(tenant, session_id)] = changed
        return changed

    async def _list(self, tenant: str, user_id: str | None, limit: int, now: float) -> list[Session]:
        self._sweep(now)
        ids = self._by_tenant.get(tenant, set()) if user_id is None else self._by_user.get((tenant, user_id), set())
        live = [s for s in (self._sessions[(tenant, i)] for i in ids) if s.expires_at > now]
        return heapq.nlargest(limit, live, key=creation_key)

    async def _delete(self, tenant: str, session_id: str, now: float) -> bool:
        session = self._sessions.get((tenant, session_id))
        if session is None:
            return False
        self._drop(tenant, session_id)
        return session.expires_at > now


__all__ = ["InProcessSessions"]
