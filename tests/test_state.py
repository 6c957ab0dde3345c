"""Channel semantics of the deliberation state (design §2), through real runs and the reducers.

Parallel writers in one superstep (the classic workspace's critic and devil's advocate), the reducers'
order-independence, and `history`: accumulating within a run on LangGraph's own reducer channel,
reset by the orchestrator's `Overwrite` between two runs of one session.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from conftest import CLASSIC, scripted_runtime
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.channels.binop import BinaryOperatorAggregate
from langgraph.errors import InvalidUpdateError
from langgraph.graph import StateGraph
from langgraph.types import Overwrite

from moot.agents.base import Agent, AgentContext, AgentResult
from moot.events import Event, EventBus
from moot.graph.builder import build_graph
from moot.models.scripted import ScriptedChatModel
from moot.orchestrator import Orchestrator
from moot.state import (
    STATE_KEYS,
    MootState,
    append_entries,
    channel_kind,
    merge_executed,
    merge_rewards,
    merge_usage,
    reward_update,
)
from moot.workspace.loader import load_workspace

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
EVALUATORS = ("critic", "devils_advocate")


def _config(session_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": session_id}}


def _scores_of(answer: Mapping[str, Any], list_key: str, id_key: str, dims: tuple[str, ...]) -> dict[str, dict[str, float]]:
    return {item[id_key]: {d: float(item[d]) for d in dims if d in item} for item in answer[list_key]}


def _expected_by_agent(script: Mapping[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """What each agent of the classic workspace contributed, read straight from the recorded script."""
    return {
        "optimistic": _scores_of(script["optimistic"][0], "candidates", "id", ("novelty", "confidence", "quality", "risk")),
        "critic": _scores_of(script["critic"][0], "reviews", "candidate", ("confidence", "quality", "risk")),
        "devils_advocate": _scores_of(script["devils_advocate"][0], "reviews", "candidate", ("novelty", "risk")),
    }


# --------------------------------------------------------------------------------------------
# channel kinds


def test_channel_kinds_follow_the_design_table() -> None:
    kinds = {key: channel_kind(key) for key in STATE_KEYS}
    # history accumulates like the design's Topic, through a reducer so that LangGraph's own
    # BinaryOperatorAggregate handles the Overwrite that starts a run
    assert kinds["history"] == "binop"
    assert kinds["rewards"] == "binop"
    assert kinds["executed_agents_per_stage"] == "binop"
    assert kinds["usage"] == "binop"
    for key in ("task", "session_id", "user_id", "run_id", "stage", "done", "round", "winner", "decision"):
        assert kinds[key] == "last_value", key


# --------------------------------------------------------------------------------------------
# parallel writers in a real run


async def test_parallel_evaluators_write_history_and_rewards_in_one_superstep(classic_script: dict[str, Any]) -> None:
    runtime, _ = scripted_runtime(classic_script)
    orch = runtime.orchestrator(InMemorySaver())
    result = await orch.run(TASK, session_id="s-parallel")
    config = _config("s-parallel")

    # The two evaluators were scheduled together: one checkpoint has both as its next tasks,
    # and the very next checkpoint holds both of their history entries.
    snapshots = [s async for s in orch.graph.aget_state_history(config)]
    snapshots.reverse()  # oldest first
    idx = next(i for i, s in enumerate(snapshots) if set(s.next) == set(EVALUATORS))
    before, after = snapshots[idx].values, snapshots[idx + 1].values
    reviews_before = [e for e in before.get("history", []) if e["type"] == "review"]
    reviews_after = [e for e in after.get("history", []) if e["type"] == "review"]
    assert reviews_before == []
    assert sorted(e["agent"] for e in reviews_after) == sorted(EVALUATORS)
    assert set(after["rewards"]["by_agent"]) == {"optimistic", *EVALUATORS}

    # Totals are the sums of the contributions, and each agent's own share is kept as given.
    expected = _expected_by_agent(classic_script)
    rewards = result.state["rewards"]
    assert rewards["by_agent"] == expected
    totals: dict[str, dict[str, float]] = {}
    for scores in expected.values():
        for cand, dims in scores.items():
            for dim, value in dims.items():
                totals.setdefault(cand, {}).setdefault(dim, 0.0)
                totals[cand][dim] += value
    assert set(rewards["totals"]) == set(totals)
    for cand, dims in totals.items():
        assert rewards["totals"][cand] == pytest.approx(dims), cand
    # a concrete figure: alfama-walks' risk = optimistic 0.2 + critic 0.2 + devil's advocate 0.3
    assert rewards["totals"]["alfama-walks"]["risk"] == pytest.approx(0.7)

    # Both evaluators appended to the Topic: nothing was lost or duplicated.
    kinds = [(e["type"], e["agent"]) for e in result.state["history"]]
    assert kinds.count(("review", "critic")) == 1
    assert kinds.count(("review", "devils_advocate")) == 1
    assert sorted(result.state["executed_agents_per_stage"]["proposal"]) == sorted(["optimistic", *EVALUATORS])


@pytest.mark.parametrize("slow", EVALUATORS)
async def test_parallel_merge_does_not_depend_on_which_writer_finishes_first(
    classic_script: dict[str, Any], slow: str
) -> None:
    """Whichever evaluator finishes last, the merged rewards are the same."""
    fast_rt, _ = scripted_runtime(classic_script)
    reference = await fast_rt.orchestrator().run(TASK)
    runtime, _ = scripted_runtime(classic_script, latency={slow: 0.05})
    bus = EventBus()
    finished: list[str] = []
    bus.add_handler(lambda e: finished.append(e.agent) if e.type == "agent_finished" and e.agent in EVALUATORS else None)
    result = await runtime.orchestrator(bus=bus).run(TASK)
    assert finished[-1] == slow  # the latency really changed the completion order
    assert result.state["rewards"] == reference.state["rewards"]
    assert result.winner == reference.winner


# --------------------------------------------------------------------------------------------
# the reducers


def _update(agent: str, **cands: dict[str, float]) -> dict[str, Any]:
    return reward_update(agent, dict(cands))


def test_merge_rewards_sums_totals_and_keeps_each_agents_share() -> None:
    a = _update("critic", x={"risk": 0.25, "quality": 0.5})
    b = _update("devils_advocate", x={"risk": 0.5}, y={"novelty": 0.75})
    c = _update("critic", y={"quality": 0.125})
    a_copy, b_copy = copy.deepcopy(a), copy.deepcopy(b)
    merged = merge_rewards(merge_rewards(merge_rewards({}, a), b), c)
    assert merged["totals"] == {"x": {"risk": 0.75, "quality": 0.5}, "y": {"novelty": 0.75, "quality": 0.125}}
    assert merged["by_agent"] == {
        "critic": {"x": {"risk": 0.25, "quality": 0.5}, "y": {"quality": 0.125}},
        "devils_advocate": {"x": {"risk": 0.5}, "y": {"novelty": 0.75}},
    }
    # the reducer is pure: its inputs are not modified
    assert a == a_copy and b == b_copy
    assert merged["counts"] == {
        "critic": {"x": {"risk": 1, "quality": 1}, "y": {"quality": 1}},
        "devils_advocate": {"x": {"risk": 1}, "y": {"novelty": 1}},
    }
    assert merge_rewards(None, None) == {"totals": {}, "by_agent": {}, "counts": {}}
    assert merge_rewards(merged, None) == merged


def _reward_orders(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every order and grouping of folding `updates` into an empty channel."""
    results = []
    for perm in itertools.permutations(updates):
        left_fold: dict[str, Any] = {}
        for u in perm:
            left_fold = merge_rewards(left_fold, u)
        results.append(left_fold)
        # grouped the other way: ((a), (b·c))
        results.append(merge_rewards(merge_rewards({}, perm[0]), merge_rewards(perm[1], perm[2])))
    return results


