"""The garbage collector of a long-lived service process (`moot serve`, `moot worker`).

CPython's cyclic collector runs every 700 net allocations of container objects and, every so
often, walks the whole heap. A moot run allocates hundreds of thousands of small dicts and
messages, nearly all freed by reference counting, so in a service process the collector ran
thousands of times a minute and spent 8-10% of the CPU of a deliberation (bench: GC callbacks
timed around 100 runs in one process), much of it re-walking the objects made at start-up (the
models, embedder, workspaces, LangGraph graphs), which live as long as the process.

`settle_heap()`, called once a process has started, moves those start-up objects out of the
collector's sight (`gc.freeze`) and lets the young generation grow to `YOUNG` objects before a
collection: the collector then takes about 2% of the CPU. Reference cycles are still collected,
a little later; the process holds at most a few MB more garbage between collections. Only the
service's own processes do this: moot used as a library leaves the host process's collector alone.
"""

from __future__ import annotations

import gc

YOUNG = 20_000
"""Allocations (net, of container objects) between two collections of the young generation (CPython's default: 700)."""


def settle_heap() -> None:
    """Collect once, freeze what survives start-up, and make young collections rarer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, max(middle, 50), max(old, 100))


__all__ = ["YOUNG", "settle_heap"]
