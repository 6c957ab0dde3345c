"""ArqQueue.cancel asks arq to abort and returns at once, with or without a worker to hear it
(the cancel is already in the run index: moot.service.jobs.cancel). Real Redis, real arq."""

from __future__ import annotations

import time
import uuid

from arq import create_pool
from arq.connections import RedisSettings

from moot.service.jobs.arq import ArqQueue
from servicetools import REDIS_URL, drop_redis_keys


async def test_cancelling_a_queued_job_with_no_worker_returns_at_once() -> None:
    prefix = f"moot-queue-{uuid.uuid4().hex[:8]}:"
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=prefix + "runs")
    queue = ArqQueue(pool, queue_name=prefix + "runs", prefix=prefix)
    try:
        job_id = await queue.submit("run-x")
        assert await queue.depth() == 1
        started = time.monotonic()
        assert await queue.cancel("run-x") is True
        assert time.monotonic() - started < 2.0  # it used to wait 10 s for a worker, then fail
        assert await pool.zscore("arq:abort", job_id) is not None  # the abort is asked for
        assert await queue.cancel("unknown-run") is False
    finally:
        await pool.delete(f"arq:job:{job_id}")
        await pool.zrem("arq:abort", job_id)
        await pool.aclose()
        drop_redis_keys(prefix)
