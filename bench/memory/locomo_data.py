"""LoCoMo conversations as moot memory items, and the questions with their evidence.

The data is read in place from `../shared/bench/locomo/` (CC BY-NC 4.0, not copied into the
project). Only the dialogue is read: speakers, turns, image captions and session dates; the
authors' annotations (`event_summary`, `observation`, `session_summary`) are never touched.
`answer` and `evidence` are used only to score what recall returned, never to retrieve.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from moot.memory.types import MemoryItem

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "locomo" / "locomo-dev5.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


@dataclass(frozen=True)
class Question:
    conversation: str
    text: str
    category: int
    evidence: tuple[str, ...]
    """item ids (`<conversation>:<dia_id>`) of the evidence turns"""


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    sessions: list[list[MemoryItem]]
    questions: list[Question]


def evidence_hits(question: Question, ids: Iterable[str]) -> int:
    """How many of the question's evidence turns are among the recalled `ids`."""
    got = set(ids)
    return sum(e in got for e in question.evidence)


def data_path() -> Path:
    return Path(os.environ.get("LOCOMO_PATH", DEFAULT_DATA))


def parse_date(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> a UTC datetime."""
    clean = re.sub(r"\s+", " ", text.strip())
    return datetime.strptime(clean, "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_text(turn: dict) -> str:
    """'Speaker: text', with the caption of a shared image (the image itself is not released)."""
    text = f"{turn['speaker']}: {turn['text'].strip()}"
    caption = turn.get("blip_caption")
    return f"{text} [shares {caption}]" if caption else text


def load(path: Path | None = None) -> list[Conversation]:
    samples = json.loads((path or data_path()).read_text())
    return [_conversation(sample) for sample in samples]


def _conversation(sample: dict) -> Conversation:
    sid = sample["sample_id"]
    conv = sample["conversation"]
    sessions: list[list[MemoryItem]] = []
    numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k))
    for n in numbers:
        turns = conv.get(f"session_{n}") or []
        if not turns:
            continue
        when = parse_date(conv[f"session_{n}_date_time"])
        day = f"{when.day} {when.strftime('%B %Y')}"
        sessions.append([
            MemoryItem(
                id=f"{sid}:{turn['dia_id']}", layer="episodic", text=turn_text(turn), user_id=sid,
                session_id=f"{sid}/session_{n}", ts=when.timestamp() + i,
                meta={"seq": i, "speaker": turn["speaker"], "date": day, "dia_id": turn["dia_id"]},
            )
            for i, turn in enumerate(turns)
        ])
    known = {item.id for session in sessions for item in session}
    questions = []
    for qa in sample["qa"]:
        if qa.get("category") not in CATEGORIES:
            continue
        evidence = []
        for raw in qa.get("evidence", []):
            for part in str(raw).split(";"):
                item_id = f"{sid}:{part.strip()}"
                if item_id in known and item_id not in evidence:
                    evidence.append(item_id)
        if evidence:
            questions.append(Question(sid, qa["question"], qa["category"], tuple(evidence)))
    return Conversation(sid, sessions, questions)


__all__ = ["CATEGORIES", "Conversation", "Question", "data_path", "evidence_hits", "load", "parse_date", "turn_text"]
