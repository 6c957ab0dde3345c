"""Tune every RecallConfig weight and threshold by leave-one-conversation-out on LoCoMo.

For each of the five conversations: search on the other four (coordinate ascent, `loo.py`),
score the choice on the fifth. Prints each fold's choice and scores, the mean of the five
held-out scores beside the in-sample score (the same search on all five, scored on all five)
and the current defaults' score, and the recommended defaults as Python code.

    python bench/memory/tune.py [--budget 1000] [--embedder minilm] [--fields a,b,c]
                                [--passes 3] [--min-gain 0,0.005,0.01] [--set key=value ...]
                                [--cache DIR] [--json out.json]

Each conversation is embedded once (per session, exactly as locomo.py ingests it, so the
defaults score what locomo.py prints); every config is then a new `Retriever` over that one
`HybridIndex`, and query vectors are cached on their exact text (the retriever embeds the
query without the names it mentions, so a config can change the embedded text).

`--min-gain` is the objective gain a move must beat; with several values (the default), each
search picks one by leave-one-out on its own training conversations, so how far to trust a
small gain is chosen held-out too. `--set` moves the start (the default start, the current
defaults, was itself chosen on these five conversations: start from every step off to get an
estimate in which nothing was chosen on the held-out conversation). bench/README.md, "Issue 16",
has the results.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from locomo import parse_overrides
from locomo_data import CATEGORIES, Conversation, evidence_hits, load
from loo import Loo, Memo, Outcome, Space, Tuned, diff, leave_one_out, mean_of

from moot.memory.embedder import count_tokens_batch, embed_query, get_embedder
from moot.memory.retrieval import HybridIndex, RecallConfig, Retriever, session_header
from moot.memory.types import Embedder

SPACE: dict[str, tuple[Any, ...]] = {
    "fusion": ("score", "rrf"),
    "w_lexical": (0.25, 0.35, 0.5, 0.7, 1.0),
    "mention_fields": (("speaker",), ()),
    "mention_boost": (1.5, 2.0, 3.0, 4.0),
    "query_voice": ("first", "names", "strip"),
    "hops": (1, 2),
    "feedback_rows": (3, 5, 8),
    "feedback_weight": (0.25, 0.5, 1.0),
    "expansion_terms": (0, 3, 6, 10),
    "second_hop_weight": (0.25, 0.5, 0.75, 1.0),
    "session_boost": (0.0, 0.1, 0.15, 0.25),
    "neighbour_smoothing": (0.0, 0.1, 0.15, 0.25),
    "neighbour_top": (0, 1, 2, 3),
    "neighbour_discount": (0.4, 0.6, 0.8),
    "candidates": (100, 200, 400),
    "link_weight": (0.0, 0.05, 0.1, 0.15, 0.2),
    "link_seeds": (3, 5, 8),
    "link_max_rows": (10, 20, 40, 80),
    "date_boost": (1.0, 1.25, 1.5, 2.0),
    "when_boost": (0.0, 0.1, 0.2, 0.4),
    "split_mentions": (True, False),
}
"""The one place the search space is declared: candidates of each tuned field (defaults included)."""

EXCLUDED = {
    "w_dense": "only the ratio w_lexical / w_dense changes the ranking (every later step scales with it)",
    "full_scan_limit": "a speed knob above 20,000 rows; LoCoMo shards have at most 680",
    "second_hop_pool": "only read above full_scan_limit rows",
}
"""RecallConfig fields that are deliberately not tuned, and why."""


def auto_candidates(default: Any) -> tuple[Any, ...]:
    """Candidates for a field SPACE does not declare yet (a field added after this file).

    Off, half, the default and double for numbers; both values of a flag; the default alone
    otherwise (declare it in SPACE to search it). The report marks these fields `auto`.
    """
    if isinstance(default, bool):
        return (default, not default)
    if isinstance(default, int | float) and default:
        kind = type(default)
        return tuple(sorted({kind(0), kind(default / 2) if kind is float else default // 2, default, default * 2}))
    if isinstance(default, int | float):
        return (default, 1) if isinstance(default, int) else (default, 0.25, 0.5)
    return (default,)


def search_space(only: Sequence[str] | None = None) -> tuple[Space, list[str]]:
    """Candidates of every tunable RecallConfig field (or of `only`), and the names filled by rule."""
    defaults = RecallConfig()
    names = [f.name for f in dataclasses.fields(RecallConfig)]
    for stale in sorted(set(SPACE) - set(names)):
        print(f"tune.py: SPACE declares {stale!r}, which RecallConfig no longer has; it is skipped", file=sys.stderr)
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise SystemExit(f"tune.py: --fields names {unknown}, not RecallConfig fields; choose from {names}")
    space: dict[str, tuple[Any, ...]] = {}
    auto: list[str] = []
    for name in names:
        if (only and name not in only) or (not only and name in EXCLUDED):
            continue
        default = getattr(defaults, name)
        values = SPACE.get(name) or auto_candidates(default)
        if name not in SPACE:
            auto.append(name)
        space[name] = values if default in values else (default, *values)
    return space, auto


class CachingEmbedder:
    """The embedder, with query vectors remembered by their exact text (the text, not the
    question: a config that strips other words embeds another text, and gets its own vector),
    and multi-line token counts summed from remembered line counts where that is exact.

    Counting the packed context is most of a recall once the query vector is cached (1.6 of
    2.9 s for 760 recalls). A WordPiece tokenizer splits on whitespace before anything else, so
    a text's count is the sum of its lines' counts; `additive` is probed on the corpus's own
    lines at ingest, and every 64th count is still made on the whole text and compared.
    """

    CHECK_EVERY = 64

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.dim = embedder.dim
        self.name = getattr(embedder, "name", type(embedder).__name__)
        self.vectors: dict[str, np.ndarray] = {}
        self.lines: dict[str, int] = {}
        self.additive = False
        self.counted = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.vectors.get(text)
        if vector is None:
            vector = self.vectors[text] = embed_query(self.inner, text)
        return vector

    def probe(self, lines: Sequence[str]) -> None:
        """Counts are summed from lines only if joining these lines never changes the count."""
        joined = ["\n".join(lines[i : i + 40]) for i in range(0, len(lines), 40)]
        self.additive = all(self.inner.count_tokens(t) == self._sum(t) for t in joined)

    def _sum(self, text: str) -> int:
        total = 0
        for line in text.split("\n"):
            cost = self.lines.get(line)
            if cost is None:
                cost = self.lines[line] = self.inner.count_tokens(line)
            total += cost
        return total

    def count_tokens(self, text: str) -> int:
        if not self.additive or "\n" not in text:
            return self.inner.count_tokens(text)
        self.counted += 1
        total = self._sum(text)
        if self.counted % self.CHECK_EVERY == 0 and total != self.inner.count_tokens(text):
            raise RuntimeError(f"tune.py: token counts of lines do not add up for {self.name}; "
                               f"set CachingEmbedder.additive = False")
        return total

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return count_tokens_batch(self.inner, texts)


class RecallScorer:
    """Each conversation ingested once; a config is scored by a new Retriever over the same index.

    A Retriever holds only its config and a Packer (two token counts to build), and recall
    never writes to the index, so building one per config costs microseconds and cannot leak
    one config's state into another's score.
    """

    def __init__(self, embedder: Embedder, convs: Sequence[Conversation], budget: int,
                 cache: Path | None = None) -> None:
        self.embedder = CachingEmbedder(embedder)
        self.index = HybridIndex(self.embedder)
        self.budget = budget
        self.convs = {c.sample_id: c for c in convs}
        for conv in convs:
            self._ingest(conv, cache)
        self.embedder.probe([line for c in convs for s in c.sessions
                             for line in [session_header(s[0]), *(i.text for i in s)]])

    def _ingest(self, conv: Conversation, cache: Path | None) -> None:
        """One embed call per session, as locomo.py's ingest makes (batching changes the floats);
        the vectors are saved under `cache` by a digest of the embedder and every text."""
        texts = [item.text for session in conv.sessions for item in session]
        digest = hashlib.sha256("\n".join([self.embedder.name, *texts]).encode()).hexdigest()[:16]
        path = cache / f"{conv.sample_id}-{digest}.npy" if cache else None
        if path is not None and path.is_file():
            vectors = np.load(path)
        else:
            vectors = np.concatenate([self.embedder.embed([i.text for i in s]) for s in conv.sessions])
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, vectors)
        start = 0
        for session in conv.sessions:
            self.index.add(session, vectors=vectors[start : start + len(session)])
            start += len(session)

    def score(self, config: RecallConfig, conv: str) -> Outcome:
        retriever = Retriever(self.index, config)
        questions = self.convs[conv].questions
        ok = [evidence_hits(q, retriever.recall(conv, q.text, self.budget).ids) == len(q.evidence) for q in questions]
        return Outcome(np.array([q.category for q in questions]), np.array(ok, dtype=bool))


COLUMNS = ["objective", "overall", *CATEGORIES.values()]


def _cells(summary: dict[str, float]) -> str:
    return " ".join(f"{summary[k]:>{max(7, len(k))}.3f}" for k in COLUMNS)


def _gains(tuned: Tuned) -> str:
    """The min gain a search used, and how each candidate gain scored held-out if it was chosen."""
    if not tuned.gain_scores:
        return f" (min gain {tuned.min_gain})"
    return f" (min gain {tuned.min_gain}, chosen held-out: " + ", ".join(
        f"{g}: {v:.4f}" for g, v in tuned.gain_scores.items()) + ")"


def python_code(config: RecallConfig) -> str:
    changed = diff(config, RecallConfig())
    if not changed:
        return "RecallConfig()  # the current defaults"
    return "RecallConfig(\n" + "".join(f"    {k}={v!r},\n" for k, v in changed.items()) + ")"


def report(loo: Loo, memo: Memo, space: Space, auto: list[str], start: RecallConfig,
           timings: dict[str, float], args: argparse.Namespace) -> dict[str, Any]:
    """Print the tables; return the same numbers for --json."""
    head = " ".join(f"{k:>{max(7, len(k))}}" for k in COLUMNS)
    print("\nsearch space (first value tried first; `auto` = filled by rule, declare it in SPACE):")
    for name, values in space.items():
        print(f"  {name:20} {', '.join(map(repr, values))}{'   auto' if name in auto else ''}")
    print(f"\nper fold (tuned on the other {len(loo.folds) - 1}; train = pooled training questions):")
    for fold in loo.folds:
        t, d = fold.tuned.train.summary(), fold.default_train.summary()
        h, dh = fold.held.objective(), fold.default_held.objective()
        print(f"- held out {fold.held_out}: chose {diff(fold.tuned.config, start) or '(the start config)'}"
              f"{_gains(fold.tuned)}")
        print(f"  train objective {t['objective']:.4f} (start {d['objective']:.4f}, {t['objective'] - d['objective']:+.4f}; "
              f"overall {t['overall']:.3f}, multi-hop {t['multi-hop']:.3f}, {int(t['n'])} questions); "
              f"held out {h:.4f} (start {dh:.4f}, {h - dh:+.4f})")
        for fail in fold.tuned.failures:
            print(f"  failed candidate: {fail}")
    base = "defaults" if start == RecallConfig() else "start"
    print(f"\n{'held-out score':24} {head}")
    for fold in loo.folds:
        print(f"{fold.held_out + ' tuned':24} {_cells(fold.held.summary())}")
        print(f"{fold.held_out + ' ' + base:24} {_cells(fold.default_held.summary())}")
    current = [memo.score(RecallConfig(), f.held_out) for f in loo.folds]
    rows = {"current defaults": current, "start (--set)": [f.default_held for f in loo.folds],
            "LOO held-out": [f.held for f in loo.folds], "in-sample (all five)": list(loo.in_sample_per_conv.values())}
    if base == "defaults":
        del rows["start (--set)"]
    pooled = {label: Outcome.pool(outs).summary() for label, outs in rows.items()}
    means = {label: mean_of([o.summary() for o in outs]) for label, outs in rows.items()}
    print(f"\nmean of the {len(loo.folds)} conversations   {head}")
    for label, row in means.items():
        print(f"{label:24} {_cells(row)}")
    print(f"pooled ({int(pooled['LOO held-out']['n'])} questions)")
    for label, row in pooled.items():
        print(f"{label:24} {_cells(row)}")
    print("\nchoices per field (folds by held-out conversation, then all five):")
    for name in space:
        picks = [repr(getattr(f.tuned.config, name)) for f in loo.folds]
        print(f"  {name:20} default {getattr(RecallConfig(), name)!r:10} folds {' '.join(picks)}  "
              f"all five {getattr(loo.in_sample.config, name)!r}")
    chosen, why = loo.recommended(start)
    print(f"\nrecommended ({why}):\n{python_code(chosen)}")
    print(f"\nall-five search moves: {'; '.join(loo.in_sample.moves) or 'none'}{_gains(loo.in_sample)}")
    print(f"time: ingest {timings['ingest']:.0f} s, search {timings['search']:.0f} s; "
          f"{len(memo.outcomes)} (config, conversation) scorings, {memo.hits} answered from the memo")
    return {
        "budget": args.budget, "embedder": args.embedder, "passes": args.passes, "min_gain": args.min_gain,
        "objective": "mean of overall and multi-hop all-evidence recall, pooled over the training questions",
        "space": {k: list(v) for k, v in space.items()}, "auto": auto, "excluded": EXCLUDED,
        "start": dataclasses.asdict(start),
        "folds": [{"held_out": f.held_out, "chosen": diff(f.tuned.config, start), "moves": list(f.tuned.moves),
                   "min_gain": f.tuned.min_gain, "gain_scores": f.tuned.gain_scores, "train": f.tuned.train.summary(),
                   "defaults_train": f.default_train.summary(), "held_out_score": f.held.summary(),
                   "defaults_held_out": f.default_held.summary(), "failures": list(f.tuned.failures)}
                  for f in loo.folds],
        "mean": means, "pooled": pooled,
        "in_sample": {"chosen": diff(loo.in_sample.config, start), "moves": list(loo.in_sample.moves),
                      "min_gain": loo.in_sample.min_gain, "gain_scores": loo.in_sample.gain_scores,
                      "per_conversation": {c: o.summary() for c, o in loo.in_sample_per_conv.items()}},
        "recommended": {"config": dataclasses.asdict(chosen), "why": why, "python": python_code(chosen)},
        "timings": timings, "scorings": len(memo.outcomes), "memo_hits": memo.hits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--fields", default="", help="comma-separated RecallConfig fields to search (default: all)")
    parser.add_argument("--passes", type=int, default=3, help="coordinate-ascent passes at most")
    parser.add_argument("--min-gain", default="0,0.005,0.01", help="the objective gain a move must beat; with "
                        "several, each search chooses one by leave-one-out on its own training conversations")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="start from these overrides")
    parser.add_argument("--cache", type=Path, help="save and reuse the turn vectors in this folder")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args()

    space, auto = search_space([f for f in args.fields.split(",") if f] or None)
    start = parse_overrides(args.set)
    began = time.perf_counter()
    convs = load()
    scorer = RecallScorer(get_embedder(args.embedder), convs, args.budget, args.cache)
    ingested = time.perf_counter()
    memo = Memo(scorer)
    print(f"LoCoMo: {len(convs)} conversations, {sum(len(c.questions) for c in convs)} questions, budget "
          f"{args.budget} tokens, embedder {scorer.embedder.name}; objective: mean of overall and multi-hop "
          f"all-evidence recall; coordinate ascent, at most {args.passes} passes")
    min_gains = [float(g) for g in args.min_gain.split(",") if g]
    loo = leave_one_out(memo, [c.sample_id for c in convs], space, start, args.passes, min_gains,
                        progress=lambda line: print(f"[{time.perf_counter() - began:4.0f} s] {line}", flush=True))
    timings = {"ingest": ingested - began, "search": time.perf_counter() - ingested}
    out = report(loo, memo, space, auto, start, timings, args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=repr))


if __name__ == "__main__":
    main()
