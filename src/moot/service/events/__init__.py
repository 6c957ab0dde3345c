"""A durable, ordered log of each run's events: the service's SSE source and fan-out (design §7).

`EventLog` and the `EventRecorder` that feeds it from a run's bus are in `base.py`;
`InProcessEventLog` (`in_process.py`) and `RedisEventLog` (`redis.py`) are its backends;
`event_log()` (`factory.py`) picks one for a process.

`RedisEventLog` is imported on first use, not with this package, so that a process without
Redis never loads its client.
"""

from typing import Any

from moot.service.events.base import EventLog, EventRecorder, InvalidEventId, LogEntry
from moot.service.events.factory import event_log
from moot.service.events.in_process import InProcessEventLog

__all__ = ["EventLog", "EventRecorder", "InProcessEventLog", "InvalidEventId", "LogEntry", "RedisEventLog", "event_log"]


def __getattr__(name: str) -> Any:
    if name == "RedisEventLog":
        from moot.service.events.redis import RedisEventLog

        return RedisEventLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
