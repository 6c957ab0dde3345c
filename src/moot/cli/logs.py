"""`moot logs WORKSPACE`: the workspace's log files, merged by time, readable or raw.

Every file is JSON lines with a UTC `ts` of fixed width, so lines of several files merge by
sorting on it. The tail reads each file from its end (and its rotated `.1`, `.2`, … when the
current file is shorter than asked), so a large log costs no more than the lines shown.
`--follow` polls the files like `tail -F` (`log_follow.Follower`): it keeps the handle of a file
that was rotated away, reads it to its end and any backup written in between, so no line is lost
across rotation; a log that appears later (a new agent) is followed from its start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import yaml

from moot.cli.log_follow import Follower
from moot.errors import UsageError
from moot.logs import COMPONENTS, logs_dir
from moot.workspace.spec import NAME

POLL_S = 0.2


def add_logs_parser(sub: Any) -> None:
    p = sub.add_parser("logs", help="show a workspace's logs, merged by time (add --follow to keep watching)")
    p.add_argument("workspace", help="workspace name (or its folder)")
    p.add_argument("--component", action="append", choices=COMPONENTS, help="only this component's log (repeatable)")
    p.add_argument("--agent", action="append", metavar="ROLE", help="only this agent's log (repeatable)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    p.add_argument("-n", "--lines", type=int, default=20, help="how many of the latest lines to show first (default 20)")
    p.add_argument("--json", action="store_true", help="print the raw JSON lines")


def run_logs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.lines < 0:
        raise UsageError(f"--lines {args.lines}: give a number of lines, 0 or more")
    name = workspace_name(args.workspace)
    if not re.fullmatch(NAME, name):
        raise UsageError(f"{args.workspace!r} is neither a workspace name nor a workspace folder (with a moot.yaml)")
    folder = logs_dir(name)
    if not folder.is_dir() or not _all_logs(folder):
        known = sorted(p.name for p in folder.parent.iterdir() if p.is_dir() and _all_logs(p)) if folder.parent.is_dir() else []
        raise UsageError(
            f"no logs for workspace {name!r} in {folder}; "
            + (f"workspaces with logs: {', '.join(known)}" if known else "no workspace has logged yet (`moot run` writes them)")
        )
    files = select(folder, args.component, args.agent)
    if not files and not args.follow:
        agents = sorted(p.stem for p in (folder / "agents").glob("*.log"))
        raise UsageError(
            f"workspace {name!r} has no log for {_described(args.component, args.agent)}; "
            f"agents with logs: {', '.join(agents) or 'none'}"
        )
    show = _printer(out, name, args.json)
    # follow from where the tail ends: the files are opened before the tail is read
    followers = {p.absolute(): Follower(p, from_end=True) for p in files} if args.follow else {}
    try:
        show(last_lines(files, args.lines, {key: (f.ino, f.start) for key, f in followers.items()}))
        if args.follow:
            follow(folder, args.component, args.agent, show, followers=followers)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `moot logs demo | head`: stop quietly, and let the exit flush go nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        for follower in followers.values():
            follower.close()
    return 0


def workspace_name(arg: str) -> str:
    """A workspace name as given, or the `name` in the `moot.yaml` of a workspace folder."""
    folder = Path(arg)
    if (folder / "moot.yaml").is_file() and (os.sep in arg or folder.is_dir()):
        try:
            found = (yaml.safe_load((folder / "moot.yaml").read_text(encoding="utf-8")) or {}).get("name")
        except (yaml.YAMLError, AttributeError) as exc:
            raise UsageError(f"{folder / 'moot.yaml'} does not parse ({exc}); give the workspace's name instead") from exc
        if isinstance(found, str) and found:
            return found
    return arg


def select(folder: Path, components: list[str] | None, agents: list[str] | None) -> list[Path]:
    """The current log files chosen by the filters (all of them without filters)."""
    if not components and not agents:
        return _all_logs(folder)
    wanted = [folder / f"{c}.log" for c in components or ()] + [folder / "agents" / f"{a}.log" for a in agents or ()]
    return [p for p in wanted if p.is_file()]


def _all_logs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.log")) + sorted(folder.glob("agents/*.log"))


def _described(components: list[str] | None, agents: list[str] | None) -> str:
    parts = [f"component {c!r}" for c in components or ()] + [f"agent {a!r}" for a in agents or ()]
    return " or ".join(parts)


def last_lines(files: Iterable[Path], n: int, upto: dict[Path, tuple[int, int]] | None = None) -> list[str]:
    """The latest `n` lines of all `files` together (their rotated backups included), oldest first.

    `upto` maps a file to (inode, offset): that file is read only up to the offset, where
    following it starts, so that no line is shown twice.
    """
    if n == 0:
        return []
    found: list[str] = []
    for path in files:
        found.extend(_tail(path, n, (upto or {}).get(path.absolute())))
    return sorted(found, key=_ts)[-n:]


def _tail(path: Path, n: int, upto: tuple[int, int] | None = None) -> list[str]:
    """The last `n` lines of `path` and, if it has fewer, of `path.1`, `path.2`, …"""
    lines: list[str] = []
    index = 0
    while len(lines) < n:
        file = path if index == 0 else path.with_name(f"{path.name}.{index}")
        try:
            with file.open("rb") as f:
                end = upto[1] if index == 0 and upto and os.fstat(f.fileno()).st_ino == upto[0] else None
                lines = _file_tail(f, n - len(lines), end) + lines
        except FileNotFoundError:
            break
        index += 1
    return lines


def _file_tail(f: BinaryIO, n: int, end: int | None = None, block: int = 65536) -> list[str]:
    """The last `n` non-empty lines of an open file (before byte `end`), read backwards by blocks."""
    pos = f.seek(0, os.SEEK_END) if end is None else end
    data = b""
    while pos > 0 and data.count(b"\n") <= n:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        data = f.read(step) + data
    text = data.decode("utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip()][-n:]


def _ts(line: str) -> str:
    try:
        return str(json.loads(line).get("ts", ""))
    except (ValueError, AttributeError):
        return ""


def follow(
    folder: Path,
    components: list[str] | None,
    agents: list[str] | None,
    show: Any,
    *,
    followers: dict[Path, Follower] | None = None,
    poll_s: float = POLL_S,
) -> None:
    """Print new lines of the selected logs until interrupted (Ctrl-C) or terminated.

    `followers` are the files already followed (opened where their tail ended); a selected
    file that appears later is followed from its start. The caller closes the `followers` it gave.
    """
    owned = followers is None
    followers = {} if followers is None else followers
    try:
        while True:
            for path in select(folder, components, agents):
                if path.absolute() not in followers:
                    followers[path.absolute()] = Follower(path, from_end=False)
            batch: list[str] = []
            for follower in followers.values():
                batch += follower.poll()
            if batch:
                show(sorted(batch, key=_ts))
            time.sleep(poll_s)
    finally:
        for follower in followers.values() if owned else ():
            follower.close()


def _printer(out: TextIO, workspace: str, raw: bool) -> Any:
    prefix = f"moot.workspace.{workspace}."

    def show(lines: list[str]) -> None:
        for line in lines:
            print(line if raw else readable(line, prefix), file=out, flush=True)

    return show


def readable(line: str, prefix: str = "") -> str:
    """`10:21:06.080 INFO    orchestrator     run-5b5dfb session-8a492a final  run finished: …`"""
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError
    except ValueError:
        return line
    who = str(record.get("logger", ""))
    who = who[len(prefix):] if prefix and who.startswith(prefix) else who
    if who.startswith("agents."):
        who = f"agent {who[len('agents.'):]}"
    ids = " ".join(_short(str(record[k])) for k in ("run_id", "session_id") if record.get(k))
    where = " ".join(str(record[k]) for k in ("stage",) if record.get(k))
    head = f"{_local_time(str(record.get('ts', '')))} {str(record.get('level', '')):<7} {who:<20}"
    context = " ".join(part for part in (ids, where) if part)
    return f"{head} {context + '  ' if context else ''}{record.get('message', '')}"


def _short(identifier: str) -> str:
    """`run-5b5dfb0b1520` → `run-5b5dfb`: enough to tell runs apart, short enough to read."""
    prefix, _, rest = identifier.rpartition("-")
    return f"{prefix}-{rest[:6]}" if prefix and len(rest) > 6 else identifier[:16]


def _local_time(ts: str) -> str:
    try:
        moment = datetime.fromisoformat(ts).astimezone()
    except ValueError:
        return ts or "?"
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


__all__ = ["add_logs_parser", "follow", "last_lines", "readable", "run_logs", "select", "workspace_name"]
