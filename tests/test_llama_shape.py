"""The embedded model is shown its answer's shape, not the whole JSON schema (the grammar enforces it)."""

from __future__ import annotations

import pytest

from moot.agents.schemas import grounded_proposal_schema
from moot.models._llama_messages import response_format_constraint
from moot.models._llama_shape import shape


def test_the_proposers_shape_names_every_key_choice_and_bound_in_a_quarter_of_the_schema() -> None:
    schema = grounded_proposal_schema(("novelty", "risk"), ("plan-1", "plan-2"), max_candidates=2).model_json_schema()
    constraint = response_format_constraint({"type": "json_schema", "json_schema": {"name": "p", "schema": schema}})
    text = constraint.instruction
    assert text.startswith("Answer with one JSON object of this shape: {\"candidates\": [{")
    for part in ('"id": "plan-1" | "plan-2"', '"pitch": text ≤100', '"risk": 0 to 1 in steps of 0.1', "(1 to 2)"):
        assert part in text, part
    assert "additionalProperties" not in text and "required" not in text
    assert constraint.schema["properties"]["candidates"]["maxItems"] == 2  # the grammar still gets the whole schema


def test_shapes_of_each_kind() -> None:
    assert shape({"type": "object", "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 30}, "b": {"type": "string"}}, "required": ["a"]}) == '{"a": integer 1 to 30, "b"?: text}'
    assert shape({"type": "string", "format": "date"}) == "YYYY-MM-DD"
    assert shape({"anyOf": [{"type": "string", "pattern": "^[A-Z]{3}$"}, {"type": "null"}]}) == "text matching ^[A-Z]{3}$ | null"
    assert shape({"const": "hotel"}) == '"hotel"'
    assert shape({"enum": list(range(20))}) == "0 to 19 in steps of 1"
    assert shape({"enum": [f"v{i}" for i in range(14)]}).endswith("| ... (14 values)")
    assert shape({"type": "array", "items": {"type": "boolean"}, "maxItems": 4}) == "[true | false, ...] (at most 4)"


def test_patterns_reach_the_grammar_in_a_syntax_it_compiles() -> None:
    """llguidance refuses `\\d`, `\\w`, `\\s` and then accepts any string: they are spelled as classes."""
    from moot.models._llama_messages import grammar_regex

    assert grammar_regex(r"^\d{4}-\d{2}-\d{2}$") == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    assert grammar_regex(r"^[\d-]+\w*\s?\.$") == r"^[0-9-]+[A-Za-z0-9_]*[ \t\n\r]?\.$"
    assert grammar_regex(r"a\.b\\d") == r"a\.b\\d"  # other escapes, and an escaped backslash, stay
    schema = {"type": "object", "properties": {"date": {"type": "string", "pattern": r"^\d{4}$"}}}
    constraint = response_format_constraint({"type": "json_schema", "json_schema": {"name": "d", "schema": schema}})
    assert constraint.schema["properties"]["date"]["pattern"] == "^[0-9]{4}$"


def test_the_grammar_asks_for_compact_json() -> None:
    """Without layout options llguidance lets the model indent; SmolLM2 does, at a third of its tokens."""
    import json

    from moot.models._llama_messages import compact_json_grammar

    grammar = compact_json_grammar({"type": "object", "properties": {"a": {"type": "integer"}}})
    head, _, body = grammar.partition("start: %json ")
    assert head == "%llguidance {}\n"
    assert json.loads(body)["x-guidance"] == {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}


@pytest.mark.local_model
def test_the_embedded_models_structured_answer_is_one_compact_line() -> None:
    from moot.models.local import LocalLLMChatModel

    schema = grounded_proposal_schema(("risk",), ("plan-1", "plan-2"), max_candidates=2).model_json_schema()
    model = LocalLLMChatModel(max_tokens=120)
    answer = model.bind(response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}).invoke("Pick plan-1.")
    assert answer.content.startswith('{"candidates":[{"id":"plan-') and "\n" not in answer.content
    assert answer.response_metadata["finish_reason"] == "stop"
