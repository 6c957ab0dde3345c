"""Logging in to the web page, in Chromium and over plain HTTP, against a real `moot serve`.

With API keys configured: every page sends an anonymous visitor to the login page; a wrong key
is an inline error; a key logs its tenant in, who sees its own runs only, with a cookie that
scripts cannot read (HttpOnly) and other sites cannot send (SameSite=Strict); a POST without the
form's CSRF token, with another one, or from another origin is refused (403) and changes
nothing; logging out, an expired login and a revoked key all lead back to the login page, and
logging in again returns to the page the viewer was on, or offers to send again the form that
was sent after the login ended (nothing typed is lost). Without keys: the page is for this
machine only.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page
from servicetools import TERMINAL
from webtools import (
    GATED,
    TASK,
    TENANTS,
    WORKSPACE,
    WebFactory,
    WebServer,
    assert_accessible,
    assert_keyboard_usable,
    login,
)

from moot.service.web.auth import COOKIE, sign

SECRET = "web-auth-test-secret-0123456789abcdef"
"""The servers' MOOT_WEB_SECRET, so a test can sign a cookie of its own (an expired one)."""


@pytest.fixture(scope="module")
def keyed(web_module_factory: WebFactory) -> WebServer:
    """A server with keys for tenants `a` and `b`, and a finished run of each (user `ana` for a,
    `bo` for b; ids in `keyed.runs` and `keyed.sessions`), and a run of a's waiting for approval
    (`keyed.waiting`). Shared by the module: no test changes a's or
    b's key (the revocation test has a tenant of its own)."""
    server = web_module_factory(keys=TENANTS, latency=0.02, env={"MOOT_WEB_SECRET": SECRET})
    started = {tenant: server.start_run(tenant=tenant, user=user) for tenant, user in zip(TENANTS, ("ana", "bo"))}
    for tenant, run in started.items():
        server.wait_status(run["run_id"], tenant=tenant)
    server.runs = {tenant: run["run_id"] for tenant, run in started.items()}  # type: ignore[attr-defined]
    server.sessions = {tenant: run["session_id"] for tenant, run in started.items()}  # type: ignore[attr-defined]
    waiting = server.start_run(workspace=GATED, tenant="a", user="ana")["run_id"]
    assert server.wait_status(waiting, {"awaiting_approval", *TERMINAL}, tenant="a")["status"] == "awaiting_approval"
    server.waiting = waiting  # type: ignore[attr-defined]
    return server


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def http_login(keyed: WebServer) -> Iterator[httpx.Client]:
    """An HTTP client logged in as tenant `a` through the login form (cookies kept)."""
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        form = client.get("/ui/login")
        assert form.status_code == 200
        done = client.post("/ui/login", data={"csrf": _csrf(form.text), "key": keyed.keys["a"], "next": "/"})
        assert done.status_code == 303 and done.headers["location"] == "/", done.text
        yield client


# -- in the browser -------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_the_login_page(keyed: WebServer, page: Page) -> None:
    with httpx.Client(base_url=keyed.url) as client:
        resp = client.get("/")
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/login?next=%2F"
        assert keyed.runs["a"] not in resp.text  # type: ignore[attr-defined]
    page.goto(keyed.url + "/")
    assert page.url.endswith("/ui/login?next=%2F")
    assert page.get_by_role("heading", name="Log in").is_visible()
    assert page.get_by_label("API key").is_visible()


