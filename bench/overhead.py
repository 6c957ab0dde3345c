"""moot's overhead over a hand-written LangGraph graph of the same shape, in one run.

Both graphs run the classic deliberation (optimistic → critic ∥ devil's advocate → synthesizer →
booking) with the same agent objects and the same zero-latency scripted model, over the same
channels (`MootState`), with the same checkpointer and durability. The raw graph has no write
policy, no events, no expression-driven router: its routing is hand-written Python. Rounds
alternate between the two so that machine noise hits both alike.

    python bench/overhead.py [--runs 60] [--checkpointer sqlite|memory|both]

Target (issue 12): moot at most 1.15x the raw graph's time per run (issue 2: 1.3x).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from moot.agents.base import AgentContext
from moot.models.scripted import ScriptedChatModel
from moot.orchestrator import Orchestrator, initial_state
from moot.workspace.runner import WorkspaceRunner
from moot.state import MootState

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = json.loads((ROOT / "tests" / "data" / "classic_script.json").read_text())
CLASSIC = ROOT / "tests" / "data" / "workspaces" / "classic"
"""The classic deliberation (free proposals, critic and devil's advocate, synthesizer, booking): the
machinery's workload; the built-in demo adds an intake and searches, which these benches do not measure."""
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
PLAN = [
    ("proposal", ("optimistic",)),
    ("proposal", ("critic", "devils_advocate")),
    ("synthesis", ("synthesizer",)),
    ("booking", ("booking",)),
    ("booking", ("booking",)),  # the workspace's booking agent runs twice (`exit: {max_runs: 2}`)
]
STEP_AFTER = {0: 0, 1: 1, 3: 2, 4: 3, 5: 4, 6: 5}
"""How many steps of PLAN are done, by how many agents have run."""


def raw_graph(runtime: WorkspaceRunner, checkpointer: Any) -> Any:
    """The same deliberation written by hand on LangGraph: same nodes and channels, nothing else."""
    ws = runtime.workspace
    model = runtime.models["default"]

    def make(name: str) -> Any:
        agent = ws.agents[name]

        async def node(state: MootState) -> dict[str, Any]:
            stage = state["stage"]
            ctx = AgentContext(name, stage, state.get("round") or 1, state["run_id"], state["session_id"], model, ws.plan[stage].weights, ws.spec.max_repairs)
            result = await agent({k: state.get(k) for k in agent.reads}, ctx)
            return {**result.updates, "executed_agents_per_stage": {stage: [name]}, "usage": {name: result.usage.as_dict()}}

        return node

    def router(state: MootState) -> dict[str, Any]:
        step = sum(len(v) for v in (state.get("executed_agents_per_stage") or {}).values())
        done = STEP_AFTER[step]
        if done >= len(PLAN):
            return {"stage": "final", "done": True}
        return {"stage": PLAN[done][0]}

    def route(state: MootState) -> Any:
        if state.get("done"):
            return END
        step = sum(len(v) for v in (state.get("executed_agents_per_stage") or {}).values())
        return list(PLAN[STEP_AFTER[step]][1])

    g = StateGraph(MootState)
    g.add_node("stage_router", router)
    names = list(dict.fromkeys(n for _, step in PLAN for n in step))
    for name in names:
        g.add_node(name, make(name))
        g.add_edge(name, "stage_router")
    g.add_edge(START, "stage_router")
    g.add_conditional_edges("stage_router", route, names + [END])
    return g.compile(checkpointer=checkpointer)


async def time_raw(graph: Any, i: int) -> float:
    start = initial_state(TASK, run_id=f"raw-{i}", session_id=f"raw-{i}", user_id="")
    t0 = time.perf_counter()
    final = await graph.ainvoke(start, {"configurable": {"thread_id": f"raw-{i}"}, "recursion_limit": 200}, durability="sync")
    elapsed = time.perf_counter() - t0
    assert final["done"] and final["winner"] == "alfama-walks", final.get("winner")
    return elapsed


async def time_moot(orch: Orchestrator, i: int) -> float:
    t0 = time.perf_counter()
    result = await orch.run(TASK, session_id=f"moot-{i}", run_id=f"moot-{i}")
    elapsed = time.perf_counter() - t0
    assert result.winner == "alfama-walks", result.winner
    return elapsed


async def compare(kind: str, runs: int) -> dict[str, float]:
    runtime = WorkspaceRunner.load(CLASSIC, models={"default": ScriptedChatModel(script=SCRIPT)})
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "sqlite":
            cm_raw = AsyncSqliteSaver.from_conn_string(str(Path(tmp) / "raw.db"))
            cm_moot = AsyncSqliteSaver.from_conn_string(str(Path(tmp) / "moot.db"))
            saver_raw, saver_moot = await cm_raw.__aenter__(), await cm_moot.__aenter__()
            for saver in (saver_raw, saver_moot):  # moot's store runs SQLite in WAL mode; give both the same
                await saver.setup()
                await saver.conn.execute("PRAGMA journal_mode=WAL")
        else:
            saver_raw, saver_moot = InMemorySaver(), InMemorySaver()
        raw = raw_graph(runtime, saver_raw)
        orch = runtime.orchestrator(saver_moot, durability="sync")
        for i in range(3):  # warm up both
            await time_raw(raw, -1 - i)
            await time_moot(orch, -1 - i)
        t_raw, t_moot = [], []
        for i in range(runs):
            t_raw.append(await time_raw(raw, i))
            t_moot.append(await time_moot(orch, i))
        if kind == "sqlite":
            await cm_raw.__aexit__(None, None, None)
            await cm_moot.__aexit__(None, None, None)
    raw_ms, moot_ms = statistics.median(t_raw) * 1000, statistics.median(t_moot) * 1000
    return {"raw_ms": raw_ms, "moot_ms": moot_ms, "ratio": moot_ms / raw_ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--checkpointer", choices=("sqlite", "memory", "both"), default="both")
    args = ap.parse_args()
    kinds = ("sqlite", "memory") if args.checkpointer == "both" else (args.checkpointer,)
    print(f"classic deliberation, zero-latency scripted model, {args.runs} runs each, durability=sync, medians")
    for kind in kinds:
        r = asyncio.run(compare(kind, args.runs))
        print(
            f"{kind:7} raw LangGraph {r['raw_ms']:7.2f} ms/run ({1000 / r['raw_ms']:6.1f} runs/s) | "
            f"moot {r['moot_ms']:7.2f} ms/run ({1000 / r['moot_ms']:6.1f} runs/s) | ratio {r['ratio']:.3f} (target <= 1.15)"
        )


if __name__ == "__main__":
    main()
