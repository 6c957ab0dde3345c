"""A LangGraph run request as `langgraph_sdk` sends it, and what moot makes of it.

The body follows the client's source (`langgraph_sdk/_async/runs.py` builds it), not only the
agent-protocol spec: every field the SDK may send is accepted, so a client never meets a 422 for
a field it did not choose. What moot cannot honour is refused by name (422) instead of ignored:
`interrupt_before` / `interrupt_after` (moot pauses where a workspace's stage asks for approval),
`command.goto`, `command.update`, and the stream modes it does not serve.

The run's input is `{"task": "..."}` or a chat: `{"messages": [...]}`, whose last human message
is the task (so chat UIs work unchanged).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from moot.service.langgraph_api.errors import LangGraphError

SUPPORTED_MODES = ("values", "updates", "custom", "messages-tuple", "events", "debug")
"""The stream modes moot serves, in the order a 422 names them."""

_ALIASES = {"messages": "messages-tuple"}
"""`messages` is served as `messages-tuple`: moot's agents answer whole, so there are no partials."""


class RunCommand(BaseModel):
    """LangGraph's `Command`: moot answers `resume` (its approval); `update` and `goto` are refused."""

    model_config = ConfigDict(extra="forbid")
    resume: Any = None
    update: Any = None
    goto: Any = None


class LangGraphRunCreate(BaseModel):
    """`POST /threads/{id}/runs[/stream|/wait]` and `POST /runs[/stream|/wait]`."""

    model_config = ConfigDict(extra="ignore")
    assistant_id: str | None = Field(default=None, max_length=200)
    input: dict[str, Any] | None = None
    command: RunCommand | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = Field(default=None, max_length=200)
    checkpoint_during: bool | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    feedback_keys: list[str] | None = None
    webhook: str | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "reject"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: float | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    strict_resume: bool | None = None
    langsmith_tracer: dict[str, Any] | None = None

    def modes(self) -> tuple[str, ...]:
        """The requested stream modes, or a 422 naming the supported ones."""
        return stream_modes(self.stream_mode)

    def checkpoint_to_fork(self) -> str | None:
        """The checkpoint the run forks from (`checkpoint_id`, or `checkpoint.checkpoint_id`)."""
        if self.checkpoint_id:
            return self.checkpoint_id
        found = (self.checkpoint or {}).get("checkpoint_id")
        return str(found) if found else None

    def refuse_unsupported(self) -> None:
        """422 for what moot cannot do, before anything is written."""
        for name in ("interrupt_before", "interrupt_after"):
            if getattr(self, name):
                raise LangGraphError(
                    422,
                    f"{name} is not supported: moot pauses a run where its workspace asks for approval "
                    "(`approval: true` on a stage in stages.yaml); omit it",
                )
        if self.command is not None:
            # RemoteGraph sends `asdict(Command(resume=...))`: an empty `goto` ([]) is no goto
            if self.command.goto not in (None, []) or self.command.update is not None:
                raise LangGraphError(
                    422,
                    "command.goto and command.update are not supported: moot's stage router decides the next "
                    "step; answer an approval with command.resume, or update the thread's state first",
                )
            if self.command.resume is None:
                raise LangGraphError(422, "command needs resume (moot's approval answer)")
            if self.input is not None:
                raise LangGraphError(422, "send either input or command, not both")
        if self.after_seconds:
            raise LangGraphError(422, "after_seconds is not supported: moot starts a run when it is queued")
        if self.multitask_strategy == "enqueue":
            raise LangGraphError(422, "multitask_strategy 'enqueue' is not supported: moot runs one run per thread at a time")
        self.modes()


def stream_modes(value: str | list[str] | None) -> tuple[str, ...]:
    """Requested modes, deduplicated in order (aliases resolved); 422 names the supported ones."""
    raw = [m for m in ([value] if isinstance(value, str) else list(value or [])) if m] or ["values"]
    out: list[str] = []
    for mode in raw:
        name = _ALIASES.get(mode, mode)
        if name not in SUPPORTED_MODES:
            raise LangGraphError(
                422, f"stream mode {mode!r} is not supported; moot serves: {', '.join(SUPPORTED_MODES)} (and 'messages' as 'messages-tuple')"
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def task_of(run_input: dict[str, Any] | None) -> str:
    """The task of a run's input: `input.task`, or the last human message's content."""
    if not run_input:
        raise LangGraphError(422, "the run needs input: {\"task\": \"...\"} or {\"messages\": [...]} (or a command to resume)")
    task = run_input.get("task")
    if isinstance(task, str):
        return task
    messages = run_input.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if _is_human(message):
                return _text(message.get("content"))
        raise LangGraphError(422, "input.messages has no human message to take the task from")
    raise LangGraphError(422, "input needs 'task' (a string) or 'messages' (a chat whose last human message is the task)")


def _is_human(message: Any) -> bool:
    return isinstance(message, dict) and (message.get("type") or message.get("role")) in ("human", "user")


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


__all__ = ["SUPPORTED_MODES", "LangGraphRunCreate", "RunCommand", "stream_modes", "task_of"]
