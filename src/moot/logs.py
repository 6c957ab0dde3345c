"""Per-workspace logs: JSON lines under `$MOOT_HOME/logs/workspaces/<name>/` (design §8).

One file per component (`runtime`, `orchestrator`, `graph`, `workspace_loader`,
`reload_manager`) and one per agent (`agents/<role>.log`), so an operator can read what one
agent did across runs without grepping a single mixed stream. Each line is one JSON object
with `ts` (UTC, ISO 8601, microseconds: lines of several files merge by sorting on it),
`level`, `logger`, `message` and, when known, `run_id`, `session_id`, `stage`, `agent`.

The files are ordinary stdlib loggers (`moot.workspace.<name>.<component>`, not propagated to
the root logger) with size-bounded `RotatingFileHandler`s, so any module may log to them with
`WorkspaceLogs(name).logger("reload_manager").info(...)`. Runs reach them through
`WorkspaceLogs.attach(bus)`: an EventBus handler that turns each event into one line. The
handler is synchronous and does one small write per event; it never raises (a handler that
raised would be removed by the bus, and the run would go on unlogged).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from moot.events import Event, EventBus
from moot.settings import moot_home
from moot.telemetry.spans import trace_ids

COMPONENTS = ("runtime", "orchestrator", "graph", "workspace_loader", "reload_manager")
"""The component logs of a workspace; agents log to `agents/<role>.log`."""

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ID_FIELDS = ("run_id", "session_id", "stage", "agent")
_EXTRA_FIELDS = ("event", "seq", "data")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")

_ORCHESTRATOR_EVENTS = frozenset(
    {"run_started", "run_finished", "run_failed", "run_queued", "run_cancelled", "approval_requested", "approval_given"}
)
_GRAPH_EVENTS = frozenset({"stage_entered", "state_patch"})
_AGENT_EVENTS = frozenset({"agent_started", "agent_finished", "policy_violation", "tool_call", "tool_result", "tool_error"})
_RELOAD_EVENTS = frozenset({"workspace_reloaded", "workspace_reload_failed"})
_LEVEL_OF = {
    "run_failed": logging.ERROR,
    "workspace_reload_failed": logging.ERROR,
    "run_cancelled": logging.WARNING,
    "policy_violation": logging.WARNING,
    "tool_error": logging.WARNING,
    # agent_finished already names the keys an agent wrote; the patch itself is detail
    "state_patch": logging.DEBUG,
}


def logs_dir(name: str, home: Path | None = None) -> Path:
    """Where workspace `name` logs: `<home or $MOOT_HOME>/logs/workspaces/<name>`."""
    return (home or moot_home()) / "logs" / "workspaces" / name


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record; ids and event fields come from the record's `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in (*ID_FIELDS, *_EXTRA_FIELDS):
            value = record.__dict__.get(key)
            if value not in (None, "", {}):
                line[key] = value
        line.update(trace_ids())
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _Handler(RotatingFileHandler):
    """A rotating JSON-lines file; the subclass marks the handlers this module owns."""


class WorkspaceLogs:
    """The log files of one workspace: component and agent loggers, and a bus handler for runs.

    `root` is the folder of this workspace's files (default: `logs_dir(name)`). Loggers are
    process-wide by name, so creating a second `WorkspaceLogs` for the same workspace reuses the
    handlers of the first when they write to the same files and replaces them otherwise (a new
    `$MOOT_HOME`, new rotation settings). `close()` closes the files; logging after it reopens them.
    """

    def __init__(
        self,
        name: str,
        root: str | Path | None = None,
        *,
        level: str | int = "INFO",
        max_bytes: int = 5_000_000,
        backups: int = 3,
    ) -> None:
        if not name or _SAFE.search(name) or name.startswith("."):
            raise ValueError(f"workspace name {name!r} cannot name a log folder; use letters, digits and _")
        if max_bytes < 1024 or backups < 1:
            raise ValueError(f"logs need max_bytes >= 1024 and backups >= 1 (got {max_bytes} and {backups})")
        self.name = name
        self.root = Path(root) if root is not None else logs_dir(name)
        self.level = logging.getLevelName(level.upper()) if isinstance(level, str) else level
        if not isinstance(self.level, int):
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
        self.max_bytes = max_bytes
        self.backups = backups
        self._loggers: dict[str, logging.Logger] = {}
        self._handlers: dict[str, logging.Handler] = {}
        self._formatter = JsonLineFormatter()

    @classmethod
    def for_workspace(cls, workspace: Any, home: Path | None = None) -> WorkspaceLogs:
        """The logs of a loaded `Workspace`, with the level and rotation of its `logs:` settings."""
        spec = getattr(workspace.spec, "logs", None)
        settings = spec.model_dump() if spec is not None else {}
        return cls(workspace.name, logs_dir(workspace.name, home), **settings)

    def logger(self, component: str) -> logging.Logger:
        """The logger of a component (`runtime`, `orchestrator`, ...), writing `<component>.log`."""
        if component not in COMPONENTS:
            raise ValueError(f"unknown log component {component!r}; components are {', '.join(COMPONENTS)}")
        return self._logger(component, self.root / f"{component}.log")

    def agent_logger(self, role: str) -> logging.Logger:
        """The logger of one agent (or actor: `tool_runtime`, `human`), writing `agents/<role>.log`."""
        safe = _SAFE.sub("_", role).lstrip(".") or "_"
        return self._logger(f"agents.{safe}", self.root / "agents" / f"{safe}.log")

    def _logger(self, key: str, path: Path) -> logging.Logger:
        known = self._loggers.get(key)
        if known is not None and known.handlers and known.handlers[0] is self._handlers.get(key):
            return known  # the per-event path: no lookup by name, no file system call
        logger = logging.getLogger(f"moot.workspace.{self.name}.{key}")
        self._loggers[key] = logger
        if logger.level != self.level:  # setLevel clears every logger's cache: only when it changes
            logger.setLevel(self.level)
        logger.propagate = False
        target = os.path.abspath(path)
        ours = [h for h in logger.handlers if isinstance(h, _Handler)]
        if len(ours) == 1 and (ours[0].baseFilename, ours[0].maxBytes, ours[0].backupCount) == (
            target,
            self.max_bytes,
            self.backups,
        ):
            self._handlers[key] = ours[0]
            return logger
        for handler in ours:  # another home or other rotation settings: this instance takes over
            logger.removeHandler(handler)
            handler.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _Handler(target, maxBytes=self.max_bytes, backupCount=self.backups, encoding="utf-8", delay=True)
        handler.setFormatter(self._formatter)
        logger.addHandler(handler)
        self._handlers[key] = handler
        return logger

    def close(self) -> None:
        """Close this workspace's files (its loggers keep no handler until used again)."""
        for logger in self._loggers.values():
            for handler in [h for h in logger.handlers if isinstance(h, _Handler)]:
                logger.removeHandler(handler)
                handler.close()
        self._loggers.clear()
        self._handlers.clear()

    def __enter__(self) -> WorkspaceLogs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def attach(self, bus: EventBus) -> Callable[[], None]:
        """Log every event of the bus from now on; returns the function that stops it."""
        return bus.add_handler(self.log_event)

    def log_event(self, event: Event) -> None:
        """Write one event as one line in the file its type belongs to. Never raises."""
        try:
            logger = self._logger_for(event)
            level = _LEVEL_OF.get(event.type, logging.INFO)
            if not logger.isEnabledFor(level):
                return
            try:
                message, data = _describe(event)
            except Exception as exc:  # a malformed event still leaves a trace
                message, data = f"{event.type} (not summarised: {type(exc).__name__}: {exc})", {}
            extra = {
                "run_id": event.run_id,
                "session_id": event.session_id,
                "stage": event.stage,
                "agent": event.agent,
                "event": event.type,
                "seq": event.seq or None,
                "data": data,
            }
            logger.log(level, message, extra=extra)
        except Exception:  # pragma: no cover - a full disk must not end the run it observes
            pass

    def _logger_for(self, event: Event) -> logging.Logger:
        if event.type in _GRAPH_EVENTS:
            return self.logger("graph")
        if event.type in _RELOAD_EVENTS:
            return self.logger("reload_manager")
        if event.type in _AGENT_EVENTS and event.agent:
            return self.agent_logger(event.agent)
        if event.type in _ORCHESTRATOR_EVENTS or not event.agent:
            return self.logger("orchestrator" if event.type != "memory_written" else "runtime")
        return self.agent_logger(event.agent)


