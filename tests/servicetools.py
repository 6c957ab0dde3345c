"""Serve the moot app over real HTTP on loopback (uvicorn in the test's event loop or as processes)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

REDIS_URL = os.environ.get("MOOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("MOOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TERMINAL = {"finished", "failed", "cancelled"}


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Run `app` on uvicorn at 127.0.0.1 on a free port for the block; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scripted_demo(root: Path, name: str, latency: str | None = None) -> Path:
    """A copy of the built-in demo named `name` under `root/spaces`, every agent on the recorded
    demo script (`latency`: the scripted model's latency setting, e.g. "{critic: 2}")."""
    import shutil

    from moot.workspace.loader import builtin_path

    folder = root / "spaces" / name
    shutil.copytree(builtin_path("demo"), folder)
    text = (folder / "moot.yaml").read_text().replace("name: demo", f"name: {name}", 1)
    start, end = text.index("models:"), text.index("max_repairs:")
    script = Path(__file__).parent / "data" / "demo_script.json"
    models = f"models:\n  default:\n    provider: scripted\n    script: {script}\n" + (f"    latency: {latency}\n" if latency else "")
    (folder / "moot.yaml").write_text(text[:start] + models + text[end:])
    return folder


def fleet_env(home: Path, workspaces: Path, tag: str, **extra: str) -> dict[str, str]:
    """The environment of a fleet's processes: PostgreSQL, Redis and an arq queue under keys of
    their own (`tag`), the workspaces folder, the fast embedder; no OTEL_* from the test's."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "MOOT_HOME": str(home),
        "MOOT_DATABASE_URL": POSTGRES_URL,
        "MOOT_REDIS_URL": REDIS_URL,
        "MOOT_QUEUE": "arq",
        "MOOT_QUEUE_NAME": f"moot-test-{tag}:runs",
        "MOOT_KEY_PREFIX": f"moot-test-{tag}:",
        "MOOT_WORKSPACES": str(workspaces),
        "MOOT_EMBEDDER": "wordllama",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def drop_redis_keys(prefix: str) -> None:
    """Remove every Redis key under `prefix` (a fleet's sessions, events, leases, queue)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def moot_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A `moot` CLI process (serve or worker) with its output in `log`."""
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "moot.cli.main", *args], env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_http(url: str, timeout: float = 60.0, path: str = "/healthz") -> None:
    """Wait until `url + path` answers 200 (a server is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


async def wait_status(client: httpx.AsyncClient, run_id: str, statuses: set[str], timeout: float = 60.0) -> dict[str, Any]:
    """Poll a run until its status is in `statuses`; fail with the last record."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        resp = await client.get(f"/v1/runs/{run_id}")
        resp.raise_for_status()
        body = resp.json()
        if body["status"] in statuses:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not reach {statuses} in {timeout} s: {body}")


async def sse_events(
    client: httpx.AsyncClient,
    path: str,
    *,
    last_event_id: str | None = None,
    limit: int | None = None,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Read Server-Sent Events from `path` until the stream ends (or `limit` events, or the first
    event for which `until` holds)."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with client.stream("GET", path, headers=headers) as resp:
        assert resp.status_code == 200, await resp.aread()
        async for line in resp.aiter_lines():
            if not line:
                if "data" in current:
                    current["data"] = json.loads(current["data"])
                    events.append(current)
                    if (limit is not None and len(events) >= limit) or (until is not None and until(current)):
                        break
                current = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value
    return events


@contextmanager
def processes(*procs: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
