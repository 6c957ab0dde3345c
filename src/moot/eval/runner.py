"""Run a task set against a workspace, arm by arm, each run in its own sandbox, and judge each run.

One task run is, in order: a fresh sandbox (`moot.eval.sandbox`); the task's `setup` calls on
its servers; the arm's run, bounded by the timeout; the probes, on the same servers; every
predicate over what the run left (`moot.eval.predicates`). A run that times out, raises, or
whose setup or probe fails is a failed task with that reason, never a crashed eval: an eval of
forty runs on a small local model takes an hour, and one bad run must not throw the others away.

`prepare` does everything that can fail before the first run: it loads the task set against the
workspace's name and its servers' tools (opened once in a throwaway sandbox) and binds the single
arm's model to those tools, so a typo or a model without tool calls costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel

from moot.errors import UsageError
from moot.eval.moot_arm import Arm, MootArm
from moot.eval.predicates import DayReader, check, day_reader, resolve, run_names
from moot.eval.records import ArmRun, RunRecord
from moot.eval.sandbox import NoTools, Sandbox, open_sandbox
from moot.eval.single import SingleArm
from moot.eval.taskset import Task, TaskSet, ToolCall, load_taskset
from moot.run import check_task
from moot.tools.types import ToolSpec
from moot.workspace.runner import WorkspaceRunner

ARMS = ("moot", "single")
DEFAULT_TOKEN_BUDGET = 12_000
"""The budget of both arms when neither `--token-budget` nor the workspace's `limits.token_budget` gives one."""


@dataclass(frozen=True)
class EvalSettings:
    arms: tuple[str, ...] = ARMS
    repeat: int = 1
    timeout_s: float = 600.0
    token_budget: int | None = None
    """None: the workspace's `limits.token_budget`, else `DEFAULT_TOKEN_BUDGET`."""
    select: str | None = None
    """`-k`: only the tasks whose id contains this."""

    def __post_init__(self) -> None:
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown or not self.arms:
            raise UsageError(f"--arms {','.join(self.arms)}: the arms are {', '.join(ARMS)} (comma-separated)")
        if self.repeat < 1:
            raise UsageError(f"--repeat {self.repeat}: run each task at least once")
        if self.timeout_s <= 0:
            raise UsageError(f"--timeout {self.timeout_s:g}: give a number of seconds above 0")
        if self.token_budget is not None and self.token_budget < 1:
            raise UsageError(f"--token-budget {self.token_budget}: give a number of tokens above 0")


class RecordSink(Protocol):
    """Told of each run as soon as it is judged (the CLI's progress bar)."""

    def __call__(self, record: RunRecord, /) -> None: ...


def with_token_budget(runtime: WorkspaceRunner, budget: int) -> WorkspaceRunner:
    """The same runtime (same models, loaded once) whose runs stop at `budget` tokens."""
    ws = runtime.workspace
    spec = ws.spec.model_copy(update={"limits": ws.spec.limits.model_copy(update={"token_budget": budget})})
    return WorkspaceRunner(replace(ws, spec=spec), runtime.models, runtime.memory)


async def prepare(runtime: WorkspaceRunner, tasks: str | Path, settings: EvalSettings | None = None) -> Evaluator:
    """An `Evaluator`, or `WorkspaceInvalid` listing every problem of the task set (nothing has run)."""
    settings = settings or EvalSettings()
    budget = settings.token_budget or runtime.workspace.spec.limits.token_budget or DEFAULT_TOKEN_BUDGET
    runtime = with_token_budget(runtime, budget)
    async with open_sandbox(runtime) as box:
        specs = box.tools.tools() if box.tools is not None else []
        taskset = load_taskset(
            tasks,
            workspace=runtime.workspace.name,
            tools=box.tools if box.tools is not None else NoTools(),
            check_task=lambda text: check_task(text, runtime.workspace.spec.limits.task_max_chars),
        )
    return Evaluator(runtime, taskset.select(settings.select), settings, specs, budget)


