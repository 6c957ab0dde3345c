"""`moot`: run, resume, export and import deliberations from the terminal.

Bad input (an empty or oversized task, an unknown workspace, an invalid workspace file, an
expression that does not parse) gets one line naming what and where, exit code 2, and nothing
written: the workspace and the task are checked before the store under `$MOOT_HOME` is opened.
A run that fails while running exits 1; its state up to the failure stays resumable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import fastmcp

from moot.cli.eval import add_eval_parser, run_eval
from moot.cli.hub import add_hub_parsers, run_diff, run_watch
from moot.cli.keys import add_keys_parser, run_keys
from moot.cli.live import JsonLines, LiveView
from moot.cli.logs import add_logs_parser, run_logs
from moot.cli.mcp import add_mcp_parser, run_mcp
from moot.cli.serve import add_serve_parsers, run_serve, run_ui, run_worker
from moot.cli.tracing import trace_process, trace_workspace
from moot.cli.workspace import add_workspace_parser, run_workspace
from moot.errors import ConfigError, MootError, UsageError
from moot.events import EventBus
from moot.graph.picture import mermaid
from moot.logs import log_runs
from moot.persistence import open_store
from moot.run import check_task, new_id
from moot.state_io import export_state, import_state, read_export
from moot.workspace.loader import BUILTIN
from moot.workspace.runner import WorkspaceRunner


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="moot", description="State-driven multi-agent deliberation on LangGraph.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, *, workspace: bool = True) -> None:
        if workspace:
            sp.add_argument("-w", "--workspace", default=None, help="built-in name (demo) or folder; default: demo")
            sp.add_argument("--model", default=None, help="override every model: local[:GGUF], scripted:PATH, openai:MODEL, anthropic:MODEL or ollama:MODEL")
        sp.add_argument("--db", default=None, help="checkpoint database (default: $MOOT_HOME/moot.db)")

    run = sub.add_parser("run", help="run a deliberation on a task")
    run.add_argument("task")
    run.add_argument("--session", default=None, help="session id (a LangGraph thread); default: a new session")
    run.add_argument("--user", default="", help="user id")
    run.add_argument("--json", action="store_true", help="print events as JSON lines instead of the live view")
    run.add_argument(
        "--no-memory", action="store_true", help="with --user, do not recall or record memory (default: both)"
    )
    common(run)

    resume = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true")
    common(resume)

    approve = sub.add_parser("approve", help="answer a run paused for approval (a stage with approval: true)")
    approve.add_argument("run_id")
    answer = approve.add_mutually_exclusive_group()
    answer.add_argument("--reject", metavar="REASON", default=None, help="end the run without the stage")
    answer.add_argument("--edit", metavar="FILE", default=None, help="a JSON file with the edited decision")
    approve.add_argument("--reason", default="", help="why (recorded in the run's history)")
    approve.add_argument("--json", action="store_true")
    common(approve)

    runs = sub.add_parser("runs", help="list recent runs")
    common(runs, workspace=False)

    graph = sub.add_parser("graph", help="print the workspace's LangGraph graph as Mermaid")
    common(graph)

    state = sub.add_parser("state", help="export or import a run's state as JSON")
    state_sub = state.add_subparsers(dest="state_command", required=True)
    exp = state_sub.add_parser("export", help="write a run's state as JSON")
    exp.add_argument("run_id")
    exp.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    common(exp)
    imp = state_sub.add_parser("import", help="restore a state export so the run can continue (moot resume)")
    imp.add_argument("file")
    imp.add_argument("--as-copy", action="store_true", help="import under a new run id and session")
    common(imp)
    add_mcp_parser(sub)
    add_workspace_parser(sub)
    add_hub_parsers(sub)  # run --watch, workspace diff
    add_logs_parser(sub)
    add_eval_parser(sub)
    add_keys_parser(sub)
    add_serve_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    trace_process(args.command)
    if args.command != "mcp":
        # in-process MCP servers log each tool error; the live view and the history already show them
        # (fastmcp re-applies its settings' level when a transport starts, so set both)
        fastmcp.settings.log_level = "CRITICAL"
        logging.getLogger("fastmcp").setLevel(logging.CRITICAL)
    try:
        if args.command == "mcp":  # the MCP servers run their own event loop
            return run_mcp(args)
        if args.command == "workspace":
            return run_diff(args) if args.workspace_command == "diff" else run_workspace(args)
        if args.command == "logs":
            return run_logs(args)
        if args.command == "eval":  # runs its own event loop
            return run_eval(args)
        if args.command == "keys":
            return run_keys(args)
        if args.command == "serve":  # uvicorn and arq run their own event loops
            return run_serve(args)
        if args.command == "worker":
            return run_worker(args)
        if args.command == "ui":
            return run_ui(args)
        return asyncio.run(_dispatch(args))
    except (ConfigError, UsageError) as exc:
        print(f"moot: error: {exc}", file=sys.stderr)
        return 2
    except MootError as exc:
        print(f"moot: run failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("moot: interrupted; `moot resume RUN_ID` continues from the last checkpoint", file=sys.stderr)
        return 130


async def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "runs":
        _require_db(args.db)
        async with open_store(args.db) as (_, index):
            for r in await index.latest():
                print(f"{r.run_id}  {r.status:8}  {r.workspace:10}  {r.thread_id}  {r.task[:60]}")
        return 0
    if args.command in ("resume", "approve") or (args.command == "state" and args.state_command == "export"):
        return await _of_recorded_run(args)
    if args.command == "state":
        return await _import(args)
    if args.command == "run" and args.watch:
        return await run_watch(args, _bus(args))
    runtime = WorkspaceRunner.load(args.workspace, model_override=args.model)
    if args.command == "graph":
        print(mermaid(runtime))  # the same labelled drawing as `moot workspace graph`
        return 0
    task = check_task(args.task, runtime.workspace.spec.limits.task_max_chars)  # before anything is written
    trace_workspace(args.command, runtime.workspace.spec)
    async with runtime.open_store_and_tools(args.db) as (saver, index), _memory(args) as memory:
        runtime.memory = memory
        bus = _bus(args)
        log_runs(runtime.workspace, bus)  # JSON lines under $MOOT_HOME/logs/workspaces/<name>/
        recorder = memory.observe(bus) if memory is not None else None
        orch = runtime.orchestrator(saver, index=index, bus=bus, version=_version_of(runtime))
        result = await orch.run(task, session_id=args.session, user_id=args.user)
        if recorder is not None:
            await recorder.flush()
    return _ended(result)


def _version_of(runtime: WorkspaceRunner) -> str:
    """The workspace's content hash, archived so `moot workspace diff` can compare against it."""
    from moot.workspace.archive import VersionArchive
    from moot.workspace.version import as_text, hash_files, read_files

    ws = runtime.workspace
    files = read_files(ws.root)
    version = hash_files(files)
    VersionArchive(ws.name).save(version, as_text(files), root=ws.root)
    return version


