"""Accessibility of every page of the web page, at desktop and phone widths.

axe-core (WCAG 2.x A and AA rules, and its best practices) runs in Chromium on each page: a
`serious` or `critical` violation fails. The keyboard: Tab reaches every control of the page
(links, buttons, inputs, selects, textareas, summaries, scrollable regions), and the focused one
shows a visible focus indicator. Both in the light and in the dark colour scheme (the style sheet
has both, and contrast is checked in each).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from webtools import WebServer, assert_accessible, assert_keyboard_usable

PAGES = {
    "runs": "/",
    "run-finished": "/ui/runs/{finished}",
    "run-waiting": "/ui/runs/{waiting}",
}
"""Page name -> path; `{finished}` and `{waiting}` stand for the seeded runs' ids (see `seeded_web`)."""


def _open(page: Page, server: WebServer, path: str, runs: dict[str, str]) -> None:
    response = page.goto(server.url + path.format(**runs))
    assert response is not None and response.status < 400, (path, response and response.status)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_no_serious_axe_violation(seeded_web: tuple[WebServer, dict[str, str]], sized_page: Page, name: str, scheme: str) -> None:
    server, runs = seeded_web
    sized_page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    _open(sized_page, server, PAGES[name], runs)
    assert_accessible(sized_page)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_control_is_reachable_with_tab_and_shows_focus(seeded_web: tuple[WebServer, dict[str, str]], sized_page: Page, name: str) -> None:
    server, runs = seeded_web
    _open(sized_page, server, PAGES[name], runs)
    assert_keyboard_usable(sized_page)


def test_login_page_with_and_without_an_error(web_keys: WebServer, sized_page: Page) -> None:
    """The login page exists only on a server with keys: as it first shows, then with its error."""
    _open(sized_page, web_keys, "/", {})
    assert "/ui/login" in sized_page.url
    assert_accessible(sized_page)
    assert_keyboard_usable(sized_page)
    sized_page.get_by_label("API key").fill("not-a-key")
    sized_page.get_by_role("button", name="Log in").click()
    sized_page.get_by_role("alert").wait_for()
    for scheme in ("light", "dark"):
        sized_page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        assert_accessible(sized_page)
    assert_keyboard_usable(sized_page)
