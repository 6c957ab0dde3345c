"""Where runs live: LangGraph's checkpointer, moot's run index and the tool ledger, on SQLite
(one file under `$MOOT_HOME`, the default) or PostgreSQL (a fleet). See `store.py` for the URL,
`runs.py` for the index, `transitions.py` for how a run's status may change, `ledger.py` for the
tool ledger, `sqlite.py` and `postgres.py` for the backends."""

from moot.persistence.ledger import MemoryLedger, PostgresLedger, SqliteLedger, ledger_for
from moot.persistence.records import (
    ACTIVE,
    STATUSES,
    TERMINAL,
    RunRecord,
    RunStatus,
    default_db,
    moot_home,
)
from moot.persistence.runs import RunIndex, RunNotClaimable
from moot.persistence.sqlite import SqliteRunIndex
from moot.persistence.transitions import (
    ANSWER,
    CANCEL_RUNNING,
    CANCEL_WAITING,
    FAIL,
    FINISH,
    MOVES,
    PAUSE,
    REOPEN,
    REQUEUE,
    Move,
    Moved,
    RunTracker,
)
from moot.persistence.store import (
    DATABASE_URL_ENV,
    Persistence,
    compact_run,
    open_persistence,
    open_store,
    resolve,
)

__all__ = [
    "ACTIVE",
    "ANSWER",
    "CANCEL_RUNNING",
    "CANCEL_WAITING",
    "FAIL",
    "FINISH",
    "MOVES",
    "PAUSE",
    "REOPEN",
    "REQUEUE",
    "Move",
    "Moved",
    "RunTracker",
    "DATABASE_URL_ENV",
    "STATUSES",
    "TERMINAL",
    "MemoryLedger",
    "Persistence",
    "PostgresLedger",
    "RunIndex",
    "RunNotClaimable",
    "RunRecord",
    "RunStatus",
    "SqliteLedger",
    "SqliteRunIndex",
    "compact_run",
    "default_db",
    "ledger_for",
    "moot_home",
    "open_persistence",
    "open_store",
    "resolve",
]
