"""Tenants of one service cannot see, change or probe each other's things, on any route.

Tenant A (its own API key) opens sessions, runs a deliberation to the end, pauses another at an
approval, and so has memory for its user `ana`. Tenant B then calls every route with A's ids and
A's user id: it must get a 404 (exactly what an unknown id gets, never a 403 and never data) or an
empty list, and afterwards A's session, runs, approval request, events and memory are unchanged
and still usable. The core test runs on the embedded backends and once on the fleet's (Redis and
PostgreSQL); the rest checks how keys are taken: none, garbage, revoked, and keys on an open server.

Everything goes over real HTTP to uvicorn on 127.0.0.1, with the scripted model.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from moot.models.scripted import ScriptedChatModel
from moot.service.app import create_app
from moot.service.keys import key_store
from moot.service.settings import ServiceSettings
from moot.workspace.loader import builtin_path
from servicetools import POSTGRES_URL, REDIS_URL, serving, sse_events, wait_status

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
GATED = "gated_tenancy"


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")


@pytest.fixture
def workspaces(tmp_path: Path) -> Path:
    """A folder with a copy of the demo named `gated_tenancy` whose booking stage asks for approval."""
    folder = tmp_path / "workspaces" / GATED
    shutil.copytree(builtin_path("demo"), folder)
    manifest = folder / "moot.yaml"
    manifest.write_text(manifest.read_text().replace("name: demo", f"name: {GATED}", 1))
    stages = folder / "stages.yaml"
    text = stages.read_text()
    assert "  booking:\n" in text
    stages.write_text(text.replace("  booking:\n", "  booking:\n    approval: true\n", 1))
    return folder.parent


@dataclass
class Backend:
    """Where the service keeps its state, and the API keys of the two tenants."""

    settings: ServiceSettings
    keys: dict[str, str]
    key_ids: dict[str, str]


@asynccontextmanager
async def backend(kind: str, workspaces: Path, tenants: tuple[str, ...]) -> AsyncIterator[Backend]:
    """Embedded (SQLite and in-process) or fleet (Redis and PostgreSQL) state, cleaned up after.

    The fleet's PostgreSQL tables go to a schema of their own (`search_path`): the API key table
    is one per database and any key in it makes every server on that database require keys, so
    keys must not be left where other tests' servers look.
    """
    token = uuid.uuid4().hex[:12]
    schema = f"moot_tenancy_{token}"
    if kind == "local":
        settings = ServiceSettings(workspaces=[str(workspaces)])
    else:
        import psycopg

        async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
            await conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
        settings = ServiceSettings(
            workspaces=[str(workspaces)], redis_url=REDIS_URL, database_url=url, queue="inline",
            key_prefix=f"moot-test-{token}:",
        )
    try:
        keys: dict[str, str] = {}
        key_ids: dict[str, str] = {}
        async with key_store(settings.database_url) as store:
            for tenant in tenants:
                info, keys[tenant] = await store.create(f"{tenant}-{token}", label="tenancy test")
                key_ids[tenant] = info.key_id
        yield Backend(settings, keys, key_ids)
    finally:
        if kind != "local":
            import psycopg
            from redis.asyncio import Redis

            redis = Redis.from_url(REDIS_URL)
            try:
                stale = [k async for k in redis.scan_iter(match=f"{settings.key_prefix}*", count=500)]
                if stale:
                    await redis.delete(*stale)
            finally:
                await redis.aclose()
            async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _app(settings: ServiceSettings) -> Any:
    script = json.loads((DATA / "demo_script.json").read_text())
    return create_app(settings, models={"default": ScriptedChatModel(script=script)})


@asynccontextmanager
async def clients(url: str, b: Backend) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Tenant A sends its key as a bearer token, tenant B as `X-API-Key` (both ways are taken)."""
    async with (
        httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {b.keys['a']}"}) as a,
        httpx.AsyncClient(base_url=url, timeout=30, headers={"X-API-Key": b.keys["b"]}) as b_client,
    ):
        yield a, b_client


async def _session(client: httpx.AsyncClient, workspace: str = "demo", user: str = "ana") -> str:
    resp = await client.post("/v1/sessions", json={"user_id": user, "workspace": workspace})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["session_id"])


async def _start(client: httpx.AsyncClient, session_id: str) -> str:
    resp = await client.post(f"/v1/sessions/{session_id}/runs", json={"task": TASK})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["run_id"])


@dataclass
class World:
    """Tenant A's things, and what they looked like before tenant B came."""

    session: str
    run: str
    paused_session: str
    paused: str
    snapshot: dict[str, Any]


