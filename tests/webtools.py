"""The web page's browser fixtures: Debian's Chromium through Playwright, screenshots, axe, the keyboard.

- **Servers** are in tests/webserver.py (fixtures `web`, `web_keys`, `web_factory`,
  `web_module_factory`, `seeded_web`; its names are re-exported here): a real `moot serve` on
  loopback that can be killed and restarted.
- **Browser.** Playwright's sync API, opened for each test module that uses it: tests that
  drive the browser are plain `def` functions (no `async def` test in such a module: Playwright's
  loop counts as running in the thread; `run_async` runs a coroutine in a thread of its own), on
  `/usr/bin/chromium` (installed by scripts/system-tools: Playwright's own browser download is
  not reachable), headless. `page` is 1280x800 (desktop), `phone_page`
  390x844, `sized_page` each in turn. An uncaught JavaScript error in a page fails the test.
  `login(page, server, tenant)` logs in with the tenant's key.
- **Artifacts.** `screenshot(page, name)` saves a full-page PNG under `$MOOT_TEST_ARTIFACTS` or
  `test-artifacts/web/` (git-ignored) for CI to keep.
- **Accessibility.** `axe(page)` runs axe-core (npm `axe-core`, installed by scripts/npm-tools;
  nothing from the network) in the page and returns its violations; `assert_accessible(page)`
  fails on a `serious` or `critical` one. `assert_keyboard_usable(page)`: Tab reaches every
  control, and the focus shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from webserver import (
    GATED,
    TASK,
    TENANTS,
    WORKSPACE,
    WebFactory,
    WebServer,
    run_async,
    web_workspaces,
)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("MOOT_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / ".npm-tools" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {
    "runs": "/",
    "run-finished": "/ui/runs/{finished}",
    "run-awaiting-approval": "/ui/runs/{waiting}",
    "history": "/ui/runs/{finished}/history",
    "sessions": "/ui/sessions",
    "session": "/ui/sessions/{session}",
    "memory": "/ui/users/ana/memory",
    "workspaces": "/ui/workspaces",
    "workspace": "/ui/workspaces/web_demo",
}
"""Every page of a signed-in viewer (the login page aside), name -> path; `{finished}`,
`{waiting}` and `{session}` stand for `seeded_web`'s ids (screenshots, axe, the speed bench)."""
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def artifacts() -> Path:
    """Where screenshots go: `$MOOT_TEST_ARTIFACTS`, else `test-artifacts/web/` in the repo."""
    folder = Path(os.environ.get("MOOT_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "web")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, for one test module: while it is open its event loop counts as
    running in this thread, which would break `async def` tests (pytest-asyncio) in later modules.
    So: tests that drive the browser are sync functions, and do async work with `run_async`."""
    with sync_playwright() as driver:
        yield driver


def launch(playwright: Playwright) -> Browser:
    """Headless Debian Chromium: `--no-sandbox` as root (where its sandbox cannot start), and
    shared memory in /tmp (a container's /dev/shm may be too small for it)."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: run scripts/system-tools (it installs Debian's chromium)")
    args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = launch(playwright)
    yield chromium
    chromium.close()


def new_page(browser: Browser, size: str = "desktop", **options: Any) -> Page:
    """A page in a fresh context (its own cookies) at `size` ("desktop" or "phone"); uncaught
    JavaScript errors are kept in `page.moot_errors`."""
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone", **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.moot_errors = errors  # type: ignore[attr-defined]
    page.moot_size = size  # type: ignore[attr-defined]
    return page


def close_page(page: Page) -> None:
    """Close the page's context; fail if a script of the page threw."""
    errors = list(page.moot_errors)  # type: ignore[attr-defined]
    page.context.close()
    assert not errors, f"uncaught JavaScript errors in the page: {errors}"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop-sized page (1280x800)."""
    p = new_page(browser, "desktop")
    yield p
    close_page(p)


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page (390x844, touch)."""
    p = new_page(browser, "phone")
    yield p
    close_page(p)


@pytest.fixture(params=tuple(SIZES))
def sized_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A desktop page, then a phone page (the test runs once at each size)."""
    p = new_page(browser, request.param)
    yield p
    close_page(p)


def login(page: Page, server: WebServer, tenant: str, *, path: str = "/") -> None:
    """Open `path` on a server with keys, log in as `tenant` on the login page it redirects to,
    and wait until the browser is back at `path`."""
    page.goto(server.url + path)
    page.get_by_label("API key").fill(server.keys[tenant])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/ui/login" not in url)


def open_page(page: Page, url: str) -> None:
    """Load `url` and wait until it has settled: a 200, no network activity, its heading shown."""
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.is_visible()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG named `name` (plus the page's size) under the artifacts folder."""
    size = getattr(page, "moot_size", "")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{name}-{size}" if size else name).strip("-")
    path = artifacts() / f"{slug}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- accessibility --------------------------------------------------------------------------------

BLOCKING = ("serious", "critical")


def axe(page: Page, *, context: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations in the page (or in the elements `context` selects), WCAG 2.x A/AA
    and best practices. axe is injected over the DevTools protocol, so a Content-Security-Policy
    of the page cannot block it."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/npm-tools (it installs axe-core)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        cdp = page.context.new_cdp_session(page)
        try:
            cdp.send("Runtime.evaluate", {"expression": AXE.read_text()})
        finally:
            cdp.detach()
    result = page.evaluate(
        """async (selector) => {
            const target = selector ? document.querySelectorAll(selector) : document;
            const options = {resultTypes: ['violations'],
                             runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}};
            const found = await window.axe.run(target, options);
            return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))}));
        }""",
        context,
    )
    return list(result)


def assert_accessible(page: Page, *, context: str | None = None) -> list[dict[str, Any]]:
    """Fail on any serious or critical axe violation; return the lesser ones (for a report)."""
    violations = axe(page, context=context)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{page.url}: accessibility violations:\n" + "\n".join(
        f"- [{v['impact']}] {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}\n  {v['nodes'][0]['summary'] if v['nodes'] else ''}"
        for v in blocking
    )
    return [v for v in violations if v["impact"] not in BLOCKING]


# -- the keyboard ---------------------------------------------------------------------------------

CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])"
"""What a keyboard user must be able to reach with Tab."""

