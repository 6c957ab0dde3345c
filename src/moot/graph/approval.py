"""Human approval before a stage: LangGraph's own `interrupt`, asked by the stage router.

A stage marked `approval: true` in `stages.yaml` (typically `booking`) pauses the run when the
router enters it: the run's checkpoint holds the pending interrupt, nothing of the stage has
run, and the process may exit. The run resumes with `Command(resume=...)` carrying one of:

- `{"action": "approve"}`: the stage runs on the synthesizer's decision;
- `{"action": "edit", "decision": {...}}`: the human's decision replaces the synthesizer's
  (the human is a writer like any other: the workspace's policy must let `human` write
  `decision`; it does by default);
- `{"action": "reject", "reason": "..."}`: the run ends without running the stage.

Each answer is recorded in `history` as an `approval` entry by `human`, so an exported run says
who decided what. Because a resumed node runs again from its start, everything before the
`interrupt()` call is a pure function of the state (the router's `advance`): the second pass
computes the same writes, and `interrupt` then returns the answer instead of pausing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, Field, ValidationError, model_validator

from moot.errors import PolicyViolation, UsageError
from moot.policy import HUMAN, WritePolicy

APPROVAL = "approval"
"""The history entry type of a human's answer."""


class ApprovalAnswer(BaseModel):
    """What a human answers to an approval request."""

    action: Literal["approve", "edit", "reject"]
    decision: dict[str, Any] | None = Field(default=None, description="The edited decision (action 'edit').")
    reason: str = Field(default="", max_length=2000, description="Why; recorded in the run's history.")

    @model_validator(mode="after")
    def _decision_for_edit(self) -> ApprovalAnswer:
        if self.action == "edit" and not self.decision:
            raise ValueError("an 'edit' answer needs the edited 'decision'")
        if self.action != "edit" and self.decision is not None:
            raise ValueError(f"only an 'edit' answer carries a 'decision' (this one is {self.action!r})")
        return self


def parse_answer(value: Any) -> ApprovalAnswer:
    """The answer as sent by a client or a resume command, or a `UsageError` saying what is wrong."""
    if isinstance(value, ApprovalAnswer):
        return value
    try:
        return ApprovalAnswer.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
        raise UsageError(f"invalid approval answer ({where}): {first.get('msg')}") from None


def check_answer(answer: ApprovalAnswer, policy: WritePolicy) -> None:
    """Refuse an edit the workspace's policy does not allow, before the run is resumed."""
    if answer.action == "edit" and not policy.may_write(HUMAN, "decision"):
        raise PolicyViolation(HUMAN, "decision", policy.allowed("decision"))


def request(stage: str, state: Mapping[str, Any], updates: dict[str, Any], policy: WritePolicy) -> dict[str, Any]:
    """Pause for a human's answer about entering `stage`; return the router's writes after it."""
    decision = updates.get("decision", state.get("decision"))
    answer = parse_answer(
        interrupt({"kind": APPROVAL, "stage": stage, "decision": decision, "winner": state.get("winner"), "round": state.get("round")})
    )
    check_answer(answer, policy)
    entry: dict[str, Any] = {
        "type": APPROVAL,
        "agent": HUMAN,
        "stage": stage,
        "round": updates.get("round", state.get("round") or 1),
        "content": {"action": answer.action, "reason": answer.reason},
    }
    out = dict(updates)
    if answer.action == "edit":
        entry["content"]["decision"] = answer.decision
        out["decision"] = answer.decision
    elif answer.action == "reject":
        out["done"] = True
    out["history"] = [entry]
    return out


__all__ = ["APPROVAL", "ApprovalAnswer", "check_answer", "parse_answer", "request"]
