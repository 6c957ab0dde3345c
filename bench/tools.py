"""The ToolRuntime's cost over a bare FastMCP client, per tool call, in one run.

Two session kinds, each measured both ways: the demo travel server in memory (FastMCP's in-memory
transport, as a builtin server runs) and the same server over stdio (a subprocess, as a `command`
server runs). "bare" is a fastmcp `Client` on its own session of the same kind, calling
`call_tool_mcp` (the raw protocol result: the least work a client can do); "runtime" is
`ToolRuntime.call`, which also checks the arguments against the schema, looks the key up in the
ledger, bounds the call with a timeout, converts the result and records it. Every runtime call has
a fresh key (MemoryLedger), so every call really calls. Calls alternate between the two, in a
random order per pair, so that machine noise hits both alike.

    python bench/tools.py [--calls 400] [--warmup 30]

Target (issue 4): runtime median under 1.2x the bare client's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import FastMCPTransport, StdioTransport

from moot.persistence.ledger import MemoryLedger
from moot.tools.runtime import ToolRuntime
from moot.tools.servers import stdio_env
from moot.builtin.servers.travel import make_travel_server
from moot.tools.types import ServerSpec

TOOL = "search_flights"
ARGS = {"origin": "Lisbon", "destination": "Porto", "date": "2026-12-10"}
STDIO = [sys.executable, "-c", "from moot.builtin.servers.travel import make_travel_server as m; m(':memory:').run(show_banner=False)"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def race(runtime: Callable[[int], Awaitable[Any]], bare: Callable[[int], Awaitable[Any]], calls: int, warmup: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"runtime": [], "bare": []}
    pair = [("runtime", runtime), ("bare", bare)]
    for i in range(warmup + calls):
        random.shuffle(pair)
        for name, call in pair:
            t0 = time.perf_counter()
            await call(i)
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


async def in_memory(calls: int, warmup: int) -> dict[str, list[float]]:
    servers = {"travel": ServerSpec(builtin="travel")}
    async with ToolRuntime(servers, ledger=MemoryLedger(), builtins={"travel": lambda: make_travel_server(":memory:")}) as tr:
        async with Client(FastMCPTransport(make_travel_server(":memory:"))) as client:
            return await race(
                lambda i: tr.call(TOOL, ARGS, key=f"mem:{i}"), lambda i: client.call_tool_mcp(TOOL, ARGS), calls, warmup
            )


async def stdio(calls: int, warmup: int) -> dict[str, list[float]]:
    spec = ServerSpec(command=STDIO)
    async with ToolRuntime({"travel": spec}, ledger=MemoryLedger()) as tr:
        transport = StdioTransport(STDIO[0], STDIO[1:], env=stdio_env(spec), keep_alive=False, log_file=Path(os.devnull))
        async with Client(transport) as client:
            return await race(
                lambda i: tr.call(TOOL, ARGS, key=f"stdio:{i}"), lambda i: client.call_tool_mcp(TOOL, ARGS), calls, warmup
            )


def report(kind: str, times: dict[str, list[float]]) -> float:
    runtime, bare = times["runtime"], times["bare"]
    med_r, med_b = statistics.median(runtime), statistics.median(bare)
    p95_r, p95_b = pct(runtime, 0.95), pct(bare, 0.95)
    print(f"{kind:<10} {'median ms':>10} {'p95 ms':>10}")
    print(f"  {'bare':<8} {med_b * 1e3:>10.3f} {p95_b * 1e3:>10.3f}")
    print(f"  {'runtime':<8} {med_r * 1e3:>10.3f} {p95_r * 1e3:>10.3f}")
    ratio = med_r / med_b
    print(f"  ratio    {ratio:>10.2f}x {p95_r / p95_b:>9.2f}x   (median: {'ok' if ratio < 1.2 else 'OVER'} vs 1.2x target)")
    return ratio


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    print(f"{TOOL}({ARGS}) x {args.calls} per side, after {args.warmup} warm-up calls")
    ratios = [report("in-memory", await in_memory(args.calls, args.warmup)), report("stdio", await stdio(args.calls, args.warmup))]
    return 0 if max(ratios) < 1.2 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