def _ended(result: Any) -> int:
    """Exit code of a run; a run paused for approval says how to answer (exit 0: nothing failed)."""
    if result.status == "awaiting_approval":
        stage = (result.pending or {}).get("stage")
        print(
            f"moot: run {result.run_id} waits for approval before stage {stage!r}; answer with "
            f"`moot approve {result.run_id}` (or --reject REASON, or --edit DECISION.json)",
            file=sys.stderr,
        )
        return 0
    return 0 if result.status == "finished" else 1


def _memory(args: argparse.Namespace) -> Any:
    """The user's embedded memory under $MOOT_HOME (recall before agents, record after), or none.

    Memory belongs to a user: without `--user` there is nothing to recall or record. Semantic
    extraction is left to the service, where it runs in the background of long-lived sessions.
    """
    if not args.user or args.no_memory:
        return contextlib.nullcontext(None)
    from moot.memory.setup import embedded_memory

    return embedded_memory(None)


def _answer(args: argparse.Namespace) -> dict[str, Any]:
    """`moot approve`'s answer: approve, --reject REASON, or --edit FILE (the edited decision)."""
    if args.reject is not None:
        return {"action": "reject", "reason": args.reject}
    if args.edit is not None:
        try:
            decision = json.loads(Path(args.edit).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{args.edit}: not a readable JSON decision ({exc})") from None
        return {"action": "edit", "decision": decision, "reason": args.reason}
    return {"action": "approve", "reason": args.reason}


async def _of_recorded_run(args: argparse.Namespace) -> int:
    """`resume`, `approve` and `state export`: the run's own workspace comes from the run index."""
    _require_db(args.db)
    async with open_store(args.db) as (saver, index):
        record = await index.get(args.run_id)
    runtime = _runtime_of(args, record.workspace, record.workspace_path)
    if args.command in ("resume", "approve"):
        trace_workspace(args.command, runtime.workspace.spec)
        async with runtime.open_store_and_tools(args.db) as (saver, index):
            log_runs(runtime.workspace, bus := _bus(args))
            orch = runtime.orchestrator(saver, index=index, bus=bus)
            if args.command == "resume":
                return _ended(await orch.resume(args.run_id))
            return _ended(await orch.approve(args.run_id, _answer(args)))
    async with runtime.open_store_and_tools(args.db) as (saver, index):  # the same graph as the run's
        orch = runtime.orchestrator(saver, index=index)
        config = orch.config(record.thread_id, record.user_id)
        doc = await export_state(orch.graph, config, workspace=record.workspace, run_id=record.run_id)
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if args.output == "-":
        print(text)
    else:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    return 0


async def _import(args: argparse.Namespace) -> int:
    data = read_export(args.file)
    runtime = _runtime_of(args, str(data.get("workspace") or ""), "")
    values = data["values"]
    if args.as_copy:
        values["run_id"], values["session_id"] = new_id("run"), new_id("session")
    async with runtime.open_store_and_tools(args.db) as (saver, index):
        orch = runtime.orchestrator(saver, index=index)
        try:
            await index.get(values["run_id"])
        except UsageError:
            pass
        else:
            raise UsageError(f"run {values['run_id']!r} already exists here; use --as-copy to import it as a new run")
        config = orch.config(values["session_id"], values.get("user_id", ""), values["run_id"])
        await import_state(orch.graph, data, config)
        await index.add(
            values["run_id"], values["session_id"], runtime.workspace.name, values.get("task", ""),
            values.get("user_id", ""), str(runtime.workspace.root), status="finished" if values.get("done") else "running",
        )
    print(f"imported run {values['run_id']} into session {values['session_id']}; continue with: moot resume {values['run_id']}")
    return 0


def _runtime_of(args: argparse.Namespace, name: str, path: str) -> WorkspaceRunner:
    """The runtime of a recorded run's workspace: `-w` if given (it must be that workspace), else the recorded one."""
    if args.workspace:
        runtime = WorkspaceRunner.load(args.workspace, model_override=args.model)
        if name and runtime.workspace.name != name:
            raise UsageError(f"the run belongs to workspace {name!r}, but -w names {runtime.workspace.name!r}")
        return runtime
    if path and Path(path).is_dir():
        return WorkspaceRunner.load(path, model_override=args.model)
    if name in BUILTIN:
        return WorkspaceRunner.load(name, model_override=args.model)
    raise UsageError(f"the run belongs to workspace {name!r}{f' ({path})' if path else ''}, which is not here; pass -w FOLDER")


def _bus(args: argparse.Namespace) -> EventBus:
    bus = EventBus()
    handler: Any = JsonLines(sys.stdout) if getattr(args, "json", False) else LiveView()
    bus.add_handler(handler)
    return bus


def _require_db(path: str | None) -> None:
    from moot.persistence import resolve

    backend, target = resolve(path)
    if backend != "sqlite":
        return  # a server database: opening it says whether it is reachable
    db = Path(target)
    if not db.is_file():
        raise UsageError(f"no runs yet: {db} does not exist")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
