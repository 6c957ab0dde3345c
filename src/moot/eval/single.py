"""The `single` arm: one agent with the same model, tools and token budget as the moot, no deliberation.

What deliberation buys is only visible next to what one agent does alone with everything else the
same: the workspace's `default` model (or `--model`), every tool of the workspace's servers through
the same `ToolRuntime` (keys `<run id>:<n>`, schema checks, retries, ledger), the same budget.

It is a small LangGraph graph, `START → model ⇄ tools`, over a messages state. Each turn the
model (bound with `bind_tools(..., tool_choice="auto")`, schemas through `bounded` so a small
model closes its strings) either calls a tool or answers in text, which ends the run. A call the
ToolRuntime refuses (`ToolArgumentsError`, `UnknownToolError`: nothing was sent) is recorded and
its error goes back to the model as the tool's message, as a tool's own error answer does. The
run also ends before a model call once the budget (input + output tokens of `usage_metadata`) is
spent, or after `max_turns` (12) model turns. Before each call the conversation is fitted into
the model's window (`moot.eval.fitting`).

What predicates see of it (`moot.eval.predicates`):

- `state`: `{"task": task text, "started_at": ISO time the run started (also in the system
  message, as the moot's agents have it in their state), "messages": [messages as dicts]}`;
- `outcome`, with the keys of `Outcome.as_dict()`: `status` is "actions_failed" if any tool call
  failed or was refused, else "done" if the model ended with a text answer, else "undecided"
  (budget or turns ran out first); `headline` is the final text (or "no answer: ..." saying why
  there is none); `reasons` is `[final text]` or `[]`; `actions` every call made, as
  `{tool, arguments, ok, result | error, refused, key, label: None}`; `chosen` None, `excluded` [],
  `slots` {};
- `decision`, `slots`, `history`: empty; `tool_errors`: the failed and refused calls.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage, messages_to_dict
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime as GraphRuntime

from moot.agents.booking import bounded
from moot.errors import ConfigError, MootError
from moot.eval.fitting import Fitter
from moot.eval.records import ArmRun
from moot.eval.sandbox import Sandbox, Tools
from moot.run import new_id
from moot.tools.types import ToolSpec

MAX_TURNS = 12

SYSTEM = "\n".join(
    [
        "You complete the user's task on your own, with the tools listed.",
        "Call one tool at a time and read its result before the next call; use only ids and values the tools returned.",
        "When the task is done, or cannot be done, answer in plain text: what you did (with the ids of anything booked),"
        " or why it cannot be done. That answer ends the task.",
        "The current date and time is {started_at}.",
    ]
)


class SingleState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    calls: Annotated[list[dict[str, Any]], operator.add]
    prompt_tokens: Annotated[int, operator.add]
    completion_tokens: Annotated[int, operator.add]
    turns: Annotated[int, operator.add]
    stopped: str | None
    """Why the loop ended before the model answered in text (budget, turns)."""


@dataclass(frozen=True)
class SingleContext:
    """What one run's nodes need besides the state: that run's tools and id."""

    tools: Tools | None
    run_id: str


def openai_tool(spec: ToolSpec) -> dict[str, Any]:
    """An MCP tool as an OpenAI-style function, its strings bounded for a constrained model."""
    schema = spec.input_schema or {"type": "object", "properties": {}}
    function = {"name": spec.name, "description": spec.description or spec.name, "parameters": bounded(schema)}
    return {"type": "function", "function": function}


class SingleArm:
    """One agent in a model-and-tools loop; build once per eval, run once per task run."""

    name = "single"

    def __init__(
        self, model: BaseChatModel, tools: Sequence[ToolSpec], *, token_budget: int, max_turns: int = MAX_TURNS
    ) -> None:
        self.model = model
        self.token_budget = token_budget
        self.max_turns = max_turns
        self.fitter = Fitter(model)
        self.bound: Any = model
        if tools:
            try:
                self.bound = model.bind_tools([openai_tool(s) for s in tools], tool_choice="auto")
            except NotImplementedError:
                raise ConfigError(
                    f"the single arm needs a chat model that calls tools, and {type(model).__name__} does not "
                    f"(bind_tools is not implemented); evaluate with --arms moot, or use another model"
                ) from None
        self.graph = self._build()

    def _build(self) -> Any:
        graph = StateGraph(SingleState, context_schema=SingleContext)
        graph.add_node("model", self._model)
        graph.add_node("tools", self._tools)
        graph.add_edge(START, "model")
        graph.add_conditional_edges("model", _after_model, ["tools", END])
        graph.add_edge("tools", "model")
        return graph.compile(name="single")

    async def run(self, task: str, sandbox: Sandbox) -> ArmRun:
        run_id = new_id("single")
        started_at = datetime.now().astimezone().isoformat(timespec="seconds")
        start = {"messages": [SystemMessage(SYSTEM.format(started_at=started_at)), HumanMessage(task)]}
        final = await self.graph.ainvoke(
            start, {"recursion_limit": 2 * self.max_turns + 5}, context=SingleContext(sandbox.tools, run_id)
        )
        return read_single(final, task=task, started_at=started_at, run_id=run_id)

    async def _model(self, state: SingleState) -> dict[str, Any]:
        used = state.get("prompt_tokens", 0) + state.get("completion_tokens", 0)
        if used >= self.token_budget:
            return {"stopped": f"the token budget of {self.token_budget} was spent ({used} tokens)"}
        if state.get("turns", 0) >= self.max_turns:
            return {"stopped": f"the limit of {self.max_turns} model turns was reached"}
        prompt = self.fitter(state["messages"])
        reply = await self.bound.ainvoke(
            prompt, config={"metadata": {"moot_agent": "single", "moot_stage": "single"}, "tags": ["moot:single"]}
        )
        usage = reply.usage_metadata or {}
        return {
            "messages": [reply],
            "turns": 1,
            "prompt_tokens": int(usage.get("input_tokens") or 0),
            "completion_tokens": int(usage.get("output_tokens") or 0),
        }

    async def _tools(self, state: SingleState, runtime: GraphRuntime[SingleContext]) -> dict[str, Any]:
        ctx = runtime.context
        last = state["messages"][-1]
        done = len(state.get("calls") or [])
        messages: list[ToolMessage] = []
        calls: list[dict[str, Any]] = []
        for offset, call in enumerate(getattr(last, "tool_calls", None) or []):
            key = f"{ctx.run_id}:{done + offset}"
            record, text = await _call(ctx.tools, call["name"], dict(call.get("args") or {}), key)
            calls.append(record)
            status = "success" if record["ok"] else "error"
            messages.append(ToolMessage(content=text, tool_call_id=call.get("id") or key, name=call["name"], status=status))
        return {"messages": messages, "calls": calls}


def _after_model(state: SingleState) -> str:
    last = state["messages"][-1]
    if state.get("stopped") or not isinstance(last, AIMessage) or not last.tool_calls:
        return END
    return "tools"


async def _call(tools: Tools | None, name: str, arguments: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    """One tool call through the ToolRuntime: its record and the text the model reads back."""
    record: dict[str, Any] = {"tool": name, "arguments": arguments, "label": None, "key": key}
    if tools is None:
        record |= {"ok": False, "refused": True, "error": "the workspace has no MCP servers, so no tools"}
        return record, f"error: {record['error']}"
    try:
        outcome = await tools.call(name, arguments, key=key)
    except MootError as exc:  # refused before sending: unknown tool, arguments off the schema
        record |= {"ok": False, "refused": True, "error": str(exc)}
        return record, f"error: {exc}. Correct the call and try again."
    if not outcome.ok:
        record |= {"ok": False, "refused": False, "error": outcome.error}
        return record, f"error: {outcome.error}"
    record |= {"ok": True, "refused": False, "result": outcome.content}
    content = outcome.content
    return record, content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)


def read_single(final: dict[str, Any], *, task: str, started_at: str, run_id: str) -> ArmRun:
    """The `ArmRun` of a finished loop (see the module docstring for its outcome)."""
    messages = list(final.get("messages") or [])
    calls = list(final.get("calls") or [])
    last = messages[-1] if messages else None
    answered = isinstance(last, AIMessage) and not last.tool_calls and not final.get("stopped")
    text = last.text.strip() if answered and isinstance(last, AIMessage) else ""
    failed = tuple(c for c in calls if not c["ok"])
    status = "actions_failed" if failed else ("done" if text else "undecided")
    why = final.get("stopped") or ("the model's last turn was a tool call" if messages else "the model never answered")
    outcome: dict[str, Any] = {
        "status": status,
        "headline": text or f"no answer: {why}",
        "reasons": [text] if text else [],
        "chosen": None,
        "actions": calls,
        "excluded": [],
        "slots": {},
    }
    return ArmRun(
        state={"task": task, "started_at": started_at, "messages": messages_to_dict(messages)},
        outcome=outcome,
        prompt_tokens=int(final.get("prompt_tokens") or 0),
        completion_tokens=int(final.get("completion_tokens") or 0),
        tool_errors=failed,
        run_id=run_id,
    )


__all__ = ["MAX_TURNS", "SingleArm", "SingleContext", "SingleState", "openai_tool", "read_single"]
