"""The numbers of an eval, per arm: success with its uncertainty, time, tokens, clean tool use.

Success rates come with a 95% Wilson score interval, not a bare percentage: an eval is a handful
of tasks, and 3 of 4 is "somewhere between 30% and 95%", which is what a user comparing two arms
on ten tasks needs to see before believing a difference. (The Wilson interval stays inside
[0, 1] and is sane at 0/n and n/n, where the normal approximation is not.) Feasible and
infeasible tasks are reported apart: an agent that books everything succeeds on the first and
fails on the second, and one average would hide both.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from moot.eval.records import RunRecord

Z95 = statistics.NormalDist().inv_cdf(0.975)
"""1.95996...: the two-sided 95% normal quantile."""


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of `successes` out of `n` (None for n = 0)."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n} (got {successes})")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exactly 0 and 1 at the ends, not 1e-17 off
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def rate(records: Sequence[RunRecord]) -> dict[str, Any]:
    """`{runs, ok, success_rate, ci95}` of some runs (rate and interval None when there are none)."""
    ok = sum(1 for r in records if r.ok)
    interval = wilson(ok, len(records))
    return {
        "runs": len(records),
        "ok": ok,
        "success_rate": round(ok / len(records), 4) if records else None,
        "ci95": [round(interval[0], 4), round(interval[1], 4)] if interval else None,
    }


def arm_summary(records: Sequence[RunRecord]) -> dict[str, Any]:
    """The summary of one arm's runs."""
    seconds = [r.seconds for r in records]
    n = len(records) or 1
    return {
        **rate(records),
        "feasible": rate([r for r in records if r.feasible]),
        "infeasible": rate([r for r in records if not r.feasible]),
        "failed_runs": sum(1 for r in records if r.error is not None),
        "seconds": {
            "mean": round(statistics.fmean(seconds), 4) if seconds else None,
            "median": round(statistics.median(seconds), 4) if seconds else None,
        },
        "tokens": {
            "prompt_mean": round(sum(r.prompt_tokens for r in records) / n, 1),
            "completion_mean": round(sum(r.completion_tokens for r in records) / n, 1),
        },
        # the share of runs in which no tool call failed or was refused
        "no_refused_calls": round(sum(1 for r in records if r.refused_calls == 0) / n, 4) if records else None,
    }


def summarize(records: Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """`arm → summary`, arms in the order they first ran."""
    arms = list(dict.fromkeys(r.arm for r in records))
    return {arm: arm_summary([r for r in records if r.arm == arm]) for arm in arms}


def as_json(records: Sequence[RunRecord]) -> dict[str, Any]:
    """What `--json` writes: `{"summary": {arm: ...}, "runs": [record, ...]}`."""
    return {"summary": summarize(records), "runs": [r.as_dict() for r in records]}


__all__ = ["Z95", "arm_summary", "as_json", "rate", "summarize", "wilson"]
