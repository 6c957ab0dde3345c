"""Runs as arq jobs on Redis, for a fleet of `moot worker` processes (the API side: submit, cancel).

Why arq. The work is async LangGraph code sharing async clients (checkpointer pool, Redis, MCP
sessions, chat models) that live for the worker's life; arq runs jobs as coroutines on the
worker's own event loop, with `on_startup` building those singletons once. Celery's workers are
synchronous (each async run would need its own event loop and its own connections). taskiq
with Redis streams is async too, but in taskiq-redis 1.2 a dead worker's unacknowledged message
is re-claimed only when *new* messages arrive (its listen loop skips XAUTOCLAIM on an idle
stream) and it needs redis-py 8. arq keeps a job in its queue until the job has finished
("pessimistic execution"): a worker that dies mid-run leaves the job queued behind an
in-progress marker, and the job is delivered again; arq also aborts jobs (our cancel) and retries.

Recovery time. arq's in-progress marker lives for the job timeout plus 10 s, which must exceed
the longest run, so a crash would wait that long. moot's workers therefore also hold a short
lease per run (`lease.py`) and run a *reaper* (`moot.service.worker`) that hands a dead
worker's job back within seconds. The lease also keeps a slow (not dead) worker's run from
executing twice.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name, in_progress_key_prefix
from arq.jobs import Job, JobStatus

from moot import telemetry
from moot.service.protocols import Action
from moot.service.jobs.queue import RunQueue

if TYPE_CHECKING:
    from moot.service.settings import ServiceSettings

JOB = "moot_run"
"""The arq function name of a run job."""


def wake_channel(prefix: str) -> str:
    """The Redis pub/sub channel on which a submit wakes the idle workers (they start the run at
    once instead of at their next poll; a lost message only costs the run that poll's wait)."""
    return f"{prefix}wake"


def jobs_key(prefix: str) -> str:
    """The Redis hash of run id → its latest job id (cancel finds the job; the reaper walks it)."""
    return f"{prefix}jobs"


class ArqQueue(RunQueue):
    """Jobs on Redis for `moot worker` processes (arq)."""

    def __init__(self, pool: ArqRedis, *, queue_name: str = default_queue_name, prefix: str = "moot:") -> None:
        self.pool = pool
        self.queue_name = queue_name
        self.prefix = prefix

    @classmethod
    async def connect(cls, settings: ServiceSettings) -> ArqQueue:
        assert settings.redis_url
        pool = await create_pool(RedisSettings.from_dsn(settings.redis_url), default_queue_name=settings.queue_name)
        return cls(pool, queue_name=settings.queue_name, prefix=settings.key_prefix)

    async def submit(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        job_id = f"{run_id}:{action}:{uuid.uuid4().hex[:8]}"
        # the caller's trace context rides with the job: the worker's spans join the request's trace
        carrier = telemetry.carrier()
        await self.pool.enqueue_job(JOB, run_id, action, answer, carrier, _job_id=job_id, _queue_name=self.queue_name)
        async with self.pool.pipeline(transaction=False) as pipe:
            pipe.hset(jobs_key(self.prefix), run_id, job_id)
            pipe.publish(wake_channel(self.prefix), job_id)
            await pipe.execute()
        return job_id

    async def cancel(self, run_id: str) -> bool:
        job_id = await self.pool.hget(jobs_key(self.prefix), run_id)
        if job_id is None:
            return False
        job = Job(job_id.decode() if isinstance(job_id, bytes) else job_id, self.pool, _queue_name=self.queue_name)
        if await job.status() in (JobStatus.complete, JobStatus.not_found):
            return False
        # ask arq to abort, without waiting for a worker to acknowledge it: the cancel is already
        # in the run index (moot.service.jobs.cancel), a worker stops a running job at its next
        # abort check, and a queued job that a worker takes later finds its run cancelled. (Waiting
        # made a cancel with no worker free answer 500 after 10 s.)
        with suppress(TimeoutError):
            await job.abort(timeout=0, poll_delay=0.05)
        return True

    async def depth(self) -> int:
        """Jobs in arq's queue without its in-progress marker (arq keeps running jobs queued)."""
        job_ids = await self.pool.zrange(self.queue_name, 0, -1)
        if not job_ids:
            return 0
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(in_progress_key_prefix + (job_id.decode() if isinstance(job_id, bytes) else job_id))
            running = await pipe.execute()
        return sum(1 for busy in running if not busy)

    async def aclose(self) -> None:
        await self.pool.aclose()


__all__ = ["JOB", "ArqQueue", "jobs_key", "wake_channel"]
