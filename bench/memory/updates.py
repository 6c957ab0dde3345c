"""Knowledge updates (issue 16): does recall give the current value of a fact, and never a stale one as current?

The dialogues come from `updates_data.py` (40 users, 240 facts, 40% of them changed one to three
times over eight dated sessions, distractor chatter between). Every turn is ingested, then each
fact is asked as "what is X's current Y" (e.g. "Where does Ana live now?") and recalled within
`--budget` tokens (1,000). Per system and template set it prints:

- **current**: the share of facts whose current value is in the recalled text, outside any
  history mark;
- **stale**: the share of facts for which a superseded value is *presented as current*: it
  occurs in the recalled text outside a history mark. moot marks a superseded value it shows as
  `(was: Lisbon, until 2023-06-01)` (`moot.memory.facts.HISTORY_MARK`); those marks are cut out
  before looking. A system with no notion of supersession marks nothing, so **a stale value
  appearing anywhere in its recall counts as presented as current**: its reader has no way to
  tell the old line from the new one but the dates. Both shares are also given over the changed
  facts only (`changed`), the only ones that can have a stale value.

Values are matched case-sensitively as whole words. Systems, side by side in the same run, on
the same embedder, every vector computed once and shared:

- `moot`: the MemoryManager (`add_turn`, `recall`): fact keys, supersession, current facts first;
- `store`: LangGraph's `InMemoryStore` with a vector index (semantic search, as LangMem searches);
- `dense`: plain top-k cosine, each line with its date (`systems.DenseSystem`).

Both template sets run: `dev` (the phrasings the fact patterns were developed against) and
`held-out` (written apart and never used to change the patterns).

    python bench/memory/updates.py [--systems moot,store,dense] [--templates dev,held-out]
                                   [--budget 1000] [--embedder minilm] [--seed 16] [--json out.json]

Targets (issue 16): current >= 0.95 and stale <= 0.02 for moot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from locomo_data import Conversation
from systems import DenseSystem, StoreSystem, System
from updates_data import Dialogue, Fact, generate

from moot.memory.embedder import embed_query, get_embedder
from moot.memory.facts import HISTORY_MARK
from moot.memory.manager import MemoryManager
from moot.memory.types import Embedder, MemoryItem


class SharedVectors:
    """An embedder that computes each distinct text once (all systems embed the same turns)."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.dim = embedder.dim
        self.name = getattr(embedder, "name", type(embedder).__name__)
        self.cache: dict[str, np.ndarray] = {}
        self.count_tokens = lru_cache(maxsize=200_000)(embedder.count_tokens)

    def warm(self, texts: list[str]) -> None:
        missing = sorted({t for t in texts if t not in self.cache})
        for start in range(0, len(missing), 256):
            batch = missing[start : start + 256]
            self.cache.update(zip(batch, self.inner.embed(batch), strict=True))

    def embed(self, texts: list[str]) -> np.ndarray:
        self.warm(list(texts))
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.cache:
            self.cache[text] = embed_query(self.inner, text)
        return self.cache[text]


def conversation(dialogue: Dialogue) -> Conversation:
    """The dialogue as the LoCoMo systems ingest it: one list of items per session."""
    sessions: dict[int, list[MemoryItem]] = {}
    for i, turn in enumerate(dialogue.turns):
        sessions.setdefault(turn.session, []).append(MemoryItem(
            id=f"{dialogue.user}-{i}", layer="episodic", text=f"{turn.speaker}: {turn.text}", user_id=dialogue.user,
            session_id=f"s{turn.session}", ts=turn.ts, meta={"date": turn.date, "speaker": turn.speaker}))
    return Conversation(dialogue.user, [sessions[s] for s in sorted(sessions)], [])