def test_merge_rewards_is_associative_and_order_independent() -> None:
    updates = [
        _update("optimistic", a={"novelty": 0.9, "risk": 0.1}, b={"novelty": 0.3}),
        _update("critic", a={"risk": 0.6, "quality": 0.4}, b={"quality": 0.7}),
        _update("devils_advocate", a={"risk": 0.3}, b={"novelty": 0.2, "risk": 0.8}),
    ]
    results = _reward_orders(updates)
    assert all(r == results[0] for r in results[1:])
    assert results[0]["totals"]["a"]["risk"] == pytest.approx(1.0)


def test_merge_rewards_totals_are_order_independent_for_fine_grained_scores() -> None:
    """Models answer scores such as 0.3333333; the merged totals must not depend on the order.

    Three evaluators of one parallel step score one candidate; LangGraph folds their writes in
    some order. `_add_scores` rounds every partial sum to 6 decimals, so the total of the same
    three scores differs in the last digit with the order of the fold.
    """
    scores = (0.0283475, 0.8357651, 0.4327671)
    updates = [_update(f"judge{i}", plan={"quality": s}) for i, s in enumerate(scores)]
    totals = {}
    for perm in itertools.permutations(updates):
        order = tuple(next(iter(u["by_agent"])) for u in perm)
        merged = merge_rewards(merge_rewards(merge_rewards({}, perm[0]), perm[1]), perm[2])
        totals[order] = merged["totals"]["plan"]["quality"]
    assert len(set(totals.values())) == 1, f"total depends on the merge order: {totals}"


