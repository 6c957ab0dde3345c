"""The write policy (design §2): every refusal, whole-update refusal, `skip`, and config errors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import CLASSIC, scripted_runtime
from langgraph.checkpoint.memory import InMemorySaver

from moot.agents.base import Agent, AgentContext, AgentResult
from moot.errors import PolicyConfigError, PolicyViolation, WorkspaceError
from moot.events import Event, EventBus
from moot.graph.builder import build_graph
from moot.models.scripted import ScriptedChatModel
from moot.orchestrator import Orchestrator
from moot.policy import WritePolicy
from moot.workspace.runner import WorkspaceRunner
from moot.stages.stage import Stage, StagePlan, Transition
from moot.workspace.loader import load_workspace

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
MARK = "written-by-the-rogue-critic"


def classic_with_policy(data: Mapping[str, Any]) -> Any:
    """The classic workspace under another policy. A policy *file* that forbids a key an agent
    declares no longer loads (issue 7), so the run-time refusal is reached this way."""
    ws = load_workspace(CLASSIC)
    return dataclasses.replace(ws, policy=WritePolicy.from_mapping(data, agents=ws.agents))


class RogueCritic(Agent):
    """Stands in for the classic workspace's critic: a valid history entry plus one extra key."""

    name = "critic"
    reads = ("task", "history")
    writes = ("history",)

    def __init__(self, extra: Mapping[str, Any]) -> None:
        self.extra = dict(extra)
        self.calls = 0

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        self.calls += 1
        entry = {"type": "note", "content": {"text": MARK}}
        return AgentResult(
            updates={"history": [entry], **self.extra},
            events=[{"type": "tool_call", "data": {"tool": "should-not-be-seen"}}],
        )


def _classic_with(agent: Agent, classic_script: dict[str, Any], *, on_violation: str | None = None):
    ws = load_workspace(CLASSIC)
    agents = {**ws.agents, agent.name: agent}
    policy = ws.policy
    if on_violation is not None:
        policy = WritePolicy.from_mapping(
            {"on_violation": on_violation, "writers": {"rewards": ["optimistic", "critic", "devils_advocate"]}},
            agents=agents,
        )
    saver = InMemorySaver()
    graph = build_graph(agents, ws.plan, policy, {"default": ScriptedChatModel(script=classic_script)}, checkpointer=saver)
    bus = EventBus()
    events: list[Event] = []
    bus.add_handler(events.append)
    return Orchestrator(graph, workspace="classic", bus=bus), bus, events


REFUSALS = [
    ("winner", "alfama-walks", ("synthesizer",)),
    ("decision", {"winner": "x", "next_stage": "final"}, ("human", "synthesizer")),
    ("stage", "final", ("orchestrator",)),
    ("done", True, ("orchestrator",)),
    ("task", "something else", ("orchestrator",)),
    ("round", 5, ("orchestrator",)),
    ("run_id", "run-forged", ("orchestrator",)),
    ("executed_agents_per_stage", {"proposal": ["critic"]}, ("runtime",)),
    ("usage", {"critic": {"calls": 0}}, ("runtime",)),
    ("not_a_state_key", 1, ()),
]


