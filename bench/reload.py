"""Hot reload (issue 7): how soon a saved edit serves new runs, and what a reload costs runs in flight.

1. Save → new runs: a copy of the demo workspace is served by a `WorkspaceHub` with a
   `ReloadManager` watching it (watchfiles). Each of `--edits` edits changes an agent's prompt on
   disk; the time is taken from just before the file is written to the moment the manager serves
   the new version (a run started then is checked to record it). Target: under 1 s.
2. Runs in flight: `--runs` concurrent deliberations with a scripted model that answers after
   `--latency` seconds, timed per run, in rounds without a reload and rounds during which an edit
   is saved (and reloaded) while the runs are in the middle of their agents. Reported: median and
   p95 run time with and without, and their ratio; every run must finish on its starting version.

    python bench/reload.py [--edits 10] [--runs 20] [--rounds 3] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver

from moot.models.scripted import ScriptedChatModel
from moot.workspace.hub import WorkspaceHub
from moot.workspace.loader import builtin_path
from moot.workspace.manager import WorkspaceManager
from moot.workspace.reload import ReloadManager

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = json.loads((ROOT / "tests" / "data" / "demo_script.json").read_text())


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def save_edit(ws: Path, n: int) -> None:
    """A real change of an agent's prompt (a new version), written in place as an editor saves."""
    path = ws / "agents" / "critic.yaml"
    original = _ORIGINAL.setdefault(path, path.read_text(encoding="utf-8"))
    path.write_text(original.replace("You are the critic", f"You are the critic (edit {n})", 1), encoding="utf-8")


_ORIGINAL: dict[Path, str] = {}


async def until_new_version(manager: WorkspaceManager, old: str, timeout: float = 10.0) -> float:
    """Poll (1 ms) until the manager serves a version other than `old`; the moment it does."""
    deadline = time.perf_counter() + timeout
    while manager.current.hash == old:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no reload within {timeout} s")
        await asyncio.sleep(0.001)
    return time.perf_counter()


async def save_to_serve(manager: WorkspaceManager, ws: Path, edits: int) -> list[float]:
    times = []
    for n in range(edits):
        old = manager.current.hash
        started = time.perf_counter()
        save_edit(ws, n)
        served = await until_new_version(manager, old)
        result = await manager.run(f"Check run after edit {n}")
        if result.version != manager.current.hash or result.version == old:
            raise RuntimeError(f"edit {n}: the next run used version {result.version[:12]}, not the new one")
        times.append(served - started)
        await asyncio.sleep(0.2)  # let the watcher settle between saves, as a person would
    return times


async def timed_run(manager: WorkspaceManager, task: str) -> tuple[float, str]:
    started = time.perf_counter()
    version = manager.current.hash
    result = await manager.run(task)
    if result.status != "finished":
        raise RuntimeError(f"run {result.run_id} ended {result.status}")
    if result.version != version:
        raise RuntimeError(f"run {result.run_id} started on {version[:12]} but recorded {result.version[:12]}")
    return time.perf_counter() - started, version


async def in_flight(manager: WorkspaceManager, ws: Path, runs: int, rounds: int, latency: float) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"without reload": [], "during reload": []}
    for r in range(rounds * 2):
        reload_now = r % 2 == 1  # interleaved, so that machine noise hits both alike
        old = manager.current.hash
        tasks = [asyncio.create_task(timed_run(manager, f"Trip {i} of round {r}")) for i in range(runs)]
        if reload_now:
            await asyncio.sleep(latency * 2)  # the runs are past their first agent
            save_edit(ws, 1000 + r)
            await until_new_version(manager, old)
        done = await asyncio.gather(*tasks)
        if reload_now and not all(v == old for _, v in done):
            raise RuntimeError("a run in flight did not finish on its starting version")
        found["during reload" if reload_now else "without reload"] += [t for t, _ in done]
        await asyncio.sleep(0.3)
    return found


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="moot-bench-reload-"))
    os.environ["MOOT_HOME"] = str(tmp / "home")
    ws = tmp / "ws"
    shutil.copytree(builtin_path("demo"), ws)
    model = ScriptedChatModel(script=lambda messages, info: SCRIPT[info["agent"]][0], latency=args.latency)
    try:
        async with WorkspaceHub([ws], models={"default": model}, checkpointer=InMemorySaver()) as hub:
            manager = await hub.get("demo")
            await manager.run("warm up")
            async with ReloadManager(hub, debounce_ms=args.debounce_ms) as reloader:
                await reloader.ready()
                times = await save_to_serve(manager, ws, args.edits)
                flight = await in_flight(manager, ws, args.runs, args.rounds, args.latency)
                reloads = [r.took_s for r in reloader.results if r.ok]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"save -> new runs use the edit ({len(times)} edits, watchfiles debounce {args.debounce_ms} ms):")
    print(f"  median {statistics.median(times) * 1000:.0f} ms   p95 {p95(times) * 1000:.0f} ms   max {max(times) * 1000:.0f} ms   (target < 1000 ms)")
    print(f"  of which the reload itself (load, validate, compile): median {statistics.median(reloads) * 1000:.0f} ms")
    base, during = flight["without reload"], flight["during reload"]
    print(f"runs in flight ({args.runs} concurrent, model latency {args.latency * 1000:.0f} ms/call, {args.rounds} rounds each):")
    print(f"  without reload: median {statistics.median(base) * 1000:.0f} ms   p95 {p95(base) * 1000:.0f} ms")
    print(f"  during reload:  median {statistics.median(during) * 1000:.0f} ms   p95 {p95(during) * 1000:.0f} ms")
    print(f"  ratio: median {statistics.median(during) / statistics.median(base):.2f}   p95 {p95(during) / p95(base):.2f}")
    print(f"  every run finished on the version it started with ({len(base) + len(during)} runs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--debounce-ms", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