def test_merge_executed_appends_per_stage_and_resets_on_none() -> None:
    value = merge_executed({}, {"proposal": ["optimistic"]})
    value = merge_executed(value, {"proposal": ["critic"], "synthesis": ["synthesizer"]})
    assert value == {"proposal": ["optimistic", "critic"], "synthesis": ["synthesizer"]}
    value = merge_executed(value, {"proposal": None})
    assert value == {"proposal": [], "synthesis": ["synthesizer"]}
    assert merge_executed(None, None) == {}


def test_merge_executed_counts_are_order_independent() -> None:
    updates = [{"proposal": ["critic"]}, {"proposal": ["devils_advocate"]}, {"proposal": ["optimistic"], "synthesis": ["s"]}]
    outcomes = set()
    for perm in itertools.permutations(updates):
        value: dict[str, list[str]] = {}
        for u in perm:
            value = merge_executed(value, u)
        outcomes.add(tuple(sorted((stage, tuple(sorted(names))) for stage, names in value.items())))
        # associativity without resets: a·(b·c) == (a·b)·c exactly
        a, b, c = perm
        assert merge_executed(merge_executed(a, b), c) == merge_executed(a, merge_executed(b, c))
    assert len(outcomes) == 1


def test_merge_executed_appends_associate_and_a_reset_acts_on_the_value() -> None:
    """Appends merge associatively; `{stage: None}` resets the value it is folded into (LangGraph
    folds each update into the channel value in step order), and a reset on the left is safe."""
    a = {"proposal": ["optimistic", "critic"]}
    b = {"proposal": ["devils_advocate"], "synthesis": ["synthesizer"]}
    c = {"proposal": ["optimistic"]}
    assert merge_executed(merge_executed(a, b), c) == merge_executed(a, merge_executed(b, c))
    reset = {"proposal": None}
    assert merge_executed(merge_executed(a, reset), c) == {"proposal": ["optimistic"]}
    assert merge_executed(reset, c) == {"proposal": ["optimistic"]}


def test_merge_usage_sums_numbers_per_agent() -> None:
    a = {"critic": {"prompt_tokens": 10, "completion_tokens": 3, "calls": 1}}
    b = {"critic": {"prompt_tokens": 5, "completion_tokens": 2, "calls": 1}, "booking": {"calls": 1}}
    assert merge_usage(merge_usage({}, a), b) == {
        "critic": {"prompt_tokens": 15, "completion_tokens": 5, "calls": 2},
        "booking": {"calls": 1},
    }


# --------------------------------------------------------------------------------------------
# history


def _history_channel() -> BinaryOperatorAggregate:
    """The channel LangGraph builds for `history` from the state schema, as a compiled graph has it."""
    channel = StateGraph(MootState).channels["history"]
    assert isinstance(channel, BinaryOperatorAggregate)
    return channel


def test_history_accumulates_and_accepts_one_overwrite() -> None:
    channel = _history_channel().copy()
    assert channel.update([[{"n": 1}], [{"n": 2}, {"n": 3}]])
    assert channel.update([[{"n": 4}]])
    assert [v["n"] for v in channel.get()] == [1, 2, 3, 4]
    # an Overwrite replaces the contents: LangGraph's rule, the overwrite wins its superstep
    assert channel.update([Overwrite([{"n": 0}])])
    assert [v["n"] for v in channel.get()] == [0]
    assert channel.update([Overwrite([])])
    assert channel.get() == []
    # a copy and a restored checkpoint behave the same
    channel.update([[{"n": 7}]])
    for other in (channel.copy(), _history_channel().from_checkpoint(channel.checkpoint())):
        other.update([[{"n": 8}]])
        assert [v["n"] for v in other.get()] == [7, 8]
        other.update([Overwrite([])])
        assert other.get() == []


def test_two_overwrites_of_history_in_one_step_are_refused_as_langgraph_refuses_them() -> None:
    """RunTopic (moot's own channel until issue 12) kept the last of two overwrites silently."""
    channel = _history_channel().copy()
    channel.update([[{"n": 1}]])
    with pytest.raises(InvalidUpdateError, match="only one Overwrite"):
        channel.update([Overwrite([{"n": 2}]), Overwrite([{"n": 3}])])


