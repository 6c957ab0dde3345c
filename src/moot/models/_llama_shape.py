"""A JSON schema as the embedded model is shown it: the answer's shape in a few words.

The grammar compiled from the schema already forces every key, enum, bound and pattern; what the
prompt shows only has to make the answer sensible. The full schema in JSON cost 472 tokens for the
demo proposer's answer (four score enums of eleven numbers each, pydantic's `required` lists,
`additionalProperties`...), about two seconds of prompt processing per call on two cores; the
shape below says the same to a reader in about a quarter of that:

    {"candidates": [{"id": "plan-1" | "plan-2", "pitch": text ≤160 (why this option), "risk": 0 to 1}] (1 to 3)}
"""

from __future__ import annotations

import json
from typing import Any

_SHOWN_VALUES = 12
"""Enums longer than this are shown by their first values and a count."""


def shape(schema: Any, depth: int = 0) -> str:
    """The shape of a value of `schema` (already inlined: no `$ref`), in one line."""
    if not isinstance(schema, dict) or depth > 8:
        return "value"
    note = f" ({schema['description']})" if schema.get("description") and depth > 0 else ""
    return _bare(schema, depth) + note


def _bare(schema: dict[str, Any], depth: int) -> str:
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    if isinstance(schema.get("enum"), list):
        return _enum(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return " | ".join(shape(option, depth + 1) for option in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_bare({**schema, "type": k}, depth) for k in kind)
    if kind == "object" or "properties" in schema:
        return _object(schema, depth)
    if kind == "array":
        return _array(schema, depth)
    if kind in ("number", "integer"):
        return _number(schema, kind)
    if kind == "string":
        return _string(schema)
    return {"boolean": "true | false", "null": "null"}.get(str(kind), "value")


def _object(schema: dict[str, Any], depth: int) -> str:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or props)
    fields = [f"{json.dumps(name)}{'' if name in required else '?'}: {shape(sub, depth + 1)}" for name, sub in props.items()]
    return "{" + ", ".join(fields) + "}" if fields else "{}"


def _array(schema: dict[str, Any], depth: int) -> str:
    low, high = schema.get("minItems"), schema.get("maxItems")
    count = f" ({low} to {high})" if low is not None and high is not None else f" (at most {high})" if high is not None else ""
    return f"[{shape(schema.get('items') or {}, depth + 1)}, ...]{count}"


def _enum(values: list[Any]) -> str:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values) > 3:  # a grid of scores reads better as its range
        step = round(numbers[1] - numbers[0], 6) if len(numbers) > 1 else 0
        return f"{min(numbers):g} to {max(numbers):g}" + (f" in steps of {step:g}" if step else "")
    shown = " | ".join(json.dumps(v, ensure_ascii=False) for v in values[:_SHOWN_VALUES])
    return shown + (f" | ... ({len(values)} values)" if len(values) > _SHOWN_VALUES else "")


def _number(schema: dict[str, Any], kind: str) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"{kind} {low:g} to {high:g}"
    if low is not None:
        return f"{kind} ≥ {low:g}"
    return f"{kind} ≤ {high:g}" if high is not None else kind


def _string(schema: dict[str, Any]) -> str:
    if schema.get("format") in ("date", "date-time"):
        return "YYYY-MM-DD" if schema["format"] == "date" else "ISO date-time"
    if schema.get("pattern"):
        return f"text matching {schema['pattern']}"
    return f"text ≤{schema['maxLength']}" if schema.get("maxLength") else "text"


__all__ = ["shape"]
