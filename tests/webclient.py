"""The web page's HTML-level test tools: the app in the test's loop on loopback, read with httpx.

`page_app(tmp_path, ...)` serves `create_app` on uvicorn (servicetools.serving) over a folder with
the demo (`demo`), a copy whose booking stage asks for approval (`gated`), and one of those whose
policy forbids a human to write the decision (`strict`), all on the scripted model. `Browser`
is an httpx client that keeps the login cookie and reads the CSRF token off each page it gets,
as a browser would send it back (webpages' `post_form` fetches the form's page again instead).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from servicetools import serving
from webpages import CSRF

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.settings import ServiceSettings
from moot.workspace.loader import builtin_path

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
ALERT = re.compile(r'<p class="error" role="alert"[^>]*>([^<]*)</p>')


def page_workspaces(folder: Path) -> Path:
    """`demo`, `gated` (approval before booking) and `strict` (gated; a human may not edit the decision)."""
    shutil.copytree(builtin_path("demo"), folder / "demo")
    for name in ("gated", "strict"):
        target = folder / name
        shutil.copytree(builtin_path("demo"), target)
        (target / "moot.yaml").write_text((target / "moot.yaml").read_text().replace("name: demo", f"name: {name}", 1))
        stages = target / "stages.yaml"
        stages.write_text(stages.read_text().replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    (folder / "strict" / "policy.yaml").write_text(
        "on_violation: fail\nwriters:\n  rewards: [optimistic, critic, devils_advocate, measure]\n  decision: [synthesizer]\n"
    )
    return folder


class Browser(httpx.AsyncClient):
    """An httpx client that remembers the last CSRF token a page of the server showed it."""

    csrf: str = ""

    async def page(self, path: str, **options: Any) -> httpx.Response:
        resp = await self.get(path, **options)
        self.remember(resp)
        return resp

    def remember(self, resp: httpx.Response) -> None:
        found = CSRF.search(resp.text)
        if found:
            self.csrf = found.group(1)

    async def send_form(self, path: str, data: dict[str, str]) -> httpx.Response:
        resp = await self.post(path, data={"csrf": self.csrf, **data})
        self.remember(resp)
        return resp


@asynccontextmanager
async def page_app(
    tmp_path: Path, *, latency: float = 0.0, reuse: bool = False, fleet: bool = False, **settings: Any
) -> AsyncIterator[tuple[str, ServiceSettings]]:
    """The app served on 127.0.0.1 for the block: (its base URL, its settings). `reuse`: the
    workspaces an earlier `page_app` of `tmp_path` made (a restart of that server); `fleet`: state
    in Redis and PostgreSQL (a schema and a key prefix of its own, removed after), no API key."""
    from test_service_tenancy import backend

    spaces = tmp_path / "spaces" if reuse else page_workspaces(tmp_path / "spaces")
    script = json.loads((DATA / "demo_script.json").read_text())
    async with backend("fleet" if fleet else "local", spaces, ()) as state:
        service = state.settings.model_copy(update=settings)
        app = create_app(service, models={"default": ScriptedChatModel(script=script, latency=latency)})
        async with serving(app) as url:
            yield url, service


def alerts(html: str) -> list[str]:
    """The inline error messages of a page."""
    return [m.strip() for m in ALERT.findall(html)]


def sse(text: str) -> list[dict[str, Any]]:
    """The messages of an event-stream body: each `{"id", "event", "data"}` (data parsed)."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            out.append(fields)
    return out


__all__ = ["ALERT", "TASK", "Browser", "alerts", "page_app", "page_workspaces", "sse"]
