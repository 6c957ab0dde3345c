"""What versions of one workspace share: chat models and MCP tool sessions.

A reload builds a whole new version, but the expensive parts of a version rarely change with an
edit: loading a chat model can take seconds (the embedded model loads its weights), and an MCP
server is a process or a connection with state. So models are reused while their `models:` entry
is unchanged, and a tool session while `mcp_servers:` is unchanged. A tool session is closed only
when no version still held (the current one, or one that runs in flight use) needs it: a run that
started on the old version keeps calling the old servers until it ends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel

from moot.models.factory import make_model, make_models
from moot.settings import settings
from moot.tools.types import Ledger
from moot.workspace.assembly import tool_runtime
from moot.workspace.loader import Workspace


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


class ModelCache:
    """The chat models of a workspace's versions, made once per (entry, spec).

    `fixed` models (tests, an embedding application) are used as given for every version;
    an `override` (`--model`, else `$MOOT_MODEL`) is one model for every entry, made once.
    """

    def __init__(self, *, fixed: Mapping[str, BaseChatModel] | None = None, override: str | None = None) -> None:
        self.fixed = dict(fixed) if fixed is not None else None
        self.override = override
        self._made: dict[tuple[str, str], BaseChatModel] = {}
        self.made_count = 0
        """How many models were made (a reload that reuses them all adds none)."""

    def models_for(self, ws: Workspace) -> dict[str, BaseChatModel]:
        """The models of `ws`, reusing every model whose entry is unchanged. May block (loading weights)."""
        if self.fixed is not None:
            return dict(self.fixed)
        override = self.override if self.override is not None else settings().model
        specs = {name: spec.model_dump() for name, spec in ws.spec.models.items()}
        if override:
            key = _override_key(override)
            shared = self._made.get(key)
            if shared is None:
                shared = self._made[key] = make_models({}, root=ws.root, override=override)["default"]
                self.made_count += 1
            return {name: shared for name in set(specs) | {"default"}}
        models: dict[str, BaseChatModel] = {}
        for name, spec in specs.items():
            key = (name, _canonical(spec))
            model = self._made.get(key)
            if model is None:
                model = self._made[key] = make_model(spec, root=ws.root, name=name)
                self.made_count += 1
            models[name] = model
        return models

    def retain(self, ws: Workspace) -> None:
        """Forget models that `ws` (the version now serving) does not use.

        Called on a swap, not on a build: an edit that fails after its models were made must not
        make the serving version's models be made again on the next edit. Versions still in
        flight hold their own models; forgetting them here only means they are not reused.
        """
        if self.fixed is not None:
            return
        override = self.override if self.override is not None else settings().model
        keep = {_override_key(override)} if override else {
            (name, _canonical(spec.model_dump())) for name, spec in ws.spec.models.items()
        }
        self._made = {key: model for key, model in self._made.items() if key in keep}


def _override_key(override: str) -> tuple[str, str]:
    return ("*", _canonical({"override": override}))


def servers_key(ws: Workspace) -> str:
    """Equal for two versions whose `mcp_servers:` would open the same sessions."""
    return _canonical({name: spec.model_dump() for name, spec in ws.spec.mcp_servers.items()})


@dataclass(eq=False)
class ToolSession:
    """One open `ToolRuntime` and the versions (by hash) that use it."""

    key: str
    tools: Any
    """A started `moot.tools.runtime.ToolRuntime`."""
    users: set[str] = field(default_factory=set)
    closed: bool = False

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.tools.close()


class ToolSessions:
    """Open MCP tool sessions of one workspace, shared by the versions whose servers are equal.

    Each version acquires the session of its `mcp_servers:` (opened on first need) and releases
    it when the version is dropped; the last release closes it, in the background (closing a
    stdio server can take seconds and must not hold up the run that ended).
    """

    def __init__(self, workspace: str, *, ledger: Ledger | None = None) -> None:
        self.workspace = workspace
        self.ledger = ledger
        self._open: dict[str, ToolSession] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.opened_count = 0

    async def acquire(self, ws: Workspace, user: str) -> ToolSession | None:
        """The session for `ws`'s servers, used by version `user`; None if it has no servers."""
        if not ws.spec.mcp_servers:
            return None
        key = servers_key(ws)
        session = self._open.get(key)
        if session is None:
            tools = tool_runtime(ws, self.ledger)  # the same client, logs and ledger as a CLI run's
            await tools.start()  # raises ServerStartError naming the server: the reload fails cleanly
            self.opened_count += 1
            session = self._open[key] = ToolSession(key, tools)
        session.users.add(user)
        return session

    def release(self, session: ToolSession | None, user: str) -> None:
        """Version `user` no longer needs `session`; the last user's release closes it."""
        if session is None:
            return
        session.users.discard(user)
        if session.users:
            return
        if self._open.get(session.key) is session:
            del self._open[session.key]
        task = asyncio.get_running_loop().create_task(session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every session (the manager is closing: no run may still use one)."""
        sessions, self._open = list(self._open.values()), {}
        await asyncio.gather(*(s.close() for s in sessions), *self._closing, return_exceptions=True)


__all__ = ["ModelCache", "ToolSession", "ToolSessions", "servers_key"]
