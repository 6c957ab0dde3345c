"""Models from configuration: `models:` entries, per-agent choice, `MOOT_MODEL` overrides, and the
errors a workspace author or operator sees (unknown provider or key, missing SDK extra, no key).

Nothing here talks to a server (tests/test_models_openai.py does); models are only built.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from moot.agents.structured import constraint_kind
from moot.errors import ConfigError
from moot.graph.builder import model_for
from moot.models.factory import PROVIDERS, make_model, make_models, parse_override
from moot.models.provider_errors import describe, kind_of, model_info
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    provider_vars = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OLLAMA_HOST")
    for var in (*provider_vars, "MOOT_BASE_URL", "MOOT_API_KEY", "MOOT_TIMEOUT", "MOOT_MAX_RETRIES"):
        monkeypatch.delenv(var, raising=False)


def config_error(spec: dict[str, Any], name: str = "default") -> str:
    with pytest.raises(ConfigError) as caught:
        make_model(spec, name=name)
    return str(caught.value)


# --------------------------------------------------------------------------------------------
# entries per provider


def test_openai_entry_sets_endpoint_key_timeout_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    model = make_model(
        {"provider": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:11434/v1", "api_key_env": "OPENAI_API_KEY",
         "timeout": 30, "max_retries": 3, "temperature": 0, "max_tokens": 300, "seed": 7},
        name="fast",
    )  # fmt: skip
    assert type(model).__name__ == "ChatOpenAI" and constraint_kind(model) == "response_format"
    assert (model.model_name, model.openai_api_base, model.request_timeout, model.max_retries) == (
        "gpt-4o-mini", "http://127.0.0.1:11434/v1", 30, 3,
    )  # fmt: skip
    assert model.openai_api_key.get_secret_value() == "sk-from-env"
    assert (model.temperature, model.max_tokens, model.seed, model.use_responses_api) == (0, 300, 7, False)
    info = model_info(model)
    assert (info.provider, info.model, info.base_url, info.entry, info.api_key_env) == (
        "openai", "gpt-4o-mini", "http://127.0.0.1:11434/v1", "fast", "OPENAI_API_KEY",
    )  # fmt: skip


def test_retries_and_a_timeout_are_on_by_default() -> None:
    pytest.importorskip("langchain_openai")
    model = make_model({"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:8000/v1"})
    assert model.max_retries == 2 and model.request_timeout == 120


def test_keyless_local_server_gets_a_placeholder_key() -> None:
    pytest.importorskip("langchain_openai")
    model = make_model({"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:8000/v1"})
    assert model.openai_api_key.get_secret_value() == "not-needed"


def test_hosted_openai_without_a_key_names_the_variable() -> None:
    pytest.importorskip("langchain_openai")
    message = config_error({"provider": "openai", "model": "gpt-4o-mini"})
    assert "model entry 'default'" in message and "$OPENAI_API_KEY is not set" in message and "api_key_env" in message


def test_openai_base_url_from_its_usual_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    model = make_model({"provider": "openai", "model": "m"})
    assert model.openai_api_base == "http://127.0.0.1:8080/v1" and model.openai_api_key.get_secret_value() == "not-needed"


def test_params_reach_the_langchain_class_and_bad_ones_are_config_errors() -> None:
    pytest.importorskip("langchain_openai")
    model = make_model({"provider": "openai", "model": "m", "base_url": "http://x/v1", "params": {"stream_usage": True}})
    assert model.stream_usage is True
    message = config_error({"provider": "openai", "model": "m", "base_url": "http://x/v1", "params": {"temperature": "hot"}})
    assert message.startswith("model entry 'default' (provider 'openai'): ") and "temperature" in message


def test_anthropic_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_anthropic")
    monkeypatch.setenv("CLAUDE_KEY", "sk-ant-test")
    model = make_model(
        {"provider": "anthropic", "model": "claude-sonnet-4-5", "api_key_env": "CLAUDE_KEY", "timeout": 20, "max_retries": 4,
         "max_tokens": 900}
    )  # fmt: skip
    assert type(model).__name__ == "ChatAnthropic" and constraint_kind(model) == "tool"
    assert (model.model, model.default_request_timeout, model.max_retries, model.max_tokens) == ("claude-sonnet-4-5", 20, 4, 900)
    assert model.anthropic_api_key.get_secret_value() == "sk-ant-test"
    assert "ANTHROPIC_API_KEY is not set" in config_error({"provider": "anthropic", "model": "claude-sonnet-4-5"})


def test_ollama_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_ollama")
    model = make_model(
        {"provider": "ollama", "model": "llama3.2:1b", "base_url": "http://127.0.0.1:11434", "max_tokens": 200, "num_ctx": 4096,
         "timeout": 9}
    )  # fmt: skip
    assert type(model).__name__ == "ChatOllama" and constraint_kind(model) == "format"
    assert (model.model, model.base_url, model.num_predict, model.num_ctx) == ("llama3.2:1b", "http://127.0.0.1:11434", 200, 4096)
    assert model.client_kwargs == {"timeout": 9.0}
    monkeypatch.setenv("OLLAMA_HOST", "http://10.0.0.5:11434")
    assert model_info(make_model({"provider": "ollama", "model": "qwen3"})).base_url == "http://10.0.0.5:11434"


def test_scripted_entry_reads_its_script_relative_to_the_workspace() -> None:
    model = make_model({"provider": "scripted", "script": "demo_script.json", "strict": True}, root=DATA)
    assert isinstance(model, ScriptedChatModel) and model.strict and "optimistic" in model.script


# --------------------------------------------------------------------------------------------
# errors of the workspace author


def test_unknown_provider_names_the_entry_and_the_known_ones() -> None:
    message = config_error({"provider": "openia", "model": "m"}, name="critic")
    assert message == f"model entry 'critic': unknown provider 'openia'; known providers: {', '.join(PROVIDERS)}"


@pytest.mark.parametrize(
    ("spec", "bad"),
    [
        ({"provider": "openai", "model": "m", "bas_url": "http://x"}, "'bas_url' (did you mean 'base_url'?)"),
        ({"provider": "anthropic", "model": "m", "seed": 1}, "'seed'"),
        ({"provider": "ollama", "model": "m", "api_key_env": "K"}, "'api_key_env'"),
        ({"provider": "local", "max_token": 9}, "'max_token' (did you mean 'max_tokens'?)"),
        ({"provider": "scripted", "scrip": "x.json"}, "'scrip' (did you mean 'script'?)"),
    ],
)
def test_unknown_key_names_the_entry_and_the_key(spec: dict[str, Any], bad: str) -> None:
    message = config_error(spec, name="judge")
    assert message.startswith(f"model entry 'judge' (provider {spec['provider']!r}): unknown key {bad}; known keys: ")


def test_bad_values_name_the_key() -> None:
    assert "timeout: Input should be greater than 0 (got -1)" in config_error({"provider": "openai", "model": "m", "timeout": -1})
    assert "max_retries" in config_error({"provider": "openai", "model": "m", "max_retries": "many"})
    assert "model: Field required" in config_error({"provider": "ollama"})


@pytest.mark.parametrize(
    ("provider", "module"), [("openai", "langchain_openai"), ("anthropic", "langchain_anthropic"), ("ollama", "langchain_ollama")]
)
def test_missing_sdk_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch, provider: str, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    message = config_error({"provider": provider, "model": "m", "base_url": "http://127.0.0.1:1"})
    assert f"pip install 'moot[{provider}]'" in message and module.replace("_", "-") in message


# --------------------------------------------------------------------------------------------
# overrides: per agent and by environment


@pytest.mark.parametrize(
    ("value", "entry"),
    [
        ("local", {"provider": "local"}),
        ("local:/m/x.gguf", {"provider": "local", "model_path": "/m/x.gguf"}),
        ("scripted:a.json", {"provider": "scripted", "script": "a.json"}),
        ("openai:gpt-4o-mini", {"provider": "openai", "model": "gpt-4o-mini"}),
        ("anthropic:claude-sonnet-4-5", {"provider": "anthropic", "model": "claude-sonnet-4-5"}),
        ("ollama:llama3.2:1b", {"provider": "ollama", "model": "llama3.2:1b"}),
    ],
)
def test_parse_override(value: str, entry: dict[str, Any]) -> None:
    assert parse_override(value, env={}) == entry


def test_override_takes_base_url_and_key_from_the_environment() -> None:
    env = {"MOOT_BASE_URL": "http://127.0.0.1:8000/v1", "MOOT_API_KEY": "sk-moot"}
    assert parse_override("openai:m", env=env) == {
        "provider": "openai", "model": "m", "base_url": "http://127.0.0.1:8000/v1", "api_key_env": "MOOT_API_KEY",
    }  # fmt: skip
    assert parse_override("ollama:m", env=env) == {"provider": "ollama", "model": "m", "base_url": "http://127.0.0.1:8000/v1"}
    assert parse_override("anthropic:m", env={"MOOT_TIMEOUT": "30", "MOOT_MAX_RETRIES": "5"}) == {
        "provider": "anthropic", "model": "m", "timeout": "30", "max_retries": "5",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("value", "says"),
    [("openai", "names no model: use openai:MODEL"), ("gpt:4", "expected 'local[:GGUF]'"), ("scripted", "scripted:PATH")],
)
def test_bad_override(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_override(value, env={})


def test_moot_model_replaces_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("MOOT_MODEL", "openai:served-model")
    monkeypatch.setenv("MOOT_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("MOOT_API_KEY", "sk-moot")
    monkeypatch.setenv("MOOT_TIMEOUT", "15")
    models = make_models({"default": {"provider": "local"}, "critic": {"provider": "local"}})
    assert set(models) == {"default", "critic"} and models["default"] is models["critic"]
    model = models["default"]
    assert (model.model_name, model.openai_api_base, model.openai_api_key.get_secret_value()) == (
        "served-model", "http://127.0.0.1:8000/v1", "sk-moot",
    )  # fmt: skip
    assert model.request_timeout == 15 and model_info(model).entry == "MOOT_MODEL=openai:served-model"
    # the fix is then named as the variable, not as a workspace key
    assert "Raise $MOOT_TIMEOUT" in describe(httpx.ReadTimeout("slow"), model)
    monkeypatch.setenv("MOOT_MAX_RETRIES", "lots")
    with pytest.raises(ConfigError, match="max_retries: Input should be a valid integer"):
        make_models({"default": {"provider": "local"}})


def test_each_agent_uses_the_entry_it_names(workspace_copy: Path) -> None:
    pytest.importorskip("langchain_openai")
    config = workspace_copy / "moot.yaml"
    spec = yaml.safe_load(config.read_text())
    spec["models"] = {
        "default": {"provider": "scripted", "script": str(DATA / "demo_script.json")},
        "sharp": {"provider": "openai", "model": "big-model", "base_url": "http://127.0.0.1:8000/v1"},
    }
    config.write_text(yaml.safe_dump(spec))
    critic = workspace_copy / "agents" / "critic.yaml"
    critic.write_text(critic.read_text() + "model: sharp\n")

    runtime = WorkspaceRunner.load(workspace_copy, model_override="")
    agents = runtime.workspace.agents
    assert model_info(model_for(agents["critic"], runtime.models)).model == "big-model"
    assert isinstance(model_for(agents["optimistic"], runtime.models), ScriptedChatModel)


# --------------------------------------------------------------------------------------------
# errors of providers the loopback server does not speak (recognised by class name)


def _error(name: str, *, base: type[BaseException] = Exception, **attrs: Any) -> BaseException:
    return type(name, (base,), attrs)("boom")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_error("ResponseError", status_code=404), "not_found"),  # ollama: model not pulled
        (ConnectionError("Failed to connect to Ollama"), "unreachable"),  # ollama: server down
        (httpx.ReadTimeout("timed out"), "timeout"),
        (httpx.ConnectError("refused"), "unreachable"),
        (_error("AuthenticationError"), "auth"),  # anthropic
        (_error("OverloadedError", status_code=529), "server"),
        (_error("RateLimitError"), "rate_limit"),
        (_error("Whatever", status_code=503), "server"),
        (ValueError("not a provider error"), None),
    ],
)
def test_kind_of_provider_errors(exc: BaseException, kind: str | None) -> None:
    assert kind_of(exc) == kind


def test_describe_ollama_errors() -> None:
    pytest.importorskip("langchain_ollama")
    model = make_model({"provider": "ollama", "model": "qwen3", "base_url": "http://127.0.0.1:11434", "max_retries": 1}, name="local-llm")
    missing = describe(_error("ResponseError", status_code=404), model)
    assert missing.startswith("ollama model 'qwen3' at http://127.0.0.1:11434: the server knows no such model")
    assert "Run `ollama pull qwen3`, or fix model in model entry 'local-llm'" in missing
    down = describe(ConnectionError("Failed to connect to Ollama"), model)
    assert down.startswith("ollama model 'qwen3' at http://127.0.0.1:11434 is unreachable (2 attempts): Failed to connect to Ollama")


def test_describe_keeps_the_generic_wording_for_other_errors() -> None:
    assert describe(ValueError("bad"), ScriptedChatModel()) == "the chat model failed: ValueError: bad"
