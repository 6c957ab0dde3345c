"""`ReloadManager`: watch workspace folders and reload a workspace when one of its files is saved.

One watcher per loaded workspace (`watchfiles.awatch`, which groups the burst of events of one
save: an editor writes, renames and chmods). Only the files the loader reads wake it up, so a
README or an editor's swap file never causes a reload; a save that leaves the content as it was
changes nothing (versions are content hashes). Each outcome is published on the hub's bus —
`workspace_reloaded` with the new and previous version, or `workspace_reload_failed` with every
problem of the edit while the old version keeps serving — and written as a JSON line to the
workspace's `reload_manager.log` (`moot.logs`, under `$MOOT_HOME/logs/workspaces/<name>/`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

from moot.events import Event
from moot.workspace.hub import WorkspaceHub
from moot.workspace.manager import ReloadResult, WorkspaceManager
from moot.workspace.version import is_workspace_file

log = logging.getLogger("moot.reload")

_TICK_MS = 500
"""The watcher wakes this often without changes (to say it is ready, and to see a stop in time)."""
_RETRY_S = 1.0
"""Pause before watching a folder again after its watcher failed (the folder was moved, say)."""


class ReloadManager:
    """Reloads the hub's workspaces on save; `async with ReloadManager(hub):` or start()/stop().

    `debounce_ms` is the longest a burst of file events is gathered before reloading; `step_ms`
    the quiet time that ends a burst earlier. Together they bound the time from a save to new
    runs using it (plus the reload itself, tens of milliseconds for the demo).
    """

    def __init__(
        self,
        hub: WorkspaceHub,
        *,
        debounce_ms: int = 300,
        step_ms: int = 50,
        include_builtins: bool = False,
        force_polling: bool | None = None,
        log_files: bool = True,
    ) -> None:
        self.hub = hub
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.include_builtins = include_builtins
        """Built-ins live in the installed package; watching them only serves moot's own development."""
        self.force_polling = force_polling
        self.log_files = log_files
        """Also write each outcome to `$MOOT_HOME/logs/workspaces/<name>/reload_manager.log`."""
        self.results: list[ReloadResult] = []
        """Every reload that changed something or failed, oldest first (bounded)."""
        self.checks = 0
        """Reloads attempted (saves of workspace files seen), including those that changed nothing."""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._stops: dict[str, asyncio.Event] = {}
        """One per watcher: awatch sets its stop event when cancelled, which must not stop the others."""
        self._remove_listener: Any = None
        self._ready: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        """Watch every workspace loaded now and each one the hub loads later."""
        self._stopping = False
        self._remove_listener = self.hub.on_load(self.watch)
        for manager in self.hub.loaded:
            self.watch(manager)

    def watch(self, manager: WorkspaceManager) -> None:
        """Watch one workspace's folder (again: a no-op)."""
        key = os.path.realpath(manager.root)
        if key in self._tasks or self._stopping:
            return
        if not self.include_builtins and _is_builtin(manager.root):
            return
        self._ready[key] = asyncio.Event()
        self._stops[key] = asyncio.Event()
        self._tasks[key] = asyncio.get_running_loop().create_task(self._watch(manager, key), name=f"moot-reload:{manager.name}")

    async def ready(self, timeout: float = 10.0) -> None:
        """Wait until every watcher started so far is watching (tests and the bench edit after this)."""
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._ready.values())), timeout)

    async def stop(self) -> None:
        self._stopping = True
        for event in self._stops.values():
            event.set()
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        tasks, self._tasks = list(self._tasks.values()), {}
        try:  # the watchers end at their next tick; a reload in progress completes
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), _TICK_MS / 1000 * 4)
        except TimeoutError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._stops.clear()
        self._ready.clear()

    async def __aenter__(self) -> ReloadManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- watching ------------------------------------------------------------------------------

    async def _watch(self, manager: WorkspaceManager, key: str) -> None:
        root = Path(key)

        def relevant(change: Change, path: str) -> bool:
            try:
                relative = Path(path).relative_to(root).as_posix()
            except ValueError:
                return False
            return is_workspace_file(relative)

        stop = self._stops[key]
        while not stop.is_set() and not manager.closed:
            try:
                watcher = awatch(
                    root,
                    watch_filter=relevant,
                    debounce=self.debounce_ms,
                    step=self.step_ms,
                    stop_event=stop,
                    force_polling=self.force_polling,
                    # a short timeout yields soon after the watch is set up: `ready()` waits for it
                    rust_timeout=_TICK_MS,
                    yield_on_timeout=True,
                )
                async for changes in watcher:
                    self._ready[key].set()  # the first (timeout) yield: the watcher is running
                    if changes:
                        await self.reload(manager, sorted({Path(p).relative_to(root).as_posix() for _, p in changes}))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep watching: a reload watcher must outlive a moved folder
                if manager.closed:
                    return
                log.warning("watching %s failed (%s: %s); retrying", root, type(exc).__name__, exc)
                await asyncio.sleep(_RETRY_S)

    async def reload(self, manager: WorkspaceManager, paths: list[str] | None = None) -> ReloadResult:
        """Reload one workspace now and report the outcome (the watcher calls this on each save)."""
        self.checks += 1
        result = await manager.reload()
        if result.ok and not result.changed:
            log.debug("workspace %s: %s saved without a change of content", manager.name, ", ".join(paths or []))
            return result
        self.results = [*self.results[-99:], result]
        self._report(manager, result, paths or [])
        return result

    def _report(self, manager: WorkspaceManager, result: ReloadResult, paths: list[str]) -> None:
        data: dict[str, Any] = {
            "version": result.version.hash,
            "previous": result.previous.hash,
            "files": list(result.files) or paths,
            "took_s": round(result.took_s, 4),
        }
        if result.ok:
            type_ = "workspace_reloaded"
            log.info(
                "workspace %s reloaded: version %s (was %s), %s changed, %.0f ms",
                manager.name, result.version.short, result.previous.short, ", ".join(data["files"]), result.took_s * 1000,
            )
        else:
            type_ = "workspace_reload_failed"
            data.update(problems=list(result.problems), details=[_jsonable(d) for d in result.details])
            log.warning(
                "workspace %s: edit refused, still serving version %s:\n  %s",
                manager.name, result.version.short, "\n  ".join(result.problems),
            )
        self.hub.bus.publish(Event(type=type_, run_id="", workspace=manager.name, data=data))
        if self.log_files:
            self._log_file(manager.name, type_, data, failed=not result.ok)

    @staticmethod
    def _log_file(name: str, type_: str, data: dict[str, Any], *, failed: bool) -> None:
        """One JSON line in the workspace's `reload_manager.log` (moot.logs); never raises."""
        try:
            from moot.logs import WorkspaceLogs

            logger = WorkspaceLogs(name).logger("reload_manager")
            message = f"{type_}: version {str(data['version'])[:12]} (previous {str(data['previous'])[:12]})"
            logger.log(logging.ERROR if failed else logging.INFO, message, extra={"event": type_, "data": data})
        except Exception as exc:  # a full disk or a bad log setting must not stop reloads
            log.warning("could not write the reload log of %s: %s", name, exc)


def _is_builtin(root: Path) -> bool:
    from moot.workspace.loader import builtin_path

    return os.path.realpath(root.parent) == os.path.realpath(builtin_path("demo").parent)


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in record.items()}


__all__ = ["ReloadManager"]
