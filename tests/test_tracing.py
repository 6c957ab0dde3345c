"""The span tree of a deliberation (scripted model, classic workspace) in an in-memory exporter.

invoke_workflow → stage <name> (one per visit) → invoke_agent <role> → chat <model>; the booking
stage's MCP calls as execute_tool <name> under their stage; attributes after the GenAI
conventions with the tokens the accounting counted. The SDK's in-memory exporter, no mocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import scripted_runtime
from moot import telemetry
from moot.persistence import open_store

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    made = TracerProvider()
    try:
        yield made
    finally:
        telemetry.use(None)
        made.shutdown()


@pytest.fixture
def exported(provider: TracerProvider) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use(provider)
    return exporter


def _by_id(spans: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


def _parent(span: ReadableSpan, index: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return index.get(span.parent.span_id) if span.parent is not None else None


async def test_a_deliberation_is_one_trace_of_workflow_stages_agents_models_and_tools(
    exported: InMemorySpanExporter, classic_script: dict[str, Any], workspace_copy: Path, tmp_path: Path
) -> None:
    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    async with runtime.open_store_and_tools(tmp_path / "t.db") as (saver, index):
        result = await runtime.orchestrator(saver, index=index).run(TASK, session_id="sess-1", run_id="run-traced")
    assert result.status == "finished"
    spans = exported.get_finished_spans()
    index_ = _by_id(spans)
    assert len({s.context.trace_id for s in spans}) == 1, "one trace for the whole run"

    [workflow] = [s for s in spans if s.name.startswith("invoke_workflow")]
    assert workflow.parent is None
    attrs = dict(workflow.attributes or {})
    assert attrs["gen_ai.operation.name"] == "invoke_workflow"
    assert attrs["gen_ai.conversation.id"] == "sess-1" and attrs["moot.run_id"] == "run-traced"
    assert attrs["moot.outcome"] == "finished" and attrs["moot.workspace"] == workflow.name.split(" ", 1)[1]

    stages = [s for s in spans if s.name.startswith("stage ")]
    assert all(_parent(s, index_) is workflow for s in stages)
    visited = [s.attributes["moot.stage"] for s in sorted(stages, key=lambda s: s.start_time)]
    assert visited[:2] == ["proposal", "synthesis"] and "booking" in visited

    agents = [s for s in spans if s.name.startswith("invoke_agent ")]
    roles = {s.attributes["gen_ai.agent.name"] for s in agents}
    assert {"optimistic", "critic", "devils_advocate", "synthesizer", "booking"} <= roles
    for agent in agents:
        stage = _parent(agent, index_)
        assert stage is not None and stage.name == f"stage {agent.attributes['moot.stage']}"

    chats = [s for s in spans if s.name.startswith("chat ")]
    assert chats and all(_parent(c, index_).name.startswith("invoke_agent ") for c in chats)
    for chat in chats:
        assert chat.attributes["gen_ai.provider.name"] and chat.attributes["gen_ai.request.model"]
    usage = result.state["usage"]  # summed over an agent's turns (the booking agent has two)
    for agent in agents:
        mine = [c for c in chats if _parent(c, index_) is agent]
        assert len(mine) == agent.attributes["moot.model_calls"]
        assert sum(c.attributes["gen_ai.usage.input_tokens"] for c in mine) == agent.attributes["gen_ai.usage.input_tokens"]
    for role in roles:
        turns = [a for a in agents if a.attributes["gen_ai.agent.name"] == role]
        assert sum(a.attributes["gen_ai.usage.output_tokens"] for a in turns) == usage[role]["completion_tokens"]
        assert sum(a.attributes["gen_ai.usage.input_tokens"] for a in turns) == usage[role]["prompt_tokens"]

    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    assert tools, "the booking stage called its tools"
    for tool in tools:
        assert _parent(tool, index_).name == "stage booking"
        assert tool.attributes["moot.idempotency_key"].startswith("run-traced:")
        assert tool.attributes["moot.tool.attempts"] >= 1 and tool.attributes["moot.ledger.hit"] is False


async def test_the_workspace_logs_carry_the_runs_trace_and_span_ids(
    exported: InMemorySpanExporter, classic_script: dict[str, Any], workspace_copy: Path, tmp_path: Path
) -> None:
    import json

    from moot.events import EventBus
    from moot.logs import WorkspaceLogs

    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    bus = EventBus()
    with WorkspaceLogs("classic", root=tmp_path / "logs") as logs:
        detach = logs.attach(bus)
        async with runtime.open_store_and_tools(tmp_path / "t.db") as (saver, index):
            await runtime.orchestrator(saver, index=index, bus=bus).run(TASK, session_id="s-logs", run_id="run-logged")
        detach()
    [workflow] = [s for s in exported.get_finished_spans() if s.name.startswith("invoke_workflow")]
    lines = [json.loads(line) for path in (tmp_path / "logs").rglob("*.log") for line in path.read_text().splitlines()]
    mine = [line for line in lines if line.get("run_id") == "run-logged"]
    assert mine and all(line.get("trace_id") == format(workflow.context.trace_id, "032x") for line in mine)
    assert all(len(line["span_id"]) == 16 for line in mine)


async def test_a_refused_write_is_an_event_on_the_agents_span(exported: InMemorySpanExporter, classic_script: dict[str, Any]) -> None:
    from test_policy import classic_with_policy

    from moot.models.scripted import ScriptedChatModel
    from moot.workspace.runner import WorkspaceRunner

    policy = {"on_violation": "skip", "writers": {"rewards": ["optimistic", "devils_advocate"]}}
    runtime = WorkspaceRunner(classic_with_policy(policy), {"default": ScriptedChatModel(script=classic_script)})
    assert (await runtime.orchestrator().run(TASK)).status == "finished"
    [critic] = [s for s in exported.get_finished_spans() if s.name == "invoke_agent critic"]
    [event] = [e for e in critic.events if e.name == "moot.policy_violation"]
    assert event.attributes["moot.key"] == "rewards" and tuple(event.attributes["moot.allowed"]) == ("devils_advocate", "optimistic")
    assert not any(e.name == "moot.policy_violation" for s in exported.get_finished_spans() if s is not critic for e in s.events)


async def test_message_contents_only_when_opted_in(
    exported: InMemorySpanExporter, provider: TracerProvider, classic_script: dict[str, Any], workspace_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    await runtime.orchestrator().run(TASK)
    chats = [s for s in exported.get_finished_spans() if s.name.startswith("chat ")]
    assert chats and not any("gen_ai.input.messages" in s.attributes or "gen_ai.output.messages" in s.attributes for s in chats)
    exported.clear()
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    await runtime.orchestrator().run(TASK)
    chats = [s for s in exported.get_finished_spans() if s.name.startswith("chat ")]
    assert chats and not any("gen_ai.input.messages" in s.attributes for s in chats), "the opt-in is read when tracing starts"
    exported.clear()
    telemetry.use(provider)  # tracing starts again: the opt-in is read
    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    await runtime.orchestrator().run(TASK)
    chats = [s for s in exported.get_finished_spans() if s.name.startswith("chat ")]
    assert chats and all(TASK in s.attributes["gen_ai.input.messages"] for s in chats if s.attributes["moot.attempt"] == 1)
    assert all(s.attributes["gen_ai.output.messages"] for s in chats)