class Baseline:
    """A LoCoMo system, its recalled ids turned back into the dated lines it packed."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.name = system.name
        self.lines: dict[str, str] = {}

    async def ingest(self, dialogue: Dialogue) -> None:
        conv = conversation(dialogue)
        self.lines.update({item.id: f"[{item.meta['date']}] {item.text}" for s in conv.sessions for item in s})
        self.system.ingest(conv)

    async def recall(self, user: str, query: str, budget: int) -> str:
        ids, _ = self.system.recall(user, query, budget)
        return "\n".join(self.lines[i] for i in ids)


class StoreOneByOne(StoreSystem):
    """`StoreSystem`, one put per turn: `InMemoryStore.batch` fails when two puts of one batch
    embed the same text ("Number of embeddings (15) does not match number of indices (20)"), and
    assistant replies repeat within a session here."""

    def ingest(self, conv: Conversation) -> None:
        for session in conv.sessions:
            for item in session:
                self.store.put(("memories", conv.sample_id), item.id, {"text": item.text, "date": item.meta["date"]})


class Moot:
    """The MemoryManager as an agent's `{memory}` gets it."""

    name = "moot"

    def __init__(self, embedder: Embedder) -> None:
        self.manager = MemoryManager(embedder=embedder)

    async def ingest(self, dialogue: Dialogue) -> None:
        for i, turn in enumerate(dialogue.turns):
            self.manager.add_turn(dialogue.user, f"s{turn.session}", turn.speaker, turn.text, ts=turn.ts,
                                  date=turn.date, turn_id=f"{dialogue.user}-{i}")

    async def recall(self, user: str, query: str, budget: int) -> str:
        return (await self.manager.recall("bench", user, query, budget)).text


def shown(value: str, text: str) -> bool:
    """`value` occurs in `text` as a whole word (case-sensitive)."""
    return re.search(rf"(?<![\w@.+]){re.escape(value)}(?![\w@])", text) is not None


def judge(fact: Fact, text: str) -> tuple[bool, bool]:
    """(current value presented, a stale value presented as current); history marks are cut out first."""
    plain = HISTORY_MARK.sub("", text)
    return shown(fact.current, plain), any(shown(v, plain) for v in fact.stale if v != fact.current)


def build(names: list[str], embedder: Embedder) -> list[Any]:
    made: dict[str, Any] = {"moot": lambda: Moot(embedder), "store": lambda: Baseline(StoreOneByOne(embedder)),
                            "dense": lambda: Baseline(DenseSystem(embedder))}
    unknown = [n for n in names if n not in made]
    if unknown:
        raise SystemExit(f"unknown systems {unknown}; choose from {sorted(made)}")
    return [made[n]() for n in names]


async def run_set(templates: str, names: list[str], embedder: SharedVectors, budget: int, seed: int) -> dict[str, dict[str, float]]:
    dialogues = generate(seed, templates)
    embedder.warm([f"{t.speaker}: {t.text}" for d in dialogues for t in d.turns])
    systems = build(names, embedder)
    timing: dict[str, float] = {s.name: 0.0 for s in systems}
    for dialogue in dialogues:
        for system in systems:
            started = time.perf_counter()
            await system.ingest(dialogue)
            timing[system.name] += time.perf_counter() - started
    verdicts: dict[str, list[tuple[bool, bool, bool]]] = {s.name: [] for s in systems}
    for dialogue in dialogues:
        for fact in dialogue.facts:
            for system in systems:
                text = await system.recall(dialogue.user, fact.question, budget)
                assert embedder.count_tokens(text) <= budget, (system.name, fact)
                verdicts[system.name].append((*judge(fact, text), len(fact.values) > 1))
    out = {}
    for name, rows in verdicts.items():
        changed = [r for r in rows if r[2]]
        out[name] = {
            "facts": len(rows), "changed": len(changed),
            "current": float(np.mean([r[0] for r in rows])), "stale": float(np.mean([r[1] for r in rows])),
            "current_changed": float(np.mean([r[0] for r in changed])), "stale_changed": float(np.mean([r[1] for r in changed])),
            "ingest_s": timing[name],
        }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default="moot,store,dense")
    parser.add_argument("--templates", default="dev,held-out,held-out-2,held-out-3,held-out-4")
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    embedder = SharedVectors(get_embedder(args.embedder))
    results = {}
    for templates in args.templates.split(","):
        results[templates] = await run_set(templates, args.systems.split(","), embedder, args.budget, args.seed)
    print(f"knowledge updates: seed {args.seed}, budget {args.budget} tokens, embedder {embedder.name}")
    print(f"{'templates':10} {'system':7} {'facts':>5} {'changed':>7} {'current':>7} {'stale':>6} "
          f"{'current(ch)':>11} {'stale(ch)':>9} {'ingest s':>8}")
    for templates, by_system in results.items():
        for name, r in by_system.items():
            print(f"{templates:10} {name:7} {r['facts']:5d} {r['changed']:7d} {r['current']:7.3f} {r['stale']:6.3f} "
                  f"{r['current_changed']:11.3f} {r['stale_changed']:9.3f} {r['ingest_s']:8.1f}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
