"""Hosted and server providers: `openai` (any OpenAI-compatible endpoint), `anthropic`, `ollama`.

Each provider is a settings model (the keys a `models:` entry may have, checked strictly) and a
builder that makes the LangChain chat model. The SDKs are optional extras, imported only when a
workspace asks for them, so moot installs and runs with none of them.

    models:
      default:
        provider: openai            # OpenAI, or Ollama's / vLLM's / llama.cpp's /v1 server
        model: gpt-4o-mini
        base_url: http://127.0.0.1:11434/v1
        api_key_env: OPENAI_API_KEY # a keyless local server gets a placeholder key
        timeout: 30                 # seconds per attempt
        max_retries: 3              # 429 (honouring Retry-After), 5xx, connection errors

Retries are the SDKs' own (openai and anthropic back off exponentially and honour `Retry-After`);
they are always on, `max_retries: 0` turns them off. The Ollama client has no retry of its own:
its `max_retries` retries failed connections only.

Every model made here carries `moot_*` keys in its LangChain `metadata` (provider, model, base
URL, timeout, retries, key variable, entry name): `provider_errors.describe` reads them to say
which endpoint failed and how to fix it, and callbacks see them on every call.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from moot.errors import ConfigError

PLACEHOLDER_KEY = "not-needed"
"""Sent to a keyless server (a local Ollama, vLLM or llama.cpp): the SDKs insist on some key."""


class _Settings(BaseModel):
    """Keys every remote provider takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str = Field(min_length=1)
    """The provider's model name, e.g. `gpt-4o-mini`, `claude-sonnet-4-5`, `llama3.2:1b`."""
    base_url: str | None = None
    """The endpoint; unset means the provider's usual variable or its public API."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds one attempt may take."""
    max_retries: int = Field(default=2, ge=0, le=20)
    """Retries after the first attempt on rate limits, server errors and lost connections."""
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    params: dict[str, Any] = Field(default_factory=dict)
    """Passed as is to the LangChain class (`ChatOpenAI(**params)`, ...): the escape hatch."""


class OpenAISettings(_Settings):
    api_key_env: str | None = None
    """The variable holding the key; default `OPENAI_API_KEY`."""
    seed: int | None = None
    top_p: float | None = Field(default=None, ge=0, le=1)
    headers: dict[str, str] | None = None


class AnthropicSettings(_Settings):
    api_key_env: str | None = None
    """The variable holding the key; default `ANTHROPIC_API_KEY`."""
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, gt=0)


class OllamaSettings(_Settings):
    seed: int | None = None
    num_ctx: int | None = Field(default=None, gt=0)
    keep_alive: str | int | None = None


@dataclass(frozen=True)
class Provider:
    """A provider moot can make: its settings, the SDK it needs and how to build the model."""

    name: str
    settings: type[_Settings]
    module: str
    """The LangChain integration to import; missing means `pip install 'moot[<extra>]'`."""
    extra: str
    build: Callable[[Any, str], BaseChatModel]
    default_key_env: str | None
    default_url: str

    def require(self, entry: str) -> Any:
        """Import the integration, or say which extra installs it."""
        try:
            return importlib.import_module(self.module)
        except ImportError:
            raise ConfigError(
                f"model entry {entry!r}: provider {self.name!r} needs the package {self.module.replace('_', '-')}; "
                f"install it with: pip install 'moot[{self.extra}]'"
            ) from None


def _api_key(settings: OpenAISettings | AnthropicSettings, default_env: str, entry: str) -> tuple[str, str]:
    """The key and the variable it came from; a placeholder for a keyless server at `base_url`."""
    env = settings.api_key_env or default_env
    key = os.environ.get(env, "").strip()
    if key:
        return key, env
    if settings.base_url:
        return PLACEHOLDER_KEY, env
    raise ConfigError(
        f"model entry {entry!r}: provider {settings.provider!r} needs an API key and ${env} is not set; "
        f"export {env}=..., or name another variable with api_key_env"
    )


