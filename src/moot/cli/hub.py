"""`moot run --watch` and `moot workspace diff`: iterate on a workspace and see what changed.

`--watch` is the workspace author's loop: run the task, then keep the workspace loaded through a
`WorkspaceHub` and a `ReloadManager`; each valid save runs the task again on the new version
(its hash is printed), an invalid one prints every problem and waits for the next save. Ctrl-C
ends it. `diff` shows what changed between archived versions (written whenever a runtime manager
loads a version) or between the last archived version and the folder as it is now.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from moot.cli.tracing import trace_workspace
from moot.errors import MootError, UsageError
from moot.events import Event, EventBus
from moot.persistence import open_persistence
from moot.run import check_task, new_id
from moot.workspace.archive import VersionArchive
from moot.workspace.hub import WorkspaceHub, declared_name
from moot.workspace.loader import load_workspace
from moot.workspace.manager import WorkspaceManager
from moot.workspace.reload import ReloadManager
from moot.workspace.version import as_text, content_hash, diff_versions, read_files


def add_hub_parsers(sub: Any) -> None:
    """`--watch` on `moot run`, and `moot workspace diff` (call after both parsers exist)."""
    sub.choices["run"].add_argument(
        "--watch", action="store_true",
        help="after the run, watch the workspace folder and run the task again on every valid edit (Ctrl-C ends)",
    )
    workspace = sub.choices["workspace"]
    ws_sub = next(a for a in workspace._actions if isinstance(a, argparse._SubParsersAction))
    diff = ws_sub.add_parser("diff", help="show what changed between versions of a workspace (default: last loaded → folder now)")
    diff.add_argument("dir", help="the workspace folder")
    diff.add_argument("--from", dest="from_version", default=None, help="archived version (hash prefix); default: the last one loaded from DIR")
    diff.add_argument("--to", dest="to_version", default=None, help="archived version (hash prefix); default: the folder as it is now")


def _say(text: str) -> None:
    """Watch notices go to stderr: stdout keeps the run's own output (and stays JSON with --json)."""
    print(f"moot: {text}", file=sys.stderr, flush=True)


# -- moot workspace diff -----------------------------------------------------------------------


def run_diff(args: argparse.Namespace) -> int:
    root = Path(args.dir).expanduser()
    if not (root / "moot.yaml").is_file():
        raise UsageError(f"{root} is not a workspace folder (no moot.yaml)")
    archive = VersionArchive(declared_name(root))
    old = archive.get(args.from_version) if args.from_version else archive.latest(root=root)
    if args.to_version:
        new = archive.get(args.to_version)
        new_files, new_label, new_name = new.files, new.short, f"version {new.short}"
    else:
        new_files, new_label = as_text(read_files(root)), "working"
        new_name = f"the folder now ({content_hash(root)[:12]})"
    text = diff_versions(old.files, new_files, old_label=old.short, new_label=new_label)
    if not text:
        _say(f"no differences between version {old.short} and {new_name}")
        return 0
    sys.stdout.write(text)
    return 0


# -- moot run --watch --------------------------------------------------------------------------


async def run_watch(args: argparse.Namespace, bus: EventBus) -> int:
    """Run, then rerun on every valid edit until Ctrl-C; `bus` shows the runs (live view or JSON)."""
    hub_probe = WorkspaceHub()
    root = hub_probe.path_of(args.workspace or "demo")
    spec = load_workspace(root).spec  # a bad workspace or task fails before anything is written
    task = check_task(args.task, spec.limits.task_max_chars)
    trace_workspace("run", spec)
    logging.getLogger("moot.reload").addHandler(logging.NullHandler())  # the notices below say it once
    main = asyncio.current_task()
    assert main is not None
    state = {"stopping": False, "running": ""}

    def interrupt() -> None:
        state["stopping"] = True
        main.cancel()

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers off the main thread
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        return await _watch(args, root, task, bus, state)
    except asyncio.CancelledError:
        if not state["stopping"]:
            raise
        main.uncancel()
        if state["running"]:
            _say(f"interrupted run {state['running']}; `moot resume {state['running']}` continues from its last checkpoint")
            return 130
        _say("stopped watching")
        return 0
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


async def _watch(args: argparse.Namespace, root: Path, task: str, bus: EventBus, state: dict[str, Any]) -> int:
    async with open_persistence(args.db) as store, _memory(args) as memory:
        saver, index, ledger = store.checkpointer, store.index, store.ledger
        recorder = memory.observe(bus) if memory is not None else None
        async with WorkspaceHub((), model_override=args.model, memory=memory, checkpointer=saver, ledger=ledger) as hub:
            manager = await hub.get(str(root))
            _log_runs(manager, bus)
            events = hub.bus.subscribe()
            async with ReloadManager(hub, include_builtins=True) as reloader:
                await reloader.ready()
                _say(f"watching {manager.root} (workspace {manager.name}, version {manager.current.short}); Ctrl-C stops")
                status = await _run_once(manager, task, args, bus, index, state, recorder)
                while True:
                    event = await events.get()
                    if event is None:
                        return status
                    event = _latest(event, events)
                    if event.type == "workspace_reload_failed":
                        problems = "\n  ".join(event.data.get("problems") or ["(no detail)"])
                        _say(f"edit refused; still on version {manager.current.short}:\n  {problems}")
                        continue
                    files = ", ".join(event.data.get("files") or [])
                    _say(f"reloaded workspace {manager.name}: version {manager.current.short} ({files} changed); running the task again")
                    status = await _run_once(manager, task, args, bus, index, state, recorder)


def _latest(event: Event, events: Any) -> Event:
    """Edits saved while a run went on: only the last outcome matters (the current version)."""
    while True:
        try:
            queued = events.get_nowait()
        except asyncio.QueueEmpty:
            return event
        if queued is not None and queued.type in ("workspace_reloaded", "workspace_reload_failed"):
            event = queued


async def _run_once(
    manager: WorkspaceManager, task: str, args: argparse.Namespace, bus: EventBus, index: Any, state: dict[str, Any], recorder: Any
) -> int:
    """One run on the current version; a failed run is reported and the watch goes on."""
    orch, version = manager.orchestrator(bus=bus, index=index)
    run_id = new_id("run")
    state["running"] = run_id
    try:
        async with manager.use(version):
            result = await orch.run(task, session_id=args.session, user_id=args.user, run_id=run_id)
        _say(f"run {run_id} finished on version {version.short}")
        return 0 if result.status == "finished" else 1
    except MootError as exc:
        _say(f"run {run_id} failed on version {version.short}: {exc}")
        return 1
    finally:
        state["running"] = ""
        if recorder is not None:
            await recorder.flush()


def _log_runs(manager: WorkspaceManager, bus: EventBus) -> None:
    """JSON lines under $MOOT_HOME/logs/workspaces/<name>/, as `moot run` writes them."""
    try:
        from moot.logs import log_runs
    except ImportError:  # pragma: no cover - a build without per-workspace logs
        return
    log_runs(manager.current.workspace, bus)


def _memory(args: argparse.Namespace) -> Any:
    """As `moot run`: the user's embedded memory with `--user`, unless `--no-memory`."""
    if not args.user or args.no_memory:
        return contextlib.nullcontext(None)
    from moot.memory.setup import embedded_memory

    return embedded_memory(None)


__all__ = ["add_hub_parsers", "run_diff", "run_watch"]
