"""Every `MOOT_*` environment variable, read in one place (pydantic-settings, as FastMCP does).

A variable is a field of `Settings`: `MOOT_` + the field's name in capitals, its type checked, its
default and meaning beside it (the README's table is made from these fields, and a test keeps it
true). Modules ask `settings()` instead of `os.environ`, so a variable is spelled once, a bad
value is refused with its name (`$MOOT_LEASE_S must be a number, not 'soon'`), and an operator
finds every knob in one file.

`settings()` reads the environment when asked, not at import: tests set variables after moot is
imported (`monkeypatch.setenv("MOOT_HOME", ...)`) and `moot serve` sets them before starting its
workers. Building a `Settings` costs about a millisecond, so the last one (frozen) is reused while
no `MOOT_*` variable changed (comparing them costs about 30 µs); there is no cache to reset.

Provider keys (`OPENAI_API_KEY`, `OLLAMA_HOST`, ...) are not moot's: models/providers.py reads
them, by the names a workspace gives.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from copy import copy
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from moot.errors import SettingsError

PREFIX = "MOOT_"


class Settings(BaseSettings):
    """moot's settings from the environment; read them with `settings()`."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    # -- where things live ------------------------------------------------------------------
    home: Path | None = None
    """Where moot keeps its files: run database, logs, memory, the demo servers' data. Unset: `~/.moot`."""
    database_url: str | None = None
    """Checkpoints, run index, tool ledger and API keys: a file, `sqlite:///PATH` or `postgresql://...` (a
    fleet). Unset: SQLite at `$MOOT_HOME/moot.db`."""
    database_pool_size: int = 10
    """Connections of one process to PostgreSQL."""
    redis_url: str | None = None
    """`redis://...`: sessions, episodic memory, event fan-out and the run queue of a fleet. Unset: all in this
    process."""

    # -- models and memory ------------------------------------------------------------------
    model: str | None = None
    """One chat model for every agent, as `--model`: `local[:GGUF]`, `scripted:PATH`, `openai:MODEL`,
    `anthropic:MODEL`, `ollama:MODEL`."""
    base_url: str | None = None
    """The endpoint of the provider `MOOT_MODEL` names (e.g. a local OpenAI-compatible server). Unset: the
    provider's own."""
    api_key: SecretStr | None = None
    """The API key for the provider `MOOT_MODEL` names. Unset: the provider's variable (`OPENAI_API_KEY`, ...)."""
    timeout: str | None = None
    """Seconds a request to the `MOOT_MODEL` provider may take; checked with that model entry, as its
    `timeout`."""
    max_retries: str | None = None
    """Retries of a failed request to the `MOOT_MODEL` provider; checked with that model entry, as its
    `max_retries`."""
    memory_model: str | None = None
    """The chat model that extracts semantic memories after service runs (e.g. `openai:gpt-4o-mini`). Unset: no
    extraction."""
    embedder: str = "minilm"
    """Memory's sentence embedder: `minilm` (int8 ONNX MiniLM) or `wordllama` (faster, for tests)."""
    postgres_dsn: str | None = None
    """PostgreSQL of a memory store of kind `postgres` when none is passed."""

    # -- workspaces and built-in servers -------------------------------------------------------
    workspaces: Annotated[tuple[str, ...], NoDecode] = ()
    """Folders searched for workspaces besides the built-ins, separated by `os.pathsep` (`:`)."""
    workspace: str | None = None
    """The workspace (built-in name or folder) that LangGraph's own servers (`langgraph dev`) load through
    langgraph.json's `moot` graph. Unset: the built-in demo."""
    reload: bool = False
    """The service watches workspace folders and serves edits to new runs (`moot serve --reload`)."""
    reviews_dir: Path | None = None
    """Where the review desk files reviews. Unset: `$MOOT_HOME/reviews`."""

    # -- the service ------------------------------------------------------------------------
    queue: Literal["inline", "arq"] | None = None
    """Where service runs execute: `inline` (the API process) or `arq` (`moot worker`s). Unset: `arq` with
    `MOOT_REDIS_URL`, else `inline`."""
    queue_name: str = "moot:runs"
    """The arq queue of a fleet's runs."""
    key_prefix: str = "moot:"
    """The prefix of a fleet's Redis keys."""
    lease_s: float = Field(default=10.0, gt=0)
    """Seconds a worker's lease on a run lasts (renewed every third of it); an expired lease means the
    worker died and another may resume the run."""
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body (a state import is the largest legitimate one)."""
    max_task_chars: int = Field(default=4000, ge=1)
    """Longest task; a workspace's own `limits.task_max_chars` may be stricter."""
    max_active_runs: int = Field(default=8, ge=1)
    """Runs of one tenant queued, running or waiting for approval at once."""
    run_timeout_s: float = Field(default=900.0, gt=0)
    """Wall-clock time a run may take on a worker before it is stopped and marked failed."""
    session_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, le=365 * 24 * 3600)
    """How long an idle session lives (each run or read slides it)."""
    web_secret: SecretStr | None = None
    """Signs the web page's login cookies and CSRF tokens; unset, a random one is kept in
    `$MOOT_HOME/web-secret` (API processes sharing a fleet must share it: set it, or the home)."""
    web_login_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)
    """How long a web login lasts before the key must be given again."""

    @field_validator("workspaces", mode="before")
    @classmethod
    def _search_path(cls, value: Any) -> Any:
        return tuple(p for p in value.split(os.pathsep) if p.strip()) if isinstance(value, str) else value


