"""Records past their TTL leave recall in every process that indexed them.

The episodic store never returns a record past its TTL (a record lives while `ts + ttl > now`,
in process and in Redis alike: `EpisodicStore.expires_at`), but the recall index lives in each
process and kept what it had indexed: a long-running worker went on recalling expired records
until a deletion elsewhere made it load the user anew. So every item made from a record carries
the record's expiry in `meta["expires_at"]` (`expiry_meta`), which the index keeps as a column
of the user's shard:

- every read of the index leaves expired rows out, whichever way they came in (recorded here,
  caught up from another process, rebuilt from the store, loaded from a snapshot): one vector
  comparison in the query's mask, made only once the shard's earliest expiry has passed
  (`Shard.soonest`), so a user with nothing expired pays one float comparison;
- before each recall the MemoryManager removes the user's expired items (`forget_expired`): from
  the index (memory stays bounded by the TTL), from the fact ledger (an expired statement is
  neither a current value nor shown as an earlier one) and from the ids the catch-up has seen
  (a record gone by its TTL is not a deletion, which would make the user load anew).

What it costs recall, measured on LoCoMo's 760 questions twice, the code before and after
interleaved query by query in one process (wordllama, so that ranking is not hidden behind the
query's embedding; load average 3 on 2 cores): p50 / p95 5.01 / 8.12 ms before, 5.06 / 7.99
after; 4.99 / 7.93 with every item carrying an expiry, 5.15 / 7.84 with a tenth of them expired
and masked, not yet removed. With MiniLM: 11.20 / 25.26 before, 11.23 / 25.49 after. Noise.

Expiry is read against the episodic store's clock (`HybridIndex.clock`), the one its queries use.
Items indexed without a record (`MemoryManager.add_turn`) and stores without a TTL never expire.
A fleet's processes should share one TTL: each computes expiry with its own store's `ttl`, as
its queries of the shared store do.
"""

from __future__ import annotations

from collections.abc import Iterable

from moot.memory.catch_up import CatchUp
from moot.memory.episodic import EpisodicStore
from moot.memory.facts.tracker import FactTracker
from moot.memory.retrieval.index import HybridIndex
from moot.memory.types import EXPIRES_AT, EpisodicRecord, MemoryItem


def expiry_meta(store: EpisodicStore | None, record: EpisodicRecord) -> dict[str, float]:
    """`{"expires_at": ...}` for an item made from `record`, or nothing when the store keeps it forever."""
    expires = store.expires_at(record) if store is not None else None
    return {} if expires is None else {EXPIRES_AT: expires}


def expired(item: MemoryItem, now: float) -> bool:
    """Whether `item` came from a record whose TTL has run out by `now`."""
    expires = item.meta.get(EXPIRES_AT)
    return isinstance(expires, (int, float)) and expires <= now


def unexpired(items: Iterable[MemoryItem], now: float) -> list[MemoryItem]:
    """The items that have not expired by `now` (a snapshot's history, read back)."""
    return [item for item in items if not expired(item, now)]


def forget_expired(index: HybridIndex, facts: FactTracker, catch_up: CatchUp, user_id: str) -> list[str]:
    """Remove the user's expired items from the index, the fact ledger and the catch-up's ids;
    returns their ids (none, at the cost of one comparison, before the user's earliest expiry).

    The ledger also holds items that left the index (folded into a summary, or superseded where
    the stale value could not be marked): it is swept too whenever something expired.
    """
    ids = [item.id for item in index.expire(user_id)]
    if ids:
        now = index.clock()
        touched = facts.ledger.remove(user_id, ids + [item.id for item in facts.ledger.items(user_id) if expired(item, now)])
        facts.unmark(index, user_id, touched)  # values whose successor expired are current again
        catch_up.drop(user_id, ids)
    return ids


__all__ = ["expired", "expiry_meta", "forget_expired", "unexpired"]
