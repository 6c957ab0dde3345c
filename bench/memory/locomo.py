"""Recall on LoCoMo: is the evidence in what memory returns within 1,000 tokens, and how fast.

For each conversation, every turn is ingested with its session date (one user per
conversation, one batch per session); each question of categories 1-4 is recalled with a token
budget, and the recalled turn ids are compared with the question's evidence turns. Per system,
per category and overall it prints: the share of questions whose evidence turns are *all*
recalled, the share of evidence turns recalled, recall latency p50/p95 (query embedding
included), the recalled tokens (mean, p95) beside the full conversation's, and ingest turns/s.
Systems are asked in turn for each question, so machine noise hits them alike.

    python bench/memory/locomo.py [--systems moot,dense,store,rag,mem0] [--budget 1000]
                                  [--set neighbour_top=3 ...] [--json out.json]

Targets (issue 5): all-evidence recall >= 0.72 overall and >= 0.35 multi-hop at 1,000 tokens;
recall p95 < 25 ms; tokens per query < 1,000; ingest >= 100 turns/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from locomo_data import CATEGORIES, Conversation, evidence_hits, load
from systems import DenseSystem, Mem0System, MootSystem, RagSystem, StoreSystem, System

from moot.memory.embedder import get_embedder
from moot.memory.retrieval import RecallConfig
from moot.memory.retrieval.pack import session_header


def parse_overrides(pairs: list[str]) -> RecallConfig:
    fields = {f.name: f for f in dataclasses.fields(RecallConfig)}
    values = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        kind = type(getattr(RecallConfig(), key))
        values[key] = tuple(x for x in raw.split(",") if x) if kind is tuple else (
            raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw))
        assert key in fields, key
    return RecallConfig(**values)


def build(names: list[str], embedder, config: RecallConfig, workdir: str) -> list[System]:
    systems: list[System] = []
    for name in names:
        if name == "moot":
            systems.append(MootSystem(embedder, config))
        elif name == "dense":
            systems.append(DenseSystem(embedder))
        elif name == "store":
            systems.append(StoreSystem(embedder))
        elif name.startswith("rag"):
            size = int(name[3:] or 128)
            rag = RagSystem(embedder, chunk_tokens=size)
            rag.name = name
            systems.append(rag)
        elif name == "mem0":
            try:
                systems.append(Mem0System(embedder, workdir))
            except Exception as exc:  # noqa: BLE001 - report why it cannot run, go on without it
                print(f"mem0: cannot run here: {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            raise SystemExit(f"unknown system {name!r}")
    return systems


def full_tokens(embedder, conv: Conversation) -> int:
    text = "\n".join(line for s in conv.sessions for line in [session_header(s[0]), *(i.text for i in s)])
    return embedder.count_tokens(text)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default="moot,dense,store,rag,mem0")
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="RecallConfig overrides")
    parser.add_argument("--json", type=Path, help="write per-system results here")
    parser.add_argument("--quiet", action="store_true", help="overall lines only")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    embedder = get_embedder(args.embedder)
    config = parse_overrides(args.set)
    convs = load()
    workdir = tempfile.mkdtemp(prefix="moot-bench-")
    systems = build(args.systems.split(","), embedder, config, workdir)
    turns = sum(len(s) for c in convs for s in c.sessions)

    ingest: dict[str, float] = {s.name: 0.0 for s in systems}
    for conv in convs:
        for system in systems:
            start = time.perf_counter()
            system.ingest(conv)
            ingest[system.name] += time.perf_counter() - start

    results: dict[str, list[dict]] = {s.name: [] for s in systems}
    for conv in convs:
        for q in conv.questions:
            for system in systems:
                start = time.perf_counter()
                ids, tokens = system.recall(conv.sample_id, q.text, args.budget)
                elapsed = time.perf_counter() - start
                hit = evidence_hits(q, ids)
                results[system.name].append({
                    "conv": conv.sample_id, "cat": q.category, "all": hit == len(q.evidence), "hit": hit,
                    "need": len(q.evidence), "ms": elapsed * 1e3, "tokens": tokens,
                })

    fulls = [full_tokens(embedder, c) for c in convs]
    print(f"LoCoMo: {len(convs)} conversations, {turns} turns, {sum(len(c.questions) for c in convs)} "
          f"questions (categories 1-4 with evidence), budget {args.budget} tokens, embedder "
          f"{getattr(embedder, 'name', args.embedder)}")
    print(f"full conversation tokens: mean {np.mean(fulls):,.0f} (min {min(fulls):,}, max {max(fulls):,})")
    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'system':8} {'category':12} {'n':>4} {'all-evid':>8} {'turns':>6} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'tok mean':>8} {'tok p95':>7}")
    summary = {}
    for name, rows in results.items():
        groups = [(CATEGORIES[c], [r for r in rows if r["cat"] == c]) for c in CATEGORIES]
        groups.append(("overall", rows))
        for label, group in groups:
            if args.quiet and label not in ("overall", "multi-hop"):
                continue
            ms = [r["ms"] for r in group]
            toks = [r["tokens"] for r in group]
            line = {
                "n": len(group), "all_evidence": np.mean([r["all"] for r in group]),
                "turn_recall": sum(r["hit"] for r in group) / sum(r["need"] for r in group),
                "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "tokens_mean": float(np.mean(toks)),
                "tokens_p95": pct(toks, 95), "tokens_max": max(toks),
            }
            summary.setdefault(name, {})[label] = line
            print(f"{name:8} {label:12} {line['n']:4d} {line['all_evidence']:8.3f} {line['turn_recall']:6.3f} "
                  f"{line['p50_ms']:7.1f} {line['p95_ms']:7.1f} {line['tokens_mean']:8.0f} {line['tokens_p95']:7.0f}")
        rate = turns / ingest[name] if ingest[name] else float("inf")
        summary[name]["ingest_turns_per_s"] = rate
        print(f"{name:8} ingest {rate:,.0f} turns/s; max tokens in one recall {summary[name]['overall']['tokens_max']}")
    print("all-evidence recall per conversation (overall / multi-hop):")
    print(f"{'system':8} " + " ".join(f"{c.sample_id:>13}" for c in convs))
    for name, rows in results.items():
        cells = []
        for conv in convs:
            mine = [r for r in rows if r["conv"] == conv.sample_id]
            multi = [r["all"] for r in mine if r["cat"] == 1]
            cells.append(f"{np.mean([r['all'] for r in mine]):.2f} / {np.mean(multi):.2f}")
        print(f"{name:8} " + " ".join(f"{c:>13}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps({"config": dataclasses.asdict(config), "full_tokens": fulls,
                                         "systems": summary}, indent=2))


if __name__ == "__main__":
    main()
