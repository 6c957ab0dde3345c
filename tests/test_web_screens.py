"""Screenshots of each page of the web page at desktop (1280x800) and phone (390x844) widths.

They land under the test run's artifacts (`$MOOT_TEST_ARTIFACTS`, else `test-artifacts/web/`)
for a person, or CI, to look at; the test checks that each page renders with its heading and
without a script error, and that nothing is wider than the phone's screen.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from webtools import PAGES, TENANTS, WebFactory, WebServer, login, open_page, screenshot


@pytest.mark.parametrize("name", sorted(PAGES))
def test_screenshot_of_each_page(seeded_web: tuple[WebServer, dict[str, str]], sized_page: Page, name: str) -> None:
    server, runs = seeded_web
    open_page(sized_page, server.url + PAGES[name].format(**runs))
    path = screenshot(sized_page, name)
    assert path.stat().st_size > 1000
    overflow = sized_page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than the {sized_page.viewport_size} screen"


@pytest.fixture(scope="module")
def keyed(web_module_factory: WebFactory) -> WebServer:
    return web_module_factory(keys=TENANTS, latency=0.02)


def test_screenshot_of_the_login_page_and_its_error(keyed: WebServer, sized_page: Page) -> None:
    sized_page.goto(keyed.url + "/")
    screenshot(sized_page, "login")
    sized_page.get_by_label("API key").fill("not-a-key")
    sized_page.get_by_role("button", name="Log in").click()
    sized_page.get_by_role("alert").wait_for()
    screenshot(sized_page, "login-error")
    login(sized_page, keyed, "a")
    screenshot(sized_page, "runs-signed-in")


def test_screenshot_of_the_not_found_page(seeded_web: tuple[WebServer, dict[str, str]], sized_page: Page) -> None:
    server, _ = seeded_web
    response = sized_page.goto(server.url + "/ui/runs/run-000000000000")
    assert response is not None and response.status == 404
    screenshot(sized_page, "not-found")
