"""The service's settings: where state lives, how runs are queued, and the limits of a request.

Every setting has an embedded default, so `moot serve` on a fresh machine needs nothing: SQLite
under `$MOOT_HOME`, sessions and events in process, runs executed in the API process. A fleet
sets `MOOT_DATABASE_URL` (PostgreSQL: checkpoints, run index, tool ledger, API keys) and
`MOOT_REDIS_URL` (sessions, episodic memory, event fan-out, the arq run queue); then API
processes and `moot worker` processes scale apart.

The variables are read, checked and documented in `moot.settings` (one place for every `MOOT_*`);
this is what the service holds of them, with the flags of `moot serve` and `moot worker` on top.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from moot.errors import ConfigError
from moot.settings import setting_field, settings


class Limits(BaseModel):
    """What one tenant may ask of the service; anything over a limit is a 4xx with a JSON error.

    Each limit is a field of `moot.settings.Settings` (`MOOT_MAX_BODY_BYTES`, ...): its default,
    bounds and meaning are written there once."""

    max_body_bytes: int = setting_field("max_body_bytes")
    max_task_chars: int = setting_field("max_task_chars")
    max_active_runs: int = setting_field("max_active_runs")
    run_timeout_s: float = setting_field("run_timeout_s")
    session_ttl_s: int = setting_field("session_ttl_s")
    max_sessions_listed: int = Field(default=200, ge=1)


class ServiceSettings(BaseModel):
    """Everything `create_app` and `moot worker` need; `from_env()` reads them from `moot.settings`."""

    database_url: str | None = setting_field("database_url")
    redis_url: str | None = setting_field("redis_url")
    queue: Literal["inline", "arq"] = "inline"
    """`inline`: runs execute as tasks of the API process; `arq`: on `moot worker` processes."""
    queue_name: str = setting_field("queue_name")
    key_prefix: str = setting_field("key_prefix")
    workspaces: list[str] = Field(default_factory=list)
    """Folders searched for workspaces (besides the built-ins)."""
    model_override: str | None = setting_field("model")
    memory: bool = True
    """Recall and record memory for sessions' users."""
    memory_model: str | None = setting_field("memory_model")
    reload: bool = setting_field("reload")
    limits: Limits = Field(default_factory=Limits)
    lease_s: float = setting_field("lease_s")

    @classmethod
    def from_env(cls, **overrides: object) -> ServiceSettings:
        """The service's settings from the `MOOT_*` variables (moot.settings); `overrides` that
        are not None win (the flags of `moot serve` and `moot worker`)."""
        env = settings()
        data: dict[str, object] = {
            "database_url": env.database_url,
            "redis_url": env.redis_url,
            "queue": env.queue or ("arq" if env.redis_url else "inline"),
            "queue_name": env.queue_name,
            "key_prefix": env.key_prefix,
            "workspaces": list(env.workspaces),
            "model_override": env.model,
            "reload": env.reload,
            "memory_model": env.memory_model,
            "lease_s": env.lease_s,
            "limits": Limits(**{name: getattr(env, name) for name in Limits.model_fields if name in type(env).model_fields}),
        }
        data.update({k: v for k, v in overrides.items() if v is not None})
        service = cls.model_validate(data)
        if service.queue == "arq" and not service.redis_url:
            raise ConfigError("the arq run queue needs Redis: set MOOT_REDIS_URL (or use --queue inline)")
        return service


__all__ = ["Limits", "ServiceSettings"]