async def _snapshot(a: httpx.AsyncClient, w: World) -> dict[str, Any]:
    """What A sees of its things; it must not change while B probes them."""
    got: dict[str, Any] = {}
    for name, path in {
        "session": f"/v1/sessions/{w.session}",
        "paused_session": f"/v1/sessions/{w.paused_session}",
        "run": f"/v1/runs/{w.run}",
        "paused": f"/v1/runs/{w.paused}",
        "approval": f"/v1/runs/{w.paused}/approval",
        "state": f"/v1/sessions/{w.session}/state",
        "memory": "/v1/users/ana/memory",
    }.items():
        resp = await a.get(path)
        assert resp.status_code == 200, (name, resp.text)
        got[name] = resp.json()
    for volatile in ("session", "paused_session"):  # reads by the owner slide the expiry
        for field in ("last_active", "expires_at"):
            got[volatile].pop(field)
    got["state"].pop("exported_at")
    got["events"] = [(e["id"], e["event"]) for e in await sse_events(a, f"/v1/runs/{w.run}/events")]
    return got


async def _world_of_a(a: httpx.AsyncClient) -> World:
    session = await _session(a)
    run = await _start(a, session)
    done = await wait_status(a, run, {"finished", "failed"})
    assert done["status"] == "finished", done
    paused_session = await _session(a, workspace=GATED)
    paused = await _start(a, paused_session)
    waiting = await wait_status(a, paused, {"awaiting_approval", "finished", "failed"})
    assert waiting["status"] == "awaiting_approval", waiting
    world = World(session, run, paused_session, paused, {})
    world.snapshot = await _snapshot(a, world)
    assert world.snapshot["memory"]["items"], "A's finished run left no memory for ana"
    assert world.snapshot["approval"]["stage"] == "booking"
    return world


def _refused(resp: httpx.Response, what: str) -> None:
    assert resp.status_code == 404, (what, resp.status_code, resp.text)
    body = resp.json()
    assert body["error"]["type"] in ("not_found", "no_state"), (what, body)
    assert set(body) == {"error"}, (what, body)  # nothing of A's comes along


async def _probe_everything(b: httpx.AsyncClient, w: World, export: dict[str, Any]) -> None:
    """Every route, with A's ids, as tenant B."""
    own = await _session(b)  # B has a user called `ana` too: a user id is only unique in a tenant
    for sid in (w.session, w.paused_session):
        _refused(await b.get(f"/v1/sessions/{sid}"), "get session")
        _refused(await b.get(f"/v1/sessions/{sid}/state"), "export state")
        _refused(await b.get(f"/v1/sessions/{sid}/state", params={"run_id": w.run}), "export state of a run")
        _refused(await b.post(f"/v1/sessions/{sid}/state", json=export), "import state")
        _refused(await b.post(f"/v1/sessions/{sid}/runs", json={"task": TASK}), "start run")
        _refused(await b.delete(f"/v1/sessions/{sid}"), "delete session")
    _refused(await b.get(f"/v1/sessions/{own}/state", params={"run_id": w.run}), "A's run through B's session")
    for rid in (w.run, w.paused):
        _refused(await b.get(f"/v1/runs/{rid}"), "get run")
        _refused(await b.post(f"/v1/runs/{rid}/cancel"), "cancel run")
        _refused(await b.post(f"/v1/runs/{rid}/resume"), "resume run")
        _refused(await b.get(f"/v1/runs/{rid}/approval"), "get approval")
        _refused(await b.post(f"/v1/runs/{rid}/approval", json={"action": "approve"}), "answer approval")
        _refused(await b.post(f"/v1/runs/{rid}/approval", json={"action": "reject", "reason": "b"}), "reject approval")
        _refused(await b.get(f"/v1/runs/{rid}/events", params={"follow": "false"}), "events")
        _refused(await b.get(f"/v1/runs/{rid}/events", headers={"Last-Event-ID": "1"}), "events after an id")
    # lists: only B's own things, filtered by A's ids or not
    sessions = (await b.get("/v1/sessions")).json()["sessions"]
    assert [s["session_id"] for s in sessions] == [own]
    assert [s["session_id"] for s in (await b.get("/v1/sessions", params={"user_id": "ana"})).json()["sessions"]] == [own]
    assert (await b.get("/v1/runs")).json()["runs"] == []
    for params in ({"session_id": w.session}, {"user_id": "ana"}, {"status": "awaiting_approval"}, {"status": "finished"}):
        resp = await b.get("/v1/runs", params=params)
        assert resp.status_code == 200 and resp.json()["runs"] == [], (params, resp.text)
    # memory of B's `ana` is not A's `ana`
    listed = await b.get("/v1/users/ana/memory")
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
    found = await b.get("/v1/users/ana/memory/search", params={"q": "Lisbon trip under 1500 EUR", "budget_tokens": 500})
    assert found.status_code == 200 and found.json()["items"] == [] and found.json()["tokens"] == 0, found.text
    found = await b.get("/v1/users/ana/memory/search", params={"q": "Lisbon", "session_id": w.session})
    assert found.status_code == 200 and found.json()["items"] == [], found.text
    deleted = await b.delete("/v1/users/ana/memory")
    assert deleted.status_code == 200 and deleted.json()["deleted"] == 0, deleted.text


