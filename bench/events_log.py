"""The per-run event log (issue 6): append throughput and read latency, in process and on Redis.

Appends: one `append` per event (a round trip each, what a lone writer pays), `append_many` in
batches of 100, and the recorder path (`bus.publish` in a tight loop, then `flush`; the publish
column is what the run itself pays). Reads: a catch-up read of a whole run, and the latency from
`append` returning to a follow-reader receiving the event, one event at a time, with 1 and with
10 concurrent readers (the SSE fan-out). Redis at 127.0.0.1:6379 under a throw-away prefix.

    python bench/events_log.py [--events 20000] [--pings 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import redis.asyncio as aioredis

from moot.events import Event, EventBus
from moot.service.events import EventLog, InProcessEventLog, RedisEventLog

REDIS_URL = "redis://127.0.0.1:6379/0"


def make(run_id: str, n: int, type_: str = "agent_finished") -> Event:
    return Event(type=type_, run_id=run_id, seq=n, stage="debate", agent="critic",  # type: ignore[arg-type]
                 data={"n": n, "text": "a typical event payload of about a hundred characters " * 2})


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} events/s"


async def appends(log: EventLog, events: int) -> None:
    single = max(1, events // 4)
    batch = [make("single", n) for n in range(single)]
    t0 = time.perf_counter()
    for event in batch:
        await log.append(event)
    print(f"  append, one at a time ({single:,})       {rate(single, time.perf_counter() - t0)}")

    batch = [make("many", n) for n in range(events)]
    t0 = time.perf_counter()
    for start in range(0, events, 100):
        await log.append_many(batch[start : start + 100])
    print(f"  append_many, batches of 100 ({events:,})  {rate(events, time.perf_counter() - t0)}")

    bus = EventBus()
    recorder = log.attach(bus)
    batch = [make("recorded", n) for n in range(events)]
    t0 = time.perf_counter()
    for event in batch:
        bus.publish(event)
    published = time.perf_counter() - t0
    await recorder.flush()
    total = time.perf_counter() - t0
    await recorder.aclose()
    print(f"  recorder: publish {published / events * 1e6:.2f} µs/event; written {rate(events, total)}")

    t0 = time.perf_counter()
    count = sum([1 async for _ in log.read("many", follow=False)])
    print(f"  catch-up read of {count:,} entries        {rate(count, time.perf_counter() - t0)}")


async def latency(log: EventLog, pings: int, readers: int) -> None:
    run_id = f"ping-{readers}"
    received: list[asyncio.Queue[float]] = [asyncio.Queue() for _ in range(readers)]

    async def follow(queue: asyncio.Queue[float]) -> None:
        async for entry in log.read(run_id, heartbeat_s=5):
            if entry is not None:
                queue.put_nowait(time.perf_counter())

    tasks = [asyncio.create_task(follow(q)) for q in received]
    await asyncio.sleep(0.05)  # the readers are waiting
    samples: list[float] = []
    for n in range(pings):
        t0 = time.perf_counter()
        await log.append(make(run_id, n, "run_finished" if n == pings - 1 else "agent_finished"))
        for queue in received:
            samples.append(await queue.get() - t0)
    await asyncio.gather(*tasks)
    samples.sort()
    p50 = statistics.median(samples) * 1e3
    p99 = samples[int(len(samples) * 0.99) - 1] * 1e3
    print(f"  append → follow-reader, {readers:>2} reader(s): median {p50:.3f} ms, p99 {p99:.3f} ms ({len(samples):,} samples)")


async def main(events: int, pings: int) -> None:
    prefix = f"moot-bench:{uuid.uuid4().hex}:"
    backends: list[tuple[str, EventLog]] = [("in-process", InProcessEventLog(maxlen=events)), ("redis", RedisEventLog(REDIS_URL, prefix=prefix, maxlen=events))]
    try:
        for name, log in backends:
            print(f"{name}:")
            await appends(log, events)
            for readers in (1, 10):
                await latency(log, pings, readers)
    finally:
        for _, log in backends:
            await log.aclose()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--pings", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.pings))
