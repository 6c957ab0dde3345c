"""The single arm: one agent calling the workspace's real tools through the ToolRuntime, in a loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from moot.eval import EvalSettings, SingleArm, open_sandbox, prepare
from moot.eval.fitting import approximate_tokens, fit
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner

WORKSPACE = Path(__file__).parent / "data" / "eval" / "travel"
ANA = {"kind": "hotel", "item_id": "H-LIS-BELEM", "traveller": "Ana Silva", "checkin": "2027-01-10"}

TASKS = """\
probes:
  mine: {tool: list_bookings, arguments: {traveller: Ana Silva}}
tasks:
  - id: belem
    task: "Book the Belem River Inn in Lisbon for Ana Silva, 2 nights from 2027-01-10"
    expect:
      - "[b['item_id'] for b in mine] == ['H-LIS-BELEM']"
      - "[a['tool'] for a in outcome['actions']] == ['search_hotels', 'book', 'book']"
      - "len(tool_errors) == 1 and 'nights' in tool_errors[0]['error']"
      - "outcome['status'] == 'actions_failed' and outcome['headline'].startswith('Booked')"
      - "mine[5]['status'] == 'confirmed'"
"""


def call(name: str, args: dict[str, Any], id_: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": id_}])


async def test_the_single_agent_books_through_the_tools_and_reads_their_answers(tmp_path: Path) -> None:
    model = ScriptedChatModel(
        script={
            "single": [
                call("search_hotels", {"city": "Lisbon", "checkin": "2027-01-10", "nights": 2}, "c1"),
                call("book", {**ANA, "nights": "two"}, "c2"),  # refused by the schema: nothing is sent
                call("book", {**ANA, "nights": 2}, "c3"),
                "Booked the Belem River Inn for Ana Silva, 2 nights.",
            ]
        },
        strict=True,
    )
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TASKS)
    evaluator = await prepare(WorkspaceRunner.load(WORKSPACE, models={"default": model}), tasks, EvalSettings(arms=("single",)))
    [record] = await evaluator.run()

    results = {p.source: p for p in record.predicates}
    assert [p.ok for p in record.predicates] == [True, True, True, True, False]
    assert "IndexError" in (results["mine[5]['status'] == 'confirmed'"].error or "")
    assert not record.ok and record.first_failure.startswith("mine[5]['status'] == 'confirmed' (")
    assert record.refused_calls == 1 and record.probes["mine"][0]["price_eur"] == 190
    assert [a["key"] for a in record.outcome["actions"]] == [f"{record.run_id}:{n}" for n in range(3)]
    assert record.prompt_tokens > 0

    calls = model.calls
    assert len(calls) == 4
    offered = {t["function"]["name"]: t["function"] for t in calls[0]["kwargs"]["tools"]}
    assert set(offered) == {"search_flights", "search_hotels", "book", "cancel", "list_bookings"}
    assert calls[0]["kwargs"]["tool_choice"] == "auto"
    assert offered["book"]["parameters"]["properties"]["traveller"]["maxLength"] == 120  # bounded for a small model
    found = calls[1]["messages"][-1]
    assert isinstance(found, ToolMessage) and "H-LIS-BELEM" in found.content and found.status == "success"
    refused = calls[2]["messages"][-1]
    assert isinstance(refused, ToolMessage) and refused.status == "error"
    assert "arguments do not match its input schema" in refused.content
    system, task = calls[0]["messages"]
    assert isinstance(system, SystemMessage) and "The current date and time is 20" in system.content
    assert task.content == "Book the Belem River Inn in Lisbon for Ana Silva, 2 nights from 2027-01-10"


async def test_the_single_agent_stops_at_the_token_budget_and_at_twelve_turns() -> None:
    forever = [call("list_bookings", {}, "c1")]  # the last answer repeats: it never answers in text
    for budget, expected in ((300, "no answer: the token budget of 300 was spent"), (10**6, "no answer: the limit of 12 model turns")):
        model = ScriptedChatModel(script={"single": forever})
        runtime = WorkspaceRunner.load(WORKSPACE, models={"default": model})
        async with open_sandbox(runtime) as box:
            assert box.tools is not None
            arm = SingleArm(model, box.tools.tools(), token_budget=budget)
            run = await arm.run("List the bookings, forever", box)
        assert run.outcome["status"] == "undecided" and run.outcome["headline"].startswith(expected)
        used = run.prompt_tokens + run.completion_tokens
        if budget == 300:
            assert used >= 300 and len(model.calls) < 12
            last_prompt = sum(len(str(m.content).split()) for m in model.calls[-1]["messages"])
            assert used - last_prompt < 300  # it stopped at the first call past the budget
        else:
            assert len(model.calls) == 12 and len(run.outcome["actions"]) == 12


def test_fitting_drops_the_oldest_tool_exchanges_whole_and_keeps_the_task() -> None:
    head = [SystemMessage("s" * 30), HumanMessage("t" * 30)]
    exchanges = []
    for n in range(4):
        exchanges += [call("search_hotels", {"n": n}, f"c{n}"), ToolMessage("r" * 300, tool_call_id=f"c{n}")]
    messages = head + exchanges
    everything = approximate_tokens(messages)
    assert fit(messages, limit=everything, count=approximate_tokens) == messages
    two = fit(messages, limit=approximate_tokens(head + exchanges[4:]), count=approximate_tokens)
    assert two == head + exchanges[4:]  # the two oldest exchanges went, each call with its answer
    assert fit(messages, limit=1, count=approximate_tokens) == head
