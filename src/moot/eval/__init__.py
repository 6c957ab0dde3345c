"""`moot eval`: run a task set against a workspace and measure what its deliberation decides.

Two arms do each task in a fresh sandbox: `moot` (the workspace as written) and `single` (one
agent with the same model, tools and token budget); probes and predicates written in the task set
judge every run from what the tools say happened. See `moot.eval.spec` for the task-set file.
"""

from moot.eval.moot_arm import Arm, MootArm
from moot.eval.predicates import PREDICATE_NAMES, day_reader
from moot.eval.records import ArmRun, PredicateResult, RunRecord
from moot.eval.report import as_json, summarize, wilson
from moot.eval.runner import ARMS, DEFAULT_TOKEN_BUDGET, EvalSettings, Evaluator, prepare
from moot.eval.sandbox import Sandbox, open_sandbox
from moot.eval.single import SingleArm
from moot.eval.taskset import Predicate, Task, TaskSet, ToolCall, load_taskset

__all__ = [
    "ARMS",
    "Arm",
    "ArmRun",
    "DEFAULT_TOKEN_BUDGET",
    "EvalSettings",
    "Evaluator",
    "MootArm",
    "PREDICATE_NAMES",
    "Predicate",
    "PredicateResult",
    "RunRecord",
    "Sandbox",
    "SingleArm",
    "Task",
    "TaskSet",
    "ToolCall",
    "as_json",
    "day_reader",
    "load_taskset",
    "open_sandbox",
    "prepare",
    "summarize",
    "wilson",
]
