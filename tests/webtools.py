"""The web page's test fixtures: a real `moot serve`, Debian's Chromium through Playwright, screenshots, axe.

- **Servers.** `web` is a `moot serve` process on loopback in open mode (no API key), `web_keys`
  one with API keys for tenants `a` and `b`; `web_factory(...)` makes others (another latency,
  `MOOT_WEB_LOGIN_TTL_S`, ...). Each has its own MOOT_HOME and a folder of two scripted copies
  of the demo: `web_demo` and `web_gated`, whose booking stage asks for approval. The scripted
  model answers after `latency` seconds (0.3 by default: a run takes a few seconds and can be
  watched). `WebServer.restart()` kills the process and starts it again on the same port and
  home, mid-run if need be (the run goes on from its checkpoint in the new process).
- **Browser.** Playwright's sync API (pytest-asyncio runs only the `async def` tests in a loop, so
  sync tests may drive it) on `/usr/bin/chromium` (installed by scripts/system-tools: Playwright's
  own browser download is not reachable), headless. `page` is 1280x800 (desktop), `phone_page`
  390x844, `sized_page` each in turn. An uncaught JavaScript error in a page fails the test.
- **Artifacts.** `screenshot(page, name)` saves a full-page PNG under `$MOOT_TEST_ARTIFACTS` or
  `test-artifacts/web/` (git-ignored) for CI to keep.
- **Accessibility.** `axe(page)` runs axe-core (npm `axe-core`, installed by scripts/npm-tools;
  nothing from the network) in the page and returns its violations; `assert_accessible(page)`
  fails on a `serious` or `critical` one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from servicetools import TERMINAL, free_port, moot_process, wait_http

from moot.workspace.loader import builtin_path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
CHROMIUM = os.environ.get("MOOT_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / ".npm-tools" / "node_modules" / "axe-core" / "axe.min.js"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
WORKSPACE = "web_demo"
GATED = "web_gated"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TENANTS = ("a", "b")


def artifacts() -> Path:
    """Where screenshots go: `$MOOT_TEST_ARTIFACTS`, else `test-artifacts/web/` in the repo."""
    folder = Path(os.environ.get("MOOT_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "web")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- the server -----------------------------------------------------------------------------------


def web_workspaces(folder: Path, latency: float | dict[str, float]) -> Path:
    """`folder` with `web_demo` (the demo on the scripted model) and `web_gated` (the same whose
    booking stage asks for approval)."""
    for name, gated in ((WORKSPACE, False), (GATED, True)):
        target = folder / name
        shutil.copytree(builtin_path("demo"), target)
        text = (target / "moot.yaml").read_text().replace("name: demo", f"name: {name}", 1)
        start, end = text.index("models:"), text.index("max_repairs:")
        models = (
            "models:\n  default:\n    provider: scripted\n"
            f"    script: {DATA / 'demo_script.json'}\n    latency: {json.dumps(latency)}\n"
        )
        (target / "moot.yaml").write_text(text[:start] + models + text[end:])
        if gated:
            stages = target / "stages.yaml"
            original = stages.read_text()
            assert "  booking:\n" in original
            stages.write_text(original.replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    return folder


@dataclass
class WebServer:
    """One `moot serve` process, which can be killed and started again on the same port and home."""

    url: str
    port: int
    home: Path
    env: dict[str, str]
    log: Path
    keys: dict[str, str] = field(default_factory=dict)
    """Tenant -> plaintext API key (empty in open mode)."""
    key_ids: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = moot_process(["serve", "--host", "127.0.0.1", "--port", str(self.port)], self.env, self.log)
        try:
            wait_http(self.url, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"moot serve did not start; its log:\n{self.log_text()[-4000:]}") from None

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process: SIGKILL when `kill` (a crash: nothing is flushed), else SIGTERM."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def restart(self, *, kill: bool = True) -> None:
        """Kill (or stop) the server and start it again on the same port and home."""
        self.stop(kill=kill)
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def http(self, tenant: str | None = None, **options: Any) -> httpx.Client:
        """A client of the API (`/v1`), as `tenant` when the server has keys."""
        headers = {"X-API-Key": self.keys[tenant]} if tenant else {}
        return httpx.Client(base_url=self.url, timeout=30, headers=headers, **options)

    def cli(self, *args: str) -> str:
        """`moot ARGS` with this server's environment (e.g. `keys revoke ID`); its standard output."""
        done = subprocess.run([sys.executable, "-m", "moot.cli.main", *args], check=False, env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def create_key(self, tenant: str) -> None:
        info = json.loads(self.cli("keys", "create", "--tenant", tenant, "--label", "web test", "--json"))
        self.keys[tenant], self.key_ids[tenant] = info["key"], info["key_id"]

    def revoke(self, tenant: str) -> None:
        self.cli("keys", "revoke", self.key_ids[tenant])

    def start_run(self, *, workspace: str = WORKSPACE, task: str = TASK, tenant: str | None = None, user: str = "ana") -> dict[str, Any]:
        """A new session of `user` and a run in it, through the API; the run's 202 body."""
        with self.http(tenant) as client:
            session = client.post("/v1/sessions", json={"user_id": user, "workspace": workspace})
            assert session.status_code == 201, session.text
            run = client.post(f"/v1/sessions/{session.json()['session_id']}/runs", json={"task": task})
            assert run.status_code == 202, run.text
            return dict(run.json())

    def wait_status(self, run_id: str, statuses: set[str] | None = None, *, tenant: str | None = None, timeout: float = 90.0) -> dict[str, Any]:
        """Poll the run until its status is in `statuses` (default: an end); its record."""
        wanted = statuses or TERMINAL
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        with self.http(tenant) as client:
            while time.monotonic() < deadline:
                resp = client.get(f"/v1/runs/{run_id}")
                if resp.status_code == 200:
                    body = resp.json()
                    if body["status"] in wanted:
                        return body
                time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not reach {wanted} in {timeout} s: {body}")


WebFactory = Callable[..., WebServer]


@pytest.fixture
def web_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebFactory]:
    """Start `moot serve` processes: `web_factory(keys=("a", "b"), latency=0.3, env={...})`;
    all stopped after the test."""
    with _servers(tmp_path_factory) as make:
        yield make


