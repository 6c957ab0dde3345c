"""The `openai` provider against a real OpenAI-compatible server on loopback (tests/openai_server.py).

Every model here is made by `make_model` from a `models:` entry, exactly as a workspace makes it;
the openai SDK talks real HTTP to the test server. Retries, backoff and Retry-After are the SDK's,
observed from the server's side (requests counted and timed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import HumanMessage, SystemMessage
from openai_server import OpenAIServer, Reply, answer, error, free_port, rate_limited, serve, slow, tool_call
from pydantic import BaseModel, Field

from moot.agents import structured
from moot.agents.structured import ainvoke_structured
from moot.errors import ModelError
from moot.models.factory import make_model
from moot.models.provider_errors import describe
from moot.workspace.runner import WorkspaceRunner

pytest.importorskip("langchain_openai")


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with serve() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.reset()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def openai_model(server: OpenAIServer, **settings: Any):
    return make_model({"provider": "openai", "model": "test-model", "base_url": server.base_url, **settings}, name="default")


class Verdict(BaseModel):
    choice: str = Field(max_length=20)
    score: float = Field(ge=0, le=1)


MESSAGES = [SystemMessage(content="You judge."), HumanMessage(content="Pick one.")]


async def test_plain_chat_reports_the_servers_usage(server: OpenAIServer) -> None:
    server.push(answer("Lisbon", usage=(21, 4)))
    reply = await openai_model(server).ainvoke("Capital of Portugal?")
    assert reply.content == "Lisbon"
    assert reply.usage_metadata and reply.usage_metadata["input_tokens"] == 21 and reply.usage_metadata["output_tokens"] == 4
    body = server.requests[0]
    assert body["model"] == "test-model" and body["messages"][-1] == {"role": "user", "content": "Capital of Portugal?"}
    assert server.authorizations == ["Bearer not-needed"]  # a keyless local server gets a placeholder


async def test_key_comes_from_the_named_variable(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "sk-test-123")
    server.push(answer("ok"))
    await openai_model(server, api_key_env="MY_LLM_KEY").ainvoke("hi")
    assert server.authorizations == ["Bearer sk-test-123"]


async def test_agent_schema_reaches_the_server_as_response_format(server: OpenAIServer) -> None:
    server.push(answer({"choice": "alfama", "score": 0.8}, usage=(30, 9)))
    output, usage = await ainvoke_structured(openai_model(server), MESSAGES, Verdict, agent="judge")
    assert output == Verdict(choice="alfama", score=0.8)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.calls) == (30, 9, 1)
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Verdict"
    assert fmt["json_schema"]["schema"]["properties"]["choice"]["maxLength"] == 20


async def test_invalid_answer_is_repaired_over_http(server: OpenAIServer) -> None:
    server.push(answer({"choice": "alfama", "score": 7}), answer({"choice": "alfama", "score": 0.7}))
    output, usage = await ainvoke_structured(openai_model(server), MESSAGES, Verdict, agent="judge")
    assert output.score == 0.7 and usage.calls == 2
    assert "score" in server.requests[1]["messages"][-1]["content"]  # the validation error went back


async def test_bind_tools_gives_tool_calls(server: OpenAIServer) -> None:
    tool = {"name": "book_hotel", "description": "book a hotel", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    server.push(tool_call("book_hotel", {"city": "Lisbon"}))
    reply = await openai_model(server).bind_tools([tool]).ainvoke("Book a hotel in Lisbon")
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("book_hotel", {"city": "Lisbon"})]
    assert server.requests[0]["tools"][0]["function"]["name"] == "book_hotel"


async def test_rate_limit_waits_for_retry_after_then_succeeds(server: OpenAIServer) -> None:
    server.push(rate_limited(retry_after=1), answer("after the wait"))
    started = time.monotonic()
    reply = await openai_model(server, max_retries=2).ainvoke("hi")
    assert reply.content == "after the wait"
    assert time.monotonic() - started >= 1.0
    first, second = server.times
    assert len(server.requests) == 2 and second - first >= 0.95


async def test_server_error_is_retried(server: OpenAIServer) -> None:
    server.push(error(500, "upstream exploded"), answer("recovered"))
    reply = await openai_model(server).ainvoke("hi")
    assert reply.content == "recovered" and len(server.requests) == 2


async def test_retries_are_on_by_default(server: OpenAIServer) -> None:
    server.push(error(503), answer("second time"))
    model = make_model({"provider": "openai", "model": "test-model", "base_url": server.base_url})
    assert (await model.ainvoke("hi")).content == "second time" and len(server.requests) == 2


async def _agent_error(model: Any) -> ModelError:
    with pytest.raises(ModelError) as caught:
        await ainvoke_structured(model, MESSAGES, Verdict, agent="judge")
    return caught.value


def _clear(err: ModelError, model: Any) -> str:
    """The clear line; once structured.py calls `describe`, it is the ModelError's own message."""
    assert err.__cause__ is not None
    line = describe(err.__cause__, model)
    assert "\n" not in line
    if hasattr(structured, "describe"):
        assert str(err) == f"agent 'judge': {line}"
    return line


