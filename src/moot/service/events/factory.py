"""Which EventLog a process gets: the Redis log in a fleet, else one in this process.

The Redis backend is imported when chosen: a process without Redis never loads its client.
"""

from __future__ import annotations

from moot.service.events.base import EventLog
from moot.service.events.in_process import InProcessEventLog


def event_log(redis_url: str | None = None, *, prefix: str = "moot:", maxlen: int = 10_000, ttl_s: float = 7 * 24 * 3600) -> EventLog:
    """The Redis log at `redis_url` (every worker of a fleet), or an in-process one when None."""
    if redis_url is None:
        return InProcessEventLog(maxlen=maxlen, ttl_s=ttl_s)
    from moot.service.events.redis import RedisEventLog

    return RedisEventLog(redis_url, prefix=prefix, maxlen=maxlen, ttl_s=ttl_s)


__all__ = ["event_log"]
