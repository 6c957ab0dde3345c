"""The MemoryManager: one per process, the only door agents and sessions use to memory (design §6).

It owns the process's embedder and hybrid index and fronts the three layers:

- **episodic**: what happened in runs (agent outputs, decisions, tool results) and the dialogue's
  turns, recorded in an `EpisodicStore` (in-process or Redis) and indexed for recall;
- **semantic**: facts, preferences and profile extracted by LangMem (`SemanticMemory`), searched
  by meaning;
- **procedural**: per-agent rules (`ProceduralMemory`), which shape prompts rather than recall.

`recall(session, user, query, budget_tokens)` returns what fits the budget, with its sources:
first the user's semantic memories (a bounded share of the budget: they are dense), then the
hybrid retriever's packed context from the index. Every read and write is keyed by `user_id`,
so no call path returns another user's memory.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from moot.errors import UsageError
from moot.events import Event, EventBus
from moot.memory.episodic import EpisodicStore
from moot.memory.retrieval.index import HybridIndex
from moot.memory.episodic.recorder import EpisodicRecorder
from moot.memory.retrieval import RecallConfig, Retriever
from moot.memory.types import Embedder, EpisodicRecord, MemoryItem, MemoryRecall
from moot.telemetry.metrics import recall_took
from moot import telemetry

if TYPE_CHECKING:
    from moot.memory.procedural import ProceduralMemory
    from moot.memory.semantic import SemanticMemory

COMPACT_PROMPT = (
    "Summarise this part of a conversation for a memory that later questions will be asked of. "
    "Keep every fact: names, places, dates, numbers, preferences, plans and decisions. Drop "
    "greetings and small talk. Answer with the summary only, as short sentences."
)
SEMANTIC_HEADER = "Known about the user:"
EPISODIC_HEADER = "From earlier conversations and runs:"


class MemoryManager:
    """Recall within a token budget over every layer; record turns and runs."""

    def __init__(
        self,
        *,
        embedder: Embedder | None = None,
        episodic: EpisodicStore | None = None,
        semantic: SemanticMemory | None = None,
        procedural: ProceduralMemory | None = None,
        config: RecallConfig | None = None,
        semantic_share: float = 0.3,
        semantic_limit: int = 5,
        record_linger_s: float = 0.1,
    ) -> None:
        if embedder is None:
            from moot.memory.embedder import get_embedder

            embedder = get_embedder()
        self.embedder = embedder
        self.index = HybridIndex(embedder)
        self.retriever = Retriever(self.index, config)
        self.episodic = episodic
        self.semantic = semantic
        self.procedural = procedural
        self.semantic_share = semantic_share
        self.semantic_limit = semantic_limit
        self.record_linger_s = record_linger_s
        """How long a run's history entries gather before one write (EpisodicRecorder.linger_s)."""

    # -- writing ----------------------------------------------------------------------------
    def add_turn(
        self,
        user_id: str,
        session_id: str,
        speaker: str,
        text: str,
        *,
        ts: float | None = None,
        date: str | None = None,
        turn_id: str | None = None,
    ) -> MemoryItem:
        """Index one dialogue turn of a session (what later questions will ask about)."""
        _require(user_id)
        meta: dict[str, Any] = {"speaker": speaker}
        if date:
            meta["date"] = date
        item = MemoryItem(
            id=turn_id or f"turn-{uuid.uuid4().hex[:12]}",
            layer="episodic",
            text=f"{speaker}: {text}",
            user_id=user_id,
            session_id=session_id,
            ts=ts if ts is not None else time.time(),
            meta=meta,
        )
        self.index.add([item])
        return item

    async def record(self, records: list[EpisodicRecord]) -> None:
        """Record run entries in the episodic store and index them for recall."""
        for record in records:
            _require(record.user_id)
        if self.episodic is not None:
            await self.episodic.record(records)
        self.index.add(
            [
                MemoryItem(
                    id=r.id or f"ep-{uuid.uuid4().hex[:12]}",
                    layer="episodic",
                    text=r.text,
                    user_id=r.user_id,
                    session_id=r.session_id,
                    ts=r.ts,
                    meta={"speaker": r.agent, "kind": r.kind, "stage": r.stage, "run_id": r.run_id},
                )
                for r in records
            ]
        )

    def forget_user(self, user_id: str) -> int:
        """Drop a user's items from the index (the stores delete their own: `delete_user`)."""
        _require(user_id)
        return self.index.remove_user(user_id)

    def observe(self, bus: EventBus) -> EpisodicRecorder:
        """Record every run on `bus` (episodic store and index), and after each finished run
        schedule semantic extraction of its task and outcome in the background."""
        recorder = EpisodicRecorder(self, linger_s=self.record_linger_s)
        recorder.attach(bus)
        runs: dict[str, tuple[str, str]] = {}

        def on_event(event: Event) -> None:
            if event.type == "run_started":
                runs[event.run_id] = (str(event.data.get("user_id") or ""), str(event.data.get("task") or ""))
            elif event.type in ("run_finished", "run_failed"):
                user, task = runs.pop(event.run_id, ("", ""))
                if event.type == "run_finished" and user and self.semantic is not None and self.semantic.manager is not None:
                    decision = event.data.get("decision") or {}
                    outcome = f"The moot chose {decision.get('winner')}: {decision.get('rationale', '')}"
                    self.semantic.schedule(user, task, session_id=event.session_id, outcome=outcome)

        bus.add_handler(on_event)
        return recorder

    async def compact(self, user_id: str, session_id: str, model: BaseChatModel, *, keep_recent: int = 20) -> MemoryItem | None:
        """Fold a session's older items into one summary stored with the session.

        The newest `keep_recent` items stay as they are; the older ones are summarised by
        `model` (told to keep every name, date, number and preference), the summary is indexed
        and recorded as an episodic `summary`, and the originals leave the index (the episodic
        store keeps them). Recall then packs one dense summary instead of many turns, so the
        prompt does not grow with the dialogue.
        """
        _require(user_id)
        items = self.index.items(user_id, session_id)
        old = items[: max(0, len(items) - keep_recent)]
        if len(old) < 2:
            return None
        transcript = "\n".join(item.text for item in old)
        answer = await model.ainvoke(
            [
                SystemMessage(content=COMPACT_PROMPT),
                HumanMessage(content=transcript[:24_000]),
            ]
        )
        text = answer.content if isinstance(answer.content, str) else str(answer.content)
        summary = MemoryItem(
            id=f"summary-{session_id}-{uuid.uuid4().hex[:8]}",
            layer="summary",
            text=f"Summary of earlier turns: {text.strip()}",
            user_id=user_id,
            session_id=session_id,
            ts=old[-1].ts,
            meta={k: v for k, v in old[-1].meta.items() if k == "date"} | {"speaker": "summary"},
        )
        self.index.remove([item.id for item in old], user_id=user_id)
        self.index.add([summary])
        if self.episodic is not None:
            await self.episodic.record(
                [
                    EpisodicRecord(
                        user_id=user_id, session_id=session_id, run_id="", task="", stage="", agent="memory",
                        round=0, kind="summary", text=summary.text, ts=time.time(), id=summary.id,
                        data={"replaces": [item.id for item in old]},
                    )
                ]
            )
        return summary

    def save(self, path: str | Path) -> None:
        """Write the index (items and vectors, no pickle) so a later process recalls the same."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **self.index.to_arrays())
        os.replace(tmp, path)  # a crash mid-write leaves the previous snapshot whole

    def load(self, path: str | Path) -> bool:
        """Replace the index with a snapshot from `save`, if there is one; True when loaded."""
        path = Path(path)
        if not path.is_file():
            return False
        with np.load(path, allow_pickle=False) as arrays:
            self.index = HybridIndex.from_arrays(self.embedder, dict(arrays))
        self.retriever = Retriever(self.index, self.retriever.config)
        return True

    # -- reading ----------------------------------------------------------------------------
    async def recall(self, session_id: str, user_id: str, query: str, budget_tokens: int = 1000) -> MemoryRecall:
        """The user's most relevant memories for `query`, within `budget_tokens` (a hard cap)."""
        _require(user_id)
        with telemetry.retrieval("memory", budget_tokens) as span:
            found = await self._recall(user_id, query, budget_tokens)
            telemetry.recalled(span, len(found.items), found.tokens)
        recall_took(found.timings["total"])
        return found

    async def _recall(self, user_id: str, query: str, budget_tokens: int) -> MemoryRecall:
        started = time.perf_counter()
        parts: list[str] = []
        items: list[MemoryItem] = []
        used = 0
        if self.semantic is not None and budget_tokens > 0:
            share = int(budget_tokens * self.semantic_share)
            found = await self.semantic.search(user_id, query, limit=self.semantic_limit)
            lines = [SEMANTIC_HEADER]
            spent = self.embedder.count_tokens(SEMANTIC_HEADER)
            for item in found:
                cost = self.embedder.count_tokens(item.text) + 1
                if spent + cost > share:
                    break
                lines.append(item.text)
                items.append(item)
                spent += cost
            if len(lines) > 1:
                parts.append("\n".join(lines))
                used = spent
        searched = time.perf_counter()
        header_cost = self.embedder.count_tokens(EPISODIC_HEADER) + 2
        rest = budget_tokens - used - header_cost
        packed = self.retriever.recall(user_id, query, rest) if rest > 0 else None
        if packed is not None and packed.items:
            parts.append(f"{EPISODIC_HEADER}\n{packed.text}")
            items.extend(packed.items)
            used += packed.tokens + header_cost
        text = "\n\n".join(parts)
        timings = {"semantic": searched - started, "total": time.perf_counter() - started}
        if packed is not None:
            timings.update({f"episodic_{k}": v for k, v in packed.timings.items()})
        return MemoryRecall(text=text, tokens=used if text else 0, budget=budget_tokens, items=items, timings=timings)


def _require(user_id: str) -> None:
    if not user_id:
        raise UsageError("memory needs a user_id: every memory belongs to one user")


__all__ = ["EPISODIC_HEADER", "SEMANTIC_HEADER", "MemoryManager", "MemoryRecall"]
