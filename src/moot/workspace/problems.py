"""Every problem of a workspace at once: where it is (file, line, column), what is wrong, the fix.

A workspace author who fixes one error only to meet the next, reload after reload, learns to hate
the tool. So validation does not stop at the first problem: each check adds a `Problem` to a
`Problems` collector and goes on, and the loader raises one `WorkspaceInvalid` listing them all
(`file:line:col: message (fix: ...)`, one per line, the format editors and terminals link).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from moot.errors import WorkspaceError

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a workspace. `line` and `column` are 1-based; None when the problem is
    the file itself (missing, not UTF-8)."""

    file: str
    line: int | None
    column: int | None
    message: str
    fix: str

    @property
    def where(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{self.where}: {self.message}{fix}"


class WorkspaceInvalid(WorkspaceError):
    """A workspace has one or more problems; `problems` lists them all, in the order found.

    It is a `WorkspaceError` (so a `ConfigError`: the CLI exits 2), and its `path`, `line` and
    `column` are those of the first problem, for callers that show a single place.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("WorkspaceInvalid needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))
        first = self.problems[0]
        self.path = first.file
        self.line = first.line
        self.column = first.column


class Problems:
    """A collector: checks `add` problems and carry on; `attempt` runs a step that may raise
    `WorkspaceInvalid` and keeps its problems instead of stopping."""

    def __init__(self) -> None:
        self._items: list[Problem] = []

    def add(self, problem: Problem) -> None:
        self._items.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        self._items.extend(problems)

    def attempt(self, step: Callable[..., T], *args: object, **kwargs: object) -> T | None:
        """`step(*args, **kwargs)`, or None after recording the problems it raised."""
        try:
            return step(*args, **kwargs)
        except WorkspaceInvalid as exc:
            self.extend(exc.problems)
            return None

    def raise_if_any(self) -> None:
        if self._items:
            raise WorkspaceInvalid(self._items)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)


__all__ = ["Problem", "Problems", "WorkspaceInvalid"]
