"""What the workspaces page shows of one workspace: its files, versions, problems and reloads.

Everything is read from what the service already holds: the hub's manager (the current version's
files, the versions held in memory), the version archive on disk (every version ever loaded, so
a diff reaches past the last restart), the loader's problems of a workspace that does not load
(`moot.workspace.problems`, each with file, line and column), and the reload manager's results.
Nothing here loads or reloads a workspace beyond what `hub.get` does for any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass
class View:
    """A workspace as the page shows it; `problems` are records with file, line, column, message, fix."""

    name: str
    manager: WorkspaceManager | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    reloads: list[ReloadResult] = field(default_factory=list)
    reload_on: bool = False

    @property
    def current(self) -> Version | None:
        return next((v for v in self.versions if v.current), None)


async def view(ctx: ServiceContext, name: str) -> View:
    """The workspace `name` (one of `ctx.hub.names()`): loaded if it loads, its problems if not."""
    out = View(name, reload_on=ctx.reloader is not None)
    try:
        out.manager = await ctx.hub.get(name)
    except MootError as exc:
        out.problems = [dict(d) for d in problems_of(exc)[1]]
        try:
            out.files = as_text(read_files(ctx.hub.path_of(name)))
        except (MootError, OSError):
            out.files = {}
    if out.manager is not None:
        out.files = out.manager.current.files
    out.versions = versions(out.manager, name)
    if ctx.reloader is not None:
        out.reloads = [r for r in ctx.reloader.results if r.previous.name == name][-10:][::-1]
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


__all__ = ["Version", "View", "diff", "find", "versions", "view"]
