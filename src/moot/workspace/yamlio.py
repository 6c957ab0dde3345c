"""YAML that remembers where every value came from, so problems can name file, line and column.

`load` composes the YAML node tree (PyYAML keeps a start mark on every node) and builds plain
Python values beside a map from each value's path (`("stages", "proposal", "agents", 0)`) to
the position of the value and, in a mapping, of its key. `validate` runs a pydantic model over
the data and turns *every* error into a `Problem` at the offending value, with a fix hint; both
raise `WorkspaceInvalid`, which a `Problems` collector turns into one more entry of its list.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml
from pydantic import BaseModel, ValidationError

from moot.workspace.problems import Problem, WorkspaceInvalid

M = TypeVar("M", bound=BaseModel)
Loc = tuple[Any, ...]
Pos = tuple[int, int]
"""(line, column), both 1-based."""


class Located:
    """Parsed YAML data with the position of every value (and of every mapping key)."""

    def __init__(self, path: Path, data: Any, values: dict[Loc, Pos], keys: dict[Loc, Pos]) -> None:
        self.path = path
        self.data = data
        self.values = values
        self.keys = keys
        self.duplicates: list[Loc] = []
        """Paths of mapping keys given twice (YAML keeps the last one silently)."""

    def position(self, *loc: Any, key: bool = False) -> Pos:
        """Where to point for `loc`: the value itself when it is a scalar or a list item, the key
        of a mapping entry whose value is a collection (or with `key`); for a path that is not
        in the file, the nearest ancestor that is."""
        at = tuple(loc)
        while at and at not in self.values:
            at = at[:-1]
        if at in self.keys and (key or isinstance(self.get(*at), Mapping | list)):
            return self.keys[at]
        return self.values.get(at, (1, 1))

    def line(self, *loc: Any) -> int:
        return self.position(*loc)[0]

    def get(self, *loc: Any) -> Any:
        """The value at `loc` (None when it is not in the file)."""
        value = self.data
        for part in loc:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
                value = value[part]
            else:
                return None
        return value

    def problem(self, message: str, fix: str, *loc: Any, key: bool = False) -> Problem:
        line, column = self.position(*loc, key=key)
        return Problem(str(self.path), line, column, message, fix)

    def invalid(self, message: str, fix: str, *loc: Any, key: bool = False) -> WorkspaceInvalid:
        return WorkspaceInvalid([self.problem(message, fix, *loc, key=key)])


def load(path: Path) -> Located:
    """Read and parse one YAML file; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkspaceInvalid([Problem(str(path), None, None, "file not found", f"create {path.name}")]) from None
    except UnicodeDecodeError as exc:
        problem = Problem(str(path), None, None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8")
        raise WorkspaceInvalid([problem]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # an unclosed bracket is noticed only at the next token; the context mark ("while
        # parsing a flow sequence") holds the bracket's place, which is the place to fix
        flow = bool(exc.context and "flow" in exc.context and exc.context_mark)
        mark = exc.context_mark if flow else (exc.problem_mark or exc.context_mark)
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        reason = exc.problem or exc.context or "syntax error"
        problem = Problem(str(path), line, column, f"invalid YAML: {reason}", _yaml_fix(reason, flow))
        raise WorkspaceInvalid([problem]) from None
    values: dict[Loc, Pos] = {}
    keys: dict[Loc, Pos] = {}
    duplicates: list[Loc] = []
    data = _build(node, (), values, keys, duplicates) if node is not None else None
    located = Located(path, data, values, keys)
    located.duplicates = duplicates
    return located


def _yaml_fix(reason: str, flow: bool) -> str:
    if flow:
        return "close the bracket opened here"
    if "tab" in reason:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in reason:
        return "quote a value that contains ': ', or put the nested mapping on its own indented lines"
    return "correct the YAML syntax here (indentation, quotes and brackets)"


def validate(model: type[M], located: Located, data: Any = None, *, prefix: Loc = ()) -> M:
    """Validate `data` (default: the whole file) with `model`; raise `WorkspaceInvalid` with one
    problem per offending value (alternatives of one union are merged into one problem)."""
    try:
        return model.model_validate(located.data if data is None else data)
    except ValidationError as exc:
        raise WorkspaceInvalid(_problems(model, located, exc, prefix)) from None


def _problems(model: type[BaseModel], located: Located, exc: ValidationError, prefix: Loc) -> list[Problem]:
    groups: dict[Loc, list[tuple[Loc, dict[str, Any]]]] = {}
    for err in exc.errors():
        at, rest = _split(located, prefix, tuple(err["loc"]), missing=err["type"] == "missing")
        groups.setdefault(at, []).append((rest, dict(err)))
    out = []
    for at, errs in groups.items():
        field = ".".join(str(p) for p in at[len(prefix):]) or "(top level)"
        rest, first = errs[0]
        if len(errs) == 1 and not rest:
            message, fix = _describe(model, at[len(prefix):], first)
        else:  # one value that matches none of a union's forms
            forms = dict.fromkeys(_clean(e["msg"]) + (f" (at {'.'.join(map(str, r))})" if r else "") for r, e in errs)
            message, fix = "; or ".join(forms), "see `moot workspace schema` for the forms this field accepts"
        out.append(located.problem(f"{field}: {message}", fix, *at, key=first["type"] == "extra_forbidden"))
    return out


def _split(located: Located, prefix: Loc, loc: Loc, *, missing: bool) -> tuple[Loc, Loc]:
    """Split pydantic's `loc` into the path in the file and what lies under a union's tag
    (`('agents', 2, 'list[str]', 0)` -> `('agents', 2)`, `(0,)`)."""
    value = located.get(*prefix)
    at = list(prefix)
    for i, part in enumerate(loc):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        elif missing and i == len(loc) - 1:
            pass
        else:  # a union member's tag: what follows is inside that member's attempt
            return tuple(at), tuple(p for p in loc[i + 1:])
        at.append(part)
    return tuple(at), ()


_FIXES = {
    "missing": "add it",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number",
    "float_type": "write a number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write a string (quote it if YAML reads it as something else)",
    "list_type": "write a list, e.g. [a, b]",
    "dict_type": "write a mapping (key: value lines)",
    "model_type": "write a mapping (key: value lines)",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lowercase letters, digits and _, starting with a letter",
    "string_too_short": "write a non-empty string",
}


def _describe(model: type[BaseModel], loc: Loc, err: Mapping[str, Any]) -> tuple[str, str]:
    kind = err["type"]
    if kind == "extra_forbidden":
        fields = _fields_at(model, loc[:-1])
        known = f"; known fields: {', '.join(fields)}" if fields else ""
        return f"unknown field{known}", f"remove {loc[-1]!r} or correct its spelling"
    if kind == "missing":
        return "Field required", f"add '{loc[-1]}: ...'"
    if kind.startswith(("greater_than", "less_than")):
        return _clean(err["msg"]), "use a value within the bounds"
    return _clean(err["msg"]), _FIXES.get(kind, "see `moot workspace schema` for this field's type")


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The fields of the model found at `loc` under `model`, to list next to an unknown key."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return None
    found = next((m for m in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)), None)
    return list(found.model_fields) if found is not None else None


def _step(tp: Any, part: Any) -> Any:
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, BaseModel):
            if isinstance(part, str) and part in member.model_fields:
                return member.model_fields[part].annotation
        elif typing.get_origin(member) in (dict, Mapping) and isinstance(part, str):
            return typing.get_args(member)[1]
        elif typing.get_origin(member) is list and isinstance(part, int):
            return typing.get_args(member)[0]
    return None


def _members(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [tp]


def _build(node: yaml.Node, loc: Loc, values: dict[Loc, Pos], keys: dict[Loc, Pos], duplicates: list[Loc]) -> Any:
    values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                duplicates.append(loc + (key,))
            out[key] = _build(value_node, loc + (key,), values, keys, duplicates)
            keys[loc + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, loc + (i,), values, keys, duplicates) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def as_mapping(located: Located, what: str) -> Mapping[str, Any]:
    """The file's top level, which must be a mapping (an empty file is an empty mapping)."""
    if located.data is None:
        return {}
    if not isinstance(located.data, Mapping):
        raise located.invalid(f"{what} must be a mapping at the top level", "write 'key: value' lines at the top level")
    return located.data


__all__ = ["Located", "Pos", "as_mapping", "load", "validate"]
