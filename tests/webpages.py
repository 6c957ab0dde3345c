"""Test tools for the page's httpx-level tests: a server with two tenants, a signed-in browser-like client.

The server is `langgraphtools.langgraph_server` (embedded backends, scripted demo model, API keys
for tenants "a" and "b"): the page's pages are served by the same app as `/v1` and the LangGraph
API, so a test makes its runs through the API and looks at them through the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from langgraphtools import DATA, TASK, Server, workspaces
from servicetools import serving

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app


@dataclass
class PageServer(Server):
    """The server and its app (tests reach its ServiceContext: `app.state.ctx`) and workspace folder."""

    app: Any = None
    folder: Path | None = None


@asynccontextmanager
async def page_server(tmp_path: Path, **options: Any) -> AsyncIterator[PageServer]:
    """As `langgraphtools.langgraph_server("local")`, keeping the app and the workspaces folder;
    `options` change the service settings (e.g. `reload=True`)."""
    from test_service_tenancy import backend

    script = json.loads((DATA / "demo_script.json").read_text())
    folder = workspaces(tmp_path / "workspaces")
    async with backend("local", folder, ("a", "b")) as b:
        app = create_app(b.settings.model_copy(update=options), models={"default": ScriptedChatModel(script=script)})
        async with serving(app) as url:
            yield PageServer(url, b.keys, app, folder)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@asynccontextmanager
async def signed_in(server: Server, tenant: str = "a") -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client logged in to the page with the tenant's API key (no API key header)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as page:
        form = await page.get("/ui/login")
        resp = await page.post("/ui/login", data={"csrf": csrf_of(form.text), "key": server.keys[tenant], "next": "/"})
        assert resp.status_code == 303, resp.text
        yield page


async def post_form(page: httpx.AsyncClient, address: str, data: dict[str, str], *, from_page: str) -> httpx.Response:
    """POST a form as a browser would: with the CSRF token of the page the form is on."""
    token = csrf_of((await page.get(from_page)).text)
    return await page.post(address, data={"csrf": token, **data})


async def langgraph_run(api: httpx.AsyncClient, user: str = "ana", workspace: str = "demo") -> tuple[str, dict[str, Any]]:
    """A /v1 session whose one run went through the LangGraph API (so every checkpoint is kept);
    (session id, the run's record from /v1)."""
    resp = await api.post("/v1/sessions", json={"user_id": user, "workspace": workspace})
    assert resp.status_code == 201, resp.text
    sid = str(resp.json()["session_id"])
    resp = await api.post(f"/threads/{sid}/runs/wait", json={"assistant_id": workspace, "input": {"task": TASK}})
    assert resp.status_code == 200, resp.text
    runs = (await api.get("/v1/runs", params={"session_id": sid})).json()["runs"]
    return sid, runs[0]


__all__ = ["PageServer", "csrf_of", "langgraph_run", "page_server", "post_form", "signed_in"]
