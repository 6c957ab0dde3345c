"""State to JSON and back (seed: "preserving state into JSON when agents are reloaded").

An export is the run's state values (all plain JSON: moot keeps no objects in its state), the
nodes LangGraph would run next, and the run's identity. An import writes those values into a
fresh thread through LangGraph's own `aupdate_state`, attributed to the node that makes LangGraph
schedule the same next step: the stage router if agents were due, an agent otherwise (so the
router runs next). Because routing is a pure function of the state, the imported run continues
exactly as the original would have.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Overwrite

from moot.errors import UsageError
from moot.graph.node import STAGE_ROUTER
from moot.state import STATE_KEYS, channel_kind

FORMAT = "moot.state/1"


async def export_state(
    graph: CompiledStateGraph, config: dict[str, Any], *, workspace: str, run_id: str | None = None
) -> dict[str, Any]:
    """The JSON document of a run's latest state (default: the thread's latest run)."""
    if run_id is not None and graph.checkpointer is not None:
        # collect first: the SQLite saver holds its lock while the listing is open
        found = [c.config async for c in graph.checkpointer.alist(config, filter={"moot_run_id": run_id}, limit=1)]
        if not found:
            raise UsageError(f"run {run_id!r} has no checkpoint in session {config['configurable']['thread_id']!r}")
        config = found[0]
    snapshot = await graph.aget_state(config)
    if not snapshot.values:
        raise UsageError(f"thread {config['configurable']['thread_id']!r} has no state to export")
    values = {k: v for k, v in snapshot.values.items() if k in STATE_KEYS}
    return {
        "format": FORMAT,
        "workspace": workspace,
        "run_id": values.get("run_id"),
        "session_id": values.get("session_id"),
        "next": list(snapshot.next),
        "exported_at": time.time(),
        "values": json.loads(json.dumps(values)),
    }


def read_export(path: str | Path) -> dict[str, Any]:
    """Read and check an export file; every problem is a `UsageError` naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path}: not a moot state export (expected format {FORMAT!r})")
    values = data.get("values")
    if not isinstance(values, dict) or not values.get("run_id"):
        raise UsageError(f"{path}: the export has no state values or no run_id")
    unknown = set(values) - set(STATE_KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown state keys {sorted(unknown)}")
    return data


async def import_state(graph: CompiledStateGraph, data: dict[str, Any], config: dict[str, Any]) -> None:
    """Write an export into the (empty) thread of `config` so that the run can continue."""
    existing = await graph.aget_state(config)
    if existing.values:
        raise UsageError(
            f"session {config['configurable']['thread_id']!r} already has state; import into a new session"
        )
    values = {k: (Overwrite(v) if channel_kind(k) == "binop" else v) for k, v in data["values"].items()}
    agents = [n for n in graph.nodes if n not in (STAGE_ROUTER, "__start__")]
    due = [n for n in data.get("next", []) if n != STAGE_ROUTER]
    as_node = STAGE_ROUTER if due else agents[0]
    await graph.aupdate_state(config, values, as_node=as_node)


__all__ = ["FORMAT", "export_state", "import_state", "read_export"]
