"""`WorkspaceManager`: one workspace's versions, their compiled graphs, and hot reload (design §8).

A manager serves one workspace folder for the life of a process. It loads the folder into a
`WorkspaceVersion` (validated workspace, its assembly, compiled graph) and hands out orchestrators of
the *current* version to new runs. `reload()` builds the next version completely — load and
validate every file, make or reuse models, open or reuse MCP sessions, compile the graph — and
only then swaps it in, in one assignment. Nothing of a version is ever changed after it is built,
so a run in flight, which holds its version's graph, finishes on the version it started with; an
edit that does not validate changes nothing at all and is reported with every problem it has.

Older versions are kept while a run uses them (`use()`) and a few more after (`keep_recent`), so
that a run can be resumed or inspected on its own version; then their MCP sessions are released.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from moot.errors import UsageError, WorkspaceError
from moot.events import EventBus
from moot.memory.protocols import Memory
from moot.orchestrator import Durability, Orchestrator, RunResult
from moot.persistence import RunTracker
from moot.tools.types import Ledger
from moot.workspace.archive import VersionArchive
from moot.workspace.assembly import Assembly
from moot.workspace.loader import Workspace, load_workspace
from moot.workspace.resources import ModelCache, ToolSession, ToolSessions
from moot.workspace.version import SHORT, WorkspaceVersion, as_text, changed_files, hash_files, read_files

log = logging.getLogger("moot.workspace")

_SETTLE_ATTEMPTS = 5
"""Times a load is retried when the files changed while they were being read (an editor mid-save)."""


class UnknownWorkspaceError(WorkspaceError):
    """No built-in and no folder of the search path has this name."""


class VersionNotFoundError(UsageError):
    """The version asked for is not (or no longer) held by the manager."""


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did. `version` serves new runs afterwards (the old one if the edit failed)."""

    ok: bool
    version: WorkspaceVersion
    previous: WorkspaceVersion
    changed: bool = False
    """A new version was swapped in (False for a failed edit or a save that changed nothing)."""
    problems: tuple[str, ...] = ()
    """Every problem of a refused edit, one line each (`file:line:col: message (fix: ...)`)."""
    details: tuple[dict[str, Any], ...] = ()
    """The same problems as records: file, line, column, message, fix (where the error says)."""
    error: BaseException | None = None
    took_s: float = 0.0
    files: tuple[str, ...] = ()
    """Paths added, removed or edited between `previous` and `version`."""
    at: float = field(default_factory=time.time)
    """When the reload ended (Unix seconds), for the hot-reload status of the web page."""

    @property
    def errors(self) -> tuple[str, ...]:
        return self.problems


def problems_of(exc: BaseException) -> tuple[tuple[str, ...], tuple[dict[str, Any], ...]]:
    """Every problem an error reports: the loader's `WorkspaceInvalid.problems`, else the error itself."""
    items = list(getattr(exc, "problems", None) or [exc])
    lines = tuple(str(p) for p in items)
    details = []
    for p in items:
        record: dict[str, Any] = {"message": getattr(p, "message", None) or str(p)}
        for key, attr in (("file", "file"), ("file", "path"), ("line", "line"), ("column", "column"), ("fix", "fix")):
            value = getattr(p, attr, None)
            if value is not None and key not in record:
                record[key] = value
        details.append(record)
    return lines, tuple(details)


@dataclass
class _Held:
    version: WorkspaceVersion
    graph: CompiledStateGraph
    tools: ToolSession | None
    runs: int = 0
    retired_at: float | None = field(default=None)


