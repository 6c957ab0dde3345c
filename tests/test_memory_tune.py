"""Leave-one-conversation-out tuning (bench/memory/loo.py, tune.py) on small synthetic sets.

The fold logic is checked with a scripted scorer whose answers are known (a config that helps
only the training conversations must not be credited held-out); the LoCoMo scorer is checked
end to end on three made-up conversations with the fast WordLlama embedder: each conversation
is embedded once, query vectors are reused across configs, and scores are deterministic.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "memory"))

from locomo_data import Conversation, Question
from loo import Memo, Outcome, leave_one_out, tune
from tune import SPACE as SPACE_DECLARED
from tune import RecallScorer, auto_candidates, search_space

from moot.memory.embedder import get_embedder
from moot.memory.retrieval import RecallConfig
from moot.memory.types import MemoryItem

CONVS = ["c1", "c2", "c3", "c4"]


@dataclass(frozen=True)
class Knobs:
    overfit: int = 0
    """1 helps c1-c3 and ruins c4"""
    neutral: int = 0
    """changes nothing anywhere"""
    broken: int = 0
    """1 raises"""


class ScriptedScorer:
    """Ten multi-hop and ten single-hop questions per conversation; half recalled by default."""

    def __init__(self) -> None:
        self.calls: list[tuple[Knobs, str]] = []

    def score(self, config: Knobs, conv: str) -> Outcome:
        self.calls.append((config, conv))
        if config.broken:
            raise ValueError("cannot run")
        ok = np.arange(20) % 2 == 0
        if config.overfit:
            ok = np.ones(20, dtype=bool) if conv != "c4" else np.zeros(20, dtype=bool)
        return Outcome(np.repeat([1, 4], 10), ok)


SPACE = {"overfit": (0, 1), "neutral": (0, 1), "broken": (0, 1)}


def test_tune_reads_only_the_training_conversations() -> None:
    scorer = ScriptedScorer()
    tuned = tune(scorer, ["c1", "c2", "c3"], SPACE, Knobs())
    assert {conv for _, conv in scorer.calls} == {"c1", "c2", "c3"}
    assert tuned.config == Knobs(overfit=1)  # a tie (neutral) keeps the start value; broken is skipped
    assert tuned.train.recall() == 1.0
    assert tuned.failures and "broken=1" in tuned.failures[0]


def test_a_config_that_helps_only_the_training_folds_is_not_credited_held_out() -> None:
    scorer = ScriptedScorer()
    loo = leave_one_out(Memo(scorer), CONVS, SPACE, Knobs())
    fold = next(f for f in loo.folds if f.held_out == "c4")
    assert "c4" not in fold.tuned.convs and fold.tuned.config == Knobs(overfit=1)
    assert fold.tuned.train.recall() == 1.0  # perfect on what it was chosen on ...
    assert fold.held.recall() == 0.0 and fold.default_held.recall() == 0.5  # ... and worse held out
    for other in loo.folds:
        assert other.held_out not in other.tuned.convs
        assert np.array_equal(other.held.ok, ScriptedScorer().score(other.tuned.config, other.held_out).ok)
    # c1-c3 gain held out too, so the held-out mean (0.75) is earned; c4's fold is not credited
    assert [f.held.recall() for f in loo.folds] == [1.0, 1.0, 1.0, 0.0]
    assert loo.held_out_mean()["overall"] == pytest.approx(0.75)
    assert loo.default_mean()["overall"] == pytest.approx(0.5)


class Losing(ScriptedScorer):
    """overfit gains 4 single-hop questions on c1 and c2 and loses 3 on c3 and c4: +2 pooled."""

    def score(self, config: Knobs, conv: str) -> Outcome:
        out = super().score(dataclasses.replace(config, overfit=0), conv)
        delta = {"c1": 4, "c2": 4, "c3": -3, "c4": -3}[conv] if config.overfit else 0
        ok = out.ok.copy()
        flip = np.flatnonzero((out.cats == 4) & (ok == (delta < 0)))[: abs(delta)]
        ok[flip] = delta > 0
        return Outcome(out.cats, ok)


def test_the_start_config_stays_when_tuning_loses_held_out() -> None:
    loo = leave_one_out(Memo(Losing()), CONVS, {"overfit": (0, 1)}, Knobs())
    assert loo.in_sample.config == Knobs(overfit=1)  # in-sample it wins ...
    assert [f.tuned.config.overfit for f in loo.folds] == [0, 0, 1, 1]  # ... each fold's choice loses
    assert loo.held_out_mean()["objective"] < loo.default_mean()["objective"]
    chosen, why = loo.recommended(Knobs())
    assert chosen == Knobs() and "keep" in why


def test_the_gain_a_move_must_beat_is_chosen_held_out_too() -> None:
    loo = leave_one_out(Memo(Losing()), CONVS, {"overfit": (0, 1)}, Knobs(), min_gains=(0.0, 0.2))
    # on all four, a gain of 0 loses held-out (folds above): 0.2 is chosen and nothing moves
    assert loo.in_sample.min_gain == 0.2 and loo.in_sample.config == Knobs()
    assert loo.in_sample.gain_scores[0.2] > loo.in_sample.gain_scores[0.0]
    # inside c2-c4, overfit loses on c3 and c4 held out: 0.2; inside c1, c2, c4 it wins on c1 and
    # c2 held out (+8 against -3): 0, and c3, held out by neither step, pays for it
    assert [f.tuned.min_gain for f in loo.folds] == [0.2, 0.2, 0.0, 0.0]
    assert [f.tuned.config.overfit for f in loo.folds] == [0, 0, 1, 1]


def test_memo_shares_scorings_between_folds() -> None:
    scorer = ScriptedScorer()
    memo = Memo(scorer)
    leave_one_out(memo, CONVS, SPACE, Knobs())
    assert len(scorer.calls) == len(memo.outcomes) + len(memo.errors) and memo.hits > len(scorer.calls)


def test_fields_without_declared_candidates_get_some_by_rule() -> None:
    assert auto_candidates(True) == (True, False)
    assert auto_candidates(0.3) == (0.0, 0.15, 0.3, 0.6)
    assert auto_candidates(4) == (0, 2, 4, 8)
    assert auto_candidates("x") == ("x",)
    space, auto = search_space()
    assert "full_scan_limit" not in space and not set(auto) & set(SPACE_DECLARED)
    for name, values in space.items():
        assert getattr(RecallConfig(), name) in values


# -- the LoCoMo scorer on made-up conversations --------------------------------------------------
TOPICS = [
    ("Ana", "Ben", ["I adopted a grey kitten called Pixel last week.", "Pixel sleeps on my keyboard all day.",
                    "We went hiking near the lake on Sunday.", "The lake water was freezing cold."],
     ["What pet did Ana adopt?", "Where did Ana go hiking and how cold was it?"]),
    ("Cleo", "Dev", ["My sister opened a bakery in Lisbon.", "She sells almond croissants every morning.",
                     "I started learning the cello in March.", "My teacher says my bowing improved."],
     ["Where is the bakery of Cleo's sister?", "Which instrument is Cleo learning and how is it going?"]),
    ("Eli", "Fay", ["I am training for the Berlin marathon.", "My knee hurt after the long run.",
                    "I painted a sunflower for my mother.", "She hung the painting in her kitchen."],
     ["Which race is Eli training for?", "What did Eli paint and where does it hang?"]),
]


def conversation(index: int) -> Conversation:
    """Two sessions of three turns; a single-hop question on the first, a multi-hop one on the second."""
    a, b, lines, asked = TOPICS[index]
    sid = f"s{index}"
    sessions = []
    for n, pair in enumerate((lines[:2], lines[2:])):
        sessions.append([
            MemoryItem(id=f"{sid}:D{n}:{i}", layer="episodic", text=f"{who}: {text}", user_id=sid,
                       session_id=f"{sid}/session_{n}", ts=1_683_504_000.0 + n * 86_400 + i,
                       meta={"seq": i, "speaker": who, "date": f"{8 + n} May 2023"})
            for i, (who, text) in enumerate([(a, pair[0]), (b, "Oh, tell me more!"), (a, pair[1])])
        ])
    questions = [Question(sid, asked[0], 4, (f"{sid}:D0:0",)),
                 Question(sid, asked[1], 1, (f"{sid}:D1:0", f"{sid}:D1:2"))]
    return Conversation(sid, sessions, questions)


class CountingEmbedder:
    def __init__(self) -> None:
        self.inner = get_embedder("wordllama")
        self.dim = self.inner.dim
        self.name = self.inner.name
        self.embedded = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def test_recall_scorer_embeds_turns_once_and_queries_once_per_text(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    convs = [conversation(i) for i in range(3)]
    scorer = RecallScorer(embedder, convs, budget=40, cache=tmp_path)
    assert embedder.embedded == 18  # every turn, once
    first = {c.sample_id: scorer.score(RecallConfig(), c.sample_id) for c in convs}
    queries = embedder.embedded - 18
    assert queries == len(scorer.embedder.vectors) == 6
    for c in convs:  # another config over the same index: nothing embedded again, same answer twice
        scorer.score(RecallConfig(hops=1, neighbour_top=0), c.sample_id)
        assert np.array_equal(scorer.score(RecallConfig(), c.sample_id).ok, first[c.sample_id].ok)
    assert embedder.embedded == 18 + queries
    scorer.score(RecallConfig(mention_fields=()), "s0")  # names kept: a new query text, a new vector
    assert len(scorer.embedder.vectors) == 8
    again = RecallScorer(embedder, convs, budget=40, cache=tmp_path)  # the vectors come from the cache
    assert embedder.embedded == 18 + queries + 2 and again.index.count("s1") == 6


def test_leave_one_out_runs_end_to_end_on_the_recall_scorer() -> None:
    convs = [conversation(i) for i in range(3)]
    scorer = RecallScorer(get_embedder("wordllama"), convs, budget=40)
    space = {"hops": (1, 2), "neighbour_top": (0, 2)}
    loo = leave_one_out(Memo(scorer), [c.sample_id for c in convs], space, RecallConfig(), passes=2)
    assert [f.held_out for f in loo.folds] == ["s0", "s1", "s2"]
    for fold in loo.folds:
        assert fold.tuned.train.summary()["n"] == 4 and fold.held.summary()["n"] == 2
    assert set(loo.in_sample_per_conv) == {"s0", "s1", "s2"}