@pytest.mark.parametrize(("key", "value", "allowed"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_forbidden_write_fails_the_run_and_nothing_of_the_update_lands(
    classic_script: dict[str, Any], key: str, value: Any, allowed: tuple[str, ...]
) -> None:
    orch, bus, events = _classic_with(RogueCritic({key: value}), classic_script)
    queue = bus.subscribe()

    with pytest.raises(PolicyViolation) as info:
        await orch.run(TASK, session_id="s-refused")
    err = info.value
    assert (err.agent, err.key, err.allowed) == ("critic", key, tuple(sorted(allowed)))
    message = str(err)
    assert "'critic'" in message and repr(key) in message
    assert ("allowed writers: " + (", ".join(sorted(allowed)) or "nobody")) in message

    # the event reached both kinds of subscriber
    violations = [e for e in events if e.type == "policy_violation"]
    assert len(violations) == 1
    v = violations[0]
    assert (v.agent, v.stage, v.data["key"], sorted(v.data["allowed"])) == ("critic", "proposal", key, sorted(allowed))
    queued = []
    while True:
        try:
            queued.append(queue.get_nowait())
        except asyncio.QueueEmpty:
            break
    assert [e.type for e in queued].count("policy_violation") == 1
    assert events[-1].type == "run_failed" and events[-1].data["error"] == "PolicyViolation"
    assert not any(e.type == "tool_call" for e in events)  # the refused agent's own events are dropped

    # nothing of the refused update reached the state, in any checkpoint of the run
    config = {"configurable": {"thread_id": "s-refused"}}
    state = (await orch.graph.aget_state(config)).values
    assert all(MARK not in str(e) for e in state.get("history", []))
    assert "critic" not in state["executed_agents_per_stage"].get("proposal", [])
    assert state["stage"] == "proposal" and state["done"] is False and state["task"] == TASK
    assert state.get("winner") is None and state.get("decision") is None
    async for snap in orch.graph.aget_state_history(config):
        assert MARK not in str(snap.values.get("history", []))
        if key in snap.values and key not in ("executed_agents_per_stage", "usage", "round", "stage", "done", "task", "run_id"):
            assert snap.values[key] != value
        assert snap.values.get("run_id") != "run-forged"


async def test_skillagent_write_outside_the_workspace_policy_is_refused(
    workspace_copy: Path, classic_script: dict[str, Any]
) -> None:
    model = ScriptedChatModel(script=classic_script)
    policy = {"on_violation": "fail", "writers": {"rewards": ["optimistic", "devils_advocate"]}}
    runtime = WorkspaceRunner(classic_with_policy(policy), {"default": model})
    saver = InMemorySaver()
    bus = EventBus()
    events: list[Event] = []
    bus.add_handler(events.append)
    orch = runtime.orchestrator(saver, bus=bus)
    with pytest.raises(PolicyViolation) as info:
        await orch.run(TASK, session_id="s")
    assert (info.value.agent, info.value.key, info.value.allowed) == ("critic", "rewards", ("devils_advocate", "optimistic"))
    assert any(e.type == "policy_violation" and e.agent == "critic" for e in events)
    state = (await orch.graph.aget_state({"configurable": {"thread_id": "s"}})).values
    # the critic's review (an allowed key) was refused with its rewards: all or nothing
    assert not any(e["agent"] == "critic" for e in state["history"])
    assert "critic" not in state["rewards"]["by_agent"]
    assert not any(c["agent"] == "synthesizer" for c in model.calls)


async def test_skip_drops_the_update_and_the_run_continues(classic_script: dict[str, Any]) -> None:
    rogue = RogueCritic({"winner": "sintra-cascais", "done": True})
    orch, _, events = _classic_with(rogue, classic_script, on_violation="skip")
    result = await orch.run(TASK, session_id="s-skip")
    assert result.status == "finished" and rogue.calls == 1
    assert [e.type for e in events].count("policy_violation") == 1
    assert events[-1].type == "run_finished"
    history = result.state["history"]
    assert all(MARK not in str(e) for e in history)
    assert [e["agent"] for e in history if e["type"] == "review"] == ["devils_advocate"]
    # the forged winner never appeared in any checkpoint; the synthesizer's pick stands
    async for snap in orch.graph.aget_state_history({"configurable": {"thread_id": "s-skip"}}):
        assert snap.values.get("winner") != "sintra-cascais"
    assert result.winner == result.decision["winner"] and result.state["stage"] == "final"
    assert "critic" in result.state["executed_agents_per_stage"]["proposal"]  # it ran; its update was dropped
    assert not any(e.type == "tool_call" and e.agent == "critic" for e in events)


async def test_skip_from_the_workspace_policy_file(workspace_copy: Path, classic_script: dict[str, Any]) -> None:
    policy = {"on_violation": "skip", "writers": {"rewards": ["optimistic", "devils_advocate"]}}
    runtime = WorkspaceRunner(classic_with_policy(policy), {"default": ScriptedChatModel(script=classic_script)})
    bus = EventBus()
    events: list[Event] = []
    bus.add_handler(events.append)
    result = await runtime.orchestrator(bus=bus).run(TASK)
    assert result.status == "finished"
    assert [(e.agent, e.data["key"]) for e in events if e.type == "policy_violation"] == [("critic", "rewards")]
    assert set(result.state["rewards"]["by_agent"]) == {"optimistic", "devils_advocate"}
    assert not any(e["agent"] == "critic" for e in result.state["history"])


async def test_a_permitted_write_is_applied(classic_script: dict[str, Any]) -> None:
    """The same rogue write is fine once the policy names the critic: the refusal is the policy's."""
    ws = load_workspace(CLASSIC)
    rogue = RogueCritic({"winner": "sintra-cascais"})
    rogue.writes = ("history", "winner")  # declared, and (below) allowed by the policy
    agents = {**ws.agents, "critic": rogue}
    policy = WritePolicy.from_mapping(
        {"writers": {"rewards": ["optimistic", "devils_advocate"], "winner": ["synthesizer", "critic"]}}, agents=agents
    )
    saver = InMemorySaver()
    graph = build_graph(agents, ws.plan, policy, {"default": ScriptedChatModel(script=classic_script)}, checkpointer=saver)
    await Orchestrator(graph, workspace="classic").run(TASK, session_id="s-ok")
    seen = [s.values.get("winner") async for s in graph.aget_state_history({"configurable": {"thread_id": "s-ok"}})]
    assert "sintra-cascais" in seen


async def test_a_write_the_policy_allows_but_the_agent_did_not_declare_is_refused(classic_script: dict[str, Any]) -> None:
    """The build-time checks trust the declared `writes`; the wrapper holds agents to them."""
    ws = load_workspace(CLASSIC)
    rogue = RogueCritic({"winner": "sintra-cascais"})  # declares only history
    agents = {**ws.agents, "critic": rogue}
    policy = WritePolicy.from_mapping(
        {"writers": {"rewards": ["optimistic", "devils_advocate"], "winner": ["synthesizer", "critic"]}}, agents=agents
    )
    graph = build_graph(agents, ws.plan, policy, {"default": ScriptedChatModel(script=classic_script)}, checkpointer=InMemorySaver())
    with pytest.raises(PolicyViolation) as info:
        await Orchestrator(graph, workspace="classic").run(TASK, session_id="s-undeclared")
    assert info.value.undeclared and info.value.key == "winner" and "'writes'" in str(info.value)


# --------------------------------------------------------------------------------------------
# invalid policies


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"writer": {"winner": ["critic"]}}, "unknown field"),
        ({"writers": {"winner": ["critic", "nobody_known"]}}, "'nobody_known'"),
        ({"writers": {"secret": ["critic"]}}, "unknown state key 'secret'"),
        ({"writers": {"winner": "critic"}}, "must be a list"),
        ({"writers": ["winner"]}, "'writers' must map"),
        ({"on_violation": "ignore"}, "on_violation must be 'fail' or 'skip'"),
    ],
)
def test_invalid_policy_mapping_is_a_config_error(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        WritePolicy.from_mapping(data, agents=["critic", "synthesizer"], where="policy.yaml")
    assert fragment in str(info.value)
    assert str(info.value).startswith("policy.yaml: ")


def test_policy_defaults_and_star() -> None:
    policy = WritePolicy.from_mapping({"writers": {"rewards": ["critic"]}}, agents=["critic", "synthesizer"])
    assert policy.allowed("history") == {"critic", "synthesizer", "tool_runtime", "human"}
    assert policy.may_write("critic", "rewards") and not policy.may_write("synthesizer", "rewards")
    assert policy.may_write("synthesizer", "winner") and not policy.may_write("critic", "winner")
    assert policy.may_write("orchestrator", "stage") and not policy.may_write("synthesizer", "stage")
    assert policy.on_violation == "fail"


POLICY_FILES = [
    # (text, expected message fragment, line of the offending value)
    ("on_violation: fail\nwriters:\n  rewards: [optimistic, critic, devils_advocate]\nextra: 1\n", "unknown field", 4),
    ("on_violation: fail\nwriters:\n  rewards: [optimistic, critic, devils_advocate]\n  winner: [synthesizer, ghost]\n", "'ghost'", 4),
    ("on_violation: fail\nwriters:\n  rewards: [optimistic, critic, devils_advocate]\n  verdict: [synthesizer]\n", "'verdict'", 4),
    ("# comment\nwriters:\n  rewards: [optimistic, critic, devils_advocate]\non_violation: maybe\n", "on_violation", 4),
]


_IDS = ["unknown-field", "unknown-writer", "unknown-key", "bad-on-violation"]


@pytest.mark.parametrize(("text", "fragment", "line"), POLICY_FILES, ids=_IDS)
def test_invalid_policy_file_is_a_workspace_error_naming_the_file(
    workspace_copy: Path, text: str, fragment: str, line: int
) -> None:
    (workspace_copy / "policy.yaml").write_text(text)
    with pytest.raises(WorkspaceError) as info:
        load_workspace(workspace_copy)
    assert info.value.path == str(workspace_copy / "policy.yaml")
    assert str(info.value).startswith(f"{workspace_copy / 'policy.yaml'}:")
    assert fragment in str(info.value)


@pytest.mark.parametrize(("text", "fragment", "line"), POLICY_FILES, ids=_IDS)
def test_invalid_policy_file_points_at_the_offending_line(
    workspace_copy: Path, text: str, fragment: str, line: int
) -> None:
    (workspace_copy / "policy.yaml").write_text(text)
    with pytest.raises(WorkspaceError) as info:
        load_workspace(workspace_copy)
    assert info.value.line == line, f"reported line {info.value.line}, the offending value is on line {line}: {info.value}"


# --------------------------------------------------------------------------------------------
# two writers of one LastValue key in a parallel step: a build-time error


class Quiet(Agent):
    reads = ("task",)

    def __init__(self, name: str, writes: tuple[str, ...], updates: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.writes = writes
        self.updates = dict(updates or {})

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        return AgentResult(updates=dict(self.updates))


def _plan(step: tuple[str, ...], mode: str = "parallel") -> StagePlan:
    steps = (step,) if mode == "parallel" else tuple((a,) for a in step)
    return StagePlan(
        stages={
            "init": Stage("init", transitions=(Transition("work"),)),
            "work": Stage("work", steps=steps, mode=mode, transitions=(Transition("final"),)),  # type: ignore[arg-type]
            "final": Stage("final", terminal=True),
        },
        order=("init", "work", "final"),
    )


def test_two_declared_lastvalue_writers_in_a_parallel_step_fail_at_build() -> None:
    agents = {"a": Quiet("a", ("history", "winner")), "b": Quiet("b", ("history", "winner"))}
    policy = WritePolicy.from_mapping({"writers": {"winner": ["a", "b"]}}, agents=agents)
    model = ScriptedChatModel(script=[], strict=True)
    with pytest.raises(PolicyConfigError) as info:
        build_graph(agents, _plan(("a", "b")), policy, {"default": model})
    assert "'winner'" in str(info.value) and "'a'" in str(info.value) and "'b'" in str(info.value)
    assert model.calls == []
    # the same agents one after the other are fine, and so are parallel writers of Topic/binop keys
    build_graph(agents, _plan(("a", "b"), mode="sequential"), policy, {"default": model})
    topic_writers = {"a": Quiet("a", ("history", "rewards")), "b": Quiet("b", ("history", "rewards"))}
    build_graph(topic_writers, _plan(("a", "b")), WritePolicy.from_mapping({"writers": {"rewards": ["a", "b"]}}, agents=topic_writers), {"default": model})


def test_two_lastvalue_writers_allowed_by_the_policy_fail_at_build_not_at_run() -> None:
    """The policy lets both agents of one parallel step write `winner`.

    Design §2 / issue 2: "Two writers of one LastValue key in a parallel stage are rejected when
    the graph is built." The node wrapper does not hold an agent to its declared `writes`, so the
    build-time check (which looks only at declared `writes`) lets this graph through and the run
    dies mid-deliberation with LangGraph's InvalidUpdateError.
    """
    agents = {
        "a": Quiet("a", ("history",), {"winner": "from-a"}),
        "b": Quiet("b", ("history",), {"winner": "from-b"}),
    }
    policy = WritePolicy.from_mapping({"writers": {"winner": ["a", "b"]}}, agents=agents)
    with pytest.raises(PolicyConfigError):
        build_graph(agents, _plan(("a", "b")), policy, {"default": ScriptedChatModel(script=[])})


def test_two_lastvalue_writers_in_a_parallel_step_fail_at_workspace_load(workspace_copy: Path) -> None:
    for name in ("critic", "devils_advocate"):
        path = workspace_copy / "agents" / f"{name}.yaml"
        text = path.read_text()
        assert "writes: [history, rewards]" in text
        path.write_text(text.replace("writes: [history, rewards]", "writes: [history, rewards, decision]"))
    with pytest.raises(WorkspaceError) as info:
        load_workspace(workspace_copy)
    assert info.value.path == str(workspace_copy / "stages.yaml")
    assert "'decision'" in str(info.value) and "critic" in str(info.value) and "devils_advocate" in str(info.value)
