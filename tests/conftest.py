"""Shared fixtures: scripted models, a private MOOT_HOME, editable copies of the classic workspace.

Machinery tests (stages, policy, state, resume, repair, persistence, service plumbing) run on
`tests/data/workspaces/classic`, the debate shape the built-in demo had before issue 11, with
`classic_script.json`; tests of the built-in demo itself use `demo_script.json`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner

# fixtures: the LangGraph API tests (server, service, fast_embedder), the web page tests (web, web_keys, browser, page)
pytest_plugins = ["langgraphtools", "lgruntools", "webserver", "webtools"]

DATA = Path(__file__).parent / "data"
CLASSIC = DATA / "workspaces" / "classic"
CLASSIC_SCRIPT = DATA / "classic_script.json"


@pytest.fixture
def demo_script() -> dict[str, Any]:
    """A recorded script for the built-in demo workspace: every agent answers validly once."""
    return json.loads((DATA / "demo_script.json").read_text())


@pytest.fixture
def classic_script() -> dict[str, Any]:
    """A recorded script for the classic fixture workspace: every agent answers validly once
    (the booking agent twice: a search, then a booking)."""
    return json.loads(CLASSIC_SCRIPT.read_text())


@pytest.fixture(autouse=True)
def moot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own MOOT_HOME; no test may touch the user's ~/.moot."""
    home = tmp_path / "moot-home"
    monkeypatch.setenv("MOOT_HOME", str(home))
    monkeypatch.delenv("MOOT_MODEL", raising=False)
    return home


@pytest.fixture
def workspace_copy(tmp_path: Path) -> Path:
    """An editable copy of the classic fixture workspace."""
    target = tmp_path / "ws"
    shutil.copytree(CLASSIC, target)
    return target


def scripted_runtime(script: Any, workspace: str | Path | None = None, **model_kwargs: Any) -> tuple[WorkspaceRunner, ScriptedChatModel]:
    """A runtime of `workspace` (default: the classic fixture) whose every model is one scripted model."""
    model = ScriptedChatModel(script=script, **model_kwargs)
    return WorkspaceRunner.load(CLASSIC if workspace is None else workspace, models={"default": model}), model
