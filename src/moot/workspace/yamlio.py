"""YAML that remembers where every value came from, so errors can name the file and the line.

`load` composes the YAML node tree (PyYAML keeps a mark on every node) and builds plain Python
values beside a map from each value's path (`("stages", "proposal", "agents", 0)`) to its line.
`validate` runs a pydantic model over the data and turns the first error into a
`WorkspaceError` at the line of the offending value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from moot.errors import WorkspaceError

M = TypeVar("M", bound=BaseModel)
Lines = dict[tuple[Any, ...], int]


class Located:
    """Parsed YAML data with line numbers (1-based) per path."""

    def __init__(self, path: Path, data: Any, lines: Lines) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line(self, *loc: Any) -> int | None:
        """The line of the value at `loc`, or of its nearest ancestor that has one."""
        loc_t = tuple(loc)
        while loc_t:
            if loc_t in self.lines:
                return self.lines[loc_t]
            loc_t = loc_t[:-1]
        return self.lines.get((), 1)

    def error(self, message: str, *loc: Any) -> WorkspaceError:
        return WorkspaceError(message, path=str(self.path), line=self.line(*loc))


def load(path: Path) -> Located:
    """Read and parse one YAML file; a syntax error names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkspaceError("file not found", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise WorkspaceError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # an unclosed bracket is noticed only at the next token; the context mark ("while
        # parsing a flow sequence") holds the line of the bracket, which is the line to fix
        flow = bool(exc.context and "flow" in exc.context and exc.context_mark)
        mark = exc.context_mark if flow else (exc.problem_mark or exc.context_mark)
        line = mark.line + 1 if mark else None
        raise WorkspaceError(f"invalid YAML: {exc.problem or exc.context}", path=str(path), line=line) from None
    lines: Lines = {}
    data = _build(node, (), lines) if node is not None else None
    return Located(path, data, lines)


def validate(model: type[M], located: Located, data: Any = None, *, prefix: tuple[Any, ...] = ()) -> M:
    """Validate `data` (default: the whole file) with `model`; errors point at the YAML line."""
    try:
        return model.model_validate(located.data if data is None else data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = prefix + tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise located.error(f"{field}: {err['msg']}{more}", *loc) from None


def _build(node: yaml.Node, loc: tuple[Any, ...], lines: Lines) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            out[key] = _build(value_node, loc + (key,), lines)
            lines[loc + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, loc + (i,), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def as_mapping(located: Located, what: str) -> Mapping[str, Any]:
    """The file's top level, which must be a mapping."""
    if located.data is None:
        return {}
    if not isinstance(located.data, Mapping):
        raise located.error(f"{what} must be a mapping at the top level")
    return located.data


__all__ = ["Located", "as_mapping", "load", "validate"]