def test_a_wrong_key_is_an_inline_error(keyed: WebServer, page: Page) -> None:
    page.goto(keyed.url + "/")
    page.get_by_label("API key").fill("mk_not_a_real_key")
    with page.expect_response(lambda r: r.url.endswith("/ui/login") and r.request.method == "POST") as posted:
        page.get_by_role("button", name="Log in").click()
    assert posted.value.status == 401
    alert = page.get_by_role("alert")
    assert "unknown or revoked" in alert.inner_text()
    assert "/ui/login" in page.url and page.get_by_label("API key").is_visible()
    # still able to log in from here, and to land where the visitor was going
    page.get_by_label("API key").fill(keyed.keys["a"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(keyed.url + "/")


def test_a_tenant_sees_its_own_runs_only(keyed: WebServer, page: Page) -> None:
    login(page, keyed, "a")
    body = page.locator("main").inner_text()
    assert keyed.runs["a"] in body and keyed.runs["b"] not in body  # type: ignore[attr-defined]
    assert "tenant a" in page.locator("header").inner_text()
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        b_page = other.new_page()
        login(b_page, keyed, "b")
        b_body = b_page.locator("main").inner_text()
        assert keyed.runs["b"] in b_body and keyed.runs["a"] not in b_body  # type: ignore[attr-defined]
    finally:
        other.close()


def test_the_login_cookie_is_http_only_and_same_site_strict(keyed: WebServer, page: Page) -> None:
    login(page, keyed, "a")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert set(cookies) == {COOKIE}, cookies
    cookie = cookies[COOKIE]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert page.evaluate("() => document.cookie") == ""  # no script of the page can read it
    assert keyed.keys["a"] not in cookie["value"]  # the cookie names the key, never holds it


def test_logout(keyed: WebServer, page: Page) -> None:
    login(page, keyed, "a")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/ui/login"))
    page.goto(keyed.url + "/")
    assert "/ui/login" in page.url
    assert keyed.runs["a"] not in page.content()  # type: ignore[attr-defined]


def _expired(value: str) -> str:
    """The same login, signed with the servers' secret, that ended a second ago."""
    body = value.rsplit(".", 1)[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload["t"] == "a" and payload["exp"] > time.time()
    return sign({**payload, "exp": time.time() - 1})


def test_an_expired_login_goes_back_to_the_login_page_and_then_where_it_was(keyed: WebServer, page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    """MOOT_WEB_LOGIN_TTL_S is at least a minute, so the test signs an expired copy of its cookie
    with the servers' secret instead of waiting: the server must check the expiry it signed,
    not only the browser's Max-Age."""
    monkeypatch.setenv("MOOT_WEB_SECRET", SECRET)
    login(page, keyed, "a")
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    page.context.add_cookies([{**cookie, "value": _expired(cookie["value"])}])  # type: ignore[list-item]
    page.goto(keyed.url + "/?status=finished")
    assert "/ui/login" in page.url
    page.get_by_label("API key").fill(keyed.keys["a"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(keyed.url + "/?status=finished")  # back where it was: nothing lost
    assert keyed.runs["a"] in page.locator("main").inner_text()  # type: ignore[attr-defined]


def test_a_form_sent_after_the_login_ended_is_kept_and_sent_again_on_request(keyed: WebServer, page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    """The start form filled in, the login expires, the form is sent: the login page comes
    (nothing started), and once logged in the page shows what was typed and sends it again with
    one button; the run it starts has the task as typed."""
    monkeypatch.setenv("MOOT_WEB_SECRET", SECRET)
    task = "Plan 2 days in Porto under 900 EUR,\nwith a river view"
    login(page, keyed, "a")
    before = _a_world(keyed)["runs"]
    page.get_by_label("Task").fill(task)
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    page.context.add_cookies([{**cookie, "value": _expired(cookie["value"])}])  # type: ignore[list-item]
    page.get_by_role("button", name="Start").click()
    assert "Your login has ended" in page.get_by_role("alert").inner_text()
    assert _a_world(keyed)["runs"] == before  # nothing was started without a login
    assert_accessible(page)
    page.get_by_label("API key").fill(keyed.keys["a"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Send it again?").wait_for()
    assert task in page.locator("main").inner_text()
    assert_accessible(page)
    assert_keyboard_usable(page)
    page.get_by_role("button", name="Send it again").click()
    page.wait_for_url(re.compile(r"/ui/runs/run-"))
    run_id = page.url.rsplit("/", 1)[1]
    with keyed.http("a") as api:
        assert api.get(f"/v1/runs/{run_id}").json()["task"].replace("\r\n", "\n") == task  # a form sends CRLF


def test_a_form_from_another_site_is_not_carried_through_the_login(keyed: WebServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        resp = client.post("/ui/runs", data={"task": "evil", "workspace": WORKSPACE}, headers={"Origin": "http://evil.example"})
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/login?next=%2Fui%2Fruns"
        assert "evil" not in client.get(resp.headers["location"]).text


def test_a_revoked_key_logs_out(keyed: WebServer, page: Page) -> None:
    keyed.create_key("c")
    login(page, keyed, "c")
    assert "tenant c" in page.locator("header").inner_text()
    keyed.revoke("c")
    page.reload()
    assert "/ui/login" in page.url
    page.get_by_label("API key").fill(keyed.keys["c"])
    page.get_by_role("button", name="Log in").click()
    assert "unknown or revoked" in page.get_by_role("alert").inner_text()


A_PAGES = ("/ui/runs/{run}", "/ui/runs/{run}/history", "/ui/runs/{run}/events", "/ui/sessions/{session}")
"""Pages of one of tenant a's things (`{run}`, `{session}`): tenant b must get a 404 for each."""


def test_another_tenants_run_is_not_found(keyed: WebServer, page: Page) -> None:
    """b's login on a's run, its history, its live stream and a's session: the same 404 as an
    unknown id (nothing of a's on it); a's own login sees them."""
    ids = {"run": keyed.runs["a"], "session": keyed.sessions["a"]}  # type: ignore[attr-defined]
    unknown = {"run": "run-000000000000", "session": "session-00000000000000000000000000000000"}
    login(page, keyed, "b")
    for path in A_PAGES:
        answers = []
        for which in (ids, unknown):
            response = page.goto(keyed.url + path.format(**which))
            assert response is not None and response.status == 404, (path, which, response and response.status)
            answers.append(response.text().replace(which["run"], "ID").replace(which["session"], "ID"))
        assert answers[0] == answers[1], path
    with httpx.Client(base_url=keyed.url, timeout=30) as client:  # a, through its own login
        form = client.get("/ui/login")
        client.post("/ui/login", data={"csrf": _csrf(form.text), "key": keyed.keys["a"], "next": "/"})
        for path in A_PAGES:
            if not path.endswith("/events"):  # a stream: its 200 is the page's test (test_web_run*)
                assert client.get(path.format(**ids)).status_code == 200, path


# -- CSRF, over HTTP ------------------------------------------------------------------------------


def _still_logged_in(client: httpx.Client, keyed: WebServer) -> None:
    resp = client.get("/")
    assert resp.status_code == 200 and keyed.runs["a"] in resp.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", ["no token", "a wrong token", "the token from before login", "another origin"])
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(keyed: WebServer, http_login: httpx.Client, case: str) -> None:
    token = _csrf(http_login.get("/").text)
    data, headers = {"csrf": token}, {}
    if case == "no token":
        data = {}
    elif case == "a wrong token":
        data = {"csrf": token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")}
    elif case == "the token from before login":
        with httpx.Client(base_url=keyed.url) as anonymous:
            data = {"csrf": _csrf(anonymous.get("/ui/login").text)}
    else:
        headers = {"Origin": "http://evil.example"}
    resp = http_login.post("/ui/logout", data=data, headers=headers)
    assert resp.status_code == 403, (case, resp.status_code, resp.text)
    assert "set-cookie" not in resp.headers  # the login is untouched
    _still_logged_in(http_login, keyed)
    # the right token (and no foreign origin) is taken, so the refusals above were the token's fault
    done = http_login.post("/ui/logout", data={"csrf": token}, headers={"Origin": keyed.url})
    assert done.status_code == 303 and done.headers["location"] == "/ui/login"
    assert http_login.get("/").status_code == 303


def _a_world(keyed: WebServer) -> dict[str, object]:
    """What tenant a has, through the API: runs and their statuses, the approval asked, memory."""
    with keyed.http("a") as api:
        runs = api.get("/v1/runs").json()
        return {
            "runs": sorted((r["run_id"], r["status"]) for r in runs["runs"]),
            "approval": api.get(f"/v1/runs/{keyed.waiting}/approval").json(),  # type: ignore[attr-defined]
            "memory": api.get("/v1/users/ana/memory").json(),
        }


def test_every_form_that_changes_something_is_refused_without_its_token(keyed: WebServer, http_login: httpx.Client) -> None:
    """Start a run, answer an approval, fork, forget a memory: each POST without the CSRF token is a
    403 and a's runs, approval and memory are as they were; the same POST with it goes through."""
    before = _a_world(keyed)
    assert before["memory"]["items"], "a's finished run left no memory for ana"  # type: ignore[index]
    forms = {
        "/ui/runs": {"workspace": WORKSPACE, "task": TASK, "session": "new", "user_id": "ana"},
        f"/ui/runs/{keyed.waiting}/approval": {"action": "reject", "reason": "not now"},  # type: ignore[attr-defined]
        f"/ui/runs/{keyed.runs['a']}/fork": {"checkpoint": "whatever"},  # type: ignore[attr-defined]
        "/ui/users/ana/memory/forget": {"confirm": "yes"},
    }
    for path, data in forms.items():
        resp = http_login.post(path, data=data)
        assert resp.status_code == 403, (path, resp.status_code, resp.text[:300])
        assert _a_world(keyed) == before, path
    token = _csrf(http_login.get("/").text)
    started = http_login.post("/ui/runs", data={**forms["/ui/runs"], "csrf": token})
    assert started.status_code == 303 and started.headers["location"].startswith("/ui/runs/run-")


def test_a_login_post_without_its_csrf_token_logs_nobody_in(keyed: WebServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        client.get("/ui/login")
        resp = client.post("/ui/login", data={"key": keyed.keys["a"], "next": "/"})
        assert resp.status_code == 403
        assert client.get("/").status_code == 303  # still anonymous


# -- open mode ------------------------------------------------------------------------------------


def test_open_mode_serves_this_machine_only(web: WebServer, page: Page) -> None:
    """No key: the page is served on loopback without a login, and refused to anyone else (a
    request forwarded by a proxy on this machine for another host)."""
    page.goto(web.url + "/")
    assert page.url == web.url + "/" and page.get_by_role("heading", name="Runs", exact=True).is_visible()
    assert "tenant local" in page.locator("header").inner_text()
    assert page.get_by_role("button", name="Log out").count() == 0  # nothing to log out of
    with httpx.Client(base_url=web.url) as client:
        assert client.get("/").status_code == 200
        forwarded = client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.status_code == 403 and "this machine only" in forwarded.text
        assert client.get("/ui/login", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