_KEY = """(el) => { const path = []; let n = el;
    while (n && n.nodeType === 1) { const p = n.parentElement;
        path.unshift(n.tagName + (p ? ':' + Array.prototype.indexOf.call(p.children, n) : '')); n = p; }
    return path.join('>'); }"""


def controls(page: Page) -> list[str]:
    """Every visible, enabled control of the page (keys as in `tab_order`)."""
    return list(page.evaluate(
        f"""(selector) => {{ const key = {_KEY};
            return Array.from(document.querySelectorAll(selector)).filter(el => {{
                // rendered and not in a closed <details> (checkVisibility: display, visibility, content-visibility)
                return !el.disabled && !el.closest('[inert]')
                       && el.checkVisibility({{visibilityProperty: true, contentVisibilityAuto: true}});
            }}).map(key); }}""",
        CONTROLS,
    ))


def tab_order(page: Page) -> list[dict[str, Any]]:
    """Press Tab until focus comes back to an element seen before (or leaves the page twice):
    each focused element's `key` (its place in the DOM), `html` (its start) and `visible`
    (whether it shows a focus outline or box shadow)."""
    seen: dict[str, dict[str, Any]] = {}
    left = 0
    for _ in range(len(controls(page)) * 2 + 5):
        page.keyboard.press("Tab")
        now = dict(page.evaluate(
            f"""() => {{ const el = document.activeElement;
                if (!el || el === document.body) return {{key: null}};
                const s = getComputedStyle(el);
                const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none');
                return {{key: ({_KEY})(el), visible: !!visible, html: el.outerHTML.slice(0, 120)}}; }}"""
        ))
        if now["key"] is None:
            left += 1
            if left > 1:
                break
            continue
        if now["key"] in seen:
            break
        seen[now["key"]] = now
    return list(seen.values())


def open_details(page: Page) -> None:
    """Open every `<details>` of the page, so what a user would unfold is checked too."""
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


def assert_keyboard_usable(page: Page) -> None:
    """Tab reaches every control of the page, and each shows where the focus is."""
    wanted = controls(page)
    assert wanted, f"{page.url}: no control found"
    reached = tab_order(page)
    keys = {f["key"] for f in reached}
    missing = [key for key in wanted if key not in keys]
    assert not missing, f"{page.url}: Tab never reaches {missing}"
    invisible = [f["html"] for f in reached if not f["visible"]]
    assert not invisible, f"{page.url}: no visible focus on {invisible}"


__all__ = [
    "AXE", "CHROMIUM", "CONTROLS", "GATED", "PAGES", "SIZES", "TASK", "TENANTS", "WORKSPACE", "WebFactory", "WebServer", "artifacts",
    "assert_accessible", "assert_keyboard_usable", "axe", "close_page", "controls", "launch", "login", "new_page", "open_details", "run_async", "screenshot", "tab_order",
    "web_workspaces",
]
