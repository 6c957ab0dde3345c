"""Packing recalled items into a context that never exceeds a token budget.

Items of one session go under one date header (`[8 May 2023]`), sessions in time order, items
in their order within the session: the reader sees small excerpts of the dialogue, dated once,
instead of a date on every line. Tokens are counted with the embedder's tokenizer: per item at
index time, per header here, and the final text once more exactly; if the exact count ever
disagrees with the sum (a tokenizer that merges across newlines), the lowest-scored items go
until it fits. The budget is a hard limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from moot.memory.retrieval.shard import Shard
from moot.memory.types import Embedder, MemoryItem


@dataclass(frozen=True)
class Recall:
    """What recall returns: the packed context and the items in it (with their sources)."""

    items: list[MemoryItem]
    text: str
    tokens: int
    budget: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]


def session_header(item: MemoryItem) -> str:
    """The header of an item's session: `meta["date"]`, else the day of `ts`, else its session id.

    Items outside any session (semantic facts, say) share one header naming their layer.
    """
    if not item.session_id:
        return f"[{item.layer}]"
    date = item.meta.get("date")
    if isinstance(date, str) and date:
        return f"[{date}]"
    if item.ts > 0:
        day = time.gmtime(item.ts)
        return f"[{day.tm_mday} {time.strftime('%B %Y', day)}]"
    return f"[session {item.session_id}]"


def _live(shard: Shard, row: int) -> MemoryItem:
    item = shard.items[row]
    assert item is not None, "a removed row was ranked"
    return item


def _group(item: MemoryItem) -> str:
    """What shares one header: a session, or all session-less items of one layer."""
    return item.session_id or f"\0{item.layer}"


class Packer:
    """Greedy knapsack by rank: take each candidate that still fits, best first."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._header_tokens: dict[str, int] = {}
        # What a newline between two lines costs beyond the lines themselves: 0 for WordPiece,
        # often 1 for byte-level BPE tokenizers.
        probe = embedder.count_tokens("memory")
        self.newline = max(0, embedder.count_tokens("memory\nmemory") - 2 * probe)

    def header_tokens(self, header: str) -> int:
        cost = self._header_tokens.get(header)
        if cost is None:
            if len(self._header_tokens) > 100_000:
                self._header_tokens.clear()
            cost = self._header_tokens[header] = self.embedder.count_tokens(header)
        return cost

    def pack(self, shard: Shard, rows: np.ndarray, scores: np.ndarray, budget: int) -> Recall:
        """Fit the ranked `rows` (best first) with their `scores` into `budget` tokens."""
        chosen: list[int] = []
        opened: set[str] = set()
        header_cost: dict[str, int] = {}
        used = 0
        for row in rows.tolist():
            item = shard.items[row]
            if item is None:
                continue
            cost = int(shard.ntok[row]) + self.newline
            group = _group(item)
            if group not in opened:
                if group not in header_cost:
                    header_cost[group] = self.header_tokens(session_header(item)) + self.newline
                cost += header_cost[group]
            if used + cost > budget + self.newline:  # the last line has no newline after it
                continue
            used += cost
            chosen.append(row)
            opened.add(group)
        while True:
            text, ordered = self._render(shard, chosen)
            tokens = self.embedder.count_tokens(text) if text else 0
            if tokens <= budget:
                break
            chosen.pop()  # rank order: the last chosen is the least relevant
        items = [replace(_live(shard, r), score=float(scores[r])) for r in ordered]
        return Recall(items=items, text=text, tokens=tokens, budget=budget)

    @staticmethod
    def _render(shard: Shard, rows: list[int]) -> tuple[str, list[int]]:
        """Sessions in time order, items in session order, one header per session."""
        if not rows:
            return "", []
        by_session: dict[str, list[int]] = {}
        for row in rows:
            by_session.setdefault(_group(_live(shard, row)), []).append(row)
        sessions = sorted(by_session.values(), key=lambda rs: (min(shard.ts[r] for r in rs), min(rs)))
        lines: list[str] = []
        ordered: list[int] = []
        for session in sessions:
            session.sort(key=lambda r: shard.seq[r])
            lines.append(session_header(_live(shard, session[0])))
            lines.extend(_live(shard, r).text for r in session)
            ordered.extend(session)
        return "\n".join(lines), ordered


__all__ = ["Packer", "Recall", "session_header"]
