"""Turns a run's history entries into episodic records, live from the EventBus (design §6).

Every entry an agent or the tool runtime appends to `history` (proposals, reviews, decisions,
tool calls, tool results and errors, notes) reaches the bus inside a `state_patch` event. The
`EpisodicRecorder` is a bus handler: it turns those entries into `EpisodicRecord`s at once
(session and run from the event, task and user from the run's `run_started`), and writes them in
a background task, because bus handlers are synchronous and a run must never wait for memory.
`await recorder.flush()` waits for the writes, e.g. before a query right after a run.

`records_from_entries` is the same conversion as a plain function, for a finished run's
`result.state["history"]` or a replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from moot.events import TERMINAL_EVENTS, Event, EventBus
from moot.memory.types import EpisodicRecord

log = logging.getLogger(__name__)

MAX_TEXT = 600
"""Characters of a record's text: enough to read in a recalled prompt, cheap in tokens."""


def _compact(value: Any, limit: int = 240) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _items(content: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = content.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _proposal(agent: str, c: Mapping[str, Any]) -> str | None:
    cands = _items(c, "candidates")
    if not cands:
        return None
    parts = [f"{x.get('id', '?')} \"{x.get('title', '')}\": {x.get('summary', '')}".rstrip(": ") for x in cands]
    return f"{agent} proposed " + "; ".join(parts)


def _review(agent: str, c: Mapping[str, Any]) -> str | None:
    reviews = _items(c, "reviews")
    if not reviews:
        return None
    return f"{agent} reviewed " + "; ".join(f"{r.get('candidate', '?')}: {r.get('comment', '')}" for r in reviews)


def _decision(agent: str, c: Mapping[str, Any]) -> str | None:
    if "winner" not in c:
        return None
    ranking = ", ".join(f"{r.get('candidate')} {r.get('score')}" for r in _items(c, "ranking"))
    text = f"{agent} chose {c.get('winner')}"
    text += f" (ranking: {ranking})" if ranking else ""
    return text + (f". {c['rationale']}" if c.get("rationale") else "")


def _tool_call(agent: str, c: Mapping[str, Any]) -> str | None:
    args = c.get("arguments")
    shown = ", ".join(f"{k}={_compact(v, 60)}" for k, v in args.items()) if isinstance(args, Mapping) else ""
    return f"{agent} called {c.get('tool', '?')}({shown})"


def _tool_result(agent: str, c: Mapping[str, Any]) -> str | None:
    return f"{c.get('tool', '?')} returned {_compact(c.get('content'), 400)}"


def _tool_error(agent: str, c: Mapping[str, Any]) -> str | None:
    return f"{c.get('tool', '?')} failed: {_compact(c.get('error') or c.get('content'), 300)}"


def _note(agent: str, c: Mapping[str, Any]) -> str | None:
    return f"{agent}: {c['text']}" if isinstance(c.get("text"), str) else None


_RENDERERS: dict[str, Callable[[str, Mapping[str, Any]], str | None]] = {
    "proposal": _proposal,
    "review": _review,
    "decision": _decision,
    "tool_call": _tool_call,
    "tool_result": _tool_result,
    "tool_error": _tool_error,
    "note": _note,
}


def render(entry: Mapping[str, Any], max_chars: int = MAX_TEXT) -> str:
    """A short readable line for one history entry: `[stage r1] critic reviewed a: ...; b: ...`.

    Known entry types get a sentence; anything else, or content of an unexpected shape, falls
    back to `agent type: <compact JSON>`, so no entry is ever recorded without text.
    """
    kind, agent = str(entry.get("type", "entry")), str(entry.get("agent", "?"))
    content = entry.get("content")
    body = None
    renderer = _RENDERERS.get(kind)
    if renderer is not None and isinstance(content, Mapping):
        body = renderer(agent, content)
    if body is None:
        body = f"{agent} {kind}: {_compact(content, max_chars)}"
    text = f"[{entry.get('stage', '')} r{entry.get('round', 1)}] {body}"
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def records_from_entries(
    entries: Iterable[Any],
    *,
    user_id: str,
    session_id: str,
    run_id: str,
    task: str,
    ts: float,
    seq: int = 0,
    max_chars: int = MAX_TEXT,
) -> list[EpisodicRecord]:
    """Records of history entries written at `ts` (the `seq`-th event of the run, when known).

    Ids are `run:<ms>.<seq>.<i>`: unique across a resumed run (whose events count from 1 again),
    and sorting in the order the entries were written.
    """
    out = []
    for i, entry in enumerate(e for e in entries if isinstance(e, Mapping)):
        raw_round = entry.get("round", 1)
        content = entry.get("content")
        out.append(
            EpisodicRecord(
                user_id=user_id,
                session_id=session_id,
                run_id=run_id,
                task=task,
                stage=str(entry.get("stage") or ""),
                agent=str(entry.get("agent") or ""),
                round=raw_round if isinstance(raw_round, int) else 1,
                kind=str(entry.get("type") or "entry"),
                text=render(entry, max_chars),
                ts=ts,
                data=dict(content) if isinstance(content, Mapping) else {"value": content},
                id=f"{run_id}:{int(ts * 1000):013d}.{seq:05d}.{i:03d}",
            )
        )
    return out


_SETTLED = TERMINAL_EVENTS | {"approval_requested"}
"""Events after which a run writes no history for a while: pending records go out at once."""


class Records(Protocol):
    """Where the recorder writes: an `EpisodicStore`, or the `MemoryManager` (store and index)."""

    async def record(self, records: list[EpisodicRecord]) -> object: ...


@dataclass
class _Run:
    user_id: str
    task: str


class EpisodicRecorder:
    """An EventBus handler that records every history entry of every run into an `EpisodicStore`.

    The user of a run comes from its `run_started` event (`data["user_id"]`) when the orchestrator
    puts it there, else from `user_id` given here (one recorder per user's bus). Entries of a run
    with no known user are not recorded (memory must never land in a shared namespace): they are
    counted in `skipped`. Write failures are logged and counted in `failed`, never raised into the
    run; the last ones are kept in `errors`.

    With `linger_s`, a write waits up to that long for more entries to join its batch (never past
    the run's end, a pause for approval, or `flush()`): a store that pays per write (one Redis
    round trip, one embedding batch) then pays a few times a run instead of once per agent step.
    """

    def __init__(self, store: Records, *, user_id: str = "", max_chars: int = MAX_TEXT, linger_s: float = 0.0) -> None:
        self.store = store
        self.user_id = user_id
        self.max_chars = max_chars
        self.linger_s = max(0.0, linger_s)
        self._settled = asyncio.Event()
        self.written = 0
        self.skipped = 0
        self.failed = 0
        self.errors: list[BaseException] = []
        self._runs: dict[str, _Run] = {}
        self._pending: list[EpisodicRecord] = []
        self._task: asyncio.Task[None] | None = None

    def attach(self, bus: EventBus) -> Callable[[], None]:
        """Subscribe to `bus`; returns the function that detaches the recorder."""
        return bus.add_handler(self)

    def __call__(self, event: Event) -> None:
        if event.type == "run_started":
            data = event.data or {}
            self._runs[event.run_id] = _Run(str(data.get("user_id") or self.user_id), str(data.get("task") or ""))
        elif event.type in _SETTLED:
            self._settled.set()  # write what is pending now: the run stops or waits for a person
        elif event.type == "state_patch":
            self._on_patch(event)
        elif event.type in ("run_finished", "run_failed"):
            self._runs.pop(event.run_id, None)

    def _on_patch(self, event: Event) -> None:
        update = (event.data or {}).get("update")
        history = update.get("history") if isinstance(update, Mapping) else None
        history = getattr(history, "value", history)  # an Overwrite carries its list in .value
        if not history:
            return
        entries = history if isinstance(history, list) else [history]
        run = self._runs.get(event.run_id) or _Run(self.user_id, "")
        if not run.user_id:
            self.skipped += len(entries)
            log.warning("episodic recorder: run %s has no user_id; %d entries not recorded", event.run_id, len(entries))
            return
        self._pending.extend(
            records_from_entries(
                entries, user_id=run.user_id, session_id=event.session_id, run_id=event.run_id,
                task=run.task, ts=event.ts, seq=event.seq, max_chars=self.max_chars,
            )
        )
        self._kick()

    def _kick(self) -> None:
        if self._task is not None and not self._task.done():
            return  # the running drain picks the new records up
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous publisher): flush() writes them
        self._task = loop.create_task(self._drain())

    async def _drain(self) -> None:
        if self.linger_s and not self._settled.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.linger_s):
                    await self._settled.wait()
        self._settled.clear()
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.store.record(batch)
                self.written += len(batch)
            except Exception as exc:  # memory must never break the run it observes
                self.failed += len(batch)
                self.errors = [*self.errors[-9:], exc]
                log.warning("episodic recorder: %d records not written: %s", len(batch), exc)

    async def flush(self) -> None:
        """Wait until every record handed to the recorder so far is written (or has failed)."""
        while True:
            if self._task is not None and not self._task.done():
                self._settled.set()
                await self._task
            elif self._pending:
                self._task = asyncio.get_running_loop().create_task(self._drain())
            else:
                return


__all__ = ["MAX_TEXT", "EpisodicRecorder", "Records", "records_from_entries", "render"]
