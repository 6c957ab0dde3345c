"""`WorkspaceHub`: workspace name → its `WorkspaceManager`, loaded once and shared (design §1, §8).

The hub is the process's one place that turns a name from a request into a runtime. It knows the
built-in workspaces and every folder with a `moot.yaml` on its search path (an entry is either a
workspace folder or a folder of workspace folders; `MOOT_WORKSPACES`, `os.pathsep`-separated, by
default). A workspace is loaded on first use, once even when many requests ask at the same time,
and its manager then lives as long as the hub: models, MCP sessions and compiled graphs are
long-lived and shared by every session of the workspace.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver

from moot.events import EventBus
from moot.memory.protocols import Memory
from moot.settings import env_var, settings
from moot.tools.types import Ledger
from moot.workspace import loader
from moot.workspace.manager import UnknownWorkspaceError, WorkspaceManager

log = logging.getLogger("moot.workspace")

SEARCH_PATH_ENV = env_var("workspaces")

LoadListener = Callable[[WorkspaceManager], None]


def default_search_path() -> list[Path]:
    """`$MOOT_WORKSPACES` split on `os.pathsep` (empty entries ignored)."""
    return [Path(p).expanduser() for p in settings().workspaces]


def declared_name(folder: Path) -> str:
    """The `name:` of a folder's moot.yaml, read cheaply (the folder's name if it cannot be read).

    Listing must not load whole workspaces, and must not fail on a broken one: that workspace's
    problems are reported when it is used. The service lists at every session it opens, so a
    file's name is parsed again only when the file changed (its mtime and size).
    """
    path = folder / "moot.yaml"
    try:
        stat = path.stat()
    except OSError:
        return folder.name
    return _declared_name(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1024)
def _declared_name(path: Path, _mtime_ns: int, _size: int) -> str:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return path.parent.name
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else path.parent.name


class WorkspaceHub:
    """Finds workspaces and holds one `WorkspaceManager` per workspace folder."""

    def __init__(
        self,
        search_path: Sequence[Path | str] = (),
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
        self.search_path = [Path(p).expanduser() for p in search_path] if search_path else default_search_path()
        self.bus = bus or EventBus()
        self._options: dict[str, Any] = {
            "models": models,
            "model_override": model_override,
            "memory": memory,
            "checkpointer": checkpointer,
            "ledger": ledger,
            "bus": self.bus,
            "keep_recent": keep_recent,
            "archive": archive,
        }
        self._managers: dict[str, WorkspaceManager] = {}
        self._by_name: dict[str, str] = {}
        self._loading: dict[str, asyncio.Task[WorkspaceManager]] = {}
        self._listeners: list[LoadListener] = []
        self._closed = False

    # -- finding -------------------------------------------------------------------------------

    def locate(self) -> dict[str, Path]:
        """Every workspace the hub can serve, name → folder.

        Folders of the search path come first, in order (the first of two with one name wins, as
        on `PATH`), then the built-ins, which a folder of the same name shadows.
        """
        found: dict[str, Path] = {}
        for entry in self.search_path:
            if not entry.is_dir():
                log.warning("workspace search path entry %s is not a folder; skipped", entry)
                continue
            folders = [entry] if (entry / "moot.yaml").is_file() else sorted(
                child for child in entry.iterdir() if child.is_dir() and (child / "moot.yaml").is_file()
            )
            for folder in folders:
                name = declared_name(folder)
                if name in found:
                    log.warning("workspace %r in %s is shadowed by %s", name, folder, found[name])
                    continue
                found[name] = folder
        for name in loader.BUILTIN:
            found.setdefault(name, loader.builtin_path(name))
        return found

    def names(self) -> list[str]:
        """Names of every workspace the hub can serve (built-ins and the search path's), sorted."""
        return sorted(self.locate())

    def path_of(self, name: str) -> Path:
        """The folder of workspace `name`; a path to a workspace folder is accepted as is."""
        located = self.locate()
        if name in located:
            return located[name]
        path = Path(name).expanduser()
        if (path / "moot.yaml").is_file():
            return path
        where = ", ".join(str(p) for p in self.search_path) or f"none (set {SEARCH_PATH_ENV})"
        raise UnknownWorkspaceError(
            f"unknown workspace {name!r}; known: {', '.join(sorted(located))}. Search path: {where}. "
            f"Add the workspace's folder (or the folder holding it) to {SEARCH_PATH_ENV}, separated by {os.pathsep!r}"
        )

    # -- loading -------------------------------------------------------------------------------

    async def get(self, name: str) -> WorkspaceManager:
        """The manager of workspace `name` (or of a workspace folder), loaded on first use.

        An invalid workspace raises its problems and is not kept: the next call tries again.
        """
        if self._closed:
            raise UnknownWorkspaceError(f"the workspace hub is closed; cannot serve {name!r}")
        known = self._by_name.get(name)
        if known is not None and known in self._managers:  # the common case: no folder scan per request
            return self._managers[known]
        located = self.locate()
        root = located[name] if name in located else self.path_of(name)
        key = os.path.realpath(root)
        manager = self._managers.get(key)
        if manager is None:
            task = self._loading.get(key)
            if task is None:
                task = asyncio.get_running_loop().create_task(WorkspaceManager.open(root, **self._options))
                self._loading[key] = task
                task.add_done_callback(lambda t, k=key: self._loaded(k, t))  # type: ignore[misc]
            manager = await asyncio.shield(task)
        if name in located:  # a name, not a path: remember where it led
            self._by_name[name] = key
        return manager

    def _loaded(self, key: str, task: asyncio.Task[WorkspaceManager]) -> None:
        self._loading.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        manager = task.result()
        if self._closed:  # closed while it loaded: nobody will close it later
            asyncio.get_running_loop().create_task(manager.aclose())
            return
        self._managers[key] = manager
        log.info("workspace %s loaded from %s (version %s)", manager.name, manager.root, manager.current.short)
        if manager.current.workspace.spec.tracing is not None:
            log.warning(
                "workspace %s: its `tracing:` block is for `moot run`; a service process traces as its OTEL_* variables say "
                "(OpenTelemetry has one provider per process)", manager.name,
            )
        for listener in list(self._listeners):
            try:
                listener(manager)
            except Exception:
                log.exception("a workspace load listener failed; removed")
                self._listeners.remove(listener)

    @property
    def loaded(self) -> list[WorkspaceManager]:
        """Managers loaded so far, in load order."""
        return list(self._managers.values())

    def on_load(self, listener: LoadListener) -> Callable[[], None]:
        """Call `listener(manager)` for each workspace loaded from now on; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def aclose(self) -> None:
        """Close every manager (their MCP sessions); loads in progress are cancelled."""
        self._closed = True
        for task in list(self._loading.values()):
            task.cancel()
        managers, self._managers = list(self._managers.values()), {}
        await asyncio.gather(*(m.aclose() for m in managers), *self._loading.values(), return_exceptions=True)

    async def __aenter__(self) -> WorkspaceHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["SEARCH_PATH_ENV", "WorkspaceHub", "declared_name", "default_search_path"]
