"""Token accounting of a run: totals per agent, per stage and per model, and an estimated cost.

Every model call's usage comes from the provider's own counts (or the embedded model's own
tokenizer) and lands in the run state's `usage` channel, per agent and nested per stage. This
module only reads that: it is what `moot run` prints, what `run_finished` events carry, and what
the token budget is checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COUNTERS = ("prompt_tokens", "completion_tokens", "calls", "latency_s")


def _blank() -> dict[str, float]:
    return {name: 0 for name in COUNTERS}


def _add(into: dict[str, float], usage: Mapping[str, Any]) -> None:
    for name in COUNTERS:
        into[name] = round(into[name] + (usage.get(name) or 0), 6)


def used_tokens(usage: Mapping[str, Any] | None) -> int:
    """Prompt plus completion tokens of the whole run so far."""
    return int(sum((u.get("prompt_tokens") or 0) + (u.get("completion_tokens") or 0) for u in (usage or {}).values()))


def price_of(model: str, prices: Mapping[str, Mapping[str, float]]) -> Mapping[str, float] | None:
    """The price entry of `provider/model`, looked up by the full key or by the bare model name."""
    return prices.get(model) or prices.get(model.split("/", 1)[-1])


def summarize(usage: Mapping[str, Any] | None, prices: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """Totals per agent, per stage, per model and overall; `cost` where a price table is given.

    A price entry has `prompt_per_mtok` and `completion_per_mtok` (per million tokens, in the
    table's currency). Models without a price are listed in `unpriced`, so a partial table never
    passes for a complete one.
    """
    by_agent: dict[str, dict[str, float]] = {}
    by_stage: dict[str, dict[str, float]] = {}
    by_model: dict[str, dict[str, float]] = {}
    total = _blank()
    for agent, u in (usage or {}).items():
        slot = by_agent.setdefault(agent, _blank())
        _add(slot, u)
        _add(total, u)
        _add(by_model.setdefault(str(u.get("model") or "?"), _blank()), u)
        for stage, su in (u.get("stages") or {}).items():
            _add(by_stage.setdefault(stage, _blank()), su)
    out: dict[str, Any] = {"total": total, "by_agent": by_agent, "by_stage": by_stage, "by_model": by_model}
    if prices:
        cost = 0.0
        unpriced = []
        for model, u in by_model.items():
            price = price_of(model, prices)
            if price is None:
                unpriced.append(model)
                continue
            spent = u["prompt_tokens"] * float(price.get("prompt_per_mtok", 0)) / 1e6
            spent += u["completion_tokens"] * float(price.get("completion_per_mtok", 0)) / 1e6
            u["cost"] = round(spent, 6)
            cost += spent
        out["cost"] = round(cost, 6)
        out["unpriced"] = unpriced
    return out


__all__ = ["COUNTERS", "price_of", "summarize", "used_tokens"]
