"""Chat models from configuration: the workspace's `models:` entries, overridable by environment.

`MOOT_MODEL` replaces every model of the workspace for one process, e.g. `MOOT_MODEL=local` or
`MOOT_MODEL=scripted:answers.json` (a recorded script, see `ScriptedChatModel.from_file`). Models
are made once per runtime and shared by all its sessions; the embedded model additionally loads
its weights once per process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from moot.errors import ConfigError

PROVIDERS = ("local", "scripted")
"""Providers this build can make; hosted and OpenAI-compatible providers arrive with issue 3."""


def make_model(spec: Mapping[str, Any], *, root: Path | None = None, name: str = "default") -> BaseChatModel:
    """One chat model from a `models:` entry (`provider` plus its settings)."""
    settings = dict(spec)
    provider = settings.pop("provider", "local")
    if provider == "local":
        from moot.models.local import LocalLLMChatModel

        return LocalLLMChatModel(**settings)
    if provider == "scripted":
        from moot.models.scripted import ScriptedChatModel

        script = settings.pop("script", None)
        if isinstance(script, str):
            path = Path(script).expanduser()
            if not path.is_absolute() and root is not None:
                path = root / path
            return ScriptedChatModel.from_file(path, **settings)
        return ScriptedChatModel(script=script or [], **settings)
    raise ConfigError(f"model {name!r}: unknown provider {provider!r}; known providers: {', '.join(PROVIDERS)}")


def parse_override(value: str) -> dict[str, Any]:
    """`local` or `scripted:PATH` (from `MOOT_MODEL` or `--model`) as a `models:` entry."""
    provider, _, arg = value.partition(":")
    if provider == "scripted":
        if not arg:
            raise ConfigError("MOOT_MODEL=scripted needs a script file: scripted:PATH")
        return {"provider": "scripted", "script": arg}
    if provider == "local":
        return {"provider": "local", **({"model_path": arg} if arg else {})}
    raise ConfigError(f"model override {value!r}: expected 'local[:GGUF]' or 'scripted:PATH'")


def make_models(
    specs: Mapping[str, Mapping[str, Any]], *, root: Path | None = None, override: str | None = None
) -> dict[str, BaseChatModel]:
    """All models of a workspace; `override` (default: `$MOOT_MODEL`) replaces every one of them."""
    override = override if override is not None else os.environ.get("MOOT_MODEL")
    if override:
        shared = make_model(parse_override(override), root=Path.cwd())
        return {name: shared for name in (set(specs) | {"default"})}
    return {name: make_model(spec, root=root, name=name) for name, spec in specs.items()}


__all__ = ["PROVIDERS", "make_model", "make_models", "parse_override"]
