"""Hot reload (issue 7): watchfiles sees a save, new runs use the new version, runs in flight finish
on theirs, an invalid edit changes nothing; `moot run --watch` reruns after an edit."""

from __future__ import annotations

import asyncio
import json
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clitools import cli_env, moot_cmd
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import PrivateAttr

from moot.events import Event, Subscription
from moot.models.scripted import ScriptedChatModel
from moot.workspace.hub import WorkspaceHub
from moot.workspace.loader import builtin_path
from moot.workspace.reload import ReloadManager

DATA = Path(__file__).parent / "data"
MARKER = "MARKER-V2"


class GatedModel(ScriptedChatModel):
    """The scripted model, but calls of the `gated` agent wait until the test opens the gate:
    it holds runs in flight, at a known step, for as long as the test needs."""

    gated: str = "critic"
    _gate: asyncio.Event = PrivateAttr(default_factory=asyncio.Event)
    _waiting: int = PrivateAttr(default=0)

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        if (getattr(run_manager, "metadata", None) or {}).get("moot_agent") == self.gated:
            self._waiting += 1
            await self._gate.wait()
        return await super()._agenerate(messages, stop, run_manager, **kwargs)


def answers(script: dict[str, Any]) -> Callable[[list[BaseMessage], dict[str, Any]], Any]:
    """Every agent's first scripted answer, whichever run asks (the booking agent searches)."""
    return lambda messages, info: script[info["agent"]][0]


def task_of(messages: list[BaseMessage]) -> str:
    return re.search(r"Task:\n(.+)", str(messages[-1].content)).group(1)  # type: ignore[union-attr]


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def next_event(sub: Subscription, type_: str, timeout: float = 20.0) -> Event:
    async def find() -> Event:
        while True:
            event = await sub.get()
            if event is not None and event.type == type_:
                return event

    return await asyncio.wait_for(find(), timeout)


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """An editable copy of the built-in demo (named `demo`: the hub finds it before the built-in)."""
    target = tmp_path / "ws"
    shutil.copytree(builtin_path("demo"), target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def test_reload_under_load(demo_copy: Path, demo_script: dict[str, Any]) -> None:
    model = GatedModel(script=answers(demo_script))
    async with WorkspaceHub([demo_copy], models={"default": model}, checkpointer=InMemorySaver()) as hub:
        manager = await hub.get("demo")
        v1 = manager.current
        events = hub.bus.subscribe()
        async with ReloadManager(hub) as reloader:
            await reloader.ready()
            old = [asyncio.create_task(manager.run(f"Trip {i} to Lisbon")) for i in range(20)]
            await until(lambda: model._waiting == 20)  # all 20 in flight, each about to call the critic

            edit(demo_copy / "agents" / "critic.yaml", "You are the critic", f"You are the critic ({MARKER})")
            reloaded = await next_event(events, "workspace_reloaded")
            v2 = manager.current
            assert v2.hash != v1.hash and reloaded.data["version"] == v2.hash and reloaded.data["previous"] == v1.hash
            assert reloaded.data["files"] == ["agents/critic.yaml"] and reloaded.workspace == "demo"
            assert manager.in_use(v1) == 20

            new = [asyncio.create_task(manager.run(f"Trip {i} to Lisbon")) for i in range(20, 25)]
            await until(lambda: model._waiting == 25)
            model._gate.set()
            results = await asyncio.gather(*old, *new)  # a failed run would raise here

    assert [r.status for r in results] == ["finished"] * 25
    assert [r.version for r in results] == [v1.hash] * 20 + [v2.hash] * 5
    critic_prompts = {task_of(c["messages"]): str(c["messages"][0].content) for c in model.calls if c["agent"] == "critic"}
    assert len(critic_prompts) == 25
    for task, prompt in critic_prompts.items():
        index = int(task.split()[1])
        # the old runs called the critic after the reload, and still with their version's prompt
        assert (MARKER in prompt) == (index >= 20), task
    assert manager.in_use(v1) == 0


async def test_an_invalid_edit_keeps_serving_the_old_version(demo_copy: Path, demo_script: dict[str, Any]) -> None:
    model = ScriptedChatModel(script=answers(demo_script))
    async with WorkspaceHub([demo_copy], models={"default": model}) as hub:
        manager = await hub.get("demo")
        v1 = manager.current
        events = hub.bus.subscribe()
        async with ReloadManager(hub) as reloader:
            await reloader.ready()
            stages = demo_copy / "stages.yaml"
            edit(stages, "agents: [optimistic, [critic", "agents: [optimistic, [critc")
            edit(demo_copy / "agents" / "critic.yaml", "exit: once_per_stage", "exit: sometimes")
            failed = await next_event(events, "workspace_reload_failed")
            assert manager.current is v1 and failed.data["version"] == v1.hash
            problems = failed.data["problems"]
            assert any(re.search(r"stages\.yaml:\d+.*'critc'", p) for p in problems), problems
            assert any("critic.yaml" in p for p in problems), problems  # every problem, not the first only
            assert all(d["file"] and d["line"] for d in failed.data["details"])
            run = await manager.run("Plan a weekend in Porto")
            assert run.status == "finished" and run.version == v1.hash

            edit(stages, "[critc", "[critic")
            edit(demo_copy / "agents" / "critic.yaml", "exit: sometimes", "exit: {max_runs: 1}")
            reloaded = await next_event(events, "workspace_reloaded")
            assert reloaded.data["version"] == manager.current.hash != v1.hash
        assert [r.ok for r in reloader.results][-1] is True

    log = demo_copy.parent / "moot-home" / "logs" / "workspaces" / "demo" / "reload_manager.log"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["event"] for line in lines][-2:] == ["workspace_reload_failed", "workspace_reloaded"]
    assert any("critc" in p for line in lines for p in line["data"].get("problems", []))