def _metadata(provider: Provider, settings: _Settings, entry: str, base_url: str | None, key_env: str | None) -> dict:
    return {
        "moot_provider": provider.name,
        "moot_model": settings.model,
        "moot_base_url": base_url or provider.default_url,
        "moot_timeout": settings.timeout,
        "moot_max_retries": settings.max_retries,
        "moot_api_key_env": key_env,
        "moot_model_entry": entry,
    }


def _optional(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _keyed(provider: Provider, settings: Any, entry: str, url_env: str, key_env: str) -> dict[str, Any]:
    """The keyword arguments every keyed hosted provider takes: model, endpoint, key, limits, metadata."""
    base_url = settings.base_url or os.environ.get(url_env) or None
    key, env = _api_key(settings.model_copy(update={"base_url": base_url}), key_env, entry)
    return _optional(
        model=settings.model,
        base_url=base_url,
        api_key=key,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        metadata=_metadata(provider, settings, entry, base_url, env),
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
    )


def build_openai(settings: OpenAISettings, entry: str) -> BaseChatModel:
    """`ChatOpenAI` on Chat Completions (what OpenAI-compatible servers implement).

    The model gets its own async HTTP client: langchain-openai otherwise shares one per base URL
    across the process, and a pooled connection opened in one event loop fails in the next
    ("Event loop is closed") when two runtimes or two tests use the same server.
    """
    module = OPENAI.require(entry)
    import openai  # a dependency of langchain-openai

    kwargs = _keyed(OPENAI, settings, entry, "OPENAI_BASE_URL", "OPENAI_API_KEY") | _optional(
        use_responses_api=False,
        http_async_client=openai.DefaultAsyncHttpxClient(timeout=settings.timeout),
        seed=settings.seed,
        top_p=settings.top_p,
        default_headers=settings.headers,
    )
    return module.ChatOpenAI(**{**kwargs, **settings.params})


def build_anthropic(settings: AnthropicSettings, entry: str) -> BaseChatModel:
    module = ANTHROPIC.require(entry)
    kwargs = _keyed(ANTHROPIC, settings, entry, "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY") | _optional(
        top_p=settings.top_p,
        top_k=settings.top_k,
    )
    return module.ChatAnthropic(**{**kwargs, **settings.params})


def build_ollama(settings: OllamaSettings, entry: str) -> BaseChatModel:
    """`ChatOllama` on Ollama's own API; retries cover failed connections only (httpx's transport)."""
    module = OLLAMA.require(entry)
    import httpx  # a dependency of the ollama client, so present whenever the extra is

    base_url = settings.base_url or os.environ.get("OLLAMA_HOST") or None
    kwargs = _optional(
        model=settings.model,
        base_url=base_url,
        client_kwargs={"timeout": settings.timeout},
        sync_client_kwargs={"transport": httpx.HTTPTransport(retries=settings.max_retries)},
        async_client_kwargs={"transport": httpx.AsyncHTTPTransport(retries=settings.max_retries)},
        metadata=_metadata(OLLAMA, settings, entry, base_url, None),
        temperature=settings.temperature,
        num_predict=settings.max_tokens,
        seed=settings.seed,
        num_ctx=settings.num_ctx,
        keep_alive=settings.keep_alive,
    )
    return module.ChatOllama(**{**kwargs, **settings.params})


OPENAI = Provider("openai", OpenAISettings, "langchain_openai", "openai", build_openai, "OPENAI_API_KEY", "https://api.openai.com/v1")
ANTHROPIC = Provider(
    "anthropic", AnthropicSettings, "langchain_anthropic", "anthropic", build_anthropic, "ANTHROPIC_API_KEY", "https://api.anthropic.com"
)
OLLAMA = Provider("ollama", OllamaSettings, "langchain_ollama", "ollama", build_ollama, None, "http://127.0.0.1:11434")

REMOTE: Mapping[str, Provider] = {p.name: p for p in (OPENAI, ANTHROPIC, OLLAMA)}
"""The providers of this module by name."""


__all__ = [
    "ANTHROPIC",
    "OLLAMA",
    "OPENAI",
    "PLACEHOLDER_KEY",
    "REMOTE",
    "AnthropicSettings",
    "OllamaSettings",
    "OpenAISettings",
    "Provider",
    "build_anthropic",
    "build_ollama",
    "build_openai",
]
