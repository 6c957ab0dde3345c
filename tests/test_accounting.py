"""Token accounting per agent, stage and model; cost from a price table; the run's token budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import scripted_runtime

from moot.accounting import summarize, used_tokens
from moot.errors import TokenBudgetExceeded
from moot.events import Event, EventBus
from moot.persistence import open_store

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def test_summarize_totals_per_agent_stage_and_model_and_prices() -> None:
    usage = {
        "optimistic": {"prompt_tokens": 100, "completion_tokens": 50, "calls": 2, "latency_s": 1.5, "model": "openai/gpt-x",
                       "stages": {"proposal": {"prompt_tokens": 60, "completion_tokens": 30, "calls": 1, "latency_s": 1.0},
                                  "revision": {"prompt_tokens": 40, "completion_tokens": 20, "calls": 1, "latency_s": 0.5}}},
        "critic": {"prompt_tokens": 10, "completion_tokens": 5, "calls": 1, "latency_s": 0.2, "model": "local/tiny",
                   "stages": {"proposal": {"prompt_tokens": 10, "completion_tokens": 5, "calls": 1, "latency_s": 0.2}}},
    }
    acc = summarize(usage, {"gpt-x": {"prompt_per_mtok": 2.0, "completion_per_mtok": 8.0}})
    assert acc["total"] == {"prompt_tokens": 110, "completion_tokens": 55, "calls": 3, "latency_s": 1.7}
    assert acc["by_stage"]["proposal"]["prompt_tokens"] == 70 and acc["by_stage"]["revision"]["calls"] == 1
    assert set(acc["by_model"]) == {"openai/gpt-x", "local/tiny"}
    assert acc["cost"] == pytest.approx((100 * 2.0 + 50 * 8.0) / 1e6)
    assert acc["unpriced"] == ["local/tiny"]
    assert used_tokens(usage) == 165
    assert "cost" not in summarize(usage)


async def test_a_run_reports_usage_per_agent_and_stage_with_cost(workspace_copy: Path, classic_script: dict[str, Any]) -> None:
    (workspace_copy / "moot.yaml").write_text(
        (workspace_copy / "moot.yaml").read_text() + "prices:\n  scripted/scripted: {prompt_per_mtok: 1.0, completion_per_mtok: 4.0}\n"
    )
    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    bus = EventBus()
    ends: list[Event] = []
    bus.add_handler(lambda e: ends.append(e) if e.type == "run_finished" else None)
    result = await runtime.orchestrator(bus=bus).run(TASK)
    acc = ends[0].data["accounting"]
    usage = result.state["usage"]
    assert set(acc["by_agent"]) == {"optimistic", "critic", "devils_advocate", "synthesizer", "booking"}
    assert acc["by_stage"]["proposal"]["calls"] == 3 and acc["by_stage"]["synthesis"]["calls"] == 1
    assert sum(s["prompt_tokens"] for s in acc["by_stage"].values()) == acc["total"]["prompt_tokens"]
    assert all(u["model"] == "scripted/scripted" for u in usage.values())
    expected = (acc["total"]["prompt_tokens"] * 1.0 + acc["total"]["completion_tokens"] * 4.0) / 1e6
    assert acc["cost"] == pytest.approx(expected) and acc["unpriced"] == []


async def test_the_token_budget_stops_the_run_cleanly_and_a_bigger_one_resumes_it(
    workspace_copy: Path, classic_script: dict[str, Any], tmp_path: Path
) -> None:
    moot_yaml = workspace_copy / "moot.yaml"
    original = moot_yaml.read_text()
    moot_yaml.write_text(original.replace("  task_max_chars: 4000", "  task_max_chars: 4000\n  token_budget: 100"))
    runtime, model = scripted_runtime(classic_script, workspace_copy)
    async with open_store(tmp_path / "budget.db") as (saver, index):
        orch = runtime.orchestrator(saver, index=index)
        with pytest.raises(TokenBudgetExceeded, match="used 124 of 100 tokens before agent"):
            await orch.run(TASK, session_id="s", run_id="r-budget")
        assert [c["agent"] for c in model.calls] == ["optimistic"]  # nothing more was sent to a model
        state = (await orch.graph.aget_state(orch.config("s"))).values
        assert [e["type"] for e in state["history"]] == ["proposal"]  # what was done is kept whole
        assert (await index.get("r-budget")).status == "failed"

        moot_yaml.write_text(original.replace("  task_max_chars: 4000", "  task_max_chars: 4000\n  token_budget: 100000"))
        bigger, _ = scripted_runtime(classic_script, workspace_copy)
        result = await bigger.orchestrator(saver, index=index).resume("r-budget")
        assert result.status == "finished" and result.winner == "alfama-walks"
        assert [e["type"] for e in result.state["history"]].count("proposal") == 1
