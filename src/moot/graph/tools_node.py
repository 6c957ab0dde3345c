"""The tool node: executes the booking agent's tool-call intents through the ToolRuntime (design §5).

Intents are history entries of type `tool_call`; the n-th intent of a run has the idempotency
key `<run id>:<n>`. The node runs every intent that has no outcome yet, in order, and appends one
`tool_result` or `tool_error` entry per call to `history` — as the `tool_runtime` writer, whose
policy allows `history` only, so nothing a tool returns can move `stage`, `done`, `winner` or
`decision`. The ToolRuntime records each outcome in its ledger before returning; if the process
dies before LangGraph checkpoints this node's update, the resumed node finds the outcomes in the
ledger and the servers are not called again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from langgraph.config import get_config

from moot.errors import MootError, RunError
from moot.policy import TOOL_RUNTIME, WritePolicy
from moot.stages.router import TOOL_NODE
from moot.state import MootState
from moot.history import pending_intents
from moot.tools.types import ToolOutcome
from moot import telemetry
from moot.graph.events import node_emitter


class ToolCaller(Protocol):
    """What the node needs of a ToolRuntime."""

    async def call(self, tool: str, arguments: dict[str, Any], *, key: str, on_event: Any = None) -> ToolOutcome: ...


class ToolCallFailed(RunError):
    """A tool call failed and the workspace says tool errors end the run (`tool_errors: fail`)."""


def make_tool_node(
    caller: ToolCaller, *, policy: WritePolicy, on_error: Literal["continue", "fail"] = "continue"
) -> Any:
    """The LangGraph node that executes pending intents."""

    async def tools(state: MootState) -> dict[str, Any]:
        emit = node_emitter()
        stage = state.get("stage") or ""
        round_ = state.get("round") or 1
        # a run that a LangGraph server started (`langgraph dev` on langgraph.json) has no moot
        # first state: the server's own run id, in the run's config, keys its calls
        run_id = state.get("run_id") or get_config().get("configurable", {}).get("run_id")
        if not run_id:  # keys `<run id>:<n>` must never collide across runs: the ledger would answer one with another's
            raise RunError("the tool node needs the run's run_id to key its calls; start runs through the Orchestrator or a LangGraph server")

        def forward(event: Mapping[str, Any]) -> None:
            emit({**event, "stage": stage, "agent": TOOL_RUNTIME})

        entries = []
        failures = []
        for n, intent in pending_intents(state.get("history") or []):
            content = intent.get("content") or {}
            tool, key = str(content.get("tool")), f"{run_id}:{n}"
            try:
                with telemetry.in_stage(run_id, stage, round_):
                    outcome = await caller.call(tool, dict(content.get("arguments") or {}), key=key, on_event=forward)
            except MootError as exc:  # refused before sending (unknown tool, arguments off-schema)
                outcome = ToolOutcome(key=key, tool=tool, ok=False, error=str(exc), attempts=0)
                forward({"type": "tool_error", "data": {"tool": tool, "key": key, "attempt": 0, "error": str(exc), "transient": False}})
            if not outcome.ok:
                failures.append(f"{tool} ({key}): {outcome.error}")
            entries.append(
                {
                    "type": "tool_result" if outcome.ok else "tool_error",
                    "agent": TOOL_RUNTIME,
                    "stage": stage,
                    "round": round_,
                    "content": {**outcome.as_dict(), "call": n, "label": content.get("label"), "purpose": content.get("purpose", "act"), "arguments": dict(content.get("arguments") or {})},
                }
            )
        update = {"history": entries}
        policy.check(TOOL_RUNTIME, update, stage=stage)
        if failures and on_error == "fail":
            raise ToolCallFailed(f"tool call(s) failed in stage {stage!r}: {'; '.join(failures)}")
        return update

    return tools


__all__ = ["TOOL_NODE", "ToolCallFailed", "ToolCaller", "make_tool_node"]