async def test_saves_that_change_nothing_do_not_reload(demo_copy: Path, demo_script: dict[str, Any]) -> None:
    model = ScriptedChatModel(script=answers(demo_script))
    async with WorkspaceHub([demo_copy], models={"default": model}) as hub:
        manager = await hub.get("demo")
        v1 = manager.current
        events = hub.bus.subscribe()
        async with ReloadManager(hub, debounce_ms=100) as reloader:
            await reloader.ready()
            (demo_copy / "README.md").write_text("notes")  # not a workspace file: not even a check
            (demo_copy / "agents" / "notes.txt").write_text("notes")
            await asyncio.sleep(0.8)
            assert reloader.checks == 0
            critic = demo_copy / "agents" / "critic.yaml"
            critic.write_text(critic.read_text())  # saved, same content: checked, nothing to reload
            await until(lambda: reloader.checks == 1)
            assert manager.current is v1 and reloader.results == []
            edit(critic, "You are the critic", "You are the strict critic")  # the watcher still works
            await next_event(events, "workspace_reloaded")


def test_run_watch_reruns_after_an_edit(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(builtin_path("demo"), ws)
    home = tmp_path / "home"
    cmd = moot_cmd("run", "Plan a 3-day trip to Lisbon", "-w", str(ws), "--watch", "--model", f"scripted:{DATA / 'demo_script.json'}")
    proc = subprocess.Popen(cmd, env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]

    def expect(pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if found := re.search(pattern, line):
                return found
        proc.kill()
        raise AssertionError(f"no line matching {pattern!r}; stderr so far:\n{''.join(seen)}")

    try:
        first = expect(r"run run-\w+ finished on version (\w{12})").group(1)
        edit(ws / "agents" / "critic.yaml", "You are the critic", "You are the strict critic")
        second = expect(r"reloaded workspace demo: version (\w{12})").group(1)
        assert second != first
        assert expect(r"run run-\w+ finished on version (\w{12})").group(1) == second
        edit(ws / "stages.yaml", "agents: [optimistic, [critic", "agents: [optimistic, [critc")
        expect(r"edit refused; still on version " + second)
        expect(r"stages\.yaml:\d+:\d+: stage 'proposal' names an unknown agent 'critc'")
        proc.send_signal(signal.SIGINT)
        expect(r"stopped watching", timeout=20)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    versions = sorted(p.stem[:12] for p in (home / "workspaces" / "demo" / "versions").glob("*.json"))
    assert versions == sorted([first, second])

