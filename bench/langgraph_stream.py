"""moot's /v1 event stream against its LangGraph stream, one run each, side by side in one `moot serve`.

Both routes serve the same runs from the same run event log: `GET /v1/runs/{id}/events` (after
`POST /v1/sessions/{id}/runs`) and `POST /threads/{id}/runs/stream` (LangGraph's, which starts the
run and streams it in one request). Each round runs the classic deliberation once through each,
in alternating order (so that machine noise and warm caches hit both alike), on a zero-latency
scripted model (`MOOT_MODEL=scripted:...`), so what is measured is the service, not a model.

    python bench/langgraph_stream.py [--rounds 30] [--warmup 3] [--modes updates,custom]

Printed, per route: events per run, events/s (events over the run's wall time, from the request
that starts it to the stream's end), first-event latency (the first SSE message), first graph
event latency (the first event a node produced: /v1 `stage_entered`/`agent_started`, LangGraph
`updates`/`custom`/`values`), the run's wall time; medians, and the LangGraph/v1 ratios (target:
the LangGraph route within 1.2x of /v1). One `moot serve` process (inline queue, SQLite under a
temporary MOOT_HOME, open mode): nothing is left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servicetools import free_port, moot_process, processes, wait_http  # noqa: E402

SCRIPT = ROOT / "tests" / "data" / "classic_script.json"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
WINNER = "alfama-walks"
V1_GRAPH_EVENTS = {"stage_entered", "agent_started"}
LG_GRAPH_EVENTS = {"updates", "custom", "values"}
ROUTES = ("v1", "langgraph")


@dataclass
class Leg:
    """One run through one route, as its client saw it (seconds from the request that started it)."""

    events: int
    first: float
    first_graph: float
    wall: float
    last: dict | None = None

    @property
    def rate(self) -> float:
        return self.events / self.wall


async def sse(resp: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of each Server-Sent Event of a streamed response."""
    message: dict[str, str] = {}
    async for line in resp.aiter_lines():
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(":")
                message[name] = value.removeprefix(" ")
            continue
        if "data" in message:
            yield message.get("event", "message"), message["data"]
        message = {}


async def v1_leg(http: httpx.AsyncClient) -> Leg:
    resp = await http.post("/v1/sessions", json={"workspace": "classic"})
    resp.raise_for_status()
    session_id = resp.json()["session_id"]
    t0 = time.perf_counter()
    resp = await http.post(f"/v1/sessions/{session_id}/runs", json={"task": TASK})
    resp.raise_for_status()
    events, first, first_graph, last = 0, 0.0, 0.0, ""
    async with http.stream("GET", resp.json()["links"]["events"], headers={"Accept": "text/event-stream"}) as stream:
        stream.raise_for_status()
        async for kind, data in sse(stream):
            now = time.perf_counter() - t0
            events += 1
            first = first or now
            if kind in V1_GRAPH_EVENTS and not first_graph:
                first_graph = now
            last = kind
            if kind == "run_finished":
                winner = json.loads(data)["data"].get("winner")
                if winner != WINNER:
                    raise RuntimeError(f"/v1 run finished with winner {winner!r}")
    wall = time.perf_counter() - t0
    if last != "run_finished":
        raise RuntimeError(f"/v1 stream ended on {last!r}")
    return Leg(events, first, first_graph, wall)