class Evaluator:
    """Runs a loaded task set; build it with `prepare`."""

    def __init__(
        self, runtime: WorkspaceRunner, taskset: TaskSet, settings: EvalSettings, tools: Sequence[ToolSpec], token_budget: int
    ) -> None:
        self.runtime = runtime
        self.taskset = taskset
        self.settings = settings
        self.token_budget = token_budget
        self.arms: dict[str, Arm] = {}
        if "moot" in settings.arms:
            self.arms["moot"] = MootArm(runtime)
        if "single" in settings.arms:
            self.arms["single"] = SingleArm(default_model(runtime), tools, token_budget=token_budget)

    def plan(self) -> list[tuple[Task, int, str]]:
        """Every run, in order: per task, per repeat, each arm (so drift hits both arms alike)."""
        return [(t, r, arm) for t in self.taskset.tasks for r in range(self.settings.repeat) for arm in self.arms]

    async def run(self, on_record: RecordSink | None = None) -> list[RunRecord]:
        records = []
        for task, repeat, arm in self.plan():
            record = await self.run_one(task, repeat, self.arms[arm])
            records.append(record)
            if on_record is not None:
                on_record(record)
        return records

    async def run_one(self, task: Task, repeat: int, arm: Arm) -> RunRecord:
        """One task run of one arm in a fresh sandbox, judged."""
        record = RunRecord(task.id, arm.name, repeat, task.feasible, seconds=0.0)
        async with open_sandbox(self.runtime) as box:
            failed = await self._setup(task, box)
            if failed is not None:
                return replace(record, error=f"setup: {failed}")
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    run = await arm.run(task.task, box)
            except TimeoutError:
                return replace(record, seconds=time.perf_counter() - started, error="timeout")
            except Exception as exc:  # a run that raises is a failed task, not a failed eval
                return replace(record, seconds=time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")
            record = replace(
                record,
                seconds=time.perf_counter() - started,
                prompt_tokens=run.prompt_tokens,
                completion_tokens=run.completion_tokens,
                refused_calls=run.refused_calls,
                outcome=run.outcome,
                run_id=run.run_id,
            )
            if run.error is not None:
                return replace(record, error=run.error)
            probes, failed = await self._probes(task, box, run)
        if failed is not None:
            return replace(record, probes=probes, error=f"probe {failed}")
        names = run_names(run, task=task.task, task_vars=task.vars, probes=probes)
        day = day_reader(run.state.get("started_at"))
        results = tuple(check(p.group, p.expression, names, day) for p in task.predicates)
        return replace(record, predicates=results, probes=probes)

    async def _setup(self, task: Task, box: Sandbox) -> str | None:
        """Make the task's setup calls; what went wrong, or None."""
        day = day_reader(None)  # the run has not started: "next friday" is from now
        names = {"vars": dict(task.vars), "task": task.task}
        for n, call in enumerate(task.setup):
            ok, value = await _call(box, call, names, day, key=f"eval-setup:{n}")
            if not ok:
                return f"{call.tool} ({call.where}): {value}"
        return None

    async def _probes(self, task: Task, box: Sandbox, run: ArmRun) -> tuple[dict[str, Any], str | None]:
        """Every probe's result after the run, and the first that failed ("name (where): error")."""
        day = day_reader(run.state.get("started_at"))
        names = {"vars": dict(task.vars), "task": task.task}
        found: dict[str, Any] = {}
        for name, call in self.taskset.probes.items():
            ok, value = await _call(box, call, names, day, key=f"eval-probe:{name}")
            if not ok:
                return found, f"{name!r} ({call.where}): {value}"
            found[name] = value
        return found, None


async def _call(box: Sandbox, call: ToolCall, names: Mapping[str, Any], day: DayReader, *, key: str) -> tuple[bool, Any]:
    """A setup or probe call on the sandbox's servers: (True, its result) or (False, why not)."""
    if box.tools is None:
        return False, "the workspace has no MCP servers"
    try:
        arguments = resolve(dict(call.arguments), names, day)
        outcome = await box.tools.call(call.tool, arguments, key=key)
    except Exception as exc:  # an `=` argument that raised, or arguments the tool refused
        return False, f"{type(exc).__name__}: {exc}"
    return (True, outcome.content) if outcome.ok else (False, outcome.error)


def default_model(runtime: WorkspaceRunner) -> BaseChatModel:
    """The model the single arm uses: the workspace's `default` (every model under `--model`)."""
    models = runtime.models
    if "default" in models:
        return models["default"]
    if models:
        return next(iter(models.values()))
    raise UsageError(f"workspace {runtime.workspace.name!r} has no models: the single arm needs one (models: in moot.yaml)")


__all__ = ["ARMS", "DEFAULT_TOKEN_BUDGET", "EvalSettings", "Evaluator", "RecordSink", "default_model", "prepare", "with_token_budget"]
