"""Where nodes' lifecycle events go (`moot.graph.events`).

The orchestrator hands its nodes a sink in the run's config and streams no `custom` mode (each
custom event cost a wake-up of the event loop); a graph run by LangGraph's own tools has no
sink, and its nodes write to the `custom` stream as before.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conftest import scripted_runtime
from langgraph.checkpoint.memory import InMemorySaver

from moot.events import Event, EventBus
from moot.graph.events import loop_sink
from moot.run import initial_state

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
AGENTS = ["optimistic", "critic", "devils_advocate", "synthesizer", "booking"]


async def test_a_plain_langgraph_stream_still_gets_every_event_in_custom_mode(classic_script: dict[str, Any]) -> None:
    runner, _ = scripted_runtime(classic_script)
    graph = runner.graph(InMemorySaver())
    start = initial_state(TASK, run_id="r1", session_id="s1", user_id="")
    config = {"configurable": {"thread_id": "s1"}, "recursion_limit": 100}
    custom = [part async for part in graph.astream(start, config, stream_mode="custom")]
    started = [e["agent"] for e in custom if e["type"] == "agent_started"]
    assert sorted(set(started)) == sorted(AGENTS) and started.count("booking") == 2
    assert [e["type"] for e in custom].count("tool_call") == 2


async def test_the_orchestrator_publishes_each_agents_start_before_its_finish_and_its_update(classic_script: dict[str, Any]) -> None:
    runner, _ = scripted_runtime(classic_script)
    bus = EventBus()
    seen: list[Event] = []
    bus.add_handler(seen.append)
    orch = runner.orchestrator(InMemorySaver(), bus=bus)
    original = orch.graph.astream
    modes: list[Any] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        modes.append(kwargs.get("stream_mode"))
        return original(*args, **kwargs)

    orch.graph.astream = spy  # type: ignore[method-assign]
    result = await orch.run(TASK, session_id="s1", run_id="r1")
    assert result.status == "finished" and modes == [["updates", "values"]]  # no custom stream
    assert [e.seq for e in seen] == sorted(e.seq for e in seen)
    for agent in AGENTS:
        kinds = [e.type for e in seen if e.agent == agent and e.type in ("agent_started", "agent_finished", "state_patch")]
        # each turn: started, then finished and its update (the booking agent runs twice)
        assert kinds[0] == "agent_started" and kinds.count("agent_started") == kinds.count("agent_finished") >= 1
        for i, kind in enumerate(kinds):
            if kind == "agent_finished":
                assert kinds[:i].count("agent_started") == kinds[: i + 1].count("agent_finished")
    tools = [e for e in seen if e.type == "tool_call"]
    assert len(tools) == 2 and all(e.stage == "booking" for e in tools)


async def test_a_sink_called_from_another_thread_runs_its_handler_on_the_loop() -> None:
    handled: list[tuple[dict[str, Any], int]] = []
    done = asyncio.Event()

    def handle(event: dict[str, Any]) -> None:
        handled.append((event, threading.get_ident()))
        if len(handled) == 2:
            done.set()

    sink = loop_sink(handle)
    sink({"type": "here"})  # on the loop's own thread: at once
    assert handled == [({"type": "here"}, threading.get_ident())]
    worker = threading.Thread(target=sink, args=({"type": "there"},))
    worker.start()
    worker.join()
    await asyncio.wait_for(done.wait(), 5)
    assert handled[1] == ({"type": "there"}, threading.get_ident())
