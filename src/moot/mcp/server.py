"""moot as an MCP server: a workspace's deliberation and its recorded runs as tools for other agents.

`moot mcp serve WORKSPACE` lets any MCP client (Claude Desktop, another agent, the `mcp` SDK)
use a moot deliberation as one tool call. The runtime (workspace, models, compiled graph) is built
once when the server is made, so a bad workspace fails before anything is served; the persistent
store (`$MOOT_HOME/moot.db`, or `db`) and the workspace's own MCP servers (the booking stage's
tools, with their ledger beside the checkpoints) are opened for the server's life, so every run is
recorded, acts exactly once, and is resumable (`moot resume RUN_ID`) like a run of `moot run`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.lifespan import lifespan
from pydantic import BaseModel

from moot.errors import MootError, UsageError
from moot.events import Subscription
from moot.orchestrator import Orchestrator, new_id
from moot.persistence import RunIndex, RunRecord
from moot.workspace.runner import WorkspaceRunner

SCAN_LIMIT = 500
"""How many of the latest runs `search_runs` looks through (until memory indexes them)."""


class Deliberation(BaseModel):
    run_id: str
    session_id: str
    winner: str | None
    decision: dict[str, Any] | None
    history_len: int
    tokens: dict[str, int]


class RunMatch(BaseModel):
    run_id: str
    session_id: str
    task: str
    status: str
    started_at: str
    winner: str | None = None
    rationale: str = ""
    score: int
    """How many of the query's words occur in the run's task, winner and rationale."""


def make_moot_server(
    workspace: str | Path | None = None,
    *,
    model_override: str | None = None,
    db: str | Path | None = None,
    runtime: WorkspaceRunner | None = None,
) -> FastMCP:
    """An MCP server for `workspace` (built-in name or folder); `model_override` as `--model` or
    `MOOT_MODEL` (which applies when it is None); `db` the checkpoint database."""
    runtime = runtime or WorkspaceRunner.load(workspace, model_override=model_override)
    ws = runtime.workspace
    store: dict[str, Any] = {}

    @lifespan
    async def open_runs(server: FastMCP) -> AsyncIterator[dict[str, Any]]:
        async with runtime.open_store_and_tools(db) as (saver, index):  # the booking stage's MCP servers too
            store.update(orchestrator=runtime.orchestrator(saver, index=index), index=index)
            yield {}
            store.clear()

    mcp = FastMCP(
        f"moot-{ws.name}",
        instructions=f"moot workspace {ws.name!r}: agents propose, critique and decide on a task together. "
        "Call deliberate for a decision; search_runs finds earlier decisions.",
        lifespan=open_runs,
    )

    @mcp.tool
    async def deliberate(task: str, ctx: Context, session_id: str | None = None) -> Deliberation:
        """Run a whole deliberation on a task: the workspace's agents propose, critique and decide,
        and the decision (winner, ranking, rationale) comes back. Runs take seconds to minutes;
        a client that asks for progress hears of each stage and agent as it goes.

        Args:
            task: what to decide, in plain words (e.g. "Plan a 3-day trip to Lisbon under 1500 EUR")
            session_id: continue this session (a session id an earlier call returned); default: a new session
        """
        orch: Orchestrator = store["orchestrator"]
        run_id = new_id("run")
        events = orch.bus.subscribe(run_id=run_id)
        progress = asyncio.create_task(_report_progress(events, ctx))
        try:
            result = await orch.run(task, session_id=session_id, run_id=run_id)
        except UsageError as exc:  # refused before anything was written
            raise _refused(str(exc)) from exc
        except MootError as exc:
            raise ToolError(f"run {run_id} failed: {exc} (its state is kept: moot resume {run_id})") from exc
        finally:
            events.close()
            await progress
        return Deliberation(
            run_id=result.run_id,
            session_id=result.session_id,
            winner=result.winner,
            decision=result.decision,
            history_len=len(result.state.get("history") or []),
            tokens=result.tokens,
        )

    @mcp.tool
    async def search_runs(query: str, limit: int = 5) -> list[RunMatch]:
        """Find earlier deliberations of this workspace whose task or decision matches the query,
        best match first, newest first among equals. This becomes the workspace's memory search
        when moot's memory layer lands.

        Args:
            query: words to look for in the runs' tasks, winners and decision rationales
            limit: at most this many runs, 1 to 50
        """
        words = set(re.findall(r"\w+", query.lower()))
        if not words:
            raise _refused("the query is empty; give a few words to look for, e.g. 'Lisbon budget'")
        if not 1 <= limit <= 50:
            raise _refused(f"limit must be between 1 and 50 (got {limit})")
        orch: Orchestrator = store["orchestrator"]
        matches = []
        for record in await _runs_of(store["index"], ws.name, str(ws.root)):
            match = await _match(orch, record, words)
            if match.score:
                matches.append(match)
        matches.sort(key=lambda m: -m.score)  # stable: the index lists the newest first
        return matches[:limit]

    return mcp


async def _report_progress(events: Subscription, ctx: Context) -> None:
    """Tell the client (if it sent a progress token) where the run is: stages entered, agents done."""
    async for event in events:
        if event.type in ("stage_entered", "agent_finished", "tool_result", "tool_error"):
            words = [event.type.replace("_", " "), event.stage or "", event.agent or ""]
            try:
                await ctx.report_progress(event.seq, message=" ".join(w for w in words if w))
            except Exception:  # progress is a courtesy: a client gone deaf must not fail the run
                return


def _refused(message: str) -> ToolError:
    """The caller's request was wrong: an answer for the caller, logged at INFO, not as a fault."""
    return ToolError(message, log_level=logging.INFO)


async def _runs_of(index: RunIndex, name: str, root: str) -> list[RunRecord]:
    """The latest runs of this workspace, newest first."""
    return [r for r in await index.latest(SCAN_LIMIT) if r.workspace == name and r.workspace_path in ("", root)]


async def _match(orch: Orchestrator, record: RunRecord, words: set[str]) -> RunMatch:
    """Score a run by the query words in its task and in its decision (read from its last checkpoint)."""
    config = orch.config(record.thread_id, record.user_id)
    # the saver's `alist` holds its lock until exhausted: read the state after the loop, not in it
    last = [found.config async for found in orch.graph.checkpointer.alist(config, filter={"moot_run_id": record.run_id}, limit=1)]  # type: ignore[union-attr]
    decision = dict((await orch.graph.aget_state(last[0])).values.get("decision") or {}) if last else {}
    winner, rationale = decision.get("winner"), str(decision.get("rationale") or "")
    text = f"{record.task} {winner or ''} {rationale}".lower()
    return RunMatch(
        run_id=record.run_id,
        session_id=record.thread_id,
        task=record.task,
        status=record.status,
        started_at=datetime.fromtimestamp(record.started_at, timezone.utc).isoformat(timespec="seconds"),
        winner=winner,
        rationale=rationale,
        score=sum(word in text for word in words),
    )


__all__ = ["Deliberation", "RunMatch", "make_moot_server"]
