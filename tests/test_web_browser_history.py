"""Time travel, sessions and memory, and workspaces in Chromium, against a real `moot serve`.

Forking from a checkpoint in the browser (inspect the state at a checkpoint, press Fork, land on
the new run's page; the new run finishes and the thread's old checkpoints stay); and the states of
these pages that `webtools.PAGES` (the a11y and screenshot tests) does not reach: the state tree
at a checkpoint, a memory search's results, a diff between two versions; each at desktop and
phone widths: a screenshot under the test artifacts, no serious axe violation (light and dark),
every control reachable with Tab and showing its focus.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from webtools import (
    TASK,
    WORKSPACE,
    open_page,
    WebFactory,
    WebServer,
    assert_accessible,
    assert_keyboard_usable,
    screenshot,
)


def _langgraph_run(server: WebServer, user: str = "ana") -> tuple[str, str, list[dict[str, Any]]]:
    """A /v1 session with one run made through the LangGraph API (every checkpoint kept):
    (session id, run id, the thread's history)."""
    with server.http() as api:
        sid = api.post("/v1/sessions", json={"user_id": user, "workspace": WORKSPACE}).json()["session_id"]
        done = api.post(f"/threads/{sid}/runs/wait", json={"assistant_id": WORKSPACE, "input": {"task": TASK}}, timeout=120)
        assert done.status_code == 200, done.text
        run_id = api.get("/v1/runs", params={"session_id": sid}).json()["runs"][0]["run_id"]
        history = api.get(f"/threads/{sid}/history", params={"limit": 1000}).json()
    return sid, run_id, history


@pytest.fixture(scope="module")
def inspected(web_module_factory: WebFactory) -> tuple[WebServer, dict[str, str]]:
    """A server with a run whose checkpoints are all kept, and a workspace edited once (two versions)."""
    server = web_module_factory(latency=0.02, env={"MOOT_RELOAD": "1"})
    sid, run_id, history = _langgraph_run(server)
    middle = next(s for s in history if s["values"].get("stage") == "synthesis" and s["next"])
    with server.http() as api:  # load the workspace, edit it, wait for the reload's new version
        old = api.get(f"/v1/workspaces/{WORKSPACE}").json()["version"]
        manifest = server.home.parent / "spaces" / WORKSPACE / "moot.yaml"
        manifest.write_text(manifest.read_text().replace("description:", "description: (edited)", 1))
        deadline = time.monotonic() + 30
        while (new := api.get(f"/v1/workspaces/{WORKSPACE}").json()["version"]) == old:
            assert time.monotonic() < deadline, "the edit was not reloaded"
            time.sleep(0.1)
    return server, {"session": sid, "run": run_id, "checkpoint": middle["checkpoint_id"], "old": old[:12], "new": new[:12]}


PAGES = {
    "history-state": "/ui/runs/{run}/history?checkpoint={checkpoint}#state",
    "memory-search": "/ui/users/ana/memory?q=Lisbon+hotel&budget=300#results",
    "workspace-diff": f"/ui/workspaces/{WORKSPACE}?from={{old}}&to={{new}}#diff",
}


def test_fork_from_a_checkpoint_in_the_browser_lands_on_the_new_run(inspected: tuple[WebServer, dict[str, str]], page: Page) -> None:
    server, ids = inspected
    with server.http() as api:
        before = api.get(f"/threads/{ids['session']}/history", params={"limit": 1000}).json()
    page.goto(f"{server.url}/ui/runs/{ids['run']}/history")
    page.get_by_role("link", name=re.compile(re.escape(ids["checkpoint"]))).click()
    state = page.locator("#state")
    expect(state).to_be_visible()
    expect(state.locator('[data-key="history"] > summary')).to_contain_text("BinaryOperatorAggregate")
    expect(state.locator('[data-key="stage"] > summary')).to_contain_text("orchestrator")
    screenshot(page, "history-fork-before")
    page.get_by_role("button", name="Fork a new run from this checkpoint").click()
    page.wait_for_url(re.compile(r"/ui/runs/run-[0-9a-f]+$"))
    new_run = page.url.rsplit("/", 1)[-1]
    assert new_run != ids["run"]
    assert server.wait_status(new_run)["status"] == "finished"
    with server.http() as api:
        after = {s["checkpoint_id"]: s["values"] for s in api.get(f"/threads/{ids['session']}/history", params={"limit": 1000}).json()}
    assert all(after.get(s["checkpoint_id"]) == s["values"] for s in before), "the thread's checkpoints are untouched"
    page.goto(f"{server.url}/ui/runs/{new_run}/history")
    expect(page.locator(".point.mine").first).to_be_visible()


def test_a_stale_checkpoint_in_the_browser_is_an_inline_message(inspected: tuple[WebServer, dict[str, str]], page: Page) -> None:
    server, ids = inspected
    page.goto(f"{server.url}/ui/runs/{ids['run']}/history?checkpoint=1f0-gone")
    expect(page.get_by_role("alert")).to_contain_text("1f0-gone")
    expect(page.locator(".timeline .point").first).to_be_visible()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_screenshot_axe_and_keyboard_of_each_page(inspected: tuple[WebServer, dict[str, str]], sized_page: Page, name: str) -> None:
    server, ids = inspected
    open_page(sized_page, server.url + PAGES[name].format(**ids))
    assert screenshot(sized_page, name).stat().st_size > 1000
    overflow = sized_page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than the {sized_page.viewport_size} screen"
    for scheme in ("light", "dark"):
        sized_page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        assert_accessible(sized_page)
    assert_keyboard_usable(sized_page)
