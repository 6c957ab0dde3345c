"""`moot eval WORKSPACE [TASKS.yaml]`: what deliberation buys, measured on your own model.

Without TASKS, the task set the workspace ships in `eval/tasks.yaml` (the built-in demo,
code_review and research each ship one).

Each task runs in a fresh sandbox, `--repeat` times, on each arm (`moot`: the workspace as
written; `single`: one agent with the same model, tools and token budget), and is judged by the
task set's predicates. A progress bar runs on stderr; the report (a table per arm, then the arms
side by side) goes to stdout, and `--json PATH` writes every run and the summary.

Exit codes: 0 when the eval ran, whatever its success rate (a low score is a result, not an
error); 2 for a bad task set, workspace or flag, with every problem listed and nothing run;
1 when the eval itself failed (the JSON could not be written, a model that cannot be reached).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from moot.cli.tracing import trace_workspace
from moot.errors import UsageError
from moot.eval.records import RunRecord
from moot.eval.report import as_json
from moot.eval.runner import ARMS, EvalSettings, prepare
from moot.workspace.runner import WorkspaceRunner
from moot.workspace.loader import resolve


def add_eval_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="run a task set against a workspace: deliberation vs a single agent")
    p.add_argument("workspace", help="built-in name (demo) or workspace folder")
    p.add_argument(
        "tasks", nargs="?", default=None,
        help="the task set (YAML): probes, checks and tasks (default: the workspace's eval/tasks.yaml)",
    )
    p.add_argument("--model", default=None, help="override every model, as in `moot run --model`")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="run each task N times (default 1)")
    p.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated arms to run (default {','.join(ARMS)})")
    p.add_argument("--json", default=None, metavar="PATH", help="write every run and the summary as JSON")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="seconds per task run; over it the task fails (default 600)")
    p.add_argument(
        "--token-budget", type=int, default=None, metavar="N",
        help="tokens per task run, both arms (default: the workspace's limits.token_budget, else 12000)",
    )
    p.add_argument("-k", dest="select", default=None, metavar="SUBSTR", help="only the tasks whose id contains SUBSTR")


def run_eval(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `moot eval`; usage and task-set errors are raised for `main` to report (exit 2)."""
    settings = EvalSettings(
        arms=tuple(a.strip() for a in args.arms.split(",") if a.strip()),
        repeat=args.repeat,
        timeout_s=args.timeout,
        token_budget=args.token_budget,
        select=args.select,
    )
    if args.tasks is None:
        args.tasks = str(resolve(args.workspace) / "eval" / "tasks.yaml")
        if not Path(args.tasks).is_file():
            raise UsageError(f"workspace {args.workspace!r} ships no task set ({args.tasks}); give one: moot eval WORKSPACE TASKS.yaml")
    if not Path(args.tasks).is_file():
        raise UsageError(f"{args.tasks}: no such task set file")
    if args.json and not Path(args.json).parent.is_dir():  # found out now, not after an hour of runs
        raise UsageError(f"--json {args.json}: the folder {Path(args.json).parent} does not exist")
    console = Console(file=out) if out is not None else Console()
    records = asyncio.run(_eval(args, settings))
    report(records, console)
    if args.json:
        try:
            text = json.dumps(as_json(records), indent=2, ensure_ascii=False, default=str)
            Path(args.json).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"moot: eval ran, but its JSON could not be written: {exc}", file=sys.stderr)
            return 1
    return 0


async def _eval(args: argparse.Namespace, settings: EvalSettings) -> list[RunRecord]:
    runtime = WorkspaceRunner.load(args.workspace, model_override=args.model)
    trace_workspace("eval", runtime.workspace.spec)
    evaluator = await prepare(runtime, args.tasks, settings)
    plan = evaluator.plan()
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"), console=Console(stderr=True), transient=True,
    )
    with progress:
        bar = progress.add_task(f"eval {runtime.workspace.name}", total=len(plan), last="")

        def advance(record: RunRecord) -> None:
            line = f"{record.task_id} ({record.arm}): {'ok' if record.ok else 'FAIL'}"
            progress.update(bar, advance=1, last=line)
            if not progress.console.is_terminal:  # a log file gets one line per run instead of a bar
                done = int(progress.tasks[0].completed)
                progress.console.print(f"[{done}/{len(plan)}] {line} in {record.seconds:.1f} s")

        return await evaluator.run(on_record=advance)


def report(records: Sequence[RunRecord], console: Console) -> None:
    """A table of runs per arm, then the arms side by side."""
    summary = as_json(records)["summary"]
    for arm, numbers in summary.items():
        table = Table(title=f"arm {arm}: {_rate(numbers)}", title_justify="left")
        for column in ("task", "arm", "result", "s", "tokens", "failed check", "outcome"):
            table.add_column(column, overflow="fold")
        for r in (r for r in records if r.arm == arm):
            name = r.task_id if r.repeat == 0 else f"{r.task_id} #{r.repeat + 1}"
            result = "[green]ok[/]" if r.ok else "[red]FAIL[/]"
            failed = "" if r.ok else _short(r.first_failure or "")
            table.add_row(name, arm, result, f"{r.seconds:.1f}", str(r.tokens), failed, "" if r.ok else r.headline)
        console.print(table)
    console.print(_comparison(summary))


def _comparison(summary: Mapping[str, Mapping[str, Any]]) -> Table:
    """Metrics down, arms across: it stays readable in a narrow terminal."""
    table = Table(title="arms side by side (per task run)", title_justify="left")
    table.add_column("")
    for arm in summary:
        table.add_column(arm)
    rows: list[tuple[str, Any]] = [
        ("success (95% CI)", _rate),
        ("feasible tasks", lambda n: _rate(n["feasible"])),
        ("infeasible tasks", lambda n: _rate(n["infeasible"])),
        ("failed runs (error, timeout)", lambda n: str(n["failed_runs"])),
        ("seconds, mean / median", lambda n: f"{_num(n['seconds']['mean'])} / {_num(n['seconds']['median'])}"),
        ("tokens, prompt / completion", lambda n: f"{n['tokens']['prompt_mean']:.0f} / {n['tokens']['completion_mean']:.0f}"),
        ("runs without a refused call", lambda n: "-" if n["no_refused_calls"] is None else f"{n['no_refused_calls']:.0%}"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(n) for n in summary.values()))
    return table


def _short(text: str) -> str:
    """`len(x) >= 1 (/long/path/tasks.yaml:9:7)` → `len(x) >= 1 (tasks.yaml:9:7)`."""
    return re.sub(r"[^\s(]*[/\\]([^/\\\s]+:\d+:\d+)", r"\1", text)


def _rate(numbers: Mapping[str, Any]) -> str:
    """`3/4 = 75% [30%, 95%]`, or `-` for no runs."""
    if not numbers["runs"]:
        return "-"
    low, high = numbers["ci95"]
    return f"{numbers['ok']}/{numbers['runs']} = {numbers['success_rate']:.0%} [{low:.0%}, {high:.0%}]"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


__all__ = ["add_eval_parser", "report", "run_eval"]
