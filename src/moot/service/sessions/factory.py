"""Which SessionControl a process gets: Redis in a fleet, else SQLite, else (tests) in process.

The backends are imported when chosen: an embedded service never loads the Redis client.
"""

from __future__ import annotations

from pathlib import Path

from moot.service.sessions.base import DEFAULT_TTL_S, SessionControl
from moot.service.sessions.in_process import InProcessSessions
from moot.settings import settings


def session_control(
    redis_url: str | None = None,
    *,
    default_ttl_s: int = DEFAULT_TTL_S,
    prefix: str = "moot:",
    path: str | Path | None = None,
    durable: bool = True,
) -> SessionControl:
    """Redis at `redis_url` (else `$MOOT_REDIS_URL`) when there is one; else a SQLite file
    (`path`, default `$MOOT_HOME/sessions.db`), or with `durable=False` this process's memory."""
    url = redis_url or settings().redis_url
    if url:
        from moot.service.sessions.redis import RedisSessions

        return RedisSessions(url, prefix=prefix, default_ttl_s=default_ttl_s)
    if durable:
        from moot.service.sessions.sqlite import SqliteSessions

        return SqliteSessions(path, default_ttl_s=default_ttl_s)
    return InProcessSessions(default_ttl_s=default_ttl_s)


__all__ = ["session_control"]
