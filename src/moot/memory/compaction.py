"""Compaction: a session's older turns folded into one summary, so prompts stop growing with a dialogue.

The newest `keep_recent` items stay as they are; the older ones are summarised by a model told
to keep every name, date, number and preference; the summary is indexed and recorded as an
episodic `summary` (with the ids it `replaces`), and the originals leave the index (the episodic
store keeps them). Recall then packs one dense summary instead of many turns.
"""

from __future__ import annotations

import time
import uuid

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from moot.memory.episodic import EpisodicStore
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
    summary = MemoryItem(
        id=f"summary-{session_id}-{uuid.uuid4().hex[:8]}",
        layer="summary",
        text=f"Summary of earlier turns: {text.strip()}",
        user_id=user_id,
        session_id=session_id,
        ts=old[-1].ts,
        meta={k: v for k, v in old[-1].meta.items() if k == "date"} | {"speaker": "summary"},
    )
    index.remove([item.id for item in old], user_id=user_id)
    index.add([summary])
    if episodic is not None:
        await episodic.record(
            [
                EpisodicRecord(
                    user_id=user_id, session_id=session_id, run_id="", task="", stage="", agent="memory",
                    round=0, kind="summary", text=summary.text, ts=time.time(), id=summary.id,
                    data={"replaces": [item.id for item in old]},
                )
            ]
        )
    return summary


__all__ = ["COMPACT_PROMPT", "compact_session"]
