"""The embedded query says the people it asks about in their own voice (`RecallConfig.query_voice`).

Memories of a dialogue are first-person lines; questions about them are third-person. These
tests pin the word map (`text.first_person`) and that recall embeds the voiced text.
"""

from __future__ import annotations

import numpy as np
import pytest

from moot.errors import UsageError
from moot.memory.retrieval import RecallConfig, Retriever
from moot.memory.retrieval.index import HybridIndex
from moot.memory.retrieval.text import first_person
from moot.memory.types import MemoryItem


@pytest.mark.parametrize(("question", "people", "voiced"), [
    ("What activities does Melanie partake in?", ["melanie"], "What activities do I partake in?"),
    ("What do Melanie's kids like?", ["melanie"], "What do my kids like?"),
    ("Where has Maria made friends?", ["maria"], "Where have I made friends?"),
    ("Does Nate have pets?", ["nate"], "Do I have pets?"),
    ("What is Caroline's identity?", ["caroline"], "What is my identity?"),
    ("When Caroline is sad, what does she do?", ["caroline"], "When I am sad, what do I do?"),
    ("How did Gina promote her clothes store?", ["gina"], "How did I promote my clothes store?"),
    # Two people listed together speak as one; another one named is the other side of the dialogue.
    ("What do Jon and Gina both have in common?", ["jon", "gina"], "What do we both have in common?"),
    ("Has Jon and Gina's business grown?", ["jon", "gina"], "Has our business grown?"),
    ("What did Melanie give Caroline?", ["melanie", "caroline"], "What did I give you?"),
    ("What did Caroline get from Melanie?", ["caroline", "melanie"], "What did I get from you?"),
    # Nobody mentioned: unchanged, pronouns included (they may not mean the speaker).
    ("What did she paint?", [], "What did she paint?"),
])
def test_first_person(question: str, people: list[str], voiced: str) -> None:
    assert first_person(question, people) == voiced


def test_names_only_keeps_pronouns() -> None:
    assert first_person("How did Gina promote her store?", ["gina"], pronouns=False) == "How did I promote her store?"


class SpyEmbedder:
    """Records every query text it embeds; vectors are fixed per text (deterministic)."""

    name = "spy"
    dim = 8

    def __init__(self) -> None:
        self.queries: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, len(text) % self.dim] = 1.0
        return out

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return [self.count_tokens(t) for t in texts]


@pytest.mark.parametrize(("voice", "embedded"), [
    ("first", "What did I paint for my mother?"),
    ("names", "What did I paint for her mother?"),
    ("strip", "What did paint for her mother?"),
])
def test_recall_embeds_the_voiced_question(voice: str, embedded: str) -> None:
    spy = SpyEmbedder()
    index = HybridIndex(spy)
    index.add([MemoryItem(id=f"u:{i}", layer="episodic", text=f"{who}: {text}", user_id="u", session_id="u/s",
                          ts=1.0 + i, meta={"seq": i, "speaker": who})
               for i, (who, text) in enumerate([("Mia", "I painted a sunset for my mom."), ("Tom", "Lovely!")])])
    recalled = Retriever(index, RecallConfig(query_voice=voice)).recall("u", "What did Mia paint for her mother?", 100)
    assert spy.queries[-1] == embedded
    assert recalled.items, "recall still returns the user's lines"


def test_an_unknown_voice_is_refused() -> None:
    spy = SpyEmbedder()
    index = HybridIndex(spy)
    index.add([MemoryItem(id="u:0", layer="episodic", text="Mia: hi", user_id="u", session_id="u/s", ts=1.0,
                          meta={"seq": 0, "speaker": "Mia"})])
    with pytest.raises(UsageError, match="query_voice"):
        Retriever(index, RecallConfig(query_voice="second")).recall("u", "What did Mia say?", 100)