async def langgraph_leg(http: httpx.AsyncClient, modes: list[str]) -> Leg:
    resp = await http.post("/threads", json={"metadata": {"graph_id": "classic"}})
    resp.raise_for_status()
    thread_id = resp.json()["thread_id"]
    body = {"assistant_id": "classic", "input": {"task": TASK}, "stream_mode": modes}
    events, first, first_graph, last = 0, 0.0, 0.0, None
    t0 = time.perf_counter()
    async with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body, headers={"Accept": "text/event-stream"}) as stream:
        stream.raise_for_status()
        async for kind, data in sse(stream):
            now = time.perf_counter() - t0
            events += 1
            first = first or now
            if kind.split("|")[0] in LG_GRAPH_EVENTS and not first_graph:
                first_graph = now
            if kind == "error":
                raise RuntimeError(f"LangGraph stream error: {data[:300]}")
            last = kind
    wall = time.perf_counter() - t0
    resp = await http.get(f"/threads/{thread_id}/state")
    resp.raise_for_status()
    winner = resp.json()["values"].get("winner")
    if winner != WINNER:
        raise RuntimeError(f"LangGraph run ended ({last!r}) with winner {winner!r}")
    return Leg(events, first, first_graph, wall)


def report(legs: dict[str, list[Leg]]) -> None:
    def med(route: str, attr: str) -> float:
        return statistics.median(getattr(leg, attr) for leg in legs[route])

    print(f"{'route':<11}{'events':>8}{'events/s':>10}{'first ms':>10}{'1st graph ms':>14}{'wall ms':>10}   (medians of {len(legs['v1'])} runs each)")
    for route in ROUTES:
        print(
            f"{route:<11}{med(route, 'events'):>8.0f}{med(route, 'rate'):>10.0f}{med(route, 'first') * 1000:>10.1f}"
            f"{med(route, 'first_graph') * 1000:>14.1f}{med(route, 'wall') * 1000:>10.1f}"
        )
    ratios = {
        "wall time": med("langgraph", "wall") / med("v1", "wall"),
        "first event": med("langgraph", "first") / med("v1", "first"),
        "first graph event": med("langgraph", "first_graph") / med("v1", "first_graph"),
    }
    for name, ratio in ratios.items():
        verdict = "ok" if ratio <= 1.2 else "OVER the 1.2x target"
        print(f"ratio langgraph/v1, {name}: {ratio:.2f}x  ({verdict})")
    # events/s is judged only when both routes send as many events: `values` alone sends a frame
    # per step that changed the state, fewer than /v1's events, so its rate says nothing of cost
    same = abs(med("langgraph", "events") - med("v1", "events")) <= 0.1 * med("v1", "events")
    rate = med("v1", "rate") / med("langgraph", "rate")
    verdict = ("ok" if rate <= 1.2 else "OVER the 1.2x target") if same else "not judged: the routes send different numbers of events"
    print(f"ratio langgraph/v1, events/s (v1/langgraph): {rate:.2f}x  ({verdict})")


async def bench(url: str, rounds: int, warmup: int, modes: list[str]) -> dict[str, list[Leg]]:
    legs: dict[str, list[Leg]] = {route: [] for route in ROUTES}
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for i in range(warmup + rounds):
            order = ROUTES if i % 2 == 0 else ROUTES[::-1]
            for route in order:
                leg = await (v1_leg(http) if route == "v1" else langgraph_leg(http, modes))
                if i >= warmup:
                    legs[route].append(leg)
    return legs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--modes", default="updates,custom", help="the LangGraph stream modes asked for")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="moot-lgbench-") as tmp:
        where = Path(tmp)
        shutil.copytree(ROOT / "tests" / "data" / "workspaces" / "classic", where / "ws" / "classic")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
        env.update(
            MOOT_HOME=str(where / "home"), MOOT_WORKSPACES=str(where / "ws"), MOOT_MODEL=f"scripted:{SCRIPT}",
            MOOT_EMBEDDER="wordllama", PYTHONUNBUFFERED="1",
        )
        port = free_port()
        log = where / "api.log"
        with processes(moot_process(["serve", "--port", str(port)], env, log)):
            url = f"http://127.0.0.1:{port}"
            wait_http(url)
            print(f"langgraph_stream: one moot serve (inline queue, SQLite), classic workspace, scripted model, "
                  f"LangGraph stream modes {modes}, {args.rounds} interleaved rounds after {args.warmup} warm-up")
            legs = asyncio.run(bench(url, args.rounds, args.warmup, modes))
        report(legs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
