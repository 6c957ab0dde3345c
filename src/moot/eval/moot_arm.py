"""The `moot` arm: the workspace as written, one deliberation per task run.

It runs exactly what `moot run` runs (the runtime's orchestrator on the sandbox's store and
tools) and reads the result the way the CLI and the service do: `outcome_of` the final state,
tokens through `moot.accounting`. A run that raises, or pauses for a human's approval (an eval
cannot answer one), is returned with its `error` and the state last checkpointed, so a run
stopped by the token budget still shows what it spent and what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from langchain_core.runnables import RunnableConfig

from moot.accounting import summarize
from moot.eval.records import ArmRun
from moot.eval.sandbox import Sandbox
from moot.history import tool_outcomes
from moot.orchestrator import Orchestrator, new_id
from moot.outcome import outcome_of
from moot.workspace.runner import WorkspaceRunner


class Arm(Protocol):
    """One way of doing a task: `name` in reports, `run` on a fresh sandbox."""

    name: str

    async def run(self, task: str, sandbox: Sandbox) -> ArmRun: ...


class MootArm:
    """Deliberation: the workspace's agents, stages and policy."""

    name = "moot"

    def __init__(self, runtime: WorkspaceRunner) -> None:
        self.runtime = runtime

    async def run(self, task: str, sandbox: Sandbox) -> ArmRun:
        orch = self.runtime.orchestrator(sandbox.saver, index=sandbox.index)
        run_id, session_id = new_id("run"), new_id("session")
        try:
            result = await orch.run(task, run_id=run_id, session_id=session_id)
        except Exception as exc:  # the task failed; what the run did before is still read below
            return read_run(await _checkpointed(orch, session_id), run_id, error=f"{type(exc).__name__}: {exc}")
        error = None
        if result.status == "awaiting_approval":
            stage = (result.pending or {}).get("stage")
            error = f"the run paused for approval before stage {stage!r}; an eval cannot answer approvals (remove approval: true)"
        return read_run(result.state, run_id, error=error)


def read_run(state: Mapping[str, Any], run_id: str, *, error: str | None = None) -> ArmRun:
    """An `ArmRun` from a moot run's state (final, or the last checkpoint of a failed run)."""
    total = summarize(state.get("usage"))["total"]
    failed = tuple(o for o in tool_outcomes(list(state.get("history") or [])) if not o.get("ok"))
    return ArmRun(
        state=dict(state),
        outcome=outcome_of(state).as_dict(),
        prompt_tokens=int(total["prompt_tokens"]),
        completion_tokens=int(total["completion_tokens"]),
        tool_errors=failed,
        run_id=run_id,
        error=error,
    )


async def _checkpointed(orch: Orchestrator, session_id: str) -> dict[str, Any]:
    """The last checkpointed state of a session's thread ({} if there is none)."""
    try:
        snapshot = await orch.graph.aget_state(cast(RunnableConfig, orch.config(session_id)))
    except Exception:  # reading what a broken run left is best effort: the error is reported anyway
        return {}
    return dict(snapshot.values or {})


__all__ = ["Arm", "MootArm", "read_run"]
