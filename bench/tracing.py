"""What tracing costs a run: moot with tracing on (OpenTelemetry SDK, batch processor, in-memory
exporter) against tracing off, the same orchestrator, rounds interleaved, in one process.

    python bench/tracing.py [--runs 200] [--checkpointer sqlite|memory]

Target (issue 15): tracing on at most 1.05x tracing off. Off, moot's spans are no-ops: compare
`bench/overhead.py` with the numbers before tracing for "no measurable change".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from moot import telemetry
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner
from overhead import CLASSIC, SCRIPT, time_moot  # noqa: E402 - the same workload and timing as bench/overhead.py


async def compare(kind: str, runs: int) -> dict[str, float]:
    runtime = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=SCRIPT)})
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "sqlite":
            cm = AsyncSqliteSaver.from_conn_string(str(Path(tmp) / "moot.db"))
            saver = await cm.__aenter__()
            await saver.setup()
            await saver.conn.execute("PRAGMA journal_mode=WAL")
        else:
            saver = InMemorySaver()
        orch = runtime.orchestrator(saver, durability="sync")
        for i in range(3):
            await time_moot(orch, -1 - i)
        off, on = [], []
        for i in range(runs):  # off-on, then on-off: a slot's own bias (GC's rhythm) falls on both alike
            for traced in (False, True) if i % 2 == 0 else (True, False):
                telemetry.use(provider if traced else None)
                (on if traced else off).append(await time_moot(orch, 2 * i + traced))
            exporter.clear()
        telemetry.use(None)
        provider.force_flush()
        spans = len(exporter.get_finished_spans())
        if kind == "sqlite":
            await cm.__aexit__(None, None, None)
    provider.shutdown()
    off_ms, on_ms = statistics.median(off) * 1000, statistics.median(on) * 1000
    return {"off_ms": off_ms, "on_ms": on_ms, "ratio": on_ms / off_ms, "spans": spans}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--checkpointer", choices=("sqlite", "memory"), default="sqlite")
    args = ap.parse_args()
    r = asyncio.run(compare(args.checkpointer, args.runs))
    print(
        f"classic deliberation, {args.checkpointer}, {args.runs} runs each, medians: tracing off {r['off_ms']:.2f} ms/run | "
        f"on {r['on_ms']:.2f} ms/run | ratio {r['ratio']:.3f} (target <= 1.05)"
    )


if __name__ == "__main__":
    main()
