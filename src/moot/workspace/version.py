"""A workspace version: one loaded, validated state of a workspace folder, named by its content.

Hot reload (design §8) needs to say *which* workspace a run used, long after the folder has
changed. Timestamps and counters do not survive a restart or a second worker; a hash of the files
does: two workers that load the same files agree on the version, and an edit that is undone gives
back the old name. The hash covers exactly what the loader reads (`moot.yaml`, `policy.yaml`,
`stages.yaml`, `agents/*.yaml`), so touching an unrelated file (a README, an editor's swap file)
is not a new version. The files' text is kept with the version so that two versions can be diffed.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from moot.errors import UsageError

if TYPE_CHECKING:  # the assembly imports the graph and the models: not needed to hash or diff
    from moot.workspace.assembly import Assembly
    from moot.workspace.loader import Workspace

TOP_FILES = ("moot.yaml", "policy.yaml", "stages.yaml")
"""The files of a workspace at its top; agents are `agents/*.yaml` (or `.yml`), as the loader reads them."""

SHORT = 12
"""Hex digits of the short form of a hash (as git shows commits): unique among a workspace's versions."""


def is_workspace_file(relative: str | PurePosixPath) -> bool:
    """Whether a path (relative to the workspace root, `/`-separated) is read by the loader."""
    parts = PurePosixPath(relative).parts
    if len(parts) == 1:
        return parts[0] in TOP_FILES
    return len(parts) == 2 and parts[0] == "agents" and PurePosixPath(parts[1]).match("*.y*ml")


def read_files(root: Path) -> dict[str, bytes]:
    """The loader's files under `root`, relative path → bytes, in a stable (sorted) order."""
    found: dict[str, bytes] = {}
    candidates = [root / name for name in TOP_FILES]
    agents = root / "agents"
    if agents.is_dir():
        candidates += sorted(agents.glob("*.y*ml"))
    for path in candidates:
        if path.is_file():
            try:
                found[path.relative_to(root).as_posix()] = path.read_bytes()
            except FileNotFoundError:  # deleted while we listed: it is not part of this version
                continue
    return dict(sorted(found.items()))


def hash_files(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted relative paths and the bytes of the files (lengths make it unambiguous)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        encoded = name.encode("utf-8")
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def content_hash(root: Path | str) -> str:
    """The version hash of the workspace folder `root` as it is on disk now."""
    return hash_files(read_files(Path(root)))


def as_text(files: Mapping[str, bytes]) -> dict[str, str]:
    """Files as text for diffs and the archive (a byte that is not UTF-8 shows as U+FFFD)."""
    return {name: data.decode("utf-8", errors="replace") for name, data in files.items()}


@dataclass(frozen=True, eq=False)
class WorkspaceVersion:
    """One loaded, validated version of a workspace and the assembly built from it.

    Immutable once made: a reload builds a new version (a new `Assembly`, new agents, a new graph)
    and never changes one that a run may be using. Compared and hashed by identity (its assembly
    holds live objects); compare `.hash` to ask whether two versions have the same files.
    """

    hash: str
    workspace: Workspace
    assembly: Assembly
    loaded_at: float
    files: Mapping[str, str] = field(default_factory=dict)
    """Relative path → text of the files the hash covers."""

    @property
    def short(self) -> str:
        return self.hash[:SHORT]

    @property
    def name(self) -> str:
        return self.workspace.name

    def __repr__(self) -> str:
        return f"WorkspaceVersion({self.workspace.name!r}, {self.short})"


def _files_of(version: WorkspaceVersion | Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(version, WorkspaceVersion):
        return version.files
    if isinstance(version, Mapping):
        return version
    raise UsageError(f"cannot diff a {type(version).__name__}: give a WorkspaceVersion or a mapping path → text")


def _label(version: WorkspaceVersion | Mapping[str, str], default: str) -> str:
    return version.short if isinstance(version, WorkspaceVersion) else default


def diff_versions(
    old: WorkspaceVersion | Mapping[str, str],
    new: WorkspaceVersion | Mapping[str, str],
    *,
    old_label: str | None = None,
    new_label: str | None = None,
    context: int = 3,
) -> str:
    """A unified diff of every file that differs, in path order; "" when nothing differs.

    An added file is diffed against `/dev/null`, a removed one to it, as `git diff` shows them,
    so the output can be read by people and by `patch`-aware tools alike.
    """
    before, after = _files_of(old), _files_of(new)
    a_name = old_label or _label(old, "a")
    b_name = new_label or _label(new, "b")
    chunks: list[str] = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        fromfile = f"{a_name}/{path}" if a is not None else "/dev/null"
        tofile = f"{b_name}/{path}" if b is not None else "/dev/null"
        lines = difflib.unified_diff(
            (a or "").splitlines(keepends=True),
            (b or "").splitlines(keepends=True),
            fromfile=fromfile,
            tofile=tofile,
            n=context,
        )
        for line in lines:
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)


def changed_files(old: WorkspaceVersion | Mapping[str, str], new: WorkspaceVersion | Mapping[str, str]) -> list[str]:
    """Paths that were added, removed or edited between two versions."""
    before, after = _files_of(old), _files_of(new)
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


__all__ = [
    "SHORT",
    "TOP_FILES",
    "WorkspaceVersion",
    "as_text",
    "changed_files",
    "content_hash",
    "diff_versions",
    "hash_files",
    "is_workspace_file",
    "read_files",
]
