"""Accessibility of every page of the web page, at desktop and phone widths.

axe-core (WCAG 2.x A and AA rules, and its best practices) runs in Chromium on each page: a
`serious` or `critical` violation fails. The keyboard: Tab reaches every control of the page
(links, buttons, inputs, selects, textareas, summaries, scrollable regions), and the focused one
shows a visible focus indicator. Each check runs on the page as it loads, and again with every
`<details>` open (the approval card's edit form, a workspace's files). Both in the light and in the dark colour scheme (the style sheet
has both, and contrast is checked in each).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page
from webtools import (
    PAGES,
    SIZES,
    WebServer,
    assert_accessible,
    assert_keyboard_usable,
    close_page,
    new_page,
    open_details,
)


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
    open_details(sized_page)  # and what unfolds (the approval card's edit form, workspace files)
    assert_accessible(sized_page)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_control_is_reachable_with_tab_and_shows_focus(seeded_web: tuple[WebServer, dict[str, str]], sized_page: Page, name: str) -> None:
    server, runs = seeded_web
    _open(sized_page, server, PAGES[name], runs)
    assert_keyboard_usable(sized_page)
    sized_page.reload()
    open_details(sized_page)
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


def test_the_error_pages(seeded_web: tuple[WebServer, dict[str, str]], browser: Browser) -> None:
    """The not-found page (an unknown run) and the refusal (a request from another machine in
    open mode, as a proxy on this one would forward it), at both sizes."""
    server, _ = seeded_web
    for size in SIZES:
        for path, headers, status in (
            ("/ui/runs/run-000000000000", {}, 404),
            ("/", {"X-Forwarded-For": "203.0.113.9"}, 403),
        ):
            page = new_page(browser, size, extra_http_headers=headers)
            try:
                response = page.goto(server.url + path)
                assert response is not None and response.status == status, (path, response and response.status)
                assert_accessible(page)
                assert_keyboard_usable(page)
            finally:
                close_page(page)
