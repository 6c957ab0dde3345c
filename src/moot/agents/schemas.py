"""Output schemas of the built-in roles, built per agent from its scoring dimensions.

Schemas are made at workspace load (`create_model`) so each agent's schema names exactly its
own dimensions, and candidate ids can be constrained to the ids already proposed (an `enum` in
the JSON schema sent to the model, checked again on validation). Strings carry `max_length`:
a constrained small model then cannot ramble past the context window.
"""

from __future__ import annotations

from typing import Any, Literal

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationInfo, create_model, field_validator, model_validator

Score = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _known_candidate(value: str, info: ValidationInfo) -> str:
    known = (info.context or {}).get("candidates")
    if known and value not in known:
        raise ValueError(f"unknown candidate {value!r}; candidates are {', '.join(known)}")
    return value


SCORE_STEPS = [round(i / 10, 1) for i in range(11)]
"""The scores a model is offered (0, 0.1, …, 1). Grammar-constrained decoders (llama.cpp's, and
OpenAI's strict mode) honour `enum` but not `minimum`/`maximum` on numbers; validation still
accepts any score in [0, 1], so recorded and hand-written answers need not be on the grid."""


def _score_fields(dimensions: tuple[str, ...]) -> dict[str, Any]:
    return {
        dim: (float, Field(ge=0.0, le=1.0, description=f"{dim} from 0 to 1", json_schema_extra={"enum": SCORE_STEPS}))
        for dim in dimensions
    }


CANDIDATE_ID = r"^[a-z][a-z0-9-]{0,23}$"


def proposal_schema(
    dimensions: tuple[str, ...], *, max_candidates: int = 3, ids: tuple[str, ...] = ()
) -> type[BaseModel]:
    """A proposer's answer: up to `max_candidates` candidates, each scored on `dimensions`.

    With `ids` (a workspace's fixed options, e.g. the verdicts of a review), a candidate id must
    be one of them: the constraint and the validation both say so, so even a small model cannot
    invent a new option.
    """
    id_field: Any = (
        (Literal[ids], Field(description="one of the fixed options"))  # type: ignore[valid-type]
        if ids
        else (str, Field(pattern=CANDIDATE_ID, description="short slug, e.g. 'budget-hostel'"))
    )
    candidate = create_model(
        "Candidate",
        __base__=_Strict,
        id=id_field,
        title=(str, Field(min_length=1, max_length=60)),
        summary=(str, Field(min_length=1, max_length=200)),
        **_score_fields(dimensions),
    )
    return create_model(
        "ProposalOutput",
        __base__=_Strict,
        candidates=(list[candidate], Field(min_length=1, max_length=max_candidates)),  # type: ignore[valid-type]
    )


def grounded_proposal_schema(dimensions: tuple[str, ...], ids: tuple[str, ...], *, max_candidates: int) -> type[BaseModel]:
    """A grounded proposer's answer: options it picks (by id, among `ids`) and a short pitch for
    each. Titles, summaries, parts and prices are code's, from the offers; never the model's."""
    choice = create_model(
        "Choice",
        __base__=_Strict,
        id=(Literal[ids], Field(description="the id of an option"))  # type: ignore[valid-type]
        ,
        pitch=(str, Field(min_length=1, max_length=100, description="why this option, in one short sentence")),
        **_score_fields(dimensions),
    )
    return create_model(
        "GroundedProposal",
        __base__=_Strict,
        candidates=(list[choice], Field(min_length=1, max_length=max(1, max_candidates))),  # type: ignore[valid-type]
    )


def review_schema(dimensions: tuple[str, ...]) -> type[BaseModel]:
    """An evaluator's answer: a review of each candidate, scored on `dimensions`."""
    review = create_model(
        "Review",
        __base__=_Strict,
        __validators__={"known": field_validator("candidate")(_known_candidate)},
        candidate=(str, Field(max_length=24)),
        comment=(str, Field(min_length=1, max_length=160)),
        **_score_fields(dimensions),
    )
    return create_model(
        "ReviewOutput",
        __base__=_Strict,
        reviews=(list[review], Field(min_length=1, max_length=6)),  # type: ignore[valid-type]
    )