@pytest.mark.parametrize("kind", ["local", "fleet"])
async def test_tenant_b_cannot_reach_tenant_a_on_any_route(kind: str, workspaces: Path) -> None:
    async with backend(kind, workspaces, ("a", "b")) as b_end, serving(_app(b_end.settings)) as url:
        async with clients(url, b_end) as (a, b):
            checks = (await a.get("/readyz")).json()["checks"]
            assert checks == ({"redis": "ok", "database": "ok"} if kind == "fleet" else {"database": "ok"})
            world = await _world_of_a(a)
            export = (await a.get(f"/v1/sessions/{world.session}/state")).json()
            assert export["values"]["task"] == TASK

            await _probe_everything(b, world, export)

            # A's things are exactly as they were, and still work
            assert await _snapshot(a, world) == world.snapshot
            mine = {r["run_id"] for r in (await a.get("/v1/runs")).json()["runs"]}
            assert mine == {world.run, world.paused}
            approve = await a.post(f"/v1/runs/{world.paused}/approval", json={"action": "approve"})
            assert approve.status_code == 202, approve.text
            assert (await wait_status(a, world.paused, {"finished", "failed"}))["status"] == "finished"
            forgot = await a.delete("/v1/users/ana/memory")  # also cleans the shared Redis
            assert forgot.status_code == 200 and forgot.json()["deleted"] > 0


def _wrong_secret(key: str) -> str:
    """The key with its last hex digit changed (always changed: "0" becomes "1", anything else "0")."""
    return key[:-1] + ("1" if key.endswith("0") else "0")


async def test_requests_without_a_valid_key_are_refused_with_json(workspaces: Path) -> None:
    async with backend("local", workspaces, ("a", "b")) as b_end, serving(_app(b_end.settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as anon, clients(url, b_end) as (a, b):
            session = await _session(a)
            routes = [("GET", "/v1/sessions"), ("GET", f"/v1/sessions/{session}"), ("GET", "/v1/runs"),
                      ("GET", "/v1/users/ana/memory"), ("GET", "/v1/workspaces"), ("POST", "/v1/sessions")]
            bad_keys: list[dict[str, str]] = [
                {},
                {"Authorization": "Bearer"},
                {"Authorization": "Basic dXNlcjpwYXNz"},
                {"Authorization": "Bearer not-a-key"},
                {"Authorization": f"Bearer {_wrong_secret(b_end.keys['a'])}"},  # the right id, a wrong secret
                {"Authorization": "Bearer " + b_end.keys["a"].replace(b_end.key_ids["a"], "f" * 16)},
                {"X-API-Key": "x" * 10_000},
            ]
            for method, path in routes:
                for headers in bad_keys:
                    resp = await anon.request(method, path, headers=headers, json={} if method == "POST" else None)
                    assert resp.status_code == 401, (method, path, headers.keys(), resp.text)
                    error = resp.json()["error"]
                    assert error["type"] in ("missing_api_key", "invalid_api_key") and error["message"], error
                    assert resp.headers["www-authenticate"] == "Bearer"
            assert (await anon.get("/healthz")).status_code == 200  # probes stay open
            ready = (await anon.get("/readyz")).json()
            assert ready["mode"]["keys_required"] is True

            # a key revoked while the server runs stops working at the next request
            async with key_store(b_end.settings.database_url) as store:
                await store.revoke(b_end.key_ids["b"])
            refused = await b.get("/v1/sessions")
            assert refused.status_code == 401 and refused.json()["error"]["type"] == "invalid_api_key", refused.text
            assert (await a.get(f"/v1/sessions/{session}")).status_code == 200  # other keys are untouched


async def test_an_open_server_still_checks_keys_and_keeps_their_tenants_apart(workspaces: Path) -> None:
    """No key at start-up: requests without a key are tenant `local`; a key sent anyway is checked
    (a typo is a 401, not silently `local`), and a valid one is its own tenant, apart from `local`."""
    settings = ServiceSettings(workspaces=[str(workspaces)])
    async with serving(_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as anon:
        assert (await anon.get("/readyz")).json()["mode"]["keys_required"] is False
        local_session = await _session(anon)
        typo = await anon.get("/v1/sessions", headers={"Authorization": "Bearer moot_typo"})
        assert typo.status_code == 401 and typo.json()["error"]["type"] == "invalid_api_key", typo.text
        async with key_store(None) as store:
            info, key = await store.create("late-tenant")
        async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as keyed:
            _refused(await keyed.get(f"/v1/sessions/{local_session}"), "local's session with a key")
            assert (await keyed.get("/v1/sessions")).json()["sessions"] == []
            own = await _session(keyed)
            _refused(await anon.get(f"/v1/sessions/{own}"), "the key's session without a key")
            assert [s["session_id"] for s in (await anon.get("/v1/sessions")).json()["sessions"]] == [local_session]
            async with key_store(None) as store:
                await store.revoke(info.key_id)
            assert (await keyed.get("/v1/sessions")).status_code == 401
