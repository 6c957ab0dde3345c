"""Background runs: the inline queue (embedded default) and the arq queue on Redis (a fleet).

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
lease per run (moot.service.lease) and run a *reaper*: when a run's job is marked in progress
but nobody holds its lease any more (the worker died), the reaper removes arq's marker
(`arq:in-progress:<job id>`, arq's documented key) and arq delivers the job again at its next
poll, within seconds. The lease also keeps a slow (not dead) worker's run from executing twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from abc import ABC, abstractmethod
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name, in_progress_key_prefix
from arq.jobs import Job, JobStatus
from arq.worker import Retry, func

from moot.service.executor import Action, LeaseBusy

if TYPE_CHECKING:
    from moot.service.context import ServiceContext
    from moot.service.executor import RunExecutor
    from moot.service.settings import ServiceSettings

log = logging.getLogger("moot.service.queue")

JOB = "moot_run"
"""The arq function name of a run job."""


class RunQueue(ABC):
    """Where the API hands runs for execution."""

    @abstractmethod
    async def submit(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        """Queue a job for the run; return the job id."""

    @abstractmethod
    async def cancel(self, run_id: str) -> bool:
        """Stop the run's job if it is queued or running; True if a job was found."""

    async def aclose(self) -> None:
        return None


class InlineQueue(RunQueue):
    """Runs as tasks of this process: the embedded default, no Redis needed.

    Runs in flight are lost with the process, but not their checkpoints: `recover()` (called at
    start-up) submits again every run that the index says was queued or running.
    """

    def __init__(self, executor: RunExecutor) -> None:
        self.executor = executor
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    async def submit(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        job_id = f"{run_id}:{action}:{uuid.uuid4().hex[:8]}"
        task = asyncio.create_task(self._run(run_id, action, answer), name=job_id)
        self._tasks[run_id] = task
        task.add_done_callback(lambda t: self._tasks.pop(run_id, None) if self._tasks.get(run_id) is t else None)
        return job_id

    async def _run(self, run_id: str, action: Action, answer: dict[str, Any] | None) -> None:
        for _ in range(50):
            try:
                await self.executor.execute(run_id, action, answer)
                return
            except LeaseBusy:
                await asyncio.sleep(self.executor.ctx.leases.ttl_s)
            except Exception:
                log.exception("run %s: job failed", run_id)
                return

    async def cancel(self, run_id: str) -> bool:
        task = self._tasks.get(run_id)
        if task is None or task.done():
            return False
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with suppress(asyncio.CancelledError, Exception):
                await task


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

    def _jobs_key(self) -> str:
        return f"{self.prefix}jobs"

    async def submit(self, run_id: str, action: Action = "start", answer: dict[str, Any] | None = None) -> str:
        job_id = f"{run_id}:{action}:{uuid.uuid4().hex[:8]}"
        await self.pool.enqueue_job(JOB, run_id, action, answer, _job_id=job_id, _queue_name=self.queue_name)
        await self.pool.hset(self._jobs_key(), run_id, job_id)
        return job_id

    async def cancel(self, run_id: str) -> bool:
        job_id = await self.pool.hget(self._jobs_key(), run_id)
        if job_id is None:
            return False
        job = Job(job_id.decode() if isinstance(job_id, bytes) else job_id, self.pool, _queue_name=self.queue_name)
        if await job.status() in (JobStatus.complete, JobStatus.not_found):
            return False
        return await job.abort(timeout=10)

    async def aclose(self) -> None:
        await self.pool.aclose()


async def reap(pool: ArqRedis, ctx: ServiceContext, *, min_age_s: float) -> list[str]:
    """Hand back the jobs of dead workers: in progress, but their run's lease has expired.

    A job younger than `min_age_s` is left alone (its worker may be between arq's pick-up and
    taking the lease). Returns the job ids released.
    """
    released: list[str] = []
    jobs_key = f"{ctx.settings.key_prefix}jobs"
    for run_b, job_b in (await pool.hgetall(jobs_key)).items():
        run_id, job_id = run_b.decode(), job_b.decode()
        marker = in_progress_key_prefix + job_id
        left_ms = await pool.pttl(marker)
        if left_ms < 0:  # not in progress (queued, or finished: then arq has removed it)
            if await pool.zscore(ctx.settings.queue_name, job_id) is None and await pool.exists(marker) == 0:
                await pool.hdel(jobs_key, run_id)
            continue
        age_s = ctx.in_progress_timeout_s - left_ms / 1000
        if age_s < min_age_s or await ctx.leases.holder(run_id) is not None:
            continue
        if await pool.delete(marker):
            log.warning("run %s: its worker stopped renewing the lease; job %s delivered again", run_id, job_id)
            released.append(job_id)
    return released


async def _job(arq_ctx: dict[str, Any], run_id: str, action: Action, answer: dict[str, Any] | None) -> str:
    ctx: ServiceContext = arq_ctx["moot"]
    try:
        return await ctx.executor.execute(run_id, action, answer)
    except LeaseBusy:
        raise Retry(defer=ctx.settings.lease_s) from None


def worker_settings(settings: ServiceSettings, *, name: str | None = None, burst: bool = False) -> dict[str, Any]:
    """Keyword arguments of `arq.worker.Worker` for a moot worker process."""
    from moot.service.context import ServiceContext

    assert settings.redis_url, "a worker needs Redis"
    job_timeout = settings.limits.run_timeout_s + 60  # the executor stops a run at run_timeout_s

    async def startup(arq_ctx: dict[str, Any]) -> None:
        ctx = ServiceContext(settings, worker=name or f"worker-{uuid.uuid4().hex[:8]}")
        await ctx.start()
        ctx.in_progress_timeout_s = job_timeout + 10  # arq's marker life (Worker.in_progress_timeout_s)
        arq_ctx["moot"] = ctx
        arq_ctx["moot_reaper"] = asyncio.create_task(_reaper(arq_ctx["redis"], ctx))

    async def shutdown(arq_ctx: dict[str, Any]) -> None:
        reaper = arq_ctx.pop("moot_reaper", None)
        if reaper is not None:
            reaper.cancel()
            with suppress(asyncio.CancelledError):
                await reaper
        ctx = arq_ctx.pop("moot", None)
        if ctx is not None:
            await ctx.aclose()

    return {
        "functions": [func(_job, name=JOB, timeout=job_timeout, max_tries=20)],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.queue_name,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "allow_abort_jobs": True,
        "poll_delay": 0.05,  # how often an idle worker asks Redis for jobs: the queue wait of a run
        "max_jobs": 50,
        "keep_result": 3600,
        "burst": burst,
        "handle_signals": True,
    }


async def _reaper(pool: ArqRedis, ctx: ServiceContext) -> None:
    while True:
        await asyncio.sleep(ctx.settings.lease_s / 2)
        try:
            await reap(pool, ctx, min_age_s=2 * ctx.settings.lease_s)
        except Exception:  # a Redis hiccup must not kill the reaper; the next pass retries
            log.exception("reaper pass failed")


__all__ = ["JOB", "ArqQueue", "InlineQueue", "RunQueue", "reap", "worker_settings"]