@pytest.fixture
def web(web_factory: WebFactory) -> WebServer:
    """`moot serve` in open mode (no API key: served to loopback only)."""
    return web_factory()


@pytest.fixture
def web_keys(web_factory: WebFactory) -> WebServer:
    """`moot serve` with an API key for tenant `a` and one for tenant `b`."""
    return web_factory(keys=TENANTS)


@pytest.fixture(scope="module")
def seeded_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebServer, dict[str, str]]]:
    """An open-mode server shared by a module, with a finished run (`"finished"`) and one waiting
    for approval (`"waiting"`): run ids by name. For tests that only look (screenshots, axe)."""
    with _servers(tmp_path_factory) as make:
        server = make(latency=0.02)
        finished = server.start_run()["run_id"]
        waiting = server.start_run(workspace=GATED, user="bo")["run_id"]
        assert server.wait_status(finished)["status"] == "finished"
        assert server.wait_status(waiting, {"awaiting_approval", *TERMINAL})["status"] == "awaiting_approval"
        yield server, {"finished": finished, "waiting": waiting}


class _servers:
    """A context manager giving a factory of started servers, each stopped at the end."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.started: list[WebServer] = []

    def __enter__(self) -> WebFactory:
        return self.make

    def __exit__(self, *exc: object) -> None:
        for server in self.started:
            server.stop()

    def make(self, *, keys: tuple[str, ...] = (), latency: float | dict[str, float] = 0.3, env: dict[str, str] | None = None) -> WebServer:
        root = self.tmp.mktemp("web")
        port = free_port()
        environ = {
            **os.environ,
            "MOOT_HOME": str(root / "home"),
            "MOOT_WORKSPACES": str(web_workspaces(root / "spaces", latency)),
            "MOOT_EMBEDDER": "wordllama",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        for name in ("MOOT_DATABASE_URL", "MOOT_REDIS_URL", "MOOT_QUEUE", "MOOT_MODEL"):  # embedded, on its own
            if env is None or name not in env:
                environ.pop(name, None)
        server = WebServer(f"http://127.0.0.1:{port}", port, root / "home", environ, root / "serve.log")
        for tenant in keys:
            server.create_key(tenant)
        self.started.append(server)
        server.start()
        return server


# -- the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium (`--no-sandbox` as root, where its sandbox cannot start)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-tools (it installs Debian's chromium)")
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
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
                const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
                return !el.disabled && s.visibility !== 'hidden' && s.display !== 'none' && (r.width > 0 || r.height > 0)
                       && !el.closest('[inert], [hidden]');
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
    "AXE", "CHROMIUM", "CONTROLS", "GATED", "SIZES", "TASK", "TENANTS", "WORKSPACE", "WebServer", "artifacts",
    "assert_accessible", "assert_keyboard_usable", "axe", "close_page", "controls", "new_page", "screenshot", "tab_order",
    "web_workspaces",
]
