"""The EventBus: bounded subscriber queues, run filters, handlers that cannot break a run."""

from __future__ import annotations

import asyncio

from moot.events import Event, EventBus
from moot.orchestrator import Orchestrator

from conftest import scripted_runtime


def _event(i: int, run_id: str = "r1") -> Event:
    return Event(type="state_patch", run_id=run_id, seq=i)


async def test_slow_subscriber_keeps_newest_events_and_counts_drops() -> None:
    bus = EventBus()
    slow = bus.subscribe(maxsize=3)
    for i in range(1, 11):
        bus.publish(_event(i))
    assert slow.dropped == 7
    got = [slow.get_nowait().seq for _ in range(3)]
    assert got == [8, 9, 10]


async def test_subscription_filters_by_run_and_closes() -> None:
    bus = EventBus()
    mine = bus.subscribe(run_id="r2")
    bus.publish(_event(1, "r1"))
    bus.publish(_event(2, "r2"))
    mine.close()
    bus.publish(_event(3, "r2"))
    assert [e.seq async for e in mine] == [2]


async def test_failing_handler_is_removed_and_run_goes_on(classic_script) -> None:
    runtime, _ = scripted_runtime(classic_script)
    bus = EventBus()
    calls: list[str] = []

    def broken(event: Event) -> None:
        calls.append(event.type)
        raise RuntimeError("a broken observer")

    seen: list[Event] = []
    bus.add_handler(broken)
    bus.add_handler(seen.append)
    result = await runtime.orchestrator(bus=bus).run("Plan a 3-day trip to Lisbon under 1500 EUR")
    assert result.status == "finished" and result.winner == "alfama-walks"
    assert calls == ["run_started"]  # removed after its first failure
    types = [e.type for e in seen]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert [e.seq for e in seen] == sorted(e.seq for e in seen)
    assert {"stage_entered", "agent_started", "agent_finished", "state_patch", "tool_call"} <= set(types)


async def test_subscriber_that_never_reads_does_not_slow_a_run(classic_script) -> None:
    runtime, _ = scripted_runtime(classic_script)
    bus = EventBus()
    stalled = bus.subscribe(maxsize=2)
    orch: Orchestrator = runtime.orchestrator(bus=bus)
    result = await asyncio.wait_for(orch.run("Plan a 3-day trip to Lisbon under 1500 EUR"), timeout=10)
    assert result.status == "finished"
    assert stalled.dropped > 0
    last = [stalled.get_nowait(), stalled.get_nowait()]
    assert last[-1].type == "run_finished"