def env_var(name: str) -> str:
    """The variable of field `name` (`lease_s` -> `MOOT_LEASE_S`)."""
    if name not in Settings.model_fields:
        raise SettingsError(f"moot has no setting {name!r}; the settings are {', '.join(Settings.model_fields)}")
    return PREFIX + name.upper()


_last: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def settings() -> Settings:
    """The settings as the environment holds them now (see the module docstring)."""
    global _last
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k[:5].upper() == PREFIX))
    if _last is None or _last[0] != key:
        _last = (key, _checked({}))
    return _last[1]


def settings_from(environ: Mapping[str, str]) -> Settings:
    """The settings a process with environment `environ` would read (not this process's own)."""
    # every field is given (its default when `environ` lacks it), so nothing comes from os.environ
    fields = Settings.model_fields
    return _checked({name: environ.get(PREFIX + name.upper()) or _default(field) for name, field in fields.items()})


def _checked(given: dict[str, Any]) -> Settings:
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise SettingsError("; ".join(_problem(e) for e in exc.errors())) from None


def _default(field: FieldInfo) -> Any:
    return field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]


_EXPECTED = {"int_parsing": "an integer", "float_parsing": "a number", "bool_parsing": "1 or 0 (true or false)"}


def _problem(error: Any) -> str:
    """`$MOOT_X must be ..., not 'value'`: the variable, what it takes, and what it held."""
    name = str(error["loc"][0]) if error["loc"] else ""
    var = f"${PREFIX}{name.upper()}"
    expected = _EXPECTED.get(error["type"])
    if expected is None:
        expected = re.sub(r"^(Input|Value) should be ", "", error["msg"])
    return f"{var} must be {expected}, not {error['input']!r} (fix or unset it)"


def moot_home() -> Path:
    """`$MOOT_HOME`, else `~/.moot` (created only when something is written there)."""
    return (settings().home or Path.home() / ".moot").expanduser()


def otel_variables() -> dict[str, str]:
    """OpenTelemetry's own `OTEL_*` variables as this process has them (moot.telemetry and the
    stdio servers moot starts read them here: one module reads the environment)."""
    return {k: v for k, v in os.environ.items() if k.startswith("OTEL_")}


def otel_defaults(values: dict[str, str]) -> list[str]:
    """Set each `OTEL_*` variable of `values` that this process does not have (a workspace's
    `tracing:` block); the SDK, its exporter and the stdio servers moot starts then read them like
    any other. Returns the names set: the environment's own values win."""
    unset = [name for name in values if name.startswith("OTEL_") and not os.environ.get(name)]
    for name in unset:
        os.environ[name] = values[name]
    return unset


def otel_variable(name: str) -> str:
    """One of OpenTelemetry's variables ("" when unset): a single lookup, for hot paths."""
    return os.environ.get(name, "")


PROMETHEUS_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's own variable: the folder several processes add their metrics up in."""


def prometheus_multiproc_dir() -> str | None:
    return os.environ.get(PROMETHEUS_MULTIPROC) or None


def share_prometheus_metrics(folder: Path) -> None:
    """Have this process's children (uvicorn's workers) add up their metrics in `folder`."""
    os.environ[PROMETHEUS_MULTIPROC] = str(folder)


def setting_field(name: str) -> Any:
    """Field `name` of `Settings` (default, bounds, description) for a model holding the same value:
    `ServiceSettings.lease_s = setting_field("lease_s")`, so a default is written once. Typed Any,
    like pydantic's `Field`, so that it passes as the default of a field of any type."""
    return copy(Settings.model_fields[name])


def export(**values: object) -> None:
    """Put settings into this process's environment, where the processes it starts read them
    (`moot serve --workers N`: uvicorn's workers build their settings from it). None is skipped."""
    for name, value in values.items():
        if value is None or value == [] or value == ():
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, list | tuple):
            text = os.pathsep.join(str(v) for v in value)
        else:
            text = str(value)
        os.environ[env_var(name)] = text


# -- the README's table ---------------------------------------------------------------------------

README_BEGIN = "<!-- settings: begin (generated by `python -m moot.settings --readme README.md`) -->"
README_END = "<!-- settings: end -->"


def settings_table() -> str:
    """A Markdown table of every variable: name, default, meaning (from the fields' docstrings)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{env_var(name)}` | {_shown(_default(field))} | {meaning} |")
    return "\n".join(rows)


def _shown(default: Any) -> str:
    if default is None or default == ():
        return "unset"
    if isinstance(default, bool):
        return "`1`" if default else "`0`"
    return f"`{default}`"


def with_table(readme: str) -> str:
    """`readme` with the text between the settings markers replaced by `settings_table()`."""
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    if start < 0 or end < start:
        raise SettingsError(f"the README has no settings table: add the lines {README_BEGIN!r} and {README_END!r}")
    return f"{readme[: start + len(README_BEGIN)]}\n{settings_table()}\n{readme[end:]}"


def main(argv: list[str] | None = None) -> int:
    """`python -m moot.settings` prints the table; `--readme PATH` writes it into a README."""
    parser = argparse.ArgumentParser(prog="python -m moot.settings", description=main.__doc__)
    parser.add_argument("--readme", type=Path, default=None, help="rewrite the settings table of this file")
    args = parser.parse_args(argv)
    if args.readme is None:
        print(settings_table())
    else:
        args.readme.write_text(with_table(args.readme.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"{args.readme}: settings table written", file=sys.stderr)
    return 0


__all__ = ["Settings", "env_var", "export", "moot_home", "setting_field", "settings", "settings_from", "settings_table"]

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
