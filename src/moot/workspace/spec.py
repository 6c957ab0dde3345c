"""The schemas of a workspace's files: `moot.yaml`, `agents/*.yaml`, `stages.yaml`, `policy.yaml`.

They validate shape and types (every error with file, line and column, via `yamlio.validate`); the
loader then checks what crosses files (stage → agent names, transition targets, policy writers).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from moot.agents.schemas import CANDIDATE_ID
from moot.state import STATE_KEYS
from moot.tools.types import ServerSpec
from moot.workspace.spec_decide import CallSpec, ConstraintSpec, GroundedSpec, SlotSpec

NAME = r"^[a-z][a-z0-9_]{0,47}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _known_key(key: str) -> str:
    if key not in STATE_KEYS:
        raise ValueError(f"unknown state key {key!r}; keys are {', '.join(STATE_KEYS)}")
    return key


StateKey = Annotated[str, AfterValidator(_known_key)]
"""A state key, checked item by item so that an error points at the offending list item."""


class ModelSpec(_Spec):
    """One chat model: `provider` (local, scripted, openai, anthropic, ollama) and its settings,
    checked by `moot.models.factory` when the model is made."""

    model_config = ConfigDict(extra="allow")
    provider: str = "local"


class LimitsSpec(_Spec):
    task_max_chars: int = Field(default=4000, ge=1)
    recursion_limit: int = Field(default=200, ge=10)
    token_budget: int | None = Field(default=None, ge=1)
    """Prompt plus completion tokens a run may spend; None: no budget."""


class PriceSpec(_Spec):
    """What a model costs per million tokens, in the table's currency (for run cost estimates)."""

    prompt_per_mtok: float = Field(ge=0)
    completion_per_mtok: float = Field(ge=0)


class MemorySpec(_Spec):
    """How agents use the process's MemoryManager, when the runtime has one."""

    budget: int = Field(default=300, ge=0, le=8000)
    """Tokens of recalled memory in each agent's prompt; 0 turns recall off."""


