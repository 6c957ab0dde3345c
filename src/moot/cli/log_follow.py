"""Following one log file across rotation, like `tail -F`: no line lost, none shown twice.

`RotatingFileHandler` rotates by renaming, `name.k` → `name.k+1` from the oldest down, then
`name` → `name.1`; the next line creates a new `name`. A follower keeps the handle of the file
it reads, so a rename never takes a line from under it; what it must get right is the order of
its steps once `name` turns out to be another file:

1. open the new `name` first;
2. walk the backups `.1`, `.2`, … up to the old file, telling files apart by inode;
3. check that the new file is still `name`: then nothing rotated since step 1, and the files
   walked are exactly those between the old file and the new one (else walk again);
4. read the old handle to its end (a rotated file is never written again), the files walked
   whole, oldest first, then switch to the new handle and read it.

The walk copes with a rollover under way (a name missing for a moment, one file seen under two
names); when it cannot find the old file although that file still exists, the follower keeps
the old handle and tries again at the next poll.

The follower used to walk the backups first and open `name` by name afterwards: when `name`
rotated in between, the file it had been was never read (and when that open found no file, the
follower lost its place the same way). The window is microseconds unless the follower is
preempted inside it, as on a loaded CI machine: the likely cause of fresh-ci's failure of
`test_follow_prints_lines_appended_later_across_rotation`, which waits for every line. A pause
of 20 ms injected there lost half the lines of a writer rotating every few milliseconds;
`tests/test_log_follow.py` rotates the log right before each file a poll opens, deterministically.
Lines are now read as bytes and decoded whole, so a character split across two reads survives.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

MAX_GAP = 2
"""consecutive missing backup names that end the walk (a rollover in progress leaves one)"""
WALKS = 3
"""walks a poll makes when the new file rotates too while it walks (then it tries at the next poll)"""
MAX_RETRIES = 5
"""polls the follower keeps its old file while the walk cannot place it among the backups
(renamed out of the scheme, e.g. by an outside logrotate); then it moves on to the new file"""


class Follower:
    """One log file followed across rotation (see the module docstring); `poll` returns new lines."""

    def __init__(self, path: Path, *, from_end: bool) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        self.ino = 0
        self.start = 0
        """Where following began in the file opened first (the tail is read up to here)."""
        self.buffer = b""
        """the start of a line whose end is not written yet"""
        self._retries = 0
        try:
            self._switch(self.open_file(path))
        except FileNotFoundError:
            return
        if from_end:
            self.start = self.file.seek(0, os.SEEK_END)  # type: ignore[union-attr]

    def open_file(self, path: Path) -> BinaryIO:
        """Every file the follower reads is opened here (tests rotate the log right before one)."""
        return path.open("rb")

    def poll(self) -> list[str]:
        """The complete lines written since the last poll, in the order they were written."""
        if self.file is None:  # the file did not exist yet: follow it from its start
            try:
                self._switch(self.open_file(self.path))
            except FileNotFoundError:
                return []
            return self._drain()
        lines = self._drain()
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:  # between the rename and the new file: look again next poll
            return lines
        if stat.st_ino != self.ino:
            return lines + self._rotated()
        if stat.st_size < self.file.tell():  # truncated in place
            self.file.seek(0)
            self.buffer = b""
            lines += self._drain()
        return lines

    def _rotated(self) -> list[str]:
        """Our file was rotated away: its rest, the backups written since, then the new file."""
        for _ in range(WALKS):
            try:
                new = self.open_file(self.path)
            except FileNotFoundError:  # between the rename and the new file: look again next poll
                return []
            between = self._between()
            if _is_current(self.path, new):  # no rotation while we walked: `between` is all there is
                break
            new.close()
            _close(between or [])
        else:
            return []  # rotating faster than we walk: keep ours, try at the next poll
        if between is None:
            self._retries += 1
            if self._retries < MAX_RETRIES:
                new.close()
                return []
            between = []  # ours cannot be placed: lines may be lost, but following goes on
        lines = self._drain()
        if self.buffer.strip():
            lines.append(_text(self.buffer))
        self.buffer = b""
        for backup in between:
            with backup:
                lines += _lines(backup.read())
        self._switch(new)
        return lines + self._drain()

    def _between(self) -> list[BinaryIO] | None:
        """Open the backups newer than ours, oldest first; None when ours was not found among
        them although it still exists.

        A rollover under way while we walk shifts every backup one name up, from the oldest
        down: a name is missing for a moment (`MAX_GAP`) and a file we saw may come again
        under the next name (told apart by inode); a file never moves below a name we passed,
        so none is missed, and the order we first see them in is theirs.
        """
        assert self.file is not None
        found: list[tuple[int, BinaryIO]] = []
        index, missing = 0, 0
        while missing < MAX_GAP:
            index += 1
            try:
                backup = self.open_file(self.path.with_name(f"{self.path.name}.{index}"))
            except FileNotFoundError:
                missing += 1
                continue
            missing = 0
            ino = os.fstat(backup.fileno()).st_ino
            if ino == self.ino:
                backup.close()
                return [f for _, f in reversed(found)]
            if any(ino == seen for seen, _ in found):
                backup.close()
            else:
                found.append((ino, backup))
        if os.fstat(self.file.fileno()).st_nlink == 0:  # ours was deleted: rotated past the last backup
            return [f for _, f in reversed(found)]
        _close(f for _, f in found)
        return None

    def _switch(self, file: BinaryIO) -> None:
        if self.file is not None:
            self.file.close()
        self.file = file
        self.ino = os.fstat(file.fileno()).st_ino
        self._retries = 0

    def _drain(self) -> list[str]:
        assert self.file is not None
        chunk = self.file.read()
        if not chunk:
            return []
        *complete, self.buffer = (self.buffer + chunk).split(b"\n")
        return [line for line in map(_text, complete) if line.strip()]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _text(line: bytes) -> str:
    """Bytes to text once the line is whole: a character split across two reads stays intact."""
    return line.decode("utf-8", errors="replace")


def _is_current(path: Path, file: BinaryIO) -> bool:
    """Whether `file` is still the one under `path` (then nothing rotated since it was opened)."""
    try:
        return os.stat(path).st_ino == os.fstat(file.fileno()).st_ino
    except FileNotFoundError:
        return False


def _lines(data: bytes) -> list[str]:
    return [line for line in _text(data).splitlines() if line.strip()]


def _close(files: Iterable[BinaryIO]) -> None:
    for file in files:
        file.close()


__all__ = ["MAX_GAP", "MAX_RETRIES", "Follower"]
