"""Sessions of the service: who owns a LangGraph thread, for how long, and who may see it.

`SessionControl` (`base.py`) is the concept and its rules; `InProcessSessions` (`in_process.py`),
`SqliteSessions` (`sqlite.py`) and `RedisSessions` (`redis.py`) are its backends;
`session_control()` (`factory.py`) picks one for a process.

`RedisSessions` is imported on first use, not with this package, so that a process without
Redis never loads its client.
"""

from typing import Any

from moot.service.sessions.base import (
    DEFAULT_TTL_S,
    MAX_TTL_S,
    Session,
    SessionControl,
    SessionExists,
    SessionNotFound,
    WorkspaceMismatch,
    check_name,
    check_ttl,
    new_session_id,
)
from moot.service.sessions.factory import session_control
from moot.service.sessions.in_process import InProcessSessions
from moot.service.sessions.sqlite import SqliteSessions

__all__ = [
    "DEFAULT_TTL_S",
    "MAX_TTL_S",
    "InProcessSessions",
    "RedisSessions",
    "Session",
    "SessionControl",
    "SessionExists",
    "SessionNotFound",
    "SqliteSessions",
    "WorkspaceMismatch",
    "check_name",
    "check_ttl",
    "new_session_id",
    "session_control",
]


def __getattr__(name: str) -> Any:
    if name == "RedisSessions":
        from moot.service.sessions.redis import RedisSessions

        return RedisSessions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