class LogsSpec(_Spec):
    """`logs:` in moot.yaml: the workspace's JSON-line logs under `$MOOT_HOME/logs/workspaces/<name>/`."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """Lines below this level are not written; DEBUG adds every state patch, summarised."""
    max_bytes: int = Field(default=5_000_000, ge=1024)
    """A log file is rotated (renamed to `<file>.1`) before it would grow past this size."""
    backups: int = Field(default=3, ge=1, le=100)
    """Rotated files kept per log (`.1` … `.N`); at least 1, or rotation could not bound the size."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class TracingSpec(_Spec):
    """`tracing:` in moot.yaml: OpenTelemetry for a process that runs this workspace from the CLI
    (`moot run`, `resume`, `approve`, `eval`). Each field is the default of a standard `OTEL_*`
    variable, so a variable the environment sets wins. `moot serve` and `moot worker` host many
    workspaces in one process, and OpenTelemetry has one provider per process: they trace as
    their own `OTEL_*` variables say."""

    exporter: Literal["otlp", "console", "none"] = "otlp"
    """`OTEL_TRACES_EXPORTER`: OTLP/HTTP to `endpoint`, lines on standard output, or none."""
    endpoint: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """`OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base address (`/v1/traces` is added)."""
    service_name: str | None = Field(default=None, min_length=1, max_length=100)
    """`OTEL_SERVICE_NAME` (default `moot`)."""
    sample_ratio: float | None = Field(default=None, ge=0, le=1)
    """Share of runs traced (`parentbased_traceidratio`); unset: every run."""
    capture_content: bool = False
    """Prompts and answers on `chat` spans (they carry users' tasks and memories)."""

    @model_validator(mode="after")
    def _somewhere(self) -> TracingSpec:
        if self.exporter == "otlp" and self.endpoint is None:
            raise ValueError("the otlp exporter needs `endpoint: http://HOST:4318` (or `exporter: console`)")
        return self

    def variables(self) -> dict[str, str]:
        """The `OTEL_*` variables this block stands for."""
        found = {"OTEL_TRACES_EXPORTER": self.exporter}
        if self.endpoint:
            found["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.endpoint
        if self.service_name:
            found["OTEL_SERVICE_NAME"] = self.service_name
        if self.sample_ratio is not None:
            found["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
            found["OTEL_TRACES_SAMPLER_ARG"] = repr(self.sample_ratio)
        if self.capture_content:
            found["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
        return found


class PolicySpec(_Spec):
    """`policy.yaml`: who may write each state key (design §2), over `moot.policy`'s defaults.

    Only the shape is checked here; which names are agents or system writers is checked by
    `WritePolicy.from_mapping`, the one place that knows them."""

    on_violation: Literal["fail", "skip"] = "fail"
    writers: dict[str, list[str]] = Field(default_factory=dict)
    memory_writers: list[str] = Field(default_factory=list)


class WorkspaceSpec(_Spec):
    """`moot.yaml`: name, models, limits and run settings of the workspace."""

    name: str = Field(pattern=NAME)
    description: str = ""
    models: dict[str, ModelSpec] = Field(default_factory=lambda: {"default": ModelSpec()})
    max_repairs: int = Field(default=2, ge=0, le=10)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    prices: dict[str, PriceSpec] = Field(default_factory=dict)
    """Price table keyed by `provider/model` or the bare model name."""
    mcp_servers: dict[str, ServerSpec] = Field(default_factory=dict)
    """MCP servers whose tools the booking agent may call (design §5)."""
    tool_errors: Literal["continue", "fail"] = "continue"
    memory: MemorySpec = Field(default_factory=MemorySpec)
    policy: PolicySpec | None = None
    """Who may write each state key; or a separate `policy.yaml` (not both)."""
    """What a failed tool call does to the run: record it in history and go on, or end the run."""
    logs: LogsSpec = Field(default_factory=LogsSpec)
    """Level and rotation of the workspace's logs (see `moot.logs`)."""
    constraints: list[ConstraintSpec] = Field(default_factory=list)
    """Hard constraints over a candidate's facts and the slots (design §3b): an infeasible
    candidate is excluded, with its reason, before anyone scores it."""
    tracing: TracingSpec | None = None
    """OpenTelemetry for the CLI's runs of this workspace (see TracingSpec)."""


class AgentSpec(_Spec):
    """`agents/<name>.yaml`: a declarative `SkillAgent`."""

    name: str = Field(pattern=NAME)
    kind: Literal["note", "intake", "scout", "proposer", "evaluator", "measure", "synthesizer", "booking"] = "note"
    description: str = ""
    prompt: str = Field(min_length=1)
    reads: list[StateKey] = Field(default_factory=lambda: ["task", "history"])
    writes: list[StateKey] = Field(default_factory=lambda: ["history"])
    dimensions: list[str] = Field(default_factory=list)
    exit: Any = "once_per_stage"
    model: str = "default"
    tools: list[dict[str, Any] | str] = Field(default_factory=list)
    max_candidates: int = Field(default=3, ge=1, le=8)
    candidates: list[Annotated[str, Field(pattern=CANDIDATE_ID)]] | None = Field(default=None, min_length=1, max_length=8)
    """A proposer's fixed options (e.g. the verdicts approve, request-changes, reject): its
    candidate ids must be among them."""
    next_stages: dict[Annotated[str, Field(pattern=NAME)], str] | None = Field(default=None, min_length=1, max_length=8)
    """A synthesizer's `next_stage` choices, name → what it means (default: booking, final,
    proposal); stage transitions test them, e.g. `decision.get('next_stage') == 'revise'`."""
    output: dict[str, Any] | None = None
    """A `note` agent's answer as a JSON Schema (an object); recorded as the note's content."""
    slots: dict[Annotated[str, Field(pattern=NAME)], SlotSpec] | None = None
    """An intake's slots, read from the task in this order (the required place first)."""
    calls: dict[Annotated[str, Field(pattern=NAME)], CallSpec] | None = None
    """A scout's searches, by label; their results land in history, labelled."""
    grounded: GroundedSpec | None = None
    """A proposer whose candidates are bundles of offers the scout's searches returned."""
    scores: dict[str, str] | None = None
    """A measuring agent's scores per dimension, `=expressions` over a candidate's facts, 0 to 1."""
    actions: list[CallSpec] | None = None
    """A booking agent's calls, derived from the winning candidate (no model call)."""
    bind: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")], list[str]] | None = None
    """A model-driven booking agent: `tool.argument` → tools whose results' ids it must choose from."""

    @field_validator("output")
    @classmethod
    def _json_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        from jsonschema import Draft202012Validator, SchemaError

        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        if value.get("type") != "object":
            raise ValueError("the output schema must describe an object (type: object)")
        return value

    @model_validator(mode="after")
    def _options_of_the_kind(self) -> AgentSpec:
        if self.output is not None and self.kind != "note":
            raise ValueError(f"'output' is for kind 'note'; kind {self.kind!r} answers its built-in schema")
        if self.candidates is not None and self.kind != "proposer":
            raise ValueError(f"'candidates' is for kind 'proposer', not {self.kind!r}")
        if self.next_stages is not None and self.kind != "synthesizer":
            raise ValueError(f"'next_stages' is for kind 'synthesizer', not {self.kind!r}")
        for option, kinds in (("slots", {"intake"}), ("calls", {"scout"}), ("grounded", {"proposer"}),
                              ("scores", {"measure"}), ("actions", {"booking"}), ("bind", {"booking"})):
            if getattr(self, option) is not None and self.kind not in kinds:
                raise ValueError(f"'{option}' is for kind {' or '.join(sorted(kinds))}, not {self.kind!r}")
        clash = sorted(set(self.slots or ()) & {"problems", "defaulted"})
        if clash:
            raise ValueError(f"slot name(s) {clash} are reserved: the intake lists what it could not read and what took a default there")
        for option, kind in (("slots", "intake"), ("calls", "scout"), ("scores", "measure")):
            if self.kind == kind and not getattr(self, option):
                raise ValueError(f"an agent of kind {kind!r} needs '{option}'")
        if self.candidates is not None and len(self.candidates) > self.max_candidates:
            raise ValueError(f"{len(self.candidates)} candidates but max_candidates is {self.max_candidates}; raise it")
        return self


class TransitionSpec(_Spec):
    to: str
    when: str | None = None


class StageSpec(_Spec):
    agents: list[str | list[str]] = Field(default_factory=list)
    mode: Literal["sequential", "parallel"] = "sequential"
    weights: dict[str, float] = Field(default_factory=dict)
    should_exit: str | None = None
    transitions: list[TransitionSpec] = Field(default_factory=list)
    terminal: bool = False
    approval: bool = False
    """Ask a human to approve, edit or reject the decision before this stage runs (issue 6)."""


class StagesSpec(_Spec):
    """`stages.yaml`: the stage machine."""

    initial: str = "init"
    max_rounds: int = Field(default=2, ge=1, le=20)
    stages: dict[str, StageSpec]


__all__ = ["AgentSpec", "LimitsSpec", "LogsSpec", "ModelSpec", "PolicySpec", "PriceSpec", "StageSpec", "StagesSpec", "TransitionSpec", "WorkspaceSpec"]
