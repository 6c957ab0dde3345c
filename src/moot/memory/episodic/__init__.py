"""Episodic memory: what happened in each run, per user (design §6).

`EpisodicStore` (`base.py`) is the concept and its rules; `InProcessEpisodic` (`in_process.py`)
and `RedisEpisodic` (`redis.py`) are its backends; `EpisodicRecorder` (`recorder.py`) fills a
store from a run's events.

`RedisEpisodic` is imported on first use, not with this package: the in-process default then
needs no Redis client (redis-py pulls in ~110 ms of imports: its auth brings `cryptography`).
"""

from typing import Any

from moot.memory.episodic.base import (
    DAY,
    DEFAULT_MAX_PER_SESSION,
    DEFAULT_PRUNE_INTERVAL,
    DEFAULT_TTL,
    FILTER_FIELDS,
    EpisodicStore,
    Selection,
)
from moot.memory.episodic.in_process import InProcessEpisodic
from moot.memory.episodic.recorder import EpisodicRecorder, records_from_entries, render

__all__ = [
    "DAY",
    "DEFAULT_MAX_PER_SESSION",
    "DEFAULT_PRUNE_INTERVAL",
    "DEFAULT_TTL",
    "FILTER_FIELDS",
    "EpisodicRecorder",
    "EpisodicStore",
    "InProcessEpisodic",
    "RedisEpisodic",
    "Selection",
    "records_from_entries",
    "render",
]


def __getattr__(name: str) -> Any:
    if name == "RedisEpisodic":
        from moot.memory.episodic.redis import RedisEpisodic

        return RedisEpisodic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
