"""Stages: every transition path, the revision bound, exit rules, parallel mode, stage weights.

All through the public API: a workspace (the classic fixture, or an edited copy), `Runtime`, the
`Orchestrator`, and the `ScriptedChatModel` as every agent's chat model.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import CLASSIC, scripted_runtime
from langgraph.checkpoint.memory import InMemorySaver

from moot.events import Event, EventBus
from moot.stages.rules import ExitRule

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
CANONICAL = ["init", "proposal", "synthesis", "booking", "final"]
# the classic workspace's booking agent has `exit: {max_runs: 2}`: its first run searches, its second books
BOOKING_EXIT = "exit: {max_runs: 2}"


def edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))


def copy_classic(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(CLASSIC, target)
    return target


async def run(script: Any, workspace: Path | None = None, **model_kwargs: Any):
    runtime, model = scripted_runtime(script, workspace, **model_kwargs)
    bus = EventBus()
    events: list[Event] = []
    bus.add_handler(events.append)
    saver = InMemorySaver()
    orch = runtime.orchestrator(saver, bus=bus)
    result = await orch.run(TASK, session_id="s")
    return result, events, model, orch


def stages_entered(events: list[Event]) -> list[str]:
    return [e.stage for e in events if e.type == "stage_entered"]  # type: ignore[misc]


def agents_called(model: Any) -> list[str]:
    return [c["agent"] for c in model.calls]


def with_synth(classic_script: dict[str, Any], *next_stages: str) -> dict[str, Any]:
    script = {agent: list(answers) for agent, answers in classic_script.items()}
    script["synthesizer"] = [{"rationale": f"round {i + 1}: keep going.", "next_stage": s} for i, s in enumerate(next_stages)]
    return script


# --------------------------------------------------------------------------------------------
# transition paths


async def test_path_proposal_synthesis_booking_final(classic_script: dict[str, Any]) -> None:
    result, events, model, _ = await run(classic_script)
    assert result.status == "finished"
    assert stages_entered(events) == CANONICAL
    assert agents_called(model)[0] == "optimistic"
    assert sorted(agents_called(model)[1:3]) == ["critic", "devils_advocate"]
    assert agents_called(model)[3:] == ["synthesizer", "booking", "booking"]
    assert result.state["stage"] == "final" and result.state["done"] is True and result.state["round"] == 1
    # one intent per booking run: search first, then book the offer; without `open_tools` there
    # is no tool node, so the intents are only recorded
    intents = [e for e in result.state["history"] if e["type"] == "tool_call"]
    assert [(e["agent"], e["stage"], e["content"]["tool"]) for e in intents] == [
        ("booking", "booking", "search_hotels"),
        ("booking", "booking", "book"),
    ]
    assert intents[1]["content"]["arguments"]["item_id"] == "H-LIS-ALFAMA"
    assert not [e for e in result.state["history"] if e["type"] in ("tool_result", "tool_error")]

    # events: numbered in order, framed by run_started/run_finished, each agent inside its stage
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run_started" and events[-1].type == "run_finished"
    current = None
    for e in events:
        if e.type == "stage_entered":
            current = e.stage
        elif e.type in ("agent_started", "agent_finished"):
            assert e.stage == current, (e.type, e.agent, e.stage, current)
    started = [e.agent for e in events if e.type == "agent_started"]
    finished = [e.agent for e in events if e.type == "agent_finished"]
    assert sorted(started) == sorted(finished) == sorted(["optimistic", "critic", "devils_advocate", "synthesizer", "booking", "booking"])


async def test_path_synthesis_to_final_skips_booking(classic_script: dict[str, Any]) -> None:
    result, events, model, _ = await run(with_synth(classic_script, "final"))
    assert stages_entered(events) == ["init", "proposal", "synthesis", "final"]
    assert "booking" not in agents_called(model)
    assert not any(e.agent == "booking" for e in events)
    assert not any(e["type"] == "tool_call" for e in result.state["history"])
    assert result.decision["next_stage"] == "final" and result.winner == "alfama-walks"
    assert result.state["done"] is True and "booking" not in result.state["executed_agents_per_stage"]


async def test_path_revision_then_booking(classic_script: dict[str, Any]) -> None:
    result, events, model, _ = await run(with_synth(classic_script, "proposal", "booking"))
    assert stages_entered(events) == ["init", "proposal", "synthesis", "proposal", "synthesis", "booking", "final"]
    rounds = [(e.stage, e.data["round"]) for e in events if e.type == "stage_entered"]
    assert rounds[3] == ("proposal", 2) and rounds[-1] == ("final", 2)
    called = agents_called(model)
    # booking is visited once (in round 2) and runs twice there (its exit is max_runs: 2)
    assert called.count("optimistic") == 2 and called.count("synthesizer") == 2 and called.count("booking") == 2
    assert called[-2:] == ["booking", "booking"]
    assert called.count("critic") == 2 and called.count("devils_advocate") == 2
    assert result.state["round"] == 2
    # the second visit of proposal started clean: once_per_stage counts this visit only
    assert sorted(result.state["executed_agents_per_stage"]["proposal"]) == ["critic", "devils_advocate", "optimistic"]
    decisions = [e for e in result.state["history"] if e["type"] == "decision"]
    assert [(d["round"], d["content"]["next_stage"]) for d in decisions] == [(1, "proposal"), (2, "booking")]
    assert [e["round"] for e in result.state["history"] if e["type"] == "proposal"] == [1, 2]


@pytest.mark.parametrize("max_rounds", [1, 2, 3])
async def test_revision_is_bounded_by_max_rounds(
    tmp_path: Path, classic_script: dict[str, Any], max_rounds: int
) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "stages.yaml", "max_rounds: 2", f"max_rounds: {max_rounds}")
    # a synthesizer that always asks for another proposal round
    result, events, model, _ = await run(with_synth(classic_script, "proposal"), ws)
    assert result.status == "finished"
    assert result.state["round"] == max_rounds
    assert agents_called(model).count("synthesizer") == max_rounds
    assert agents_called(model).count("optimistic") == max_rounds
    expected = ["init"] + ["proposal", "synthesis"] * max_rounds + ["booking", "final"]
    assert stages_entered(events) == expected  # the fallback transition (booking) was taken
    assert result.decision["next_stage"] == "proposal"


# --------------------------------------------------------------------------------------------
# agent-level exit rules


async def test_once_per_stage_runs_each_agent_once(classic_script: dict[str, Any]) -> None:
    result, _, model, _ = await run(classic_script)
    runtime, _ = scripted_runtime(classic_script)
    plan = runtime.workspace.plan
    rules = {name: plan.exit_rule(name) for name in runtime.workspace.agents}
    once = ExitRule()  # once_per_stage
    assert {name: rule == once for name, rule in rules.items()} == {
        "optimistic": True, "critic": True, "devils_advocate": True, "synthesizer": True, "booking": False,
    }
    assert rules["booking"] == ExitRule(max_runs=2)
    executed = result.state["executed_agents_per_stage"]
    assert sorted(executed["proposal"]) == ["critic", "devils_advocate", "optimistic"]
    assert executed["synthesis"] == ["synthesizer"]
    assert executed["booking"] == ["booking", "booking"]  # max_runs: 2, not once_per_stage
    assert Counter(agents_called(model)) == Counter(
        {"optimistic": 1, "critic": 1, "devils_advocate": 1, "synthesizer": 1, "booking": 2}
    )
    assert len(model.calls) == 6


@pytest.mark.parametrize("n", [2, 3])
async def test_max_runs_runs_an_agent_n_times_in_its_stage(
    tmp_path: Path, classic_script: dict[str, Any], n: int
) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "agents/optimistic.yaml", "exit: once_per_stage", f"exit: {{max_runs: {n}}}")
    result, _, model, _ = await run(classic_script, ws)
    assert result.state["executed_agents_per_stage"]["proposal"].count("optimistic") == n
    assert agents_called(model).count("optimistic") == n
    assert agents_called(model)[:n] == ["optimistic"] * n  # all before the reviewers (sequential step)
    assert [e["agent"] for e in result.state["history"] if e["type"] == "proposal"] == ["optimistic"] * n
    assert agents_called(model).count("critic") == 1


async def test_when_exit_rule_stops_an_agent_when_the_expression_holds(
    tmp_path: Path, classic_script: dict[str, Any]
) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "agents/optimistic.yaml", "exit: once_per_stage", 'exit: {when: "len(history) >= 3"}')
    result, _, model, _ = await run(classic_script, ws)
    # history had 0, 1, 2 entries before each run: three proposals, then the expression held
    assert agents_called(model).count("optimistic") == 3
    assert [e["type"] for e in result.state["history"]][:4] == ["proposal", "proposal", "proposal", "review"]


async def test_when_exit_rule_sees_runs_and_executed(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "agents/optimistic.yaml", "exit: once_per_stage", "exit: {when: \"runs >= 2 and executed.count('optimistic') == runs\"}")
    result, _, model, _ = await run(classic_script, ws)
    assert agents_called(model).count("optimistic") == 2


async def test_exit_rule_holding_from_the_start_skips_the_agent(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "agents/booking.yaml", BOOKING_EXIT, "exit: {when: \"decision.get('winner') == 'alfama-walks'\"}")
    result, events, model, _ = await run(classic_script, ws)
    assert "booking" not in agents_called(model)
    assert stages_entered(events) == CANONICAL  # the stage was entered and left at once
    assert result.state["executed_agents_per_stage"]["booking"] == []


# --------------------------------------------------------------------------------------------
# stage-level exit


async def test_should_exit_ends_a_stage_early(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "stages.yaml", "    mode: sequential\n", "    mode: sequential\n    should_exit: \"'optimistic' in executed\"\n")
    result, events, model, _ = await run(classic_script, ws)
    assert agents_called(model) == ["optimistic", "synthesizer", "booking", "booking"]
    assert stages_entered(events) == CANONICAL
    assert result.state["executed_agents_per_stage"]["proposal"] == ["optimistic"]
    assert set(result.state["rewards"]["by_agent"]) == {"optimistic"}
    assert result.status == "finished"


async def test_should_exit_over_the_state_skips_a_whole_stage(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "stages.yaml", "    agents: [booking]\n", "    agents: [booking]\n    should_exit: \"winner == 'alfama-walks' and round == 1\"\n")
    result, events, model, _ = await run(classic_script, ws)
    assert "booking" not in agents_called(model)
    assert stages_entered(events) == CANONICAL and result.state["done"] is True


# --------------------------------------------------------------------------------------------
# sequential vs parallel


def _review_stage(mode: str) -> str:
    return (
        "  proposal:\n    agents: [optimistic]\n    transitions:\n      - to: review\n"
        f"  review:\n    agents: [critic, devils_advocate]\n    mode: {mode}\n    transitions:\n      - to: synthesis\n"
    )


_PROPOSAL_BLOCK = (
    "  proposal:\n"
    "    # the optimistic agent proposes first; critic and devil's advocate then review in parallel\n"
    "    agents: [optimistic, [critic, devils_advocate]]\n"
    "    mode: sequential\n"
    "    transitions:\n"
    "      - to: synthesis\n"
)


async def _nexts(orch: Any) -> list[tuple[str, ...]]:
    snaps = [s async for s in orch.graph.aget_state_history({"configurable": {"thread_id": "s"}})]
    return [tuple(sorted(s.next)) for s in reversed(snaps)]


def _human_prompt(model: Any, agent: str) -> str:
    call = next(c for c in model.calls if c["agent"] == agent)
    return str(call["messages"][-1].content)


async def test_parallel_mode_runs_the_stage_in_one_superstep(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "stages.yaml", _PROPOSAL_BLOCK, _review_stage("parallel"))
    result, events, model, orch = await run(classic_script, ws)
    assert stages_entered(events) == ["init", "proposal", "review", "synthesis", "booking", "final"]
    nexts = await _nexts(orch)
    assert ("critic", "devils_advocate") in nexts
    assert ("critic",) not in nexts and ("devils_advocate",) not in nexts
    # neither evaluator saw the other's review: they ran on the same snapshot
    critic_comment = classic_script["critic"][0]["reviews"][0]["comment"]
    devil_comment = classic_script["devils_advocate"][0]["reviews"][0]["comment"]
    assert critic_comment not in _human_prompt(model, "devils_advocate")
    assert devil_comment not in _human_prompt(model, "critic")
    assert sorted(result.state["executed_agents_per_stage"]["review"]) == ["critic", "devils_advocate"]


async def test_sequential_mode_runs_one_agent_per_step(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "stages.yaml", _PROPOSAL_BLOCK, _review_stage("sequential"))
    result, _, model, orch = await run(classic_script, ws)
    nexts = await _nexts(orch)
    assert nexts.index(("critic",)) < nexts.index(("devils_advocate",))
    assert ("critic", "devils_advocate") not in nexts
    # the second agent saw the first one's output
    critic_comment = classic_script["critic"][0]["reviews"][0]["comment"]
    assert critic_comment in _human_prompt(model, "devils_advocate")
    assert result.state["executed_agents_per_stage"]["review"] == ["critic", "devils_advocate"]


# --------------------------------------------------------------------------------------------
# stage weights


async def test_stage_weights_change_the_winner(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    classic_weights = "weights: {novelty: 0.5, confidence: 1.0, quality: 1.5, risk: -1.0}"
    cautious = copy_classic(tmp_path, "cautious")
    edit(cautious, "stages.yaml", classic_weights, "weights: {novelty: 0.0, confidence: 1.0, quality: 1.0, risk: -2.0}")
    bold = copy_classic(tmp_path, "bold")
    edit(bold, "stages.yaml", classic_weights, "weights: {novelty: 3.0, confidence: 0.0, quality: 0.0, risk: 0.0}")

    first, _, _, _ = await run(classic_script, cautious)
    second, _, _, _ = await run(classic_script, bold)
    # the same scores, the same model answers: only the weights differ
    assert first.state["rewards"] == second.state["rewards"]
    assert first.winner == "alfama-walks"
    assert second.winner == "sintra-cascais"
    assert first.decision["winner"] == first.winner and second.decision["winner"] == second.winner
    assert second.decision["weights"] == {"novelty": 3.0, "confidence": 0.0, "quality": 0.0, "risk": 0.0}
    # bold: novelty means sintra (0.9, 0.5) = 0.7 vs alfama (0.6, 0.2) = 0.4, times 3
    ranking = {r["candidate"]: r["score"] for r in second.decision["ranking"]}
    assert ranking["sintra-cascais"] == pytest.approx(2.1) and ranking["alfama-walks"] == pytest.approx(1.2)


async def test_synthesizer_prompt_shows_the_weighted_ranking(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path, "ws")
    edit(ws, "stages.yaml", "weights: {novelty: 0.5, confidence: 1.0, quality: 1.5, risk: -1.0}", "weights: {novelty: 3.0, confidence: 0.0, quality: 0.0, risk: 0.0}")
    _, _, model, _ = await run(classic_script, ws)
    prompt = _human_prompt(model, "synthesizer")
    ranking = prompt[prompt.index("Ranking:"):]
    assert ranking.index("sintra-cascais") < ranking.index("alfama-walks")
    assert "2.10" in ranking and "1.20" in ranking


def _cand(cid: str, v: float) -> dict[str, Any]:
    return {"id": cid, "title": cid, "summary": f"plan {cid}", "novelty": v, "confidence": v, "quality": v, "risk": 0.0}


def _review(cid: str, v: float, dims: tuple[str, ...]) -> dict[str, Any]:
    return {"candidate": cid, "comment": f"on {cid}", **{d: (0.0 if d == "risk" else v) for d in dims}}


async def test_revision_round_ranks_a_better_new_candidate_above_a_reviewed_again_one() -> None:
    """In round 2 the optimistic agent re-proposes `steady` and adds `better`.

    Every agent, in every round, scores `better` (0.9) above `steady` (0.6) on every dimension
    (risk 0). Whatever the aggregation over rounds (latest round, mean, max), `better` wins.
    But `rewards.by_agent` sums each agent's scores over both rounds, and `rank` averages those
    sums over agents, so `steady` gets 1.2 per dimension for having been reviewed twice.
    """
    critic_dims = ("confidence", "quality", "risk")
    devil_dims = ("novelty", "risk")
    script = {
        "optimistic": [
            {"candidates": [_cand("steady", 0.6)]},
            {"candidates": [_cand("steady", 0.6), _cand("better", 0.9)]},
        ],
        "critic": [
            {"reviews": [_review("steady", 0.6, critic_dims)]},
            {"reviews": [_review("steady", 0.6, critic_dims), _review("better", 0.9, critic_dims)]},
        ],
        "devils_advocate": [
            {"reviews": [_review("steady", 0.6, devil_dims)]},
            {"reviews": [_review("steady", 0.6, devil_dims), _review("better", 0.9, devil_dims)]},
        ],
        "synthesizer": [
            {"rationale": "Only one weak plan; revise.", "next_stage": "proposal"},
            {"rationale": "Pick the best.", "next_stage": "final"},
        ],
    }
    result, events, _, _ = await run(script)
    assert stages_entered(events) == ["init", "proposal", "synthesis", "proposal", "synthesis", "final"]
    ranking = result.decision["ranking"]
    assert result.winner == "better", f"ranking after the revision round: {ranking}"