class WorkspaceManager:
    """The versions of one workspace folder; make one with `await WorkspaceManager.open(root)`."""

    def __init__(
        self,
        root: Path | str,
        *,
        models: Mapping[str, BaseChatModel] | None = None,
        model_override: str | None = None,
        memory: Memory | None = None,
        checkpointer: BaseCheckpointSaver | None = None,
        ledger: Ledger | None = None,
        bus: EventBus | None = None,
        keep_recent: int = 3,
        archive: bool = True,
    ) -> None:
        self.root = Path(root)
        self.name = ""
        """The workspace's name (moot.yaml `name`), known once opened; a reload may not change it."""
        self.memory = memory
        self.checkpointer = checkpointer
        self.bus = bus or EventBus()
        self.keep_recent = max(0, keep_recent)
        self.archive_versions = archive
        self._models = ModelCache(fixed=models, override=model_override)
        self._ledger = ledger
        self._tools: ToolSessions | None = None
        self._held: dict[str, _Held] = {}
        self._current: _Held | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, root: Path | str, **kwargs: Any) -> WorkspaceManager:
        """Load the folder's first version; an invalid workspace raises its error (nothing is kept)."""
        manager = cls(root, **kwargs)
        try:
            async with manager._lock:
                held = await manager._build(read_files(manager.root))
                manager._swap(held)
        except BaseException:
            await manager.aclose()
            raise
        return manager

    # -- versions ------------------------------------------------------------------------------

    @property
    def current(self) -> WorkspaceVersion:
        if self._current is None:
            raise UsageError(f"the workspace manager of {self.root} is not open; use `await WorkspaceManager.open(...)`")
        return self._current.version

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def versions(self) -> list[WorkspaceVersion]:
        """The versions held now (current last), for listings and `version()`."""
        return [h.version for h in sorted(self._held.values(), key=lambda h: h.version.loaded_at)]

    def version(self, hash: str) -> WorkspaceVersion:
        """A held version by its hash or a unique prefix of it (at least 4 hex digits)."""
        return self._find(hash).version

    def in_use(self, version: WorkspaceVersion | str) -> int:
        """How many runs use `version` now."""
        return self._find(version if isinstance(version, str) else version.hash).runs

    def _find(self, hash: str) -> _Held:
        if hash in self._held:
            return self._held[hash]
        matches = [h for key, h in self._held.items() if len(hash) >= 4 and key.startswith(hash)]
        if len(matches) == 1:
            return matches[0]
        held = ", ".join(h.version.short for h in self._held.values()) or "none"
        why = "is ambiguous" if matches else "is not loaded (any more)"
        raise VersionNotFoundError(
            f"version {hash[:SHORT]!r} of workspace {self.name or self.root} {why}; held versions: {held}. "
            f"Past versions' files are archived: `moot workspace diff {self.root} --from HASH`"
        )

    def graph(self, version: WorkspaceVersion | None = None) -> CompiledStateGraph:
        """The compiled graph of `version` (default: current), compiled once with the manager's checkpointer."""
        return self._find((version or self.current).hash).graph

    def orchestrator(
        self,
        *,
        bus: EventBus | None = None,
        index: RunTracker | None = None,
        version: WorkspaceVersion | str | None = None,
        durability: Durability = "sync",
    ) -> tuple[Orchestrator, WorkspaceVersion]:
        """An orchestrator of `version` (default: the current one) that records the version with its runs.

        Run it inside `use(version)` so the version (and its MCP sessions) outlives a reload.
        """
        held = self._find(version if isinstance(version, str) else (version or self.current).hash)
        orch = held.version.assembly.orchestrator(
            held.graph, bus=bus or self.bus, index=index, durability=durability, version=held.version.hash
        )
        return orch, held.version

    @asynccontextmanager
    async def use(self, version: WorkspaceVersion | None = None) -> AsyncIterator[WorkspaceVersion]:
        """Keep `version` (default: current, taken now) and its MCP sessions while the block runs."""
        held = self._find((version or self.current).hash)
        held.runs += 1
        try:
            yield held.version
        finally:
            held.runs -= 1
            self._collect()

    async def run(self, task: str, **kwargs: Any) -> RunResult:
        """Run `task` on the current version (convenience: orchestrator + use); kwargs go to `Orchestrator.run`."""
        orch, version = self.orchestrator()
        async with self.use(version):
            return await orch.run(task, **kwargs)

    # -- reload --------------------------------------------------------------------------------

    async def reload(self) -> ReloadResult:
        """Load the folder again; swap the new version in for new runs if it is valid and different."""
        if self._closed:
            raise UsageError(f"the workspace manager of workspace {self.name!r} is closed; it cannot reload")
        async with self._lock:
            started = time.perf_counter()
            previous = self.current
            files = await asyncio.to_thread(read_files, self.root)
            hash_ = hash_files(files)
            if hash_ == previous.hash:
                return ReloadResult(True, previous, previous, took_s=time.perf_counter() - started)
            try:
                held = self._held.get(hash_) or await self._build(files)
            except Exception as exc:  # an edit that does not build changes nothing: keep serving the old version
                lines, details = problems_of(exc)
                return ReloadResult(
                    False, previous, previous, problems=lines, details=details, error=exc,
                    took_s=time.perf_counter() - started, files=tuple(changed_files(previous, as_text(files))),
                )
            if held.version is previous:
                return ReloadResult(True, previous, previous, took_s=time.perf_counter() - started)
            self._swap(held)
            return ReloadResult(
                True, held.version, previous, changed=True,
                took_s=time.perf_counter() - started, files=tuple(changed_files(previous, held.version)),
            )

    async def _build(self, files: dict[str, bytes]) -> _Held:
        """A complete new version from the folder (with `files` as first read), or its error."""
        ws, files = await asyncio.to_thread(self._load_settled, files)
        hash_ = hash_files(files)
        if hash_ in self._held:  # the files changed back while they were read: that version is held
            return self._held[hash_]
        if self.name and ws.name != self.name:
            raise WorkspaceError(
                f"the workspace's name changed from {self.name!r} to {ws.name!r}; a running workspace keeps "
                f"its name (runs, sessions and memory refer to it): undo the rename, or restart to serve it "
                f"under the new name",
                path=str(self.root / "moot.yaml"),
            )
        if self._tools is None:
            self._tools = ToolSessions(ws.name, ledger=self._ledger)
        session = await self._tools.acquire(ws, hash_)
        try:
            assembly, graph = await asyncio.to_thread(self._compile, ws, session)
        except BaseException:
            self._tools.release(session, hash_)
            raise
        version = WorkspaceVersion(hash_, ws, assembly, time.time(), as_text(files))
        return _Held(version, graph, session)

    def _load_settled(self, files: dict[str, bytes]) -> tuple[Workspace, dict[str, bytes]]:
        """Load the workspace and make sure the files did not change during the load, so the
        version's hash names exactly what was loaded (an editor may save several files in turn)."""
        for _ in range(_SETTLE_ATTEMPTS):
            ws = load_workspace(self.root)
            after = read_files(self.root)
            if after == files:
                return ws, files
            files = after
        raise WorkspaceError(
            f"the files kept changing while they were loaded ({_SETTLE_ATTEMPTS} attempts); save again once done",
            path=str(self.root),
        )

    def _compile(self, ws: Workspace, session: ToolSession | None) -> tuple[Assembly, CompiledStateGraph]:
        """A fresh assembly of `ws` (never shared with another version) and its compiled graph."""
        assembly = Assembly.of(ws, self._models.models_for(ws), self.memory)
        if session is not None:
            assembly = assembly.with_tools(session.tools, session.tools.tools())
        return assembly, assembly.graph(self.checkpointer)

    def _swap(self, held: _Held) -> None:
        """Make `held` the current version (one assignment: every new run sees it from now on)."""
        old = self._current
        self._held[held.version.hash] = held
        held.retired_at = None
        self._current = held
        self.name = held.version.workspace.name
        self._models.retain(held.version.workspace)
        if old is not None and old is not held:
            old.retired_at = time.time()
        if self.archive_versions:  # also when an undone edit brings a held version back: it is the latest
            try:
                VersionArchive(self.name).save(held.version.hash, held.version.files, root=self.root)
            except OSError as exc:  # the archive serves diffs; it must not stop a workspace from serving
                log.warning("could not archive version %s of %s: %s", held.version.short, self.name, exc)
        self._collect()

    def _collect(self) -> None:
        """Drop retired versions that no run uses beyond the `keep_recent` newest; release their sessions."""
        retired = sorted(
            (h for h in self._held.values() if h is not self._current and h.retired_at is not None),
            key=lambda h: h.retired_at or 0.0,
            reverse=True,
        )
        for held in retired[self.keep_recent :]:
            if held.runs == 0:
                del self._held[held.version.hash]
                if self._tools is not None:
                    self._tools.release(held.tools, held.version.hash)

    async def aclose(self) -> None:
        """Close every MCP session. Runs must have ended (the service drains them first)."""
        if self._closed:
            return
        self._closed = True
        if self._tools is not None:
            await self._tools.aclose()

    async def __aenter__(self) -> WorkspaceManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        current = self._current.version.short if self._current else "not open"
        return f"WorkspaceManager({self.name or self.root}, {current}, {len(self._held)} held)"


__all__ = ["ReloadResult", "WorkspaceManager", "UnknownWorkspaceError", "VersionNotFoundError", "problems_of"]
