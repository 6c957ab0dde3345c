"""moot.settings: every `MOOT_*` variable in one place, read when asked, documented from itself."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

import moot
from moot.errors import SettingsError, UsageError
from moot.service.settings import Limits, ServiceSettings
from moot.settings import (
    README_BEGIN,
    README_END,
    Settings,
    env_var,
    export,
    moot_home,
    settings,
    settings_from,
    settings_table,
    with_table,
)

SRC = Path(moot.__file__).parent
README = SRC.parents[1] / "README.md"


def test_the_readme_table_is_the_module() -> None:
    text = README.read_text(encoding="utf-8")
    assert README_BEGIN in text and README_END in text
    assert with_table(text) == text, "the README's settings table is stale: run `python -m moot.settings --readme README.md`"
    assert all(f"| `{env_var(name)}` |" in text for name in Settings.model_fields)


def test_every_moot_variable_moot_mentions_is_a_setting() -> None:
    mentioned = set()
    for path in SRC.rglob("*.py"):
        mentioned |= set(re.findall(r"\bMOOT_[A-Z][A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
    declared = {env_var(name) for name in Settings.model_fields}
    assert mentioned - declared == set(), "a MOOT_* variable is used but not declared in moot.settings"


def test_only_the_settings_module_reads_the_environment() -> None:
    """models/providers.py reads the providers' own variables, by the names a workspace gives."""
    readers = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                readers.add(str(path.relative_to(SRC)))
    assert readers == {"settings.py", "models/providers.py"}


def test_settings_are_read_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOOT_HOME", str(tmp_path / "one"))
    first = settings()
    assert moot_home() == tmp_path / "one" and settings() is first  # unchanged: the same object
    monkeypatch.setenv("MOOT_HOME", str(tmp_path / "two"))
    assert moot_home() == tmp_path / "two"
    monkeypatch.delenv("MOOT_HOME")
    assert moot_home() == Path.home() / ".moot"


def test_values_are_typed_and_empty_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_WORKSPACES", f"/a{os.pathsep}/b{os.pathsep}")
    monkeypatch.setenv("MOOT_LEASE_S", "2")
    monkeypatch.setenv("MOOT_RELOAD", "1")
    monkeypatch.setenv("MOOT_DATABASE_URL", "")
    got = settings()
    assert (got.workspaces, got.lease_s, got.reload, got.database_url) == (("/a", "/b"), 2.0, True, None)


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("MOOT_DATABASE_POOL_SIZE", "many", "$MOOT_DATABASE_POOL_SIZE must be an integer, not 'many'"),
        ("MOOT_LEASE_S", "soon", "$MOOT_LEASE_S must be a number, not 'soon'"),
        ("MOOT_QUEUE", "celery", "$MOOT_QUEUE must be 'inline' or 'arq', not 'celery'"),
        ("MOOT_MAX_BODY_BYTES", "10", "$MOOT_MAX_BODY_BYTES must be greater than or equal to 1024, not '10'"),
    ],
)
def test_a_bad_value_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch, var: str, value: str, says: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=re.escape(says)) as refused:
        settings()
    assert isinstance(refused.value, UsageError)


def test_settings_from_a_mapping_ignore_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_BASE_URL", "http://elsewhere/v1")
    assert settings_from({}).base_url is None
    assert settings_from({"MOOT_TIMEOUT": "30"}).timeout == "30"


def test_export_writes_what_a_child_process_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MOOT_REDIS_URL", "MOOT_WORKSPACES", "MOOT_RELOAD", "MOOT_QUEUE"):
        monkeypatch.setenv(var, "")  # recorded, so that what export() writes is undone after the test
        monkeypatch.delenv(var)
    export(redis_url="redis://r:6379/0", workspaces=["/a", "/b"], reload=True, queue=None)
    got = settings()
    assert (got.redis_url, got.workspaces, got.reload, got.queue) == ("redis://r:6379/0", ("/a", "/b"), True, None)
    with pytest.raises(SettingsError, match="no setting 'redis'"):
        export(redis="x")


def test_the_service_reads_through_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_REDIS_URL", "redis://r:6379/0")
    monkeypatch.setenv("MOOT_MAX_ACTIVE_RUNS", "3")
    monkeypatch.setenv("MOOT_MODEL", "scripted:schema")
    service = ServiceSettings.from_env(lease_s=None, key_prefix="t:")
    assert (service.queue, service.limits.max_active_runs, service.model_override, service.key_prefix) == (
        "arq", 3, "scripted:schema", "t:",
    )  # fmt: skip
    # a limit's default and bounds are written once, in moot.settings
    assert Limits().max_body_bytes == Settings.model_fields["max_body_bytes"].default
    with pytest.raises(ValueError, match="greater than or equal to 1024"):
        Limits(max_body_bytes=10)


def test_the_table_lists_defaults() -> None:
    table = settings_table()
    assert "| `MOOT_QUEUE_NAME` | `moot:runs` |" in table and "| `MOOT_HOME` | unset |" in table