NEXT_STAGES: dict[str, str] = {
    "booking": "act on the winner",
    "final": "nothing to act on",
    "proposal": "revise the candidates",
}
"""The synthesizer's default choices; a workspace names its own with `next_stages:`."""


class DecisionOutput(_Strict):
    """The synthesizer's answer. The winner is chosen by the weighted rewards, not by the model."""

    rationale: str = Field(min_length=1, max_length=400)
    next_stage: Literal["booking", "final", "proposal"] = Field(
        description="booking: act on the winner; final: nothing to book; proposal: revise the candidates"
    )


def decision_schema(next_stages: dict[str, str] | None = None) -> type[BaseModel]:
    """The synthesizer's answer with the workspace's own `next_stage` choices (default: the demo's)."""
    if not next_stages or next_stages == NEXT_STAGES:
        return DecisionOutput
    described = "; ".join(f"{name}: {meaning}" for name, meaning in next_stages.items())
    return create_model(
        "DecisionOutput",
        __base__=_Strict,
        __doc__=DecisionOutput.__doc__,
        rationale=(str, Field(min_length=1, max_length=400)),
        next_stage=(Literal[tuple(next_stages)], Field(description=described)),  # type: ignore[valid-type]
    )


class ToolCallIntent(_Strict):
    tool: str = Field(max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict)


class BookingOutput(_Strict):
    """The booking agent's answer: tool calls to make for the winner (executed by the tool node).

    With a validation context `{"tools": {name: input JSON schema}}` (the MCP servers' own
    schemas), an unknown tool or arguments that do not match their schema fail validation, so
    the agent is asked to repair them before anything is sent to a server.
    """

    tool_calls: list[ToolCallIntent] = Field(default_factory=list, max_length=6)

    @model_validator(mode="after")
    def _match_tool_schemas(self, info: ValidationInfo) -> BookingOutput:
        tools: dict[str, dict[str, Any]] | None = (info.context or {}).get("tools")
        if tools is None:
            return self
        for i, call in enumerate(self.tool_calls):
            if call.tool not in tools:
                raise ValueError(f"tool_calls.{i}: unknown tool {call.tool!r}; tools are {', '.join(tools)}")
            problems = schema_errors(tools[call.tool], call.arguments)
            if problems:
                raise ValueError(f"tool_calls.{i} ({call.tool}) arguments: {'; '.join(problems)}")
        return self


def schema_errors(schema: dict[str, Any], value: Any, *, limit: int = 4) -> list[str]:
    """What is wrong with `value` under a JSON schema, as short messages (empty: it matches)."""
    validator = Draft202012Validator(schema or {"type": "object"})
    out = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(e.path))[:limit]:
        where = ".".join(str(p) for p in err.path) or "(arguments)"
        out.append(f"{where}: {err.message}")
    return out


class NoteOutput(_Strict):
    """The answer of a generic declarative skill: a note added to the history."""

    note: str = Field(min_length=1, max_length=600)


class SchemaAnswer(RootModel[dict[str, Any]]):
    """The answer of a `note` agent whose workspace declares its own `output:` JSON Schema.

    The schema travels in the validation context and is checked with jsonschema, so a
    workspace author writes plain JSON Schema in YAML and gets the same bounded repair as the
    built-in schemas: the validator's message goes back to the model.
    """

    @model_validator(mode="after")
    def _conforms(self, info: ValidationInfo) -> SchemaAnswer:
        schema = (info.context or {}).get("json_schema")
        if schema:
            error = next(iter(sorted(Draft202012Validator(schema).iter_errors(self.root), key=str)), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "the answer"
                raise ValueError(f"{where}: {error.message}")
        return self


def with_candidate_enum(schema: dict[str, Any], candidates: list[str]) -> dict[str, Any]:
    """Constrain every `candidate` property of a JSON schema to the known candidate ids."""
    if not candidates:
        return schema

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict) and "candidate" in props:
                props["candidate"] = {"type": "string", "enum": list(candidates)}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


__all__ = [
    "BookingOutput",
    "DecisionOutput",
    "NoteOutput",
    "ToolCallIntent",
    "grounded_proposal_schema",
    "proposal_schema",
    "schema_errors",
    "review_schema",
    "with_candidate_enum",
]
