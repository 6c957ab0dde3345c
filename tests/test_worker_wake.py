"""MootWorker starts a submitted run at once, woken over Redis pub/sub, not at its next poll.

The workers here poll every 30 s, so a job that starts within a second was started by a wake:
a submit (`ArqQueue.submit` publishes on the wake channel) or the end of a job of its own.
Real Redis, real arq."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import func

from moot.service.jobs.arq import JOB, ArqQueue, wake_channel
from moot.service.worker import MootWorker
from servicetools import REDIS_URL

POLL_S = 30.0


@asynccontextmanager
async def _worker(started: dict[str, float], *, max_jobs: int, hold_s: float = 0.0) -> AsyncIterator[ArqQueue]:
    prefix = f"moot-wake-{uuid.uuid4().hex[:8]}:"
    queue_name = prefix + "queue"

    async def job(ctx: dict[str, Any], run_id: str, action: str, answer: Any, trace: Any = None) -> str:
        started[run_id] = time.monotonic()
        await asyncio.sleep(hold_s)
        return run_id

    worker = MootWorker(
        functions=[func(job, name=JOB)], redis_settings=RedisSettings.from_dsn(REDIS_URL), queue_name=queue_name,
        poll_delay=POLL_S, wake_channel=wake_channel(prefix), max_jobs=max_jobs, handle_signals=False, keep_result=0,
    )
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=queue_name)
    main = asyncio.create_task(worker.main())
    try:
        await asyncio.sleep(0.5)  # the worker's first poll (an empty queue) and its subscription
        yield ArqQueue(pool, queue_name=queue_name, prefix=prefix)
    finally:
        main.cancel()
        with suppress(asyncio.CancelledError):
            await main
        await worker.close()
        keys = [k async for k in pool.scan_iter(match=f"{prefix}*")] + [k async for k in pool.scan_iter(match="arq:*moot-wake-*")]
        if keys:
            await pool.delete(*keys)
        await pool.aclose()


async def _until(started: dict[str, float], run_id: str, within_s: float) -> float | None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if run_id in started:
            return started[run_id]
        await asyncio.sleep(0.01)
    return None


async def test_a_submit_wakes_an_idle_worker_at_once() -> None:
    started: dict[str, float] = {}
    async with _worker(started, max_jobs=5) as queue:
        t0 = time.monotonic()
        await queue.submit("run-a")
        at = await _until(started, "run-a", 2.0)
        assert at is not None, f"the submitted run did not start within 2 s (the worker polls every {POLL_S:g} s)"
        assert at - t0 < 0.5


async def test_without_the_wake_a_job_waits_for_the_poll() -> None:
    """The control: a job enqueued behind arq's back (no wake message) is not started in 2 s."""
    started: dict[str, float] = {}
    async with _worker(started, max_jobs=5) as queue:
        await queue.pool.enqueue_job(JOB, "run-b", "start", None, _job_id="run-b:start", _queue_name=queue.queue_name)
        assert await _until(started, "run-b", 2.0) is None


async def test_a_finished_job_frees_its_slot_for_the_next_at_once() -> None:
    started: dict[str, float] = {}
    async with _worker(started, max_jobs=1, hold_s=0.3) as queue:
        await queue.submit("run-1")
        await queue.submit("run-2")  # woken, but the only slot is taken: it waits for run-1's end
        first = await _until(started, "run-1", 2.0)
        second = await _until(started, "run-2", 3.0)
        assert first is not None and second is not None, started
        assert 0.25 <= second - first < 1.0
