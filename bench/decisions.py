"""What the demo decides on the embedded model, measured (issue 11).

Two parts, both on the model that `make demo` uses (SmolLM2-135M through xllamacpp), each task in
a fresh home as a new user would run it:

1. `moot eval demo` on the demo's task set (46 requests, 13 of them infeasible), both arms side
   by side: `moot` (the workspace as written) and `single` (one agent, same model, same tools,
   same token budget). Printed: success on feasible and on infeasible tasks with 95% Wilson
   intervals, the share of runs without a tool call refused for its arguments, seconds and
   tokens per task.
2. The README's task as `make demo` runs it (`moot run "..."` in a subprocess, fresh
   `MOOT_HOME`), `--demo-runs` times: median and spread of wall seconds (imports and model load
   included), the peak resident memory of the process, and what it decided.

    python bench/decisions.py                       # both parts (about 40 minutes on 2 quiet cores)
    python bench/decisions.py --skip-eval --demo-runs 5
    python bench/decisions.py --arms moot --json decisions.json

The machine's load is printed before and after: these runs are CPU-bound and a busy second core
doubles them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def _moot() -> str:
    return str(Path(sys.executable).parent / "moot")


def run_eval(arms: str, out: Path, repeat: int) -> dict:
    """`moot eval demo` in a subprocess (its own fresh homes per task); returns its JSON."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MOOT_HOME": home}
        started = time.perf_counter()
        subprocess.run(
            [_moot(), "eval", "demo", "--arms", arms, "--repeat", str(repeat), "--json", str(out)],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
        took = time.perf_counter() - started
    data = json.loads(out.read_text())
    data["wall_s"] = took
    return data


def run_demo(runs: int) -> dict:
    """The README's task as `make demo` runs it, `runs` times in fresh homes."""
    seconds, peaks, decided = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "MOOT_HOME": home, "COLUMNS": "100"}
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.perf_counter()
            done = subprocess.run([_moot(), "run", TASK, "--json"], env=env, capture_output=True, text=True)
            seconds.append(time.perf_counter() - started)
            peaks.append(max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024)
            decided.append(_outcome(done.stdout) if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-300:]}")
    return {"runs": runs, "seconds": seconds, "median_s": statistics.median(seconds), "peak_rss_mb": max(peaks), "decided": decided}


def _outcome(stdout: str) -> str:
    for line in reversed(stdout.splitlines()):
        event = json.loads(line)
        if event.get("type") == "run_finished":
            outcome = event["data"].get("outcome") or {}
            return outcome.get("headline", "")
    return "no run_finished event"


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _print_eval(data: dict) -> None:
    summary = data["summary"]
    print(f"\nmoot eval demo: {len(data['runs'])} task runs in {data['wall_s']:.0f} s")
    print(f"{'':34}" + "".join(f"{arm:>28}" for arm in summary))
    for label, pick in (
        ("feasible: booked as asked", lambda s: _rate(s["feasible"])),
        ("infeasible: nothing booked, why", lambda s: _rate(s["infeasible"])),
        ("all tasks", _rate),
        ("runs without a refused call", lambda s: f"{s['no_refused_calls']:.0%}"),
        ("failed runs (error, timeout)", lambda s: str(s["failed_runs"])),
        ("seconds per task, median / mean", lambda s: f"{s['seconds']['median']:.1f} / {s['seconds']['mean']:.1f}"),
        ("tokens per task, prompt / compl.", lambda s: f"{s['tokens']['prompt_mean']:.0f} / {s['tokens']['completion_mean']:.0f}"),
    ):
        print(f"{label:34}" + "".join(f"{pick(s):>28}" for s in summary.values()))


def _rate(r: dict) -> str:
    if not r.get("runs"):
        return "-"
    low, high = r["ci95"]
    return f"{r['ok']}/{r['runs']} = {r['success_rate']:.0%} [{low:.0%}, {high:.0%}]"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arms", default="moot,single")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--demo-runs", type=int, default=5)
    p.add_argument("--skip-eval", action="store_true")
    p.add_argument("--json", default=None, help="write every number as JSON")
    args = p.parse_args()
    print(f"before: {_load()}")
    result: dict = {}
    if args.demo_runs:
        demo = run_demo(args.demo_runs)
        result["demo"] = demo
        print(f"\nmake demo ({TASK!r}), {demo['runs']} runs in fresh homes:")
        print(f"  wall seconds: median {demo['median_s']:.1f}, min {min(demo['seconds']):.1f}, max {max(demo['seconds']):.1f}")
        print(f"  peak resident memory: {demo['peak_rss_mb']:.0f} MB")
        for line in sorted(set(demo["decided"])):
            print(f"  decided ({demo['decided'].count(line)}x): {line}")
    if not args.skip_eval:
        with tempfile.TemporaryDirectory() as tmp:
            data = run_eval(args.arms, Path(tmp) / "eval.json", args.repeat)
        result["eval"] = {"summary": data["summary"], "wall_s": data["wall_s"], "runs": data["runs"]}
        _print_eval(data)
    print(f"\nafter: {_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
