"""A `moot worker` process: arq's worker settings, the run job, and the reaper of dead workers' jobs.

arq keeps a job in its queue until the job has finished, behind an in-progress marker that lives
for the job timeout plus 10 s; a worker that dies mid-run would leave its job waiting that long.
So each worker also runs a *reaper*: when a run's job is marked in progress but nobody holds the
run's lease any more (moot.service.jobs.lease), the reaper removes arq's marker
(`arq:in-progress:<job id>`, arq's documented key) and arq delivers the job again at its next
poll, within seconds. The process's singletons are one `ServiceContext`, built at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import suppress
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.worker import Retry, Worker, func

from moot import telemetry
from moot.service.context import ServiceContext
from moot.service.heap import settle_heap
from moot.service.jobs import JOB, Action, LeaseBusy, jobs_key
from moot.service.jobs.arq import wake_channel
from moot.service.settings import ServiceSettings

log = logging.getLogger("moot.service.queue")


async def reap(pool: ArqRedis, ctx: ServiceContext, *, min_age_s: float) -> list[str]:
    """Hand back the jobs of dead workers: in progress, but their run's lease has expired.

    A job younger than `min_age_s` is left alone (its worker may be between arq's pick-up and
    taking the lease). Returns the job ids released.
    """
    released: list[str] = []
    key = jobs_key(ctx.settings.key_prefix)
    for run_b, job_b in (await pool.hgetall(key)).items():
        run_id, job_id = run_b.decode(), job_b.decode()
        marker = in_progress_key_prefix + job_id
        left_ms = await pool.pttl(marker)
        if left_ms < 0:  # not in progress (queued, or finished: then arq has removed it)
            if await pool.zscore(ctx.settings.queue_name, job_id) is None and await pool.exists(marker) == 0:
                await pool.hdel(key, run_id)
            continue
        age_s = ctx.in_progress_timeout_s - left_ms / 1000
        if age_s < min_age_s or await ctx.leases.holder(run_id) is not None:
            continue
        if await pool.delete(marker):
            log.warning("run %s: its worker stopped renewing the lease; job %s delivered again", run_id, job_id)
            released.append(job_id)
    return released


async def _job(arq_ctx: dict[str, Any], run_id: str, action: Action, answer: dict[str, Any] | None, trace: dict[str, str] | None = None) -> str:
    """A run's job; `trace` is the submitter's trace context (W3C `traceparent`), so the run's
    spans continue the API request's trace, also when a job is delivered again after a crash."""
    ctx: ServiceContext = arq_ctx["moot"]
    try:
        with telemetry.continued(trace):
            return await ctx.executor.execute(run_id, action, answer)
    except LeaseBusy:
        raise Retry(defer=ctx.settings.lease_s) from None


def worker_settings(settings: ServiceSettings, *, name: str | None = None, burst: bool = False) -> dict[str, Any]:
    """Keyword arguments of `MootWorker` (arq's `Worker` plus `wake_channel`) for a moot worker process."""
    assert settings.redis_url, "a worker needs Redis"
    job_timeout = settings.limits.run_timeout_s + 60  # the executor stops a run at run_timeout_s

    async def startup(arq_ctx: dict[str, Any]) -> None:
        ctx = ServiceContext(settings, worker=name or f"worker-{uuid.uuid4().hex[:8]}")
        await ctx.start()
        ctx.in_progress_timeout_s = job_timeout + 10  # arq's marker life (Worker.in_progress_timeout_s)
        arq_ctx["moot"] = ctx
        arq_ctx["moot_reaper"] = asyncio.create_task(_reaper(arq_ctx["redis"], ctx))
        settle_heap()

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
        "poll_delay": 0.05,  # an idle worker's poll when no wake message comes (MootWorker): the longest
        # queue wait of a run whose wake was lost, or whose retry came due
        "wake_channel": wake_channel(settings.key_prefix),
        "max_jobs": 50,
        "keep_result": 3600,
        "burst": burst,
        "handle_signals": True,
    }


_START_CHUNK = 50
"""Queued job ids asked about in one pipeline when a worker has room for more runs."""


class MootWorker(Worker):
    """arq's worker, woken when a run is submitted, with two costs of its polling taken out.

    - arq polls its queue every `poll_delay`: the queue wait of a run alone, or idle CPU if the
      delay is made short. Here a submit publishes on `wake_channel` (moot.service.jobs.arq), and
      so does the end of one of this worker's jobs (a slot is free); the worker polls when woken,
      or after `poll_delay` at the latest (a lost message, a retry that came due, a reaped job).

    - arq keeps a job in its queue until the job ends, so each poll reads the jobs in progress
      first (the oldest) and tries them one by one with three round trips each (WATCH, EXISTS,
      ZSCORE) before it reaches a job it may start: with 50 runs in progress, about 150 round
      trips for every run started. Here the jobs this worker runs are skipped without asking,
      and the others are asked about in one pipeline; arq's own transaction still decides.
    - arq checks its abort set at every poll (a transaction of two commands); moot polls every
      10 ms so that a queued run starts at once, which made the check 100 transactions a second
      whatever the load. A cancel is recorded in the run index first (moot.service.jobs.cancel),
      so stopping the job up to `abort_check_s` later loses nothing.
    """

    abort_check_s = 0.1

    def __init__(self, *args: Any, wake_channel: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._abort_checked = 0.0
        self._wake_channel = wake_channel
        self._woken = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self.idle_poll_s, self.poll_delay_s = self.poll_delay_s, 0.0  # arq's loop no longer sleeps: we wait below

    async def _poll_iteration(self) -> None:
        if self._listener is None and self._wake_channel is not None:
            self._listener = asyncio.create_task(self._listen(self._wake_channel))
        self._woken.clear()  # a wake during the poll below leaves it set: no job is missed
        await super()._poll_iteration()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), self.idle_poll_s)

    async def _listen(self, channel: str) -> None:
        """Set `_woken` at every message on the wake channel; reconnect after a Redis hiccup."""
        while True:
            try:
                async with self.pool.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._woken.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # polling goes on meanwhile, every idle_poll_s
                log.warning("wake channel %s: connection lost; listening again in 1 s", channel, exc_info=True)
                await asyncio.sleep(1.0)

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        finally:
            self._woken.set()  # a slot is free: take the next queued run now

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
        await super().close()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        waiting = [job_id for job_id in job_ids if job_id.decode() not in self.tasks]
        for start in range(0, len(waiting), _START_CHUNK):
            free = self.max_jobs - self.job_counter
            if free <= 0:
                return
            chunk = waiting[start : start + _START_CHUNK]
            async with self.pool.pipeline(transaction=False) as pipe:
                for job_id in chunk:
                    pipe.exists(in_progress_key_prefix + job_id.decode())
                running = await pipe.execute()
            await super().start_jobs([job_id for job_id, busy in zip(chunk, running, strict=True) if not busy][:free])

    async def _cancel_aborted_jobs(self) -> None:
        now = time.monotonic()
        if now - self._abort_checked < self.abort_check_s:
            return
        self._abort_checked = now
        await super()._cancel_aborted_jobs()


async def _reaper(pool: ArqRedis, ctx: ServiceContext) -> None:
    while True:
        await asyncio.sleep(ctx.settings.lease_s / 2)
        try:
            await reap(pool, ctx, min_age_s=2 * ctx.settings.lease_s)
        except Exception:  # a Redis hiccup must not kill the reaper; the next pass retries
            log.exception("reaper pass failed")


__all__ = ["MootWorker", "reap", "worker_settings"]
