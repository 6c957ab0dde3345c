"""The runs page (`/`): the list and its filters, the live status JSON, and starting a run.

HTML-level, with httpx against the app served in the test's loop (scripted model): every refusal
(an empty or too long task, an unknown workspace or session, a bad user id, too many active runs,
no CSRF token) comes back inline on the page with what was typed kept.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

import pytest
from servicetools import wait_status
from webclient import TASK, Browser, alerts, page_app

from moot.service.settings import Limits


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")


async def _start(b: Browser, **form: str) -> str:
    """Start a run from the form; its id (the 303 goes to its page)."""
    await b.page("/")
    resp = await b.send_form("/ui/runs", {"workspace": "demo", "task": TASK, "session": "new", "user_id": "ana", **form})
    assert resp.status_code == 303, (resp.status_code, alerts(resp.text))
    location = resp.headers["location"]
    assert location.startswith("/ui/runs/run-")
    return location.rsplit("/", 1)[1]


async def test_start_from_the_form_then_list_filter_and_poll(tmp_path: Path) -> None:
    async with page_app(tmp_path) as (url, _), Browser(base_url=url, timeout=30) as b:
        empty = await b.page("/")
        assert empty.status_code == 200 and "No runs yet." in empty.text
        assert '<option value="gated"' in empty.text and '<label for="start-task">' in empty.text

        first = await _start(b)
        assert (await wait_status(b, first, {"finished", "failed"}))["status"] == "finished"
        second = await _start(b, workspace="gated", user_id="bo", task="A weekend in Porto from Lisbon")
        assert (await wait_status(b, second, {"awaiting_approval"}))["status"] == "awaiting_approval"

        listed = await b.page("/")
        assert first in listed.text and second in listed.text
        assert f'data-live="{second}"' in listed.text and f'data-live="{first}"' not in listed.text  # only runs still going are polled
        assert f'href="/ui/runs/{first}"' in listed.text

        for query, shown, hidden in (
            ({"workspace": "gated"}, second, first),
            ({"status": "finished"}, first, second),
            ({"user": "ana"}, first, second),
        ):
            page = await b.page("/", params=query)
            assert shown in page.text and hidden not in page.text, query
        assert "match these filters" in (await b.page("/", params={"user": "nobody"})).text
        assert (await b.page("/", params={"status": "bogus"})).status_code == 200  # an unknown status is no filter

        # a run in the existing session of `bo`
        sessions = (await b.get("/v1/sessions", params={"user_id": "bo"})).json()["sessions"]
        await b.post(f"/v1/runs/{second}/approval", json={"action": "approve"})
        await wait_status(b, second, {"finished"})
        assert f'<option value="{sessions[0]["session_id"]}"' in (await b.page("/")).text
        third = await _start(b, session=sessions[0]["session_id"], task="And Porto again?")
        assert (await b.get(f"/v1/runs/{third}")).json()["session_id"] == sessions[0]["session_id"]

        status = await b.get("/ui/runs/status", params={"ids": f"{first},{third},run-unknown,{'x' * 200}"})
        assert status.status_code == 200 and status.headers["cache-control"] == "no-store"
        runs = status.json()["runs"]
        assert runs[first] == "finished" and set(runs) == {first, third}


async def test_refusals_are_inline_and_keep_the_form(tmp_path: Path) -> None:
    limits = Limits(max_task_chars=200)
    async with page_app(tmp_path, limits=limits) as (url, _), Browser(base_url=url, timeout=30) as b:
        await b.page("/")
        cases = [
            ({"task": "x" * 201}, 422, "200"),
            ({"task": "   "}, 422, "task is empty"),
            ({"workspace": "nowhere"}, 404, "no workspace 'nowhere'"),
            ({"user_id": "no spaces allowed"}, 422, "user id"),
            ({"session": "session-0123456789abcdef0123456789abcdef"}, 404, "session has ended or is not yours"),
            ({"session": "not-even-an-id"}, 404, "session has ended or is not yours"),
        ]
        for change, status, message in cases:
            form = {"workspace": "demo", "task": "Keep this <b>text</b> please", "session": "new", "user_id": "ana", **change}
            resp = await b.send_form("/ui/runs", form)
            assert resp.status_code == status, (change, resp.status_code)
            shown = alerts(resp.text)
            assert shown and message in html.unescape(shown[0]), (change, shown)
            assert form["task"] in html.unescape(resp.text)  # what was typed stays (escaped in the page)
            assert f'value="{html.escape(form["user_id"])}"' in resp.text
        assert (await b.get("/v1/sessions")).json()["sessions"] == []  # a refused first run leaves no session behind
        assert (await b.get("/v1/runs")).json()["runs"] == []

        forged = await b.post("/ui/runs", data={"workspace": "demo", "task": TASK, "session": "new", "user_id": "ana"})
        assert forged.status_code == 403 and "expired" in forged.text
        foreign = await b.post("/ui/runs", data={"csrf": b.csrf, "workspace": "demo", "task": TASK}, headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403


async def test_too_many_active_runs_is_refused_inline(tmp_path: Path) -> None:
    async with page_app(tmp_path, latency=0.2, limits=Limits(max_active_runs=1)) as (url, _), Browser(base_url=url, timeout=30) as b:
        run = await _start(b)
        resp = await b.send_form("/ui/runs", {"workspace": "demo", "task": "A second one", "session": "new", "user_id": "ana"})
        assert resp.status_code == 429
        assert "runs queued, running or waiting" in alerts(resp.text)[0] and "A second one" in resp.text
        await b.post(f"/v1/runs/{run}/cancel")
        await wait_status(b, run, {"cancelled", "finished", "failed"})
        await asyncio.sleep(0)


def test_moot_ui_serves_the_page_and_opens_the_browser(tmp_path: Path) -> None:
    """`moot ui` starts the embedded service on loopback and opens the page ($BROWSER is a
    script here that writes down the address it is given); `--no-browser` only prints it."""
    import os
    import subprocess
    import sys
    import time

    import httpx
    from servicetools import free_port, moot_process, processes, wait_http
    from webclient import page_workspaces

    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    port = free_port()
    env = {**os.environ, "MOOT_HOME": str(tmp_path / "home"), "MOOT_EMBEDDER": "wordllama", "BROWSER": str(browser)}
    for name in ("MOOT_DATABASE_URL", "MOOT_REDIS_URL", "MOOT_QUEUE", "MOOT_MODEL"):
        env.pop(name, None)
    spaces = page_workspaces(tmp_path / "spaces")
    proc = moot_process(["ui", "--port", str(port), "-W", str(spaces)], env, tmp_path / "ui.log")
    with processes(proc):
        url = f"http://127.0.0.1:{port}"
        wait_http(url)
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "Start a run" in page.text
        deadline = time.monotonic() + 20
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text().strip() == url + "/"
    assert f"the page is at {url}/" in (tmp_path / "ui.log").read_text()
    quiet = subprocess.run([sys.executable, "-m", "moot.cli.main", "ui", "--help"], check=False, capture_output=True, text=True, env=env)
    assert "--no-browser" in quiet.stdout
