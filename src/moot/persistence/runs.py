"""The run index: one row per run, the same API on SQLite and PostgreSQL.

A backend gives two things: `setup()` (its schema) and `_query()` (one statement, committed
before it returns). Every operation here is a single statement, so each is atomic on both
databases without a transaction spanning two round trips: `claim` is one
`UPDATE ... RETURNING`, which is what lets two workers race for a run and both see a coherent
count of attempts. Statements are written with `?` placeholders (the PostgreSQL backend
translates them) and use only SQL both databases share (`ON CONFLICT`, `RETURNING`).
"""

from __future__ import annotations

import builtins
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import Any

from moot.errors import UsageError
from moot.persistence.records import ACTIVE, STATUSES, TERMINAL, RunRecord, check_status, error_payload
from moot.persistence.transitions import Move, Moved

COLUMNS = (
    "run_id", "thread_id", "workspace", "workspace_path", "task", "user_id", "status", "started_at", "finished_at",
    "tenant", "workspace_version", "result", "error", "attempts", "worker", "updated_at",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM moot_runs"
_RETURNING = f"RETURNING {', '.join(COLUMNS)}"
MAX_LIMIT = 1000


class RunNotClaimable(UsageError):
    """A worker asked for a run that is not in a claimable status (it ended, or was cancelled).

    The worker should drop its job: the run is not its to do. `record` says where the run stands.
    """

    def __init__(self, record: RunRecord, allowed: Collection[str]) -> None:
        self.record = record
        super().__init__(
            f"run {record.run_id!r} is {record.status}; only a run that is {' or '.join(allowed)} can be claimed"
        )


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}")
    return limit


