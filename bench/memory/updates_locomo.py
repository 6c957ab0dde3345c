"""Does the pattern-free update signal (`moot.memory.facts.topics`) cost LoCoMo evidence, and what does it mark?

`locomo.py`'s `moot` is the retriever alone; this runs LoCoMo through the MemoryManager
(`add_turn`, `recall`: fact keys, current facts first, topic marks), once with the topic signal
off and once on, and prints all-evidence recall (overall, multi-hop), tokens, how many recalled
items are marked as history by it, and a sample of the marked pairs (older, newer) to judge:
LoCoMo has few real updates, so nearly every mark is a false positive.

    python bench/memory/updates_locomo.py [--sample 20] [--embedder minilm]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from locomo_data import CATEGORIES, load

import moot.memory.facts.topics as topics_module
from moot.memory.embedder import get_embedder
from moot.memory.facts.topics import TopicConfig
from moot.memory.manager import MemoryManager
from moot.memory.types import MemoryItem

pairs: list[tuple[str, str, str, str]] = []
_mark = topics_module.earlier_mark


def _recording(item: MemoryItem, newer: MemoryItem) -> str:
    pairs.append((item.id, item.text, newer.id, newer.text))
    return _mark(item, newer)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--embedder", default="minilm")
    args = parser.parse_args()
    topics_module.earlier_mark = _recording
    convs = load()
    memory = MemoryManager(embedder=get_embedder(args.embedder))
    for conv in convs:
        for session in conv.sessions:
            for item in session:
                speaker = item.meta["speaker"]
                memory.add_turn(conv.sample_id, item.session_id, speaker, item.text[len(speaker) + 2:], ts=item.ts,
                                date=item.meta["date"], turn_id=item.id)
    for label, config in (("off", TopicConfig(enabled=False)), ("on", TopicConfig())):
        memory.topics = config
        pairs.clear()
        rows, items, marked = [], 0, 0
        for conv in convs:
            for q in conv.questions:
                found = await memory.recall("bench", conv.sample_id, q.text, 1000)
                got = {item.id for item in found.items}
                rows.append((CATEGORIES[q.category], all(e in got for e in q.evidence), found.tokens))
                items += len(found.items)
                marked += sum(': (was: "' in item.text for item in found.items)
        print(f"topics {label:3}: all-evidence overall {np.mean([r[1] for r in rows]):.3f}, multi-hop "
              f"{np.mean([r[1] for r in rows if r[0] == 'multi-hop']):.3f}; tokens mean {np.mean([r[2] for r in rows]):.1f}, "
              f"max {max(r[2] for r in rows)}; recalled items {items}, marked {marked}")
    distinct = {(p[0], p[2]): p for p in pairs}
    print(f"distinct marked pairs {len(distinct)}, distinct marked items {len({k[0] for k in distinct})}")
    for old, old_text, new, new_text in random.Random(16).sample(sorted(distinct.values()), min(args.sample, len(distinct))):
        print(f"- {old}: {old_text[:160]}\n  later {new}: {new_text[:160]}")


if __name__ == "__main__":
    asyncio.run(main())
