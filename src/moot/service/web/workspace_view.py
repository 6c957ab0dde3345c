"""What the workspaces page shows of one workspace: its files, versions, problems and reloads.

Everything is read from what the service already holds: the hub's manager (the current version's
files, the versions held in memory), the version archive on disk (every version ever loaded, so
a diff reaches past the last restart), the loader's problems of a workspace that does not load
(`moot.workspace.problems`, each with file, line and column), and the reload manager's results.
Nothing here loads or reloads a workspace beyond what `hub.get` does for any request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moot.errors import MootError
from moot.workspace.archive import VersionArchive
from moot.workspace.manager import problems_of
from moot.workspace.version import SHORT, as_text, diff_versions, read_files

if TYPE_CHECKING:
    from moot.service.context import ServiceContext
    from moot.workspace.manager import ReloadResult, WorkspaceManager


@dataclass(frozen=True)
class Version:
    """One version of a workspace as the page lists it."""

    hash: str
    at: float
    """When it was loaded (held) or last archived."""
    files: Mapping[str, str]
    current: bool = False
    held: bool = False
    runs: int = 0

    @property
    def short(self) -> str:
        return self.hash[:SHORT]


@dataclass(frozen=True)
class Reload:
    """One reload of the workspace as the page lists it (a `ReloadResult`, paths made relative)."""

    ok: bool
    at: float
    version: str
    previous: str
    took_ms: int
    files: tuple[str, ...]
    problems: tuple[dict[str, Any], ...]


@dataclass
class View:
    """A workspace as the page shows it; `problems` are records with file, line, column, message, fix."""

    name: str
    manager: WorkspaceManager | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    reloads: list[Reload] = field(default_factory=list)
    reload_on: bool = False

    @property
    def current(self) -> Version | None:
        return next((v for v in self.versions if v.current), None)


async def view(ctx: ServiceContext, name: str) -> View:
    """The workspace `name` (one of `ctx.hub.names()`): loaded if it loads, its problems if not."""
    out = View(name, reload_on=ctx.reloader is not None)
    root = ctx.hub.path_of(name)
    try:
        out.manager = await ctx.hub.get(name)
    except MootError as exc:
        out.problems = [relative(d, root) for d in problems_of(exc)[1]]
        try:
            out.files = as_text(read_files(root))
        except (MootError, OSError):
            out.files = {}
    if out.manager is not None:
        out.files = out.manager.current.files
    out.versions = versions(out.manager, name)
    if ctx.reloader is not None:
        out.reloads = [reload_of(r, root) for r in ctx.reloader.results if r.previous.name == name][-10:][::-1]
    return out


def reload_of(result: ReloadResult, root: Path) -> Reload:
    return Reload(
        ok=result.ok, at=result.at, version=result.version.short, previous=result.previous.short,
        took_ms=round(result.took_s * 1000), files=result.files, problems=tuple(relative(d, root) for d in result.details),
    )


def relative(problem: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """A problem record with its file relative to the workspace folder: the page names files, never server paths."""
    out = dict(problem)
    file = str(out.get("file") or "")
    for base in (str(root), os.path.realpath(root)):
        if file.startswith(base.rstrip("/") + "/"):
            out["file"] = file[len(base.rstrip("/")) + 1:]
            break
    else:
        out["file"] = Path(file).name if file else ""
    return out


def versions(manager: WorkspaceManager | None, name: str) -> list[Version]:
    """Held versions and archived ones, one entry per hash, newest first."""
    found: dict[str, Version] = {}
    for archived in VersionArchive(name).all():
        found[archived.hash] = Version(archived.hash, archived.saved_at, archived.files)
    if manager is not None:
        current = manager.current.hash
        for held in manager.versions:
            found[held.hash] = Version(held.hash, held.loaded_at, held.files, current=held.hash == current, held=True, runs=manager.in_use(held))
    return sorted(found.values(), key=lambda v: v.at, reverse=True)


def find(found: list[Version], prefix: str) -> Version | None:
    """The version whose hash starts with `prefix` (at least 4 hex digits, unique), or None."""
    prefix = prefix.strip().lower()
    matches = [v for v in found if len(prefix) >= 4 and v.hash.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def diff(old: Version, new: Version) -> str:
    """The unified diff of two versions' files (`moot.workspace.version.diff_versions`, difflib)."""
    return diff_versions(old.files, new.files, old_label=old.short, new_label=new.short)


__all__ = ["Reload", "Version", "View", "diff", "find", "relative", "versions", "view"]
