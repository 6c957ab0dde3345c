"""Following a log across rotation loses no line, whenever the rotation comes (`moot.cli.log_follow`).

The races are driven step by step, not by timing: the log rotates right before one of the files
a poll opens (a follower preempted there, then resumed), or a poll finds a rollover half done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO

import pytest

from moot.cli.log_follow import Follower
from moot.logs import WorkspaceLogs


class Writer:
    """A workspace log of 1 KiB files (about four lines each) and the messages written to it."""

    def __init__(self, root: Path) -> None:
        self.logs = WorkspaceLogs("race", root, max_bytes=1024, backups=20)
        self.path = root / "graph.log"
        self.written: list[str] = []

    def line(self) -> None:
        message = f"line {len(self.written):03d} " + "z" * 60
        self.logs.logger("graph").info(message)
        self.written.append(message)

    def rotate(self) -> None:
        """Write until the file rotates once (and one line more: the new file exists)."""
        ino = os.stat(self.path).st_ino
        while not self.path.exists() or os.stat(self.path).st_ino == ino:
            self.line()


class RotatedBeforeOpen(Follower):
    """A follower whose `at`-th file opening after its creation comes right after `times` rotations."""

    def __init__(self, writer: Writer, at: int, times: int) -> None:
        self.writer, self.at, self.times, self.opened = writer, at, times, None
        super().__init__(writer.path, from_end=True)
        self.opened = 0

    def open_file(self, path: Path) -> BinaryIO:
        if self.opened is not None:
            self.opened += 1
            for _ in range(self.times if self.opened == self.at else 0):
                self.writer.rotate()
        return super().open_file(path)


def messages(lines: list[str]) -> list[str]:
    return [json.loads(line)["message"] for line in lines]


@pytest.mark.parametrize(("at", "times"), [(1, 1), (2, 1), (3, 1), (4, 1), (2, 2), (3, 3)])
def test_rotations_right_before_any_file_a_poll_opens_lose_nothing(tmp_path: Path, at: int, times: int) -> None:
    """Opening 1: the new file; 2 to 4: the backups walked, `.1` to ours, `.3`. Before the fix
    the backups were walked first and the new file opened last: a rotation there lost a file.
    Several rotations inside the walk move ours faster than the walk moves up."""
    writer = Writer(tmp_path)
    writer.line()
    follower = RotatedBeforeOpen(writer, at, times)
    writer.written.clear()  # what the tail shows; following starts after it
    try:
        for _ in range(3):  # ours is `.3` by the poll
            writer.rotate()
        got = follower.poll() + follower.poll() + follower.poll()
        assert follower.opened >= at  # the rotation did come inside a poll
        assert messages(got) == writer.written
    finally:
        follower.close()
        writer.logs.close()


def test_a_poll_in_the_middle_of_a_rollover_waits_or_finds_its_file(tmp_path: Path) -> None:
    """The handler renames the backups one by one (`.1` → `.2` before `name` → `.1`): a poll
    between two renames sees a name missing, and must neither stop there nor read a file twice."""
    writer = Writer(tmp_path)
    writer.line()
    follower = Follower(writer.path, from_end=True)
    writer.written.clear()
    backup = [writer.path.with_name(f"graph.log.{n}") for n in range(4)]
    try:
        writer.rotate()  # ours is .1 now
        writer.rotate()  # .2
        writer.logs.close()  # the handler closes the file before it renames anything
        os.rename(backup[2], backup[3])  # a rollover half done: .2 → .3, .1 → .2 not yet
        got = follower.poll()
        os.rename(backup[1], backup[2])
        got += follower.poll()
        os.rename(writer.path, backup[1])  # `name` → `.1`: no file under the name until a line is written
        got += follower.poll()
        writer.line()
        got += follower.poll() + follower.poll()
        assert messages(got) == writer.written
    finally:
        follower.close()
        writer.logs.close()


def test_a_log_renamed_out_of_the_scheme_is_left_after_a_few_polls(tmp_path: Path) -> None:
    """An outside tool moved our file where no backup name is: the follower cannot tell what
    came between, keeps its file a few polls, then follows the new one rather than stop."""
    writer = Writer(tmp_path)
    writer.line()
    follower = Follower(writer.path, from_end=True)
    try:
        writer.logs.close()
        os.rename(writer.path, tmp_path / "graph.log.old")
        writer.written.clear()
        writer.line()
        polls = [follower.poll() for _ in range(6)]
        assert [messages(lines) for lines in polls[:4]] == [[]] * 4
        assert messages([line for lines in polls for line in lines]) == writer.written
    finally:
        follower.close()
        writer.logs.close()


def test_a_character_split_across_two_reads_stays_whole(tmp_path: Path) -> None:
    path = tmp_path / "agent.log"
    path.write_bytes(b"")
    follower = Follower(path, from_end=True)
    try:
        line = json.dumps({"message": "Ana prefere a Alfama ☀"}, ensure_ascii=False).encode()
        cut = line.index("☀".encode()) + 1  # inside the three bytes of ☀
        with path.open("ab") as f:
            f.write(line[:cut])
            f.flush()
            assert follower.poll() == []
            f.write(line[cut:] + b"\n")
        assert messages(follower.poll()) == ["Ana prefere a Alfama ☀"]
    finally:
        follower.close()
