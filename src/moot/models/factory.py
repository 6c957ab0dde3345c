"""Chat models from configuration: the workspace's `models:` entries, overridable by environment.

An agent names the entry it uses (`model: critic` in its YAML; `default` otherwise), so each agent
can run on its own provider. `MOOT_MODEL` (or `--model`) replaces every entry for one process:

    MOOT_MODEL=local                  the embedded model (optionally local:PATH.gguf)
    MOOT_MODEL=scripted:answers.json  a recorded script, see `ScriptedChatModel.from_file`
    MOOT_MODEL=scripted:schema        the first valid answer of every schema (`follow_schema`)
    MOOT_MODEL=openai:gpt-4o-mini     any OpenAI-compatible endpoint
    MOOT_MODEL=anthropic:claude-sonnet-4-5
    MOOT_MODEL=ollama:llama3.2:1b

With a provider override, `MOOT_BASE_URL` and `MOOT_API_KEY` set the endpoint and key (unset, the
provider's usual variables apply: `OPENAI_BASE_URL`/`OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`/
`ANTHROPIC_API_KEY`, `OLLAMA_HOST`); `MOOT_TIMEOUT` and `MOOT_MAX_RETRIES` set its resilience.
Models are made once per runtime and shared by all its sessions; the embedded model additionally
loads its weights once per process.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from moot.errors import ConfigError
from moot.models.providers import REMOTE, Provider
from moot.settings import env_var, settings, settings_from

PROVIDERS = ("openai", "anthropic", "ollama", "local", "scripted")
SCHEMA_SCRIPT = "schema"
"""`scripted:schema`: the scripted model that answers the first valid value of every schema."""
"""Providers this build can make (`openai` is any OpenAI-compatible endpoint)."""

_SCRIPTED_KEYS = frozenset({"provider", "script", "strict", "model_name", "latency"})


def _local_keys() -> frozenset[str]:
    from moot.models.local import LocalLLMChatModel

    return frozenset(set(LocalLLMChatModel.model_fields) - set(BaseChatModel.model_fields)) | {"provider"}


def _check_keys(settings: Mapping[str, Any], known: frozenset[str], provider: str, entry: str) -> None:
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(_unknown(unknown, known, provider, entry))


def _unknown(unknown: list[str], known: frozenset[str] | set[str], provider: str, entry: str) -> str:
    hints = [f"{k!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, known, 1)) else repr(k) for k in unknown]
    return (
        f"model entry {entry!r} (provider {provider!r}): unknown key{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(hints)}; known keys: {', '.join(sorted(known))}"
    )


def _make_remote(provider: Provider, settings: dict[str, Any], entry: str) -> BaseChatModel:
    known = set(provider.settings.model_fields)
    try:
        parsed = provider.settings.model_validate(settings)
    except ValidationError as exc:
        extra = sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden")
        if extra:
            raise ConfigError(_unknown(extra, known, provider.name, entry)) from None
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(entry)"
        value = f" (got {err['input']!r})" if err["type"] != "missing" else ""
        raise ConfigError(f"model entry {entry!r} (provider {provider.name!r}): {key}: {err['msg']}{value}") from None
    try:
        return provider.build(parsed, entry)
    except ConfigError:
        raise
    except (ValidationError, TypeError, ValueError) as exc:  # a bad `params` entry, as the SDK class sees it
        detail = " ".join(str(exc).split())[:300]
        raise ConfigError(f"model entry {entry!r} (provider {provider.name!r}): {detail}") from None


def make_model(spec: Mapping[str, Any], *, root: Path | None = None, name: str = "default") -> BaseChatModel:
    """One chat model from a `models:` entry (`provider` plus its settings)."""
    settings = dict(spec)
    provider = settings.get("provider") or "local"
    settings["provider"] = provider
    if provider in REMOTE:
        return _make_remote(REMOTE[provider], settings, name)
    if provider == "local":
        _check_keys(settings, _local_keys(), provider, name)
        from moot.models.local import LocalLLMChatModel

        settings.pop("provider")
        return LocalLLMChatModel(**settings)
    if provider == "scripted":
        _check_keys(settings, _SCRIPTED_KEYS, provider, name)
        from moot.models.scripted import ScriptedChatModel

        settings.pop("provider")
        script = settings.pop("script", None)
        if script == SCHEMA_SCRIPT:
            from moot.models.scripted import follow_schema

            return ScriptedChatModel(script=follow_schema, **settings)
        if isinstance(script, str):
            path = Path(script).expanduser()
            if not path.is_absolute() and root is not None:
                path = root / path
            return ScriptedChatModel.from_file(path, **settings)
        return ScriptedChatModel(script=script or [], **settings)
    raise ConfigError(f"model entry {name!r}: unknown provider {provider!r}; known providers: {', '.join(PROVIDERS)}")


def parse_override(value: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`local[:GGUF]`, `scripted:PATH` or `PROVIDER:MODEL` (from `MOOT_MODEL` or `--model`) as a
    `models:` entry; `MOOT_BASE_URL`, `MOOT_API_KEY`, `MOOT_TIMEOUT` and `MOOT_MAX_RETRIES` in `env`
    (default: this process's settings) go with a provider override."""
    given = settings() if env is None else settings_from(env)
    provider, _, arg = value.strip().partition(":")
    if provider == "scripted":
        if not arg:
            raise ConfigError("MOOT_MODEL=scripted needs a script file: scripted:PATH")
        return {"provider": "scripted", "script": arg}
    if provider == "local":
        return {"provider": "local", **({"model_path": arg} if arg else {})}
    if provider in REMOTE:
        if not arg:
            raise ConfigError(f"MOOT_MODEL={value!r} names no model: use {provider}:MODEL, e.g. {_EXAMPLES[provider]}")
        entry: dict[str, Any] = {"provider": provider, "model": arg}
        if given.base_url:
            entry["base_url"] = given.base_url
        if given.api_key is not None and provider != "ollama":
            entry["api_key_env"] = env_var("api_key")  # the provider reads the key itself, by this name
        for key in ("timeout", "max_retries"):
            if getattr(given, key):
                entry[key] = getattr(given, key)  # validated (and converted) with the rest of the entry
        return entry
    raise ConfigError(
        f"model override {value!r}: expected 'local[:GGUF]', 'scripted:PATH' or PROVIDER:MODEL with PROVIDER one of "
        f"{', '.join(REMOTE)} (e.g. {_EXAMPLES['openai']})"
    )


_EXAMPLES = {"openai": "openai:gpt-4o-mini", "anthropic": "anthropic:claude-sonnet-4-5", "ollama": "ollama:llama3.2:1b"}


def make_models(
    specs: Mapping[str, Mapping[str, Any]], *, root: Path | None = None, override: str | None = None
) -> dict[str, BaseChatModel]:
    """All models of a workspace; `override` (default: `$MOOT_MODEL`) replaces every one of them."""
    override = override if override is not None else settings().model
    if override:
        shared = make_model(parse_override(override), root=Path.cwd(), name=f"MOOT_MODEL={override}")
        return {name: shared for name in (set(specs) | {"default"})}
    return {name: make_model(spec, root=root, name=name) for name, spec in specs.items()}


__all__ = ["PROVIDERS", "make_model", "make_models", "parse_override"]
