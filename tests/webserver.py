"""A real `moot serve` for the web page's tests: open mode, or two tenants' API keys; killed and restarted at will.

`web` is a `moot serve` process on loopback in open mode (no API key), `web_keys` one with API
keys for tenants `a` and `b`; `web_factory(...)` makes others (another latency, more settings
in `env`), and `seeded_web` is one shared by a module with a finished run and one waiting for
approval. Each server has its own MOOT_HOME and a folder of two scripted copies of the demo:
`web_demo`, and `web_gated` whose booking stage asks for approval. The scripted model answers
after `latency` seconds (0.3 by default: a run takes a few seconds and can be watched).
`WebServer.restart()` kills the process and starts it again on the same port and home, mid-run
if need be (the run goes on from its checkpoint in the new process).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from servicetools import TERMINAL, free_port, moot_process, wait_http

from moot.service.keys import key_store
from moot.workspace.loader import builtin_path

DATA = Path(__file__).parent / "data"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
WORKSPACE = "web_demo"
GATED = "web_gated"
TENANTS = ("a", "b")


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

    def _keys_db(self) -> str:
        """The key database the server reads: $MOOT_DATABASE_URL, else $MOOT_HOME/keys.db."""
        return self.env.get("MOOT_DATABASE_URL") or str(self.home / "keys.db")

    def create_key(self, tenant: str) -> str:
        """A new API key of `tenant` (kept in `keys` and `key_ids`, replacing an older one); the key.
        In process, not through `moot keys create`: a CLI process costs a second or two."""

        async def create() -> tuple[str, str]:
            async with key_store(self._keys_db()) as store:
                info, key = await store.create(tenant, label="web test")
                return key, info.key_id

        self.keys[tenant], self.key_ids[tenant] = run_async(create)
        return self.keys[tenant]

    def revoke(self, tenant: str) -> None:
        """Revoke `tenant`'s key (the server sees it at its next request)."""

        async def revoke() -> None:
            async with key_store(self._keys_db()) as store:
                await store.revoke(self.key_ids[tenant])

        run_async(revoke)

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

T = TypeVar("T")


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from a sync test, in a thread of its own: while Playwright's
    sync API is open, its event loop counts as running in the test's thread (so asyncio.run
    there fails, and so would pytest-asyncio's async tests in a module that drives the browser)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


@pytest.fixture
def web_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebFactory]:
    """Start `moot serve` processes: `web_factory(keys=("a", "b"), latency=0.3, env={...})`;
    all stopped after the test."""
    with _servers(tmp_path_factory) as make:
        yield make


@pytest.fixture(scope="module")
def web_module_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebFactory]:
    """`web_factory` for servers shared by the tests of a module (stopped after the module)."""
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
    """An open-mode server shared by a module, with a finished run (`"finished"`, user `ana`, in
    session `"session"`) and one waiting for approval (`"waiting"`, user `bo`): ids by name. For
    tests that only look (screenshots, axe)."""
    with _servers(tmp_path_factory) as make:
        server = make(latency=0.02)
        started = server.start_run()
        finished, session = started["run_id"], started["session_id"]
        waiting = server.start_run(workspace=GATED, user="bo")["run_id"]
        assert server.wait_status(finished)["status"] == "finished"
        assert server.wait_status(waiting, {"awaiting_approval", *TERMINAL})["status"] == "awaiting_approval"
        yield server, {"finished": finished, "waiting": waiting, "session": session}


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
        server = new_server(self.tmp.mktemp("web"), keys=keys, latency=latency, env=env)
        self.started.append(server)
        server.start()
        return server


def new_server(root: Path, *, keys: tuple[str, ...] = (), latency: float | dict[str, float] = 0.3, env: dict[str, str] | None = None) -> WebServer:
    """A server (not started yet) living in `root`: its home, its workspaces (`web_workspaces`
    with the scripted model's `latency`), an API key per tenant in `keys`, and `env` on top of
    the environment; embedded backends unless `env` names others."""
    environ = {
        **os.environ,
        "MOOT_HOME": str(root / "home"),
        "MOOT_WORKSPACES": str(web_workspaces(root / "spaces", latency)),
        "MOOT_EMBEDDER": "wordllama",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    for name in ("MOOT_DATABASE_URL", "MOOT_REDIS_URL", "MOOT_QUEUE", "MOOT_MODEL"):
        if env is None or name not in env:
            environ.pop(name, None)
    port = free_port()
    server = WebServer(f"http://127.0.0.1:{port}", port, root / "home", environ, root / "serve.log")
    for tenant in keys:
        server.create_key(tenant)
    return server


__all__ = ["GATED", "TASK", "TENANTS", "WORKSPACE", "WebFactory", "WebServer", "new_server", "run_async", "web_workspaces"]
