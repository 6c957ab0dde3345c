"""Leave-one-conversation-out tuning: choose on the training conversations, score the held-out one.

Why this exists: the retrieval defaults were chosen on the same five LoCoMo conversations that
score them (0.804 overall, 0.479 multi-hop in-sample), and on five unseen conversations multi-hop
fell to 0.371. A number that says how a *choice* generalises must come from questions the choice
never saw. So the search (`tune`) only ever asks the scorer about its training conversations, and
`leave_one_out` scores each fold's choice on the one conversation left out.

Nothing here knows about embeddings or LoCoMo files: a `Scorer` answers "which questions of
conversation `conv` does `config` recall all the evidence of", and `Memo` remembers its answers,
so the five folds and the all-five run share every (config, conversation) they have in common.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from locomo_data import CATEGORIES

MULTI_HOP = 1


@dataclass(frozen=True)
class Outcome:
    """One config's results on some questions: each question's category and whether *all* its
    evidence was recalled (LoCoMo's all-evidence recall, as locomo.py counts it)."""

    cats: np.ndarray
    ok: np.ndarray

    @staticmethod
    def pool(parts: Sequence[Outcome]) -> Outcome:
        """The questions of several conversations as one set (each question weighs the same)."""
        return Outcome(np.concatenate([p.cats for p in parts]), np.concatenate([p.ok for p in parts]))

    def recall(self, category: int | None = None) -> float:
        ok = self.ok if category is None else self.ok[self.cats == category]
        return float(ok.mean()) if len(ok) else float("nan")

    def objective(self) -> float:
        """Mean of overall and multi-hop all-evidence recall.

        Overall alone is 55% single-hop on LoCoMo, so a search on it would happily trade
        multi-hop (the category that fell on unseen conversations) for single-hop; the mean
        counts a multi-hop question about five times as much as another one, without ignoring
        the rest. A set without multi-hop questions is scored on overall alone.
        """
        multi = self.recall(MULTI_HOP)
        overall = self.recall()
        return overall if np.isnan(multi) else (overall + multi) / 2

    def summary(self) -> dict[str, float]:
        """Objective, overall and each category's all-evidence recall, plus the question count."""
        out = {"objective": self.objective(), "overall": self.recall(), "n": float(len(self.ok))}
        out.update({name: self.recall(cat) for cat, name in CATEGORIES.items()})
        return out


class Scorer(Protocol):
    """Scores a config on one conversation's questions; must be deterministic."""

    def score(self, config: Any, conv: str) -> Outcome: ...


class Memo:
    """Remembers each (config, conversation) outcome: folds share most of their evaluations.

    Configs are keyed by `repr`, which a dataclass builds from every field, so the key stays
    right when fields are added and does not need them to be hashable.
    """

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.errors: dict[tuple[str, str], Exception] = {}
        """a config that raised raises again from here, without being run again"""
        self.hits = 0

    def score(self, config: Any, conv: str) -> Outcome:
        key = (repr(config), conv)
        if key in self.outcomes or key in self.errors:
            self.hits += 1
            if key in self.errors:
                raise self.errors[key]
            return self.outcomes[key]
        try:
            found = self.outcomes[key] = self.scorer.score(config, conv)
        except Exception as exc:
            self.errors[key] = exc
            raise
        return found


Space = Mapping[str, Sequence[Any]]
"""Candidate values of each tuned field, in the order they are tried."""


@dataclass(frozen=True)
class Tuned:
    """What a search chose and how it scored on the conversations it was chosen on."""

    config: Any
    train: Outcome
    convs: tuple[str, ...]
    moves: tuple[str, ...]
    """each accepted change, in order, with the objective it reached"""
    failures: tuple[str, ...] = ()
    """candidates whose scoring raised (scored as -inf, reported, never chosen)"""
    min_gain: float = 0.0
    gain_scores: Mapping[float, float] = field(default_factory=dict)
    """when min_gain was itself chosen: each candidate's held-out mean objective on `convs`"""


def tune(scorer: Scorer, convs: Sequence[str], space: Space, start: Any, passes: int = 3,
         min_gain: float = 0.0) -> Tuned:
    """Coordinate ascent on the questions of `convs` pooled, from `start`.

    Each pass tries every candidate of every field with the other fields fixed and keeps the
    best; a value replaces the current one only if it beats it by more than `min_gain`, so
    ties keep what was there (the default, at first): a change must earn its place on the
    training questions. It stops after `passes` passes or after a pass that changed nothing.
    """
    failures: list[str] = []

    def objective(config: Any) -> tuple[float, Outcome | None]:
        try:
            pooled = Outcome.pool([scorer.score(config, conv) for conv in convs])
        except Exception as exc:  # noqa: BLE001 - a candidate that cannot run is reported, not fatal
            failures.append(f"{_diff_text(config, start)}: {type(exc).__name__}: {exc}")
            return float("-inf"), None
        return pooled.objective(), pooled

    best = start
    best_j, best_out = objective(start)
    if best_out is None:
        raise RuntimeError(f"tune: the starting config cannot be scored: {failures[-1]}")
    moves: list[str] = []
    for _ in range(passes):
        moved = False
        for name, values in space.items():
            for value in values:
                if value == getattr(best, name):
                    continue
                candidate = dataclasses.replace(best, **{name: value})
                j, out = objective(candidate)
                if out is not None and j > best_j + min_gain + 1e-12:
                    best, best_j, best_out, moved = candidate, j, out, True
                    moves.append(f"{name}={value!r} -> {j:.4f}")
        if not moved:
            break
    return Tuned(best, best_out, tuple(convs), tuple(moves), tuple(dict.fromkeys(failures)), min_gain)


def tune_gated(scorer: Scorer, convs: Sequence[str], space: Space, start: Any, passes: int = 3,
               min_gains: Sequence[float] = (0.0,)) -> Tuned:
    """`tune` with its `min_gain` chosen by leave-one-out inside `convs` (nested, so the
    conversation an outer fold holds out is not read to choose it either).

    A move that wins by one or two questions on the training set is as likely noise as
    signal; how large a gain to trust is itself a choice that must be made held-out. Each
    candidate gain is scored by the mean held-out objective of its own leave-one-out on
    `convs`; ties go to the larger gain (fewer moves).
    """
    if len(min_gains) == 1 or len(convs) < 3:
        return tune(scorer, convs, space, start, passes, min_gains[0])
    scores = {}
    for gain in min_gains:
        held = []
        for out in convs:
            tuned = tune(scorer, [c for c in convs if c != out], space, start, passes, gain)
            held.append(scorer.score(tuned.config, out).objective())
        scores[gain] = float(np.mean(held))
    best = max(min_gains, key=lambda g: (round(scores[g], 9), g))
    return dataclasses.replace(tune(scorer, convs, space, start, passes, best), gain_scores=scores)


@dataclass(frozen=True)
class Fold:
    """One fold: the search saw every conversation but `held_out`, which scores its choice."""

    held_out: str
    tuned: Tuned
    held: Outcome
    """the chosen config on the held-out conversation"""
    default_held: Outcome
    """the starting config on the held-out conversation, for comparison"""
    default_train: Outcome
    """the starting config on the training conversations: what the search gained there"""


@dataclass(frozen=True)
class Loo:
    folds: list[Fold]
    in_sample: Tuned
    """the same search on every conversation (what would ship); its score there is in-sample"""
    in_sample_per_conv: dict[str, Outcome] = field(default_factory=dict)

    def held_out_mean(self) -> dict[str, float]:
        """The mean over folds of each fold's held-out summary (the issue's 'mean of the five')."""
        return mean_of([f.held.summary() for f in self.folds])

    def default_mean(self) -> dict[str, float]:
        return mean_of([f.default_held.summary() for f in self.folds])

    def in_sample_mean(self) -> dict[str, float]:
        return mean_of([o.summary() for o in self.in_sample_per_conv.values()])

    def recommended(self, default: Any) -> tuple[Any, str]:
        """What ships: the all-conversation choice if the procedure beats the start held-out.

        The held-out mean estimates the *procedure* (search on the others, use the result on an
        unseen conversation), not one config: each fold chose its own. The config that ships is
        that procedure run on all the data, so its expected score on unseen conversations is the
        held-out mean, and its score on these conversations is reported as in-sample only. If the
        procedure does not beat the starting config held-out (whose own score is not even
        held-out, having been chosen on these conversations), the starting config stays.
        """
        tuned, start = self.held_out_mean()["objective"], self.default_mean()["objective"]
        if tuned > start:
            return self.in_sample.config, (f"tuning generalises: held-out objective {tuned:.4f} > "
                                           f"{start:.4f} for the start config; ship the all-five choice")
        return default, (f"tuning does not beat the start config held-out ({tuned:.4f} <= {start:.4f}); "
                         f"keep it")


def leave_one_out(scorer: Scorer, convs: Sequence[str], space: Space, start: Any, passes: int = 3,
                  min_gains: Sequence[float] = (0.0,), progress: Callable[[str], None] | None = None) -> Loo:
    """Five searches on four conversations each, every choice scored on the fifth; then one on all.

    With several `min_gains`, each search first chooses its gain by leave-one-out on its own
    training conversations (`tune_gated`); the held-out conversation is read by neither step.
    """
    folds = []
    for held in convs:
        train = [c for c in convs if c != held]
        tuned = tune_gated(scorer, train, space, start, passes, min_gains)
        folds.append(Fold(held, tuned, scorer.score(tuned.config, held), scorer.score(start, held),
                          Outcome.pool([scorer.score(start, c) for c in train])))
        if progress:
            progress(f"fold {held}: train {tuned.train.objective():.4f}, held out {folds[-1].held.objective():.4f} "
                     f"(start {folds[-1].default_held.objective():.4f}); min gain {tuned.min_gain}; "
                     f"{_diff_text(tuned.config, start)}")
    full = tune_gated(scorer, convs, space, start, passes, min_gains)
    return Loo(folds, full, {c: scorer.score(full.config, c) for c in convs})


def diff(config: Any, base: Any) -> dict[str, Any]:
    """The fields where `config` differs from `base`."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if getattr(config, f.name) != getattr(base, f.name)}


def _diff_text(config: Any, base: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in diff(config, base).items()) or "(defaults)"


def mean_of(rows: list[dict[str, float]]) -> dict[str, float]:
    """Each key's mean over the rows that have it (a conversation without open-domain questions
    has nan there)."""
    out = {}
    for key in rows[0] if rows else ():
        values = [r[key] for r in rows if not np.isnan(r[key])]
        out[key] = float(np.mean(values)) if values else float("nan")
    return out


__all__ = ["Fold", "Loo", "Memo", "Outcome", "Scorer", "Space", "Tuned", "diff", "leave_one_out", "mean_of", "tune", "tune_gated"]
