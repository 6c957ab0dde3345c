"""Fixtures for the LangGraph run and stream tests (helper "runs"): the classic workspace (and a copy whose booking stage asks
for approval) served over real HTTP, driven by the official `langgraph_sdk` client."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from servicetools import serving

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.settings import ServiceSettings

CLASSIC = Path(__file__).parent / "data" / "workspaces" / "classic"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def workspaces(root: Path) -> Path:
    """`classic` and `gated` (classic whose booking stage asks for approval) under `root`."""
    shutil.copytree(CLASSIC, root / "classic")
    gated = root / "gated"
    shutil.copytree(CLASSIC, gated)
    (gated / "moot.yaml").write_text((gated / "moot.yaml").read_text().replace("name: classic", "name: gated", 1))
    stages = gated / "stages.yaml"
    stages.write_text(stages.read_text().replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    return root


@asynccontextmanager
async def langgraph_service(
    script: Any, root: Path, *, latency: float = 0.0, **options: Any
) -> AsyncIterator[tuple[LangGraphClient, httpx.AsyncClient]]:
    """The app (inline queue, embedded backends unless `options` say otherwise) on loopback;
    yields the SDK client and a raw HTTP client of the same server."""
    settings = ServiceSettings(workspaces=[str(workspaces(root))], **options)
    app = create_app(settings, models={"default": ScriptedChatModel(script=script, latency=latency)})
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield get_client(url=url, timeout=30), http


async def new_thread(http: httpx.AsyncClient, graph: str = "classic") -> str:
    """A thread of `graph`, made through /v1 (the threads routes are another module's)."""
    resp = await http.post("/v1/sessions", json={"workspace": graph})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["session_id"])


async def collect(stream: AsyncIterator[Any]) -> list[tuple[str, Any, str | None]]:
    """(event, data, id) of every part of an SDK stream."""
    return [(part.event, part.data, part.id) async for part in stream]


Service = tuple[LangGraphClient, httpx.AsyncClient]
"""The LangGraph client and a raw client of one served app."""


@pytest.fixture
async def service(classic_script: Any, tmp_path: Path) -> AsyncIterator[Service]:
    """`classic` and `gated` served with the classic script (see `langgraph_service`)."""
    async with langgraph_service(classic_script, tmp_path / "spaces") as both:
        yield both