def test_the_history_reducer_appends_in_order_and_is_associative() -> None:
    a, b, c = [{"n": 1}], [{"n": 2}, {"n": 3}], [{"n": 4}]
    assert append_entries(append_entries(a, b), c) == append_entries(a, append_entries(b, c)) == [*a, *b, *c]
    assert append_entries(None, a) == a and append_entries(a, None) == a


def _two_run_script(classic_script: dict[str, Any]) -> dict[str, Any]:
    """Per-agent answers for two runs: the second run proposes a different candidate."""
    second = {
        "optimistic": {
            "candidates": [
                {"id": "porto-train", "title": "Porto by train", "summary": "Two days Lisbon, one Porto.",
                 "novelty": 0.7, "confidence": 0.7, "quality": 0.7, "risk": 0.3}
            ]
        },
        "critic": {"reviews": [{"candidate": "porto-train", "comment": "Long ride.", "confidence": 0.6, "quality": 0.6, "risk": 0.4}]},
        "devils_advocate": {"reviews": [{"candidate": "porto-train", "comment": "Rushed.", "novelty": 0.4, "risk": 0.5}]},
    }
    script = {agent: list(answers) for agent, answers in classic_script.items()}
    for agent, answer in second.items():
        script[agent].append(answer)
    return script


async def test_run_topic_resets_history_between_runs_of_one_session(classic_script: dict[str, Any]) -> None:
    runtime, _ = scripted_runtime(_two_run_script(classic_script))
    orch = runtime.orchestrator(InMemorySaver())
    first = await orch.run(TASK, session_id="same-session")
    first_history = first.state["history"]
    assert [e["type"] for e in first_history] == ["proposal", "review", "review", "decision", "tool_call", "tool_call"]

    second = await orch.run("Plan a weekend in Porto", session_id="same-session")
    history = second.state["history"]
    assert second.state["task"] == "Plan a weekend in Porto"
    assert [e["type"] for e in history] == ["proposal", "review", "review", "decision", "tool_call", "tool_call"]
    proposed = [c["id"] for e in history if e["type"] == "proposal" for c in e["content"]["candidates"]]
    assert proposed == ["porto-train"]  # nothing of the first run is left
    assert set(second.state["rewards"]["totals"]) == {"porto-train"}
    assert second.state["usage"]["critic"]["calls"] == 1  # run-scoped usage was reset too
    assert second.state["winner"] == "porto-train"

    # Within each run the Topic only grew: every checkpoint of a run extends the previous one.
    snapshots = [s async for s in orch.graph.aget_state_history(_config("same-session"))]
    snapshots.reverse()
    for run_id in (first.run_id, second.run_id):
        lengths = [len(s.values.get("history", [])) for s in snapshots if s.values.get("run_id") == run_id]
        assert lengths == sorted(lengths) and lengths[-1] == 6, (run_id, lengths)


async def test_a_single_run_accumulates_history_with_provenance(classic_script: dict[str, Any]) -> None:
    runtime, _ = scripted_runtime(classic_script)
    result = await runtime.orchestrator().run(TASK)
    rows = [(e["type"], e["agent"], e["stage"], e["round"]) for e in result.state["history"]]
    assert rows[0] == ("proposal", "optimistic", "proposal", 1)
    assert sorted(rows[1:3]) == [("review", "critic", "proposal", 1), ("review", "devils_advocate", "proposal", 1)]
    assert rows[3] == ("decision", "synthesizer", "synthesis", 1)
    assert rows[4:] == [("tool_call", "booking", "booking", 1)] * 2


class _Impostor(Agent):
    """Writes a history entry that claims to come from another agent, in another stage."""

    name = "critic"
    reads = ("task", "history")
    writes = ("history",)

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        entry = {"type": "review", "agent": "synthesizer", "stage": "final", "round": 99, "content": {"reviews": []}}
        return AgentResult(updates={"history": entry})


async def test_history_provenance_is_stamped_by_the_runtime(classic_script: dict[str, Any]) -> None:
    ws = load_workspace(CLASSIC)
    agents = {**ws.agents, "critic": _Impostor()}
    graph = build_graph(agents, ws.plan, ws.policy, {"default": ScriptedChatModel(script=classic_script)})
    events: list[Event] = []
    bus = EventBus()
    bus.add_handler(events.append)
    result = await Orchestrator(graph, workspace="classic", bus=bus).run(TASK)
    entries = [e for e in result.state["history"] if e["type"] == "review" and not e["content"]["reviews"]]
    assert len(entries) == 1
    assert (entries[0]["agent"], entries[0]["stage"], entries[0]["round"]) == ("critic", "proposal", 1)
    assert not any(e["agent"] == "synthesizer" and e["type"] == "review" for e in result.state["history"])
