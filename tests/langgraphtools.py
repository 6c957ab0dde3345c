"""A moot server for LangGraph's own clients: two tenants' API keys, the demo and a gated copy.

Embedded backends (SQLite, in-process sessions and event log, the inline queue) and the scripted
demo model: the LangGraph face is the point here, not the fleet. Shared by tests/test_langgraph_*.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from servicetools import serving, wait_status

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.workspace.loader import builtin_path

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
GATED = "gated_lg"


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    """API key of tenant "a" and of tenant "b"."""

    def http(self, tenant: str = "a") -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, headers={"X-API-Key": self.keys[tenant]})


def workspaces(folder: Path) -> Path:
    """A folder with a copy of the demo named `gated_lg` whose booking stage asks for approval."""
    gated = folder / GATED
    shutil.copytree(builtin_path("demo"), gated)
    manifest = gated / "moot.yaml"
    manifest.write_text(manifest.read_text().replace("name: demo", f"name: {GATED}", 1))
    stages = gated / "stages.yaml"
    stages.write_text(stages.read_text().replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    return folder


@asynccontextmanager
async def langgraph_server(tmp_path: Path, kind: str = "local") -> AsyncIterator[Server]:
    """`local`: SQLite and in-process state; `fleet`: Redis sessions and a PostgreSQL checkpointer
    (a schema of its own, dropped afterwards, as in test_service_tenancy), still the inline queue."""
    from test_service_tenancy import backend

    script = json.loads((DATA / "demo_script.json").read_text())
    async with backend(kind, workspaces(tmp_path / "workspaces"), ("a", "b")) as b:
        app = create_app(b.settings, models={"default": ScriptedChatModel(script=script)})
        async with serving(app) as url:
            yield Server(url, b.keys)


async def v1_run(http: httpx.AsyncClient, workspace: str = "demo", user: str = "ana", until: set[str] | None = None) -> tuple[str, dict[str, Any]]:
    """A /v1 session with one run, waited for until `until` (default: finished); (session id, run)."""
    resp = await http.post("/v1/sessions", json={"user_id": user, "workspace": workspace})
    assert resp.status_code == 201, resp.text
    sid = str(resp.json()["session_id"])
    resp = await http.post(f"/v1/sessions/{sid}/runs", json={"task": TASK})
    assert resp.status_code == 202, resp.text
    run = await wait_status(http, resp.json()["run_id"], until or {"finished"})
    return sid, run


@pytest.fixture
def fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """LangGraph API tests remember on the fast embedder (`pytestmark = pytest.mark.usefixtures("fast_embedder")`)."""
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """The app on loopback, open mode and keys (see `langgraph_server`)."""
    async with langgraph_server(tmp_path) as s:
        yield s
