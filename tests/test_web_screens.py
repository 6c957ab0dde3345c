"""Screenshots of each page of the web page at desktop (1280x800) and phone (390x844) widths.

They land under the test run's artifacts (`$MOOT_TEST_ARTIFACTS`, else `test-artifacts/web/`)
for a person, or CI, to look at; the test checks that each page renders with its heading and
without a script error, and that nothing is wider than the phone's screen.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from webtools import WebServer, screenshot

PAGES = {
    "runs": "/",
    "run-finished": "/ui/runs/{finished}",
    "run-waiting": "/ui/runs/{waiting}",
}
"""Page name -> path; `{finished}` and `{waiting}` stand for the seeded runs' ids."""


@pytest.mark.parametrize("name", sorted(PAGES))
def test_screenshot_of_each_page(seeded_web: tuple[WebServer, dict[str, str]], sized_page: Page, name: str) -> None:
    server, runs = seeded_web
    response = sized_page.goto(server.url + PAGES[name].format(**runs))
    assert response is not None and response.status == 200, (name, response and response.status)
    sized_page.wait_for_load_state("networkidle")
    assert sized_page.locator("h1").first.is_visible()
    path = screenshot(sized_page, name)
    assert path.stat().st_size > 1000
    overflow = sized_page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than the {sized_page.viewport_size} screen"
