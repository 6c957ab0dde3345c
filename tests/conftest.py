"""Shared fixtures: scripted models, a private MOOT_HOME, editable copies of the demo workspace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from moot.models.scripted import ScriptedChatModel
from moot.runtime import Runtime
from moot.workspace.loader import builtin_path

DATA = Path(__file__).parent / "data"


@pytest.fixture
def demo_script() -> dict[str, Any]:
    """A recorded script for the demo workspace: every agent answers validly once."""
    return json.loads((DATA / "demo_script.json").read_text())


@pytest.fixture(autouse=True)
def moot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own MOOT_HOME; no test may touch the user's ~/.moot."""
    home = tmp_path / "moot-home"
    monkeypatch.setenv("MOOT_HOME", str(home))
    monkeypatch.delenv("MOOT_MODEL", raising=False)
    return home


@pytest.fixture
def workspace_copy(tmp_path: Path) -> Path:
    """An editable copy of the built-in demo workspace."""
    target = tmp_path / "ws"
    shutil.copytree(builtin_path("demo"), target)
    return target


def scripted_runtime(script: Any, workspace: str | Path | None = None, **model_kwargs: Any) -> tuple[Runtime, ScriptedChatModel]:
    """A runtime of `workspace` (default: demo) whose every model is one scripted model."""
    model = ScriptedChatModel(script=script, **model_kwargs)
    return Runtime.load(workspace, models={"default": model}), model
