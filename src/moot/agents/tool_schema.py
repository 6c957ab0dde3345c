"""A tool's input schema as a model's constraint: every JSON Schema feature kept, strings bounded,
ids bound to what earlier results returned (design §3b, "constrained actions").

The MCP server's schema is the contract: its `enum`, `const`, `pattern`, `format` (date,
date-time), integer `minimum`/`maximum` reach the model as they are (llama.cpp's grammar honours
all of them for the embedded model; OpenAI-style providers get them as `response_format` or a
tool schema), and the answer is validated against the same schema before anything is sent.
Two changes make the constraint tighter than the contract, never looser:

- strings without a bound get a `maxLength`: a small constrained model otherwise fills a string
  until its token limit and the answer is cut off;
- `bind`: an argument such as `book.item_id` can be restricted to the ids that earlier results
  returned (an `enum`), so a model can only name an offer that exists.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

SCALAR: dict[str, Any] = {"anyOf": [{"type": "string", "maxLength": 80}, {"type": "number"}, {"type": "boolean"}]}
"""An argument value of a tool without a schema, bounded so that a constrained model closes it."""


def bounded(schema: Any, max_length: int = 120) -> Any:
    """A copy of a tool's JSON schema for the model's *constraint*: strings get a `maxLength`.

    MCP servers rarely bound their strings; a small constrained model then fills one until its
    token limit and the answer is cut off. Validation still uses the server's own schema.
    """
    if isinstance(schema, list):
        return [bounded(s, max_length) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded(v, max_length) for k, v in schema.items()}
    kinds = out.get("type")
    is_string = kinds == "string" or (isinstance(kinds, list) and "string" in kinds)
    if is_string and not any(k in out for k in ("maxLength", "enum", "const", "format", "pattern")):
        out["maxLength"] = max_length
    return out


def bind_enum(schema: Mapping[str, Any], argument: str, values: Iterable[Any]) -> dict[str, Any]:
    """A copy of a tool's input schema whose `argument` must be one of `values`.

    With no values (no earlier result returned an id), the schema is returned unchanged: the
    server's own validation then refuses an invented id, and the refusal is the call's outcome.
    """
    allowed = list(dict.fromkeys(values))
    out = copy.deepcopy(dict(schema))
    props = out.get("properties")
    if not allowed or not isinstance(props, dict) or argument not in props:
        return out
    prop = dict(props[argument])
    described = {k: prop[k] for k in ("description", "title") if k in prop}
    props[argument] = {"type": "string", "enum": allowed, **described} if _stringy(prop) else {"enum": allowed, **described}
    return out


def result_ids(outcomes: Iterable[Mapping[str, Any]], tools: Iterable[str], key: str = "id") -> list[Any]:
    """The `key` of every item that the named tools' successful results returned, in order."""
    wanted = set(tools)
    ids: list[Any] = []
    for outcome in outcomes:
        if outcome.get("ok") and outcome.get("tool") in wanted:
            content = outcome.get("content")
            items = content if isinstance(content, list) else [content]
            ids += [item[key] for item in items if isinstance(item, Mapping) and key in item]
    return list(dict.fromkeys(ids))


def _stringy(prop: Mapping[str, Any]) -> bool:
    kinds = prop.get("type")
    if kinds == "string" or (isinstance(kinds, list) and "string" in kinds):
        return True
    return any(_stringy(p) for p in prop.get("anyOf", []) if isinstance(p, Mapping))


__all__ = ["SCALAR", "bind_enum", "bounded", "result_ids"]
