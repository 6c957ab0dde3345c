"""Executing the service's runs: the job queue, the run leases, and the executor a job calls.

A run is handed to a `RunQueue` (`queue.py`: inline tasks, or `arq.py`: Redis jobs for a fleet);
the job calls `RunExecutor.execute` (`executor.py`), which runs the run only while it holds the
run's lease (`lease.py`); `cancel_run` (`cancel.py`) records a cancel and stops the job. The arq worker process itself is `moot.service.worker`.
"""

from moot.service.jobs.arq import JOB, ArqQueue, jobs_key
from moot.service.jobs.cancel import CANCELLED, cancel_run
from moot.service.jobs.executor import ENDED, LeaseBusy, RunExecutor, scoped_user
from moot.service.jobs.lease import Held, InProcessLeases, Leases, RedisLeases
from moot.service.jobs.queue import InlineQueue, RunQueue
from moot.service.protocols import Action

__all__ = [
    "CANCELLED",
    "ENDED",
    "JOB",
    "Action",
    "ArqQueue",
    "Held",
    "InProcessLeases",
    "InlineQueue",
    "LeaseBusy",
    "Leases",
    "RedisLeases",
    "RunExecutor",
    "RunQueue",
    "cancel_run",
    "jobs_key",
    "scoped_user",
]
