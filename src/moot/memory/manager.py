"""The MemoryManager: one per process, the only door agents and sessions use to memory (design §6).

It owns the process's embedder and hybrid index and fronts the three layers:

- **episodic**: what happened in runs (agent outputs, decisions, tool results) and the dialogue's
  turns, recorded in an `EpisodicStore` (in-process or Redis) and indexed for recall;
- **semantic**: facts, preferences and profile extracted by LangMem (`SemanticMemory`), searched
  by meaning;
- **procedural**: per-agent rules (`ProceduralMemory`), which shape prompts rather than recall.

`recall(session, user, query, budget_tokens)` returns what fits the budget, with its sources:
first the current value of each fact the query touches, dated (`moot.memory.facts`), then the
user's semantic memories (a bounded share of the budget: they are dense), then the hybrid
retriever's packed context from the index. Every read and write is keyed by `user_id`, so no
call path returns another user's memory.

Knowledge updates (issue 16): every indexed turn is read for statements ("I moved to Porto"
sets the speaker's `home`); a statement that supersedes an earlier one of the same key marks
the earlier value where it stands, `(was: Lisbon, until 2023-06-01)`, in the index, keeps the
earlier item in the fact ledger's history, and marks its episodic record `superseded_by` /
`valid_until`, so recall never offers a stale value as current (`moot.memory.facts.tracker`).
`rebuild(user_id)` refills the index from the episodic store with the same outcome.
With a shared episodic store (Redis), each recall first indexes what other processes recorded
for the user and drops what they deleted (`catch_up.py`), so a restarted worker, or one of
several, recalls all of it and nothing forgotten; nor what has expired since (`expiry.py`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.language_models import BaseChatModel

from moot import telemetry
from moot.errors import UsageError
from moot.events import Event, EventBus
from moot.memory.catch_up import CatchUp
from moot.memory.compaction import compact_session
from moot.memory.episodic import EpisodicStore
from moot.memory.episodic.recorder import EpisodicRecorder
from moot.memory.expiry import expiry_meta, forget_expired, unexpired
from moot.memory.facts.keys import Statement
from moot.memory.facts.ledger import Superseded, item_date
from moot.memory.facts.section import (
    FACTS_HEADER,
    asked,
    fact_line,
    found,
    render_items,
)
from moot.memory.facts.topics import TopicConfig, as_history, later_said
from moot.memory.facts.tracker import TURN_KINDS, FactTracker, explicit_statement
from moot.memory.inputs import check_budget, clean_text
from moot.memory.retrieval import RecallConfig, Retriever
from moot.memory.retrieval.index import HybridIndex
from moot.memory.retrieval.pack import Recall
from moot.memory.types import Embedder, EpisodicRecord, MemoryItem, MemoryRecall
from moot.telemetry.metrics import recall_took

if TYPE_CHECKING:
    from moot.memory.procedural import ProceduralMemory
    from moot.memory.semantic import SemanticMemory

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
        facts_share: float = 0.4,
        record_linger_s: float = 0.1,
        topics: TopicConfig | None = None,
    ) -> None:
        if embedder is None:
            from moot.memory.embedder import get_embedder

            embedder = get_embedder()
        self.embedder = embedder
        self.index = HybridIndex(embedder, clock=episodic.clock if episodic is not None else time.time)
        self.retriever = Retriever(self.index, config)
        self.episodic = episodic
        self.semantic = semantic
        self.procedural = procedural
        self.semantic_share = semantic_share
        self.semantic_limit = semantic_limit
        self.facts_share = facts_share
        """most of the budget the facts a query names may take before the retriever has its say"""
        self.facts = FactTracker()
        self.topics = topics or TopicConfig()
        """when a recalled turn is shown as history because a later one says otherwise (`facts.topics`)"""
        self.record_linger_s = record_linger_s
        """How long a run's history entries gather before one write (EpisodicRecorder.linger_s)."""
        self.catch_up = CatchUp()
        """what a shared episodic store holds that this process has not indexed (`catch_up.py`)"""

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
        facts: Sequence[Statement | Mapping[str, Any]] = (),
    ) -> MemoryItem:
        """Index one dialogue turn of a session (what later questions will ask about).

        The turn's statements about the speaker (or `facts` a caller gives with their key)
        supersede earlier values of the same facts (see the module docstring). `text` may be
        bytes or carry undecodable characters: invalid UTF-8 becomes U+FFFD rather than an
        error deep in the tokenizer or Redis. An empty turn is refused: there is nothing to recall.
        """
        _require(user_id)
        text = clean_text(text)
        if not text.strip():
            raise UsageError(f"memory: turn {turn_id or '(new)'} of session {session_id!r} is empty; nothing to remember")
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
        item = self.facts.annotate(item, speaker, explicit=[explicit_statement(f) for f in facts])
        self.index.add([item])
        self._supersede([item])
        return item

    async def record(self, records: list[EpisodicRecord]) -> None:
        """Record run entries in the episodic store and index them for recall."""
        for record in records:
            _require(record.user_id)
        records = [replace(r, id=r.id or f"ep-{uuid.uuid4().hex[:12]}", text=clean_text(r.text)) for r in records]
        if self.episodic is not None:
            await self.episodic.record(records)
        for user_id in {r.user_id for r in records}:
            self.catch_up.note(user_id, [r.id for r in records if r.user_id == user_id])
        items = [self._item(r) for r in records]
        self.index.add(items)
        await self._mark(self._supersede(items))

    async def _index_fresh(self, user_id: str) -> int:
        """Index the user's records that other processes wrote to a shared episodic store (a
        fleet's workers each have their own index; a restarted one starts empty). Returns how many."""
        if self.episodic is None or not self.episodic.shared:
            return 0
        fresh, deleted = await self.catch_up.fresh(self.episodic, user_id)
        # some of the user's records were deleted elsewhere: `fresh` is all that is left
        return await self._index_records(user_id, fresh, anew=deleted)

    async def _index_records(self, user_id: str, records: list[EpisodicRecord], *, anew: bool) -> int:
        """Index records read from the episodic store, in time order (supersession comes out as
        when they were first recorded); `anew`: in place of what the index holds for the user.
        The turns a summary `replaces` (compacted, here or by another process) leave the index."""
        if anew:
            self.facts.forget(user_id)
            self.index.remove_user(user_id)
        replaced = {i for r in records if r.kind == "summary" for i in r.data.get("replaces") or ()}
        items = sorted((self._item(r) for r in records if r.id not in replaced), key=lambda item: item.ts)
        if items:
            self.index.add(items)
            self.index.remove(replaced, user_id=user_id)
            await self._mark(self._supersede(items))
        return len(items)

    def _supersede(self, items: list[MemoryItem]) -> list[Superseded]:
        """Read the new items' statements and mark the values they end, in the index; returns
        the items now superseded (for the episodic store's records)."""
        superseded, touched = self.facts.track(items)
        self.facts.mark(self.index, superseded, touched)
        return superseded

    def _item(self, r: EpisodicRecord) -> MemoryItem:
        item = MemoryItem(id=r.id, layer="episodic", text=r.text, user_id=r.user_id, session_id=r.session_id, ts=r.ts,
                          meta={"speaker": r.agent, "kind": r.kind, "stage": r.stage, "run_id": r.run_id,
                                **expiry_meta(self.episodic, r)})
        given = r.data.get("fact") if isinstance(r.data, Mapping) else None
        explicit = [given] if isinstance(given, Mapping) else list(given) if isinstance(given, list) else []
        return self.facts.annotate(item, r.agent, explicit=[explicit_statement(f) for f in explicit],
                                   read_text=r.kind in TURN_KINDS)

    async def _mark(self, superseded: list[Superseded]) -> None:
        """Write `superseded_by` and `valid_until` into the superseded records of the episodic store."""
        if self.episodic is None:
            return
        for s in superseded:
            item = s.item
            near = await self.episodic.query(item.user_id, session_id=item.session_id, since=item.ts - 1e-3,
                                             until=item.ts + 1e-3, limit=1000)
            for record in near:
                if record.id == item.id and record.data.get("superseded_by") != s.by:
                    data = {**record.data, "superseded_by": s.by, "valid_until": s.until}
                    await self.episodic.record([replace(record, data=data)])

    async def rebuild(self, user_id: str) -> int:
        """Refill the index with the user's records from the episodic store (after a restart).

        Supersession is decided again from the statements, in time order, so it comes out as it
        was (stale values marked in the index); records not yet marked in the store are marked
        now. Returns the items in the index.
        """
        _require(user_id)
        if self.episodic is None:
            raise UsageError("memory: rebuild needs an episodic store (this MemoryManager has none)")
        records = await self.episodic.query(user_id, limit=10**9)
        self.catch_up.note(user_id, [r.id for r in records])
        await self._index_records(user_id, records, anew=True)
        return self.index.count(user_id)

    def history(self, user_id: str) -> list[MemoryItem]:
        """The user's superseded items, oldest first, with `superseded_by` and `valid_until`."""
        _require(user_id)
        forget_expired(self.index, self.facts, self.catch_up, user_id)
        return self.facts.history(user_id)

    def forget_user(self, user_id: str) -> int:
        """Drop a user's items from the index (the stores delete their own: `delete_user`)."""
        _require(user_id)
        self.facts.forget(user_id)
        self.catch_up.forget(user_id)
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
        """Fold a session's older items into one summary stored with the session (`compaction.py`):
        recall then packs one dense summary instead of many turns."""
        _require(user_id)
        return await compact_session(self.index, self.episodic, user_id, session_id, model, keep_recent=keep_recent)

    def save(self, path: str | Path) -> None:
        """Write the index (items and vectors, no pickle) so a later process recalls the same."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **self.index.to_arrays(), fact_history=np.array(self.facts.dump_history(), dtype=str))
        os.replace(tmp, path)  # a crash mid-write leaves the previous snapshot whole

    def load(self, path: str | Path) -> bool:
        """Replace the index with a snapshot from `save`, if there is one; True when loaded."""
        path = Path(path)
        if not path.is_file():
            return False
        with np.load(path, allow_pickle=False) as arrays:
            saved = dict(arrays)
        self.index = HybridIndex.from_arrays(self.embedder, saved, self.index.clock)
        self.retriever = Retriever(self.index, self.retriever.config)
        history = unexpired(FactTracker.load_history([str(row) for row in saved.get("fact_history", [])]), self.index.clock())
        users = {str(u) for u in saved["user_ids"]} | {item.user_id for item in history}
        self.facts.rebuild([*history, *(item for user in users for item in self.index.items(user))])
        return True

    # -- reading ----------------------------------------------------------------------------
    async def recall(self, session_id: str, user_id: str, query: str, budget_tokens: int = 1000) -> MemoryRecall:
        """The user's most relevant memories for `query`, within `budget_tokens` (a hard cap)."""
        _require(user_id)
        check_budget(budget_tokens)
        with telemetry.retrieval("memory", budget_tokens) as span:
            forget_expired(self.index, self.facts, self.catch_up, user_id)
            await self._index_fresh(user_id)
            found = await self._recall(user_id, query, budget_tokens)
            telemetry.recalled(span, len(found.items), found.tokens)
        recall_took(found.timings["total"])
        return found

    async def _recall(self, user_id: str, query: str, budget_tokens: int) -> MemoryRecall:
        """Current facts the query names, then semantic memories, then the retriever's context.

        The facts a query names by their attribute take at most `facts_share` of what the
        semantic layer leaves; facts stated by items the retriever found move up into the
        facts part. If the parts together exceed the budget, the lowest-ranked episodic items
        go first, then the last facts.
        """
        started = time.perf_counter()
        semantic, semantic_items, used = await self._semantic(user_id, query, budget_tokens)
        searched = time.perf_counter()
        count = self.embedder.count_tokens
        ledger = self.facts.ledger
        facts: list[tuple[str, MemoryItem]] = []
        facts_header = count(FACTS_HEADER) + 2
        cap, spent = int((budget_tokens - used) * self.facts_share) - facts_header, 0
        for key, version in asked(ledger, user_id, query):
            line = fact_line(ledger, user_id, key, version, self._text(user_id, version.item))
            cost = count(line) + 1
            if spent + cost <= cap and all(version.item.id != item.id for _, item in facts):
                facts.append((line, version.item))
                spent += cost
        rest = budget_tokens - used - (spent + facts_header if facts else 0) - count(EPISODIC_HEADER) - 2
        packed: Recall | None = self.retriever.recall(user_id, query, rest) if rest > 0 else None
        episodic = list(packed.items) if packed is not None else []
        for key, version in found(ledger, user_id, episodic):
            if all(version.item.id != item.id for _, item in facts):
                facts.append((fact_line(ledger, user_id, key, version, self._text(user_id, version.item)), version.item))
        shown = {item.id for _, item in facts}
        episodic = [item for item in episodic if item.id not in shown]
        facts, episodic = self._mark_earlier(user_id, facts, episodic)
        while True:
            parts = [f"{FACTS_HEADER}\n" + "\n".join(line for line, _ in facts)] if facts else []
            parts += [semantic] if semantic else []
            parts += [f"{EPISODIC_HEADER}\n{render_items(episodic)}"] if episodic else []
            text = "\n\n".join(parts)
            tokens = count(text) if text else 0
            if tokens <= budget_tokens or not (episodic or facts):
                break
            if episodic:
                episodic.remove(min(episodic, key=lambda item: item.score))
            else:
                facts.pop()
        items = [item for _, item in facts] + semantic_items + episodic
        timings = {"semantic": searched - started, "total": time.perf_counter() - started}
        if packed is not None:
            timings.update({f"episodic_{k}": v for k, v in packed.timings.items()})
        return MemoryRecall(text=text, tokens=tokens, budget=budget_tokens, items=items, timings=timings)

    def _mark_earlier(self, user_id: str, facts: list[tuple[str, MemoryItem]],
                      episodic: list[MemoryItem]) -> tuple[list[tuple[str, MemoryItem]], list[MemoryItem]]:
        """Show as history every recalled turn a later recalled turn possibly supersedes.

        The second, pattern-free update signal (`moot.memory.facts.topics`): a current fact
        whose item is possibly superseded leaves the current facts and joins the episodic
        context, marked; an episodic item is marked where it stands. Nothing is dropped.
        """
        facts = [(line, replace(item, text=self._text(user_id, item))) for line, item in facts]
        candidates = [item for _, item in facts] + episodic
        later = later_said(candidates, self.index.vectors(user_id, [item.id for item in candidates]), self.topics)
        return as_history(facts, episodic, later)

    def _text(self, user_id: str, item: MemoryItem) -> str:
        """An item's text as the index has it now (its ended values marked), else as it was added."""
        indexed = self.index.get(user_id, item.id)
        return item.text if indexed is None else indexed.text

    async def _semantic(self, user_id: str, query: str, budget_tokens: int) -> tuple[str, list[MemoryItem], int]:
        """The semantic memories nearest to `query` within `semantic_share` of the budget."""
        if self.semantic is None or budget_tokens <= 0:
            return "", [], 0
        share = int(budget_tokens * self.semantic_share)
        found_items = await self.semantic.search(user_id, query, limit=self.semantic_limit)
        lines = [SEMANTIC_HEADER]
        spent = self.embedder.count_tokens(SEMANTIC_HEADER)
        items: list[MemoryItem] = []
        for item in found_items:
            line = f"[{item_date(item)}] {item.text}"  # the day it was last updated: facts carry dates
            cost = self.embedder.count_tokens(line) + 1
            if spent + cost > share:
                break
            lines.append(line)
            items.append(item)
            spent += cost
        return ("\n".join(lines), items, spent) if items else ("", [], 0)


def _require(user_id: str) -> None:
    if not user_id:
        raise UsageError("memory needs a user_id: every memory belongs to one user")


__all__ = ["EPISODIC_HEADER", "SEMANTIC_HEADER", "MemoryManager", "MemoryRecall"]