def log_runs(workspace: Any, bus: EventBus) -> WorkspaceLogs:
    """Log the runs on `bus` of a loaded workspace (what `moot run` and `moot resume` do)."""
    logs = WorkspaceLogs.for_workspace(workspace)
    logs.attach(bus)
    return logs


def _describe(event: Event) -> tuple[str, dict[str, Any]]:
    """A readable message for the event, and a small summary of its data (never the whole state)."""
    data = event.data or {}
    kind = event.type
    if kind == "run_started":
        verb = "run resumed" if data.get("resumed") else "run started"
        approval = f" after approval ({data['approval']})" if data.get("approval") else ""
        user = f" for user {data['user_id']}" if data.get("user_id") else ""
        return f"{verb}{approval}{user}: {_short(data.get('task', ''), 160)}", _scalars(data, 160)
    if kind == "run_finished":
        tokens = data.get("tokens") or {}
        again = " (it had already finished)" if data.get("already_finished") else ""
        summary = {"winner": data.get("winner"), "tokens": tokens, "cost": (data.get("accounting") or {}).get("cost")}
        return (
            f"run finished{again}: winner {data.get('winner') or 'none'}, "
            f"{tokens.get('prompt', 0)}+{tokens.get('completion', 0)} tokens",
            {k: v for k, v in summary.items() if v is not None},
        )
    if kind == "run_failed":
        return f"run failed: {data.get('error', 'error')}: {_short(data.get('message', ''), 500)}", _scalars(data, 500)
    if kind == "stage_entered":
        return f"entered stage {event.stage} (round {data.get('round', 1)})", _scalars(data)
    if kind == "state_patch":
        update = data.get("update") or {}
        changes = {key: _summary(value) for key, value in update.items()} if isinstance(update, Mapping) else {}
        node = data.get("node") or event.agent
        wrote = "; ".join(f"{k} {v}" for k, v in changes.items()) or "nothing"
        return f"{node} wrote {wrote}", {"node": node, "keys": changes}
    if kind == "agent_started":
        return f"started in stage {event.stage}, round {data.get('round', 1)}", _scalars(data)
    if kind == "agent_finished":
        usage = data.get("usage") or {}
        keys = ", ".join(data.get("keys") or []) or "nothing"
        return (
            f"finished in {float(data.get('duration_s') or 0):.2f}s: wrote {keys}; "
            f"{usage.get('prompt_tokens', 0)}+{usage.get('completion_tokens', 0)} tokens",
            {"keys": list(data.get("keys") or []), "usage": _scalars(usage), "duration_s": data.get("duration_s")},
        )
    if kind == "policy_violation":
        return f"policy violation: {_short(data.get('message') or data.get('key', ''), 500)}", _scalars(data, 500)
    if kind in ("tool_call", "tool_result", "tool_error"):
        tool = data.get("tool", "?")
        if kind == "tool_call":
            detail = data.get("status") or f"attempt {data.get('attempt', 1)}"
            return f"tool call {tool} ({detail}): {_short(json.dumps(data.get('arguments', {}), default=str), 200)}", _scalars(data)
        if kind == "tool_result":
            replayed = ", replayed from the ledger" if data.get("replayed") else ""
            return f"tool result {tool}: ok after {data.get('attempts', 1)} attempt(s){replayed}", _scalars(data)
        return f"tool error {tool}: {_short(data.get('error', ''), 500)}", _scalars(data, 500)
    words = kind.replace("_", " ")
    details = _scalars(data, 160)
    shown = ", ".join(f"{k}={v}" for k, v in details.items())
    return (f"{words}: {shown}" if shown else words), details


def _scalars(data: Mapping[str, Any], limit: int = 120) -> dict[str, Any]:
    """The scalar fields of `data`, strings cut to `limit` characters: small enough for one line."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            out[key] = _short(value, limit)
        elif value is None or isinstance(value, (bool, int, float)):
            out[key] = value
    return out


def _summary(value: Any) -> str:
    """How a patched value looks in one word or two: `+2 entries`, `{a, b}`, `'final'`."""
    if isinstance(value, list):
        return f"+{len(value)} entr{'y' if len(value) == 1 else 'ies'}"
    if isinstance(value, Mapping):
        keys = list(value)
        shown = ", ".join(str(k) for k in keys[:5])
        return "{" + shown + (f", … {len(keys) - 5} more" if len(keys) > 5 else "") + "}"
    if isinstance(value, str):
        return repr(_short(value, 40))
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return type(value).__name__  # e.g. LangGraph's Overwrite


def _short(text: Any, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["COMPONENTS", "LEVELS", "JsonLineFormatter", "WorkspaceLogs", "log_runs", "logs_dir"]
