"""Helpers for tests that drive the real `moot` command in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def moot_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "moot.cli.main", *args]


def cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MOOT_MODEL", None)
    env.update(MOOT_HOME=str(home), PYTHONIOENCODING="utf-8", COLUMNS="200")
    return env


def run_many(jobs: dict[str, tuple[Path, tuple[str, ...]]], timeout: float = 90) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run independent CLI calls at the same time (each is a fresh Python process)."""
    procs = {
        name: subprocess.Popen(moot_cmd(*args), env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, (home, args) in jobs.items()
    }
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=timeout)
        out[name] = subprocess.CompletedProcess(jobs[name][1], proc.returncode, stdout, stderr)
    return out


def events_until_finished(proc: subprocess.Popen[str], agents: set[str]) -> list[dict[str, Any]]:
    """Read a run's JSON-lines events from `proc` until every agent of `agents` has finished
    (the moment a kill test stops the process: after those agents, before the next)."""
    events: list[dict[str, Any]] = []
    finished: set[str] = set()
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        events.append(event)
        if event["type"] == "agent_finished":
            finished.add(event["agent"])
        if agents <= finished:
            break
    return events


@dataclass
class KillPoint:
    """What a kill test saw: the events before the kill, and the state of things at the kill."""

    events: list[dict[str, Any]]
    saved_before_kill: bool
    alive_at_kill: bool
    stderr: str


def kill_after(proc: subprocess.Popen[str], agents: set[str], saved: Callable[[], bool]) -> KillPoint:
    """SIGKILL `proc` once `agents` have finished and `saved()` says their writes reached the
    checkpointer (they land just after the node returns; waited for up to 5 s)."""
    try:
        events = events_until_finished(proc, agents)
        deadline = time.monotonic() + 5
        while not saved() and time.monotonic() < deadline:
            time.sleep(0.05)
        saved_before_kill = saved()
        alive_at_kill = proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stderr = proc.stderr.read() if proc.stderr else ""
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert events, f"the run printed no events: {stderr}"
    return KillPoint(events, saved_before_kill, alive_at_kill, stderr)
