"""The version archive: the files of every version a runtime has loaded, to diff them later.

A version hash recorded with a run is only useful if one can see what that version *was*. The
archive keeps each loaded version's files as `$MOOT_HOME/workspaces/<name>/versions/<hash>.json`
(`{"hash", "workspace", "root", "saved_at", "files"}`). It is content-addressed, so writing a
version twice is harmless, and small: a workspace is a handful of YAML files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moot.errors import UsageError
from moot.settings import moot_home

MIN_PREFIX = 4
"""Shortest hash prefix accepted on the command line (as git: short enough to type, long enough to be unique)."""


@dataclass(frozen=True)
class ArchivedVersion:
    """One archived version: its hash, where it was loaded from, when, and its files' text."""

    hash: str
    workspace: str
    root: str
    saved_at: float
    files: Mapping[str, str]

    @property
    def short(self) -> str:
        return self.hash[:12]


class VersionArchive:
    """Archived versions of one workspace (by name) under `home` (default `$MOOT_HOME`)."""

    def __init__(self, workspace: str, home: Path | None = None) -> None:
        self.workspace = workspace
        self.folder = (home or moot_home()) / "workspaces" / workspace / "versions"

    def save(self, hash_: str, files: Mapping[str, str], *, root: Path | str) -> Path:
        """Write a version (atomically: a reader never sees half a file); returns its path.

        An existing record is rewritten with the new `saved_at`, so "the last archived version"
        is the last one loaded, also when an edit was undone.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{hash_}.json"
        record = {
            "hash": hash_, "workspace": self.workspace, "root": _same_place(root), "saved_at": time.time(), "files": dict(files),
        }
        fd, tmp = tempfile.mkstemp(prefix=".version-", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out, ensure_ascii=False, indent=1)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def all(self) -> list[ArchivedVersion]:
        """Every readable archived version, oldest first (a damaged record is skipped)."""
        if not self.folder.is_dir():
            return []
        found = [v for path in self.folder.glob("*.json") if (v := _read(path)) is not None]
        return sorted(found, key=lambda v: v.saved_at)

    def latest(self, *, root: Path | str | None = None) -> ArchivedVersion:
        """The last version loaded (from folder `root`, if given)."""
        versions = self.all()
        if root is not None:
            wanted = _same_place(root)
            versions = [v for v in versions if _same_place(v.root) == wanted]
        if not versions:
            where = f" from {root}" if root is not None else ""
            raise UsageError(
                f"no archived version of workspace {self.workspace!r}{where} under {self.folder}; versions are "
                f"archived when a runtime loads the workspace (moot run --watch, moot serve)"
            )
        return versions[-1]

    def get(self, prefix: str) -> ArchivedVersion:
        """The version whose hash starts with `prefix` (at least 4 hex digits, and unique)."""
        prefix = prefix.strip().lower()
        if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
            raise UsageError(f"version {prefix!r}: give at least {MIN_PREFIX} hex digits of a version hash")
        matches = [v for v in self.all() if v.hash.startswith(prefix)]
        if not matches:
            known = ", ".join(v.short for v in self.all()[-5:]) or "none"
            raise UsageError(
                f"no archived version {prefix!r} of workspace {self.workspace!r} (latest: {known}) in {self.folder}"
            )
        if len(matches) > 1:
            raise UsageError(
                f"version {prefix!r} of workspace {self.workspace!r} is ambiguous: "
                f"{', '.join(v.short for v in matches)}; give more digits"
            )
        return matches[0]


def _same_place(path: Path | str) -> str:
    return os.path.realpath(str(path))


def _read(path: Path) -> ArchivedVersion | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return ArchivedVersion(
            hash=str(data["hash"]),
            workspace=str(data["workspace"]),
            root=str(data.get("root", "")),
            saved_at=float(data.get("saved_at", 0.0)),
            files={str(k): str(v) for k, v in dict(data["files"]).items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


__all__ = ["MIN_PREFIX", "ArchivedVersion", "VersionArchive"]