def _id(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{name} must be a non-empty string, not {value!r}")
    return value


class RunIndex(ABC):
    """The `moot_runs` table: which thread holds a run, whose run it is, and where it stands."""

    where: str = ""
    """Where the index lives (a file, or a database URL without its password), for messages."""

    @abstractmethod
    async def setup(self) -> None:
        """Create the table, or bring an older one up to date."""

    @abstractmethod
    async def _query(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[tuple[Any, ...]]:
        """Run one statement (with `?` placeholders), committed before return; its rows, if any."""

    def _decode_json(self, value: Any) -> Any:
        """A JSON column as read from the database (text on SQLite)."""
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    def _record(self, row: Sequence[Any]) -> RunRecord:
        values = dict(zip(COLUMNS, row, strict=True))
        values["result"] = self._decode_json(values["result"])
        values["error"] = self._decode_json(values["error"])
        return RunRecord(**values)

    def _unknown(self, run_id: str) -> UsageError:
        return UsageError(f"unknown run {run_id!r}; `moot runs` lists the runs in {self.where}")

    async def add(
        self,
        run_id: str,
        thread_id: str,
        workspace: str,
        task: str,
        user_id: str = "",
        workspace_path: str = "",
        *,
        tenant: str = "",
        workspace_version: str = "",
        status: str = "running",
        error: Any = None,
    ) -> RunRecord:
        """Record a new run and return its record; a run id that is already recorded is refused
        (ids are never reused).

        `error` goes with a run recorded as failed (an import that stopped mid-run, say why).
        """
        now = time.time()
        check_status(status)
        payload = error_payload(error)
        rows = await self._query(
            "INSERT INTO moot_runs (run_id, thread_id, workspace, workspace_path, task, user_id, tenant, "
            "workspace_version, status, attempts, worker, started_at, updated_at, finished_at, error) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING {_RETURNING}",
            (
                _id("run_id", run_id), _id("thread_id", thread_id), workspace, workspace_path, task, user_id,
                tenant, workspace_version, status, now, now, now if status in TERMINAL else None,
                None if payload is None else json.dumps(payload, ensure_ascii=False),
            ),
        )  # fmt: skip
        if not rows:
            raise UsageError(f"run {run_id!r} is already recorded in {self.where}; a new run needs a new id")
        return self._record(rows[0])

    async def set_status(self, run_id: str, status: str, *, result: Any = None, error: Any = None) -> None:
        """Put a run in `status` whatever it was: for repairs and tests. Runs move by `move`.

        `finished_at` is set on the terminal statuses and cleared otherwise. `result` and `error`
        (an exception, or `{"error": type, "message": text}`) are stored when given. When not
        given, a stored result is kept only while the run stays finished or awaiting approval
        (what the human is asked), and a stored error only while it stays failed or cancelled:
        a failed run that is resumed and then finishes does not keep reporting its old error,
        and a second report of the same status loses nothing.
        """
        if not await self._write_status(run_id, status, None, result, error):
            raise self._unknown(run_id)

    async def move(self, run_id: str, move: Move, *, result: Any = None, error: Any = None) -> Moved:
        """Apply `move` (moot.persistence.transitions) in one compare-and-set statement.

        The run moves only if its status is one `move` may leave; otherwise nothing is written
        and `Moved.applied` is False, with the run as it is now (a cancel that landed first,
        say). `result` and `error` are kept as `set_status` keeps them.
        """
        row = await self._write_status(run_id, move.to, move.leaves, result, error)
        if row:
            return Moved(self._record(row), True)
        return Moved(await self.get(run_id), False)  # unknown: get raises

    async def _write_status(
        self, run_id: str, status: str, leaves: Collection[str] | None, result: Any, error: Any
    ) -> tuple[Any, ...] | None:
        """One UPDATE of the status (only from `leaves`, when given); the new row, or None."""
        check_status(status)
        now = time.time()
        try:
            result_json = None if result is None else json.dumps(result, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"the result of run {run_id!r} is not JSON: {exc}") from None
        payload = error_payload(error)
        error_json = None if payload is None else json.dumps(payload, ensure_ascii=False)
        leaves = None if leaves is None else tuple(leaves)
        guard = "" if leaves is None else f" AND status IN ({_marks(leaves)})"
        rows = await self._query(
            "UPDATE moot_runs SET status = ?, updated_at = ?, finished_at = ?, "
            "result = COALESCE(?, CASE WHEN ? THEN result END), error = COALESCE(?, CASE WHEN ? THEN error END) "
            f"WHERE run_id = ?{guard} {_RETURNING}",
            (
                status, now, now if status in TERMINAL else None,
                result_json, status in ("finished", "awaiting_approval"), error_json, status in ("failed", "cancelled"), run_id,
                *(leaves or ()),
            ),
        )  # fmt: skip
        return rows[0] if rows else None

    async def get(self, run_id: str, *, tenant: str | None = None) -> RunRecord:
        """The run's record. With `tenant`, another tenant's run is as unknown as a missing one."""
        rows = await self._query(f"{_SELECT} WHERE run_id = ?", (run_id,))
        if not rows or (tenant is not None and rows[0][COLUMNS.index("tenant")] != tenant):
            raise self._unknown(run_id)
        return self._record(rows[0])

    async def latest(self, limit: int = 20) -> builtins.list[RunRecord]:
        """The newest runs of every tenant (for the operator's `moot runs`)."""
        rows = await self._query(f"{_SELECT} ORDER BY started_at DESC, run_id DESC LIMIT ?", (_limit(limit),))
        return [self._record(row) for row in rows]

    async def list(
        self,
        tenant: str,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        status: str | Collection[str] | None = None,
        limit: int = 50,
    ) -> builtins.list[RunRecord]:
        """A tenant's runs, newest first, optionally of one user, one session, some statuses."""
        where, params = ["tenant = ?"], [tenant]
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if session_id is not None:
            where.append("thread_id = ?")
            params.append(session_id)
        if status is not None:
            statuses = [status] if isinstance(status, str) else builtins.list(status)
            if not statuses:
                return []
            where.append(f"status IN ({_marks(statuses)})")
            params.extend(check_status(s) for s in statuses)
        rows = await self._query(
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY started_at DESC, run_id DESC LIMIT ?",
            (*params, _limit(limit)),
        )
        return [self._record(row) for row in rows]

    async def count_active(self, tenant: str) -> int:
        """How many of the tenant's runs are queued, running or awaiting approval."""
        rows = await self._query(f"SELECT count(*) FROM moot_runs WHERE tenant = ? AND status IN ({_marks(ACTIVE)})", (tenant, *ACTIVE))
        return int(rows[0][0])

    async def count_status(self, status: str) -> int:
        """How many runs of every tenant have `status` (an operator's number: metrics)."""
        rows = await self._query("SELECT count(*) FROM moot_runs WHERE status = ?", (check_status(status),))
        return int(rows[0][0])

    async def claim(self, run_id: str, worker: str, *, allow: Collection[str] = ACTIVE) -> RunRecord:
        """Take a run for `worker`: status running, one more attempt, in one atomic statement.

        Only a run whose status is in `allow` is taken (by default one not yet ended: a queued run,
        a running one whose worker died and whose job came back, one approved to go on); any
        other raises `RunNotClaimable`, so a cancelled run's job is dropped instead of run. Like
        `set_status(run_id, "running")`, it clears the result and error: the run has no outcome yet.
        """
        _id("worker", worker)
        allowed = [check_status(s) for s in allow]
        if not allowed:
            raise UsageError("claim: `allow` names no status, so no run could ever be claimed")
        now = time.time()
        rows = await self._query(
            f"UPDATE moot_runs SET status = 'running', attempts = attempts + 1, worker = ?, updated_at = ?, "
            f"finished_at = NULL, result = NULL, error = NULL WHERE run_id = ? AND status IN ({_marks(allowed)}) {_RETURNING}",
            (worker, now, run_id, *allowed),
        )
        if not rows:
            raise RunNotClaimable(await self.get(run_id), allowed)
        return self._record(rows[0])

    async def heartbeat(self, run_id: str, worker: str) -> bool:
        """Say that `worker` is still on the run; False when the run is no longer its to run
        (cancelled, ended, or claimed by another worker), so the worker should stop."""
        rows = await self._query(
            "UPDATE moot_runs SET updated_at = ? WHERE run_id = ? AND worker = ? AND status = 'running' RETURNING run_id",
            (time.time(), run_id, worker),
        )
        return bool(rows)

    async def stale_running(self, older_than_s: float, *, limit: int = 100) -> builtins.list[RunRecord]:
        """Running runs without news (claim or heartbeat) for `older_than_s`: their worker is
        likely dead. Oldest first."""
        if older_than_s < 0:
            raise UsageError(f"older_than_s must be >= 0, not {older_than_s!r}")
        rows = await self._query(
            f"{_SELECT} WHERE status = 'running' AND updated_at < ? ORDER BY updated_at LIMIT ?",
            (time.time() - older_than_s, _limit(limit)),
        )
        return [self._record(row) for row in rows]


__all__ = ["COLUMNS", "MAX_LIMIT", "RunIndex", "RunNotClaimable", "STATUSES"]
