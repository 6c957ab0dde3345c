"""The service's settings: where state lives, how runs are queued, and the limits of a request.

Every setting has an embedded default, so `moot serve` on a fresh machine needs nothing: SQLite
under `$MOOT_HOME`, sessions and events in process, runs executed in the API process. A fleet
sets `MOOT_DATABASE_URL` (PostgreSQL: checkpoints, run index, tool ledger, API keys) and
`MOOT_REDIS_URL` (sessions, episodic memory, event fan-out, the arq run queue); then API
processes and `moot worker` processes scale apart.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field


class Limits(BaseModel):
    """What one tenant may ask of the service; anything over a limit is a 4xx with a JSON error."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body (a state import is the largest legitimate one)."""
    max_task_chars: int = Field(default=4000, ge=1)
    """Longest task; a workspace's own `limits.task_max_chars` may be stricter."""
    max_active_runs: int = Field(default=8, ge=1)
    """Runs of one tenant queued, running or waiting for approval at once."""
    run_timeout_s: float = Field(default=900.0, gt=0)
    """Wall-clock time a run may take on a worker before it is stopped and marked failed."""
    session_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, le=365 * 24 * 3600)
    """How long an idle session lives (each run or read slides it)."""
    max_sessions_listed: int = Field(default=200, ge=1)


_LIMIT_VARS = {
    "max_body_bytes": "MOOT_MAX_BODY_BYTES",
    "max_task_chars": "MOOT_MAX_TASK_CHARS",
    "max_active_runs": "MOOT_MAX_ACTIVE_RUNS",
    "run_timeout_s": "MOOT_RUN_TIMEOUT_S",
    "session_ttl_s": "MOOT_SESSION_TTL_S",
}


class ServiceSettings(BaseModel):
    """Everything `create_app` and `moot worker` need; `from_env()` reads `MOOT_*` variables."""

    database_url: str | None = None
    """`postgresql://...` for a fleet; None: SQLite at `$MOOT_HOME/moot.db`."""
    redis_url: str | None = None
    """`redis://...` for a fleet; None: sessions, events and runs stay in this process."""
    queue: Literal["inline", "arq"] = "inline"
    """`inline`: runs execute as tasks of the API process; `arq`: on `moot worker` processes."""
    queue_name: str = "moot:runs"
    key_prefix: str = "moot:"
    workspaces: list[str] = Field(default_factory=list)
    """Folders searched for workspaces (besides the built-ins)."""
    model_override: str | None = None
    """`MOOT_MODEL`: one chat model for every agent (e.g. `scripted:...` in tests)."""
    memory: bool = True
    """Recall and record memory for sessions' users."""
    memory_model: str | None = None
    """`MOOT_MEMORY_MODEL`: the chat model that extracts semantic memories after runs (e.g.
    `openai:gpt-4o-mini`); None: no extraction (the embedded 135M model cannot do it)."""
    reload: bool = False
    """Watch workspace folders and serve edits to new runs (`moot serve --reload`)."""
    limits: Limits = Field(default_factory=Limits)
    lease_s: float = Field(default=10.0, gt=0)
    """A worker renews its lease on a run this often x3; an expired lease means the worker died."""

    @classmethod
    def from_env(cls, **overrides: object) -> ServiceSettings:
        env = os.environ
        redis_url = env.get("MOOT_REDIS_URL") or None
        data: dict[str, object] = {
            "database_url": env.get("MOOT_DATABASE_URL") or None,
            "redis_url": redis_url,
            "queue": env.get("MOOT_QUEUE") or ("arq" if redis_url else "inline"),
            "workspaces": [p for p in (env.get("MOOT_WORKSPACES") or "").split(os.pathsep) if p],
            "model_override": env.get("MOOT_MODEL") or None,
            "reload": env.get("MOOT_RELOAD") == "1",
            "memory_model": env.get("MOOT_MEMORY_MODEL") or None,
        }
        for key, var in (("queue_name", "MOOT_QUEUE_NAME"), ("key_prefix", "MOOT_KEY_PREFIX"), ("lease_s", "MOOT_LEASE_S")):
            if env.get(var):
                data[key] = env[var]
        limits = {key: env[var] for key, var in _LIMIT_VARS.items() if env.get(var)}
        if limits:
            data["limits"] = limits
        data.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls.model_validate(data)
        if settings.queue == "arq" and not settings.redis_url:
            from moot.errors import ConfigError

            raise ConfigError("the arq run queue needs Redis: set MOOT_REDIS_URL (or use --queue inline)")
        return settings


__all__ = ["Limits", "ServiceSettings"]
