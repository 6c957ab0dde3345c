"""A service process settles its heap once started: start-up objects frozen, young collections rarer."""

from __future__ import annotations

import gc

from moot.service.heap import YOUNG, settle_heap


def test_settle_heap_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        young, middle, old = gc.get_threshold()
        assert young == YOUNG > before[0]
        assert (middle, old) >= (before[1], before[2])
        cycle: list[object] = []
        cycle.append(cycle)  # cycles are still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
