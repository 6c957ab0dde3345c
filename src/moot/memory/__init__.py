"""Memory in three layers (design §6): episodic, semantic, procedural; recalled within a token budget.

```
memory/
├── types.py        records every layer shares (MemoryItem, EpisodicRecord, MemoryRecall, Procedure)
├── protocols.py    what runs call on memory (Memory, Procedures): graph and agents type against it
├── embedder.py     the process's sentence embedder (int8 ONNX MiniLM)
├── manager.py      MemoryManager: the one door runs and the service use
├── setup.py        the MemoryManager `moot run` opens (embedded files, or Redis)
├── episodic/       what happened in runs: the store, its in-process and Redis backends, the recorder
├── semantic/       facts, preferences, profile kept by LangMem, and LangMem's memory tools
├── procedural.py   per-agent rules, versioned (rules.py: how they join a prompt)
├── stores/         the LangGraph stores semantic and procedural memory live in
├── retrieval/      the per-user hybrid index and recall within a budget
├── facts/          knowledge updates: fact keys, the ledger of values, current facts first in recall
└── inputs.py       what callers hand memory, checked at the door (UTF-8 text, budgets)
```

This face re-exports only the records and the seams, which import nothing heavy: agents
import `moot.memory.rules` and the graph types against `Memory`, and neither should load an
index, LangMem or a Redis client to do so. The implementations are in their modules.
"""

from moot.memory.protocols import Memory, Procedures, RunRecording
from moot.memory.types import Embedder, EpisodicRecord, Layer, MemoryItem, MemoryRecall, Procedure, Source

__all__ = [
    "Embedder",
    "EpisodicRecord",
    "Layer",
    "Memory",
    "MemoryItem",
    "MemoryRecall",
    "Procedure",
    "Procedures",
    "RunRecording",
    "Source",
]
