"""The service's HTTP contract, fuzzed with schemathesis from its own OpenAPI schema.

Every operation of `/openapi.json` gets generated requests, valid and invalid (wrong types,
out-of-range numbers, huge or odd strings, unknown ids, garbage `Last-Event-ID`), over real HTTP
to a uvicorn server on 127.0.0.1 that requires API keys. Whatever arrives, the answer must not be a
5xx; its status must be one the schema documents for the route, with the documented content type
and a JSON body that fits the documented schema (refusals: `{"error": {...}}`). The same requests
without a valid key must all be refused with a 401.

The server runs in a thread with its own event loop, because schemathesis calls it synchronously
(with `requests`) from the test. Generation is derandomised and bounded, and every request has a
timeout, so a follow-mode event stream can never hang the suite.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.keys import key_store
from moot.service.settings import ServiceSettings
from servicetools import serving, wait_status

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
TIMEOUT_S = 10.0
"""Per request: an event stream that follows a live run is cut here (runs of the script end sooner)."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

CONFIG = schemathesis.Config.from_dict({
    "seed": 6,
    "request-timeout": TIMEOUT_S,
    "max-stream-events": 50,
    "generation": {
        "mode": "all",  # valid and invalid requests
        "max-examples": int(os.environ.get("MOOT_FUZZ_EXAMPLES", "12")),  # more for a deep local run
        "deterministic": True,
        "database": "none",
        "with-security-parameters": False,  # the key is sent by the test
    },
})


@dataclass(frozen=True)
class Service:
    """A live server, its API key and ids of real resources of the key's tenant."""

    url: str
    key: str
    session_id: str
    run_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@contextmanager