async def test_wrong_key_fails_at_once_with_a_clear_message(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "sk-wrong")
    server.push(error(401, "Incorrect API key provided"), answer({"choice": "x", "score": 0.5}))
    model = openai_model(server, api_key_env="MY_LLM_KEY", max_retries=3)
    line = _clear(await _agent_error(model), model)
    assert len(server.requests) == 1  # no retry storm on a bad key
    assert line.startswith(f"openai model 'test-model' at {server.base_url} refused the API key")
    assert "HTTP 401: Incorrect API key provided" in line and "$MY_LLM_KEY" in line


async def test_unknown_model_says_so(server: OpenAIServer) -> None:
    server.push(error(404, "The model `test-model` does not exist"))
    model = openai_model(server)
    line = _clear(await _agent_error(model), model)
    assert "knows no such model or path (HTTP 404: The model `test-model` does not exist)" in line
    assert "Fix model in model entry 'default'" in line and f"GET {server.base_url}/models" in line and len(server.requests) == 1


async def test_unreachable_server_says_unreachable() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    model = make_model({"provider": "openai", "model": "m", "base_url": base, "max_retries": 0})
    line = _clear(await _agent_error(model), model)
    assert line.startswith(f"openai model 'm' at {base} is unreachable (1 attempt)")
    assert "Start the server, or fix base_url in model entry 'default'" in line


async def test_slow_answer_times_out(server: OpenAIServer) -> None:
    server.push(slow(5))
    model = openai_model(server, timeout=0.5, max_retries=0)
    started = time.monotonic()
    line = _clear(await _agent_error(model), model)
    assert time.monotonic() - started < 3
    assert "timed out after 0.5 s (1 attempt)" in line and "Raise timeout in model entry 'default'" in line


async def test_persistent_server_error_names_the_attempts(server: OpenAIServer) -> None:
    server.push(error(500, "boom"), error(500, "boom"))
    model = openai_model(server, max_retries=1)
    line = _clear(await _agent_error(model), model)
    assert "kept failing (2 attempts) (HTTP 500: boom)" in line and len(server.requests) == 2


def demo_responder(script: dict[str, list[Any]]):
    """Answer each demo agent from the recorded script, recognising it by what it asks for."""

    def respond(body: dict[str, Any]) -> Reply:
        name = body["response_format"]["json_schema"]["name"]
        system = body["messages"][0]["content"]
        agent = {"ProposalOutput": "optimistic", "DecisionOutput": "synthesizer", "BookingOutput": "booking"}.get(name)
        if name == "ReviewOutput":
            agent = "devils_advocate" if "devil's advocate" in system else "critic"
        if agent is None:
            return error(400, f"test server: no demo answer for {name}")
        return answer(script[agent][0], usage=(100, 20))

    return respond


async def test_demo_deliberation_over_http(server: OpenAIServer, workspace_copy: Path, classic_script: dict[str, Any]) -> None:
    config = workspace_copy / "moot.yaml"
    spec = yaml.safe_load(config.read_text())
    spec["models"] = {"default": {"provider": "openai", "model": "test-model", "base_url": server.base_url, "timeout": 10}}
    config.write_text(yaml.safe_dump(spec))
    server.responder = demo_responder(classic_script)  # the classic fixture workspace's agents

    result = await WorkspaceRunner.load(workspace_copy).orchestrator().run("Plan a 3-day trip to Lisbon under 1500 EUR")

    assert result.status == "finished" and result.winner == "alfama-walks"
    names = [body["response_format"]["json_schema"]["name"] for body in server.requests]
    assert names.count("ReviewOutput") == 2 and {"ProposalOutput", "DecisionOutput", "BookingOutput"} <= set(names)
