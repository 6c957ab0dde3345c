"""Compaction: a session's older turns folded into one summary, so prompts stop growing with a dialogue.

The newest `keep_recent` items stay as they are; the older ones are summarised by a model told
to keep every name, date, number and preference; the summary is indexed and recorded as an
episodic `summary` (with the ids it `replaces`), and the originals leave the index (the episodic
store keeps them). Recall then packs one dense summary instead of many turns. The summary
expires with its record, as it does in another process that reads it from the store.
"""

from __future__ import annotations

import time
import uuid

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from moot.memory.episodic import EpisodicStore
from moot.memory.expiry import expiry_meta
from moot.memory.retrieval.index import HybridIndex
from moot.memory.types import EpisodicRecord, MemoryItem

COMPACT_PROMPT = (
    "Summarise this part of a conversation for a memory that later questions will be asked of. "
    "Keep every fact: names, places, dates, numbers, preferences, plans and decisions. Drop "
    "greetings and small talk. Answer with the summary only, as short sentences."
)


async def compact_session(index: HybridIndex, episodic: EpisodicStore | None, user_id: str, session_id: str,
                          model: BaseChatModel, *, keep_recent: int = 20) -> MemoryItem | None:
    """Fold the session's items older than its newest `keep_recent` into one summary; None when
    fewer than two would be folded."""
    items = index.items(user_id, session_id)
    old = items[: max(0, len(items) - keep_recent)]
    if len(old) < 2:
        return None
    transcript = "\n".join(item.text for item in old)
    answer = await model.ainvoke([SystemMessage(content=COMPACT_PROMPT), HumanMessage(content=transcript[:24_000])])
    text = answer.content if isinstance(answer.content, str) else str(answer.content)
    record = EpisodicRecord(
        user_id=user_id, session_id=session_id, run_id="", task="", stage="", agent="memory", round=0,
        kind="summary", text=f"Summary of earlier turns: {text.strip()}", id=f"summary-{session_id}-{uuid.uuid4().hex[:8]}",
        ts=episodic.clock() if episodic is not None else time.time(), data={"replaces": [item.id for item in old]},
    )
    summary = MemoryItem(
        id=record.id,
        layer="summary",
        text=record.text,
        user_id=user_id,
        session_id=session_id,
        ts=old[-1].ts,
        meta={k: v for k, v in old[-1].meta.items() if k == "date"} | {"speaker": "summary"} | expiry_meta(episodic, record),
    )
    index.remove([item.id for item in old], user_id=user_id)
    index.add([summary])
    if episodic is not None:
        await episodic.record([record])
    return summary


__all__ = ["COMPACT_PROMPT", "compact_session"]