def served_in_thread(app: Any) -> Iterator[str]:
    """`servicetools.serving(app)` on an event loop of its own thread; yields the base URL."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        async with serving(app) as url:
            box["url"] = url
            ready.set()
            await box["stop"].wait()

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=target, name="moot-contract-server", daemon=True)
    thread.start()
    if not ready.wait(120) or "error" in box:
        raise RuntimeError(f"the service did not start: {box.get('error')!r}")
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60)
        assert not thread.is_alive(), "the service did not stop"


async def _create_key(tenant: str) -> str:
    async with key_store(None) as store:
        _, key = await store.create(tenant, label="contract test")
    return key


async def _seed(url: str, key: str) -> tuple[str, str]:
    """A session of the key's tenant with one finished run, for the cases that use real ids."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        session = await client.post("/v1/sessions", json={"user_id": "ana", "workspace": "demo"})
        assert session.status_code == 201, session.text
        session_id = session.json()["session_id"]
        run = await client.post(f"/v1/sessions/{session_id}/runs", json={"task": TASK})
        assert run.status_code == 202, run.text
        await wait_status(client, run.json()["run_id"], {"finished"}, timeout=60)
        return session_id, run.json()["run_id"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One keyed server for the module (built once: the fuzzing is the expensive part)."""
    home = tmp_path_factory.mktemp("contract-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOOT_HOME", str(home))
        patch.setenv("MOOT_EMBEDDER", "wordllama")
        key = asyncio.run(_create_key("acme"))
        script = json.loads((DATA / "demo_script.json").read_text())
        # the home is fixed at start-up: the keys, the run index and checkpoints live under it
        app = create_app(ServiceSettings(), models={"default": ScriptedChatModel(script=script)})
        with served_in_thread(app) as url:
            session_id, run_id = asyncio.run(_seed(url, key))
            yield Service(url, key, session_id, run_id)


def _published_schema() -> dict[str, Any]:
    """What `GET /openapi.json` serves (FastAPI serves `app.openapi()`; a test below compares them).

    It is built at import time because pytest collects one test per operation before any server
    runs (schemathesis' fixture-loaded schemas do not work with pytest 9's node ids).
    """
    return create_app(ServiceSettings()).openapi()


schema = schemathesis.openapi.from_dict(_published_schema(), config=CONFIG).include(path_regex=r"^/(v1/|healthz|readyz)")
"""/v1 and health: the LangGraph routes answer in LangGraph's shape and are fuzzed by test_langgraph_schema.py."""


@schema.parametrize()
def test_generated_requests_never_get_a_server_error(case: Any, service: Service) -> None:
    """Random and invalid input, mostly unknown ids: a 4xx with a JSON error, never a 5xx."""
    response = case.call_and_validate(base_url=service.url, headers=service.headers, checks=CHECKS, timeout=TIMEOUT_S)
    assert response.status_code != 403, "a foreign or unknown id is a 404, never a 403"
    if response.status_code >= 400:
        assert "error" in response.json(), response.text


@schema.parametrize()
def test_generated_requests_on_real_ids_never_get_a_server_error(case: Any, service: Service) -> None:
    """The same with the path's ids replaced by a live session and a finished run of the tenant.

    These reach the deep end of the handlers (state export and import, approval answers on a run
    that waits for none, cancel and resume of an ended run, event replay with odd ids).
    """
    path = case.path_parameters or {}
    if "session_id" in path:
        path["session_id"] = service.session_id
        if case.method.upper() == "DELETE" and case.path == "/v1/sessions/{session_id}":
            # a session of its own: deleting the shared one would turn the other cases into unknown ids
            made = httpx.post(f"{service.url}/v1/sessions", json={}, headers=service.headers, timeout=TIMEOUT_S)
            path["session_id"] = made.json()["session_id"]
    if "run_id" in path:
        path["run_id"] = service.run_id
    response = case.call_and_validate(base_url=service.url, headers=service.headers, checks=CHECKS, timeout=TIMEOUT_S)
    if response.status_code >= 400:
        assert "error" in response.json(), response.text


@schema.parametrize()
def test_every_route_without_a_key_is_refused(case: Any, service: Service) -> None:
    """Without a key (or with a garbage one) a /v1 route never answers with data: 401, JSON error.

    A request the router or the body parser refuses first (a wrong method: 405, a body that is
    not JSON: 400/422) is refused before the key is looked at; that reveals nothing either.
    """
    if not case.path.startswith("/v1/"):
        return  # health and readiness are public by design
    generated_valid = case.meta is not None and case.meta.generation.mode.name.lower() == "positive"
    own_method = case.method.upper() == case.operation.method.upper()
    for headers in ({}, {"Authorization": "Bearer moot_0123456789abcdef_" + "0" * 64}, {"X-API-Key": "garbage"}):
        response = case.call(base_url=service.url, headers=headers, timeout=TIMEOUT_S)
        assert 400 <= response.status_code < 500, (headers, response.status_code, response.text)
        assert "error" in response.json(), response.text
        if generated_valid and own_method:
            assert response.status_code == 401, (headers, response.status_code, response.text)
            assert response.json()["error"]["type"] in ("missing_api_key", "invalid_api_key")
            assert response.headers.get("www-authenticate") == ["Bearer"]


def test_the_fuzzed_schema_is_the_published_one(service: Service) -> None:
    """The schema fuzzed here is the one the server serves, and it covers every route."""
    published = requests.get(f"{service.url}/openapi.json", timeout=TIMEOUT_S).json()
    assert published == json.loads(json.dumps(_published_schema()))
    paths = published["paths"]
    operations = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
    assert len(operations) >= 22
    assert {
        "GET /v1/runs/{run_id}/events", "POST /v1/sessions/{session_id}/state", "DELETE /v1/users/{user_id}/memory",
    } <= operations


@pytest.mark.parametrize(
    ("method", "path", "options", "status"),
    [
        # what the fuzzer found: an unknown session was a 400 on DELETE, a 404 on GET
        ("DELETE", "/v1/sessions/session-0123456789abcdef0123456789abcdef", {}, 404),
        ("DELETE", "/v1/sessions/" + "s" * 5000, {}, 404),
        ("GET", "/v1/sessions", {"params": {"user_id": ""}}, 422),
        ("GET", "/v1/sessions", {"params": {"user_id": "two words"}}, 422),
        # a workspace is a name, never a server path (`~user` would make pathlib raise RuntimeError)
        ("POST", "/v1/sessions", {"json": {"workspace": "~nosuchuser"}}, 404),
        ("POST", "/v1/sessions", {"json": {"workspace": "/etc"}}, 404),
        ("GET", "/v1/workspaces/~nosuchuser", {}, 404),
        ("GET", "/v1/workspaces/..%2F..%2Fetc", {}, 404),
        # huge input: the body limit, the string limits
        ("POST", "/v1/sessions", {"json": {"title": "x" * 300_000}}, 413),
        ("POST", "/v1/sessions", {"json": {"user_id": "u" * 10_000}}, 422),
        ("GET", "/v1/users/" + "u" * 10_000 + "/memory", {}, 422),
        ("GET", "/v1/runs/" + "r" * 10_000, {}, 404),
        ("POST", "/v1/sessions", {"data": b"\xff\xfe not json", "headers": {"Content-Type": "application/json"}}, 400),
    ],
)
def test_odd_requests_get_the_documented_4xx(
    service: Service, method: str, path: str, options: dict[str, Any], status: int
) -> None:
    options = dict(options)
    headers = {**service.headers, **options.pop("headers", {})}
    response = requests.request(method, service.url + path, headers=headers, timeout=TIMEOUT_S, **options)
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"], response.text


@pytest.mark.parametrize(
    ("last_event_id", "status"), [("garbage", 400), ("0-0-0", 400), ("\u00ff" * 10, 400), ("9" * 65, 422), ("", 200)]
)
def test_event_stream_reconnect_ids(service: Service, last_event_id: str, status: int) -> None:
    """A garbage `Last-Event-ID` on a real run is a 400 (too long: 422), never a 5xx or a hang."""
    headers = {**service.headers, "Accept": "text/event-stream", "Last-Event-ID": last_event_id.encode("latin-1")}
    url = f"{service.url}/v1/runs/{service.run_id}/events"
    with requests.get(url, headers=headers, timeout=TIMEOUT_S, stream=True) as response:
        assert response.status_code == status, response.text
        if status == 200:  # the run has finished: follow mode replays it and ends the stream
            kinds = [line[len("event: "):] for line in response.text.splitlines() if line.startswith("event: ")]
            assert kinds[0] == "run_queued" and kinds[-1] == "run_finished", kinds
        else:
            assert response.json()["error"]["type"] in ("invalid_event_id", "invalid_request")
