"""`moot serve` (the HTTP API on uvicorn), `moot ui` (its web page, opened) and `moot worker`.

Open mode: without an active API key the server answers every request as tenant `local`, so it
binds to 127.0.0.1 only, whatever `--host` says, and says so. With keys, `--host 0.0.0.0` is
allowed. In a fleet, API processes (`moot serve --queue arq`) and `moot worker` processes scale
apart; they share PostgreSQL (`--database-url`) and Redis (`--redis-url`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

LOOPBACK = "127.0.0.1"


def add_serve_parsers(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="serve deliberations over HTTP (FastAPI on uvicorn)")
    serve.add_argument("--host", default=LOOPBACK, help="interface to bind (needs API keys for anything but loopback)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--reload", action="store_true", help="serve workspace edits to new runs without a restart")
    _shared(serve)
    worker = sub.add_parser("worker", help="execute queued runs (arq on Redis)")
    worker.add_argument("--name", default=None, help="worker name in run records (default: random)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.add_argument("--metrics-port", type=int, default=None, help=f"serve Prometheus metrics on http://{LOOPBACK}:PORT/metrics")
    _shared(worker)
    ui = sub.add_parser("ui", help="open the web page on an embedded service (moot serve on loopback, then the browser)")
    ui.add_argument("--port", type=int, default=8000)
    ui.add_argument("--no-browser", action="store_true", help="only print the page's address")
    ui.add_argument("--reload", action="store_true", help="serve workspace edits to new runs without a restart")
    _shared(ui)


def _shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", default=None, help="postgresql://... (default: $MOOT_DATABASE_URL, else SQLite under $MOOT_HOME)")
    p.add_argument("--redis-url", default=None, help="redis://... (default: $MOOT_REDIS_URL, else in process)")
    p.add_argument("--queue", choices=("inline", "arq"), default=None, help="where runs execute (default: arq with Redis, else inline)")
    p.add_argument("-W", "--workspaces", action="append", default=None, help="a folder of workspaces (repeatable; also $MOOT_WORKSPACES)")
    p.add_argument("--model", default=None, help="one chat model for every agent (as MOOT_MODEL)")


def _settings(args: argparse.Namespace, **extra: object):  # noqa: ANN202 - ServiceSettings, imported lazily
    from moot.service.settings import ServiceSettings
    from moot.settings import export

    # the worker processes of `uvicorn --workers` read the environment: put the flags there
    export(database_url=args.database_url, redis_url=args.redis_url, queue=args.queue, model=args.model, workspaces=args.workspaces)
    return ServiceSettings.from_env(**extra)


def run_serve(args: argparse.Namespace) -> int:
    from moot.service.keys import key_store

    settings = _settings(args, reload=args.reload or None)
    host = args.host
    if args.workers > 1 and (settings.queue == "inline" or not settings.redis_url):
        from moot.errors import ConfigError

        raise ConfigError(
            "several API processes must share runs and events through Redis: pass --redis-url "
            "(runs then go to `moot worker` processes), or serve with --workers 1"
        )

    async def active_keys() -> int:
        store = key_store(settings.database_url)
        try:
            return sum(1 for k in await store.list() if k.revoked_at is None)
        finally:
            await store.aclose()

    if not asyncio.run(active_keys()) and host != LOOPBACK:
        print(
            f"moot: no API keys are configured, so the service binds to {LOOPBACK} only (not {host}); "
            "create a key with `moot keys create --tenant NAME` to serve other machines",
            file=sys.stderr,
        )
        host = LOOPBACK
    if args.reload:
        from moot.settings import export

        export(reload=True)
    if args.workers > 1:
        _shared_metrics(args.port)
    print(f"moot: serving on http://{host}:{args.port} (queue: {settings.queue}; docs at /docs)", file=sys.stderr)
    _uvicorn(host, args.port, args.workers)
    return 0


def _uvicorn(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(
        "moot.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_level="warning", timeout_graceful_shutdown=10,
        # longer than clients' pooled-connection life (httpx: 5 s), so the server never closes a
        # connection at the moment a client reuses it (a dropped request, not a 4xx)
        timeout_keep_alive=30,
    )


def run_ui(args: argparse.Namespace) -> int:
    """`moot ui`: the service on 127.0.0.1 (whatever keys exist: it is this machine's page), and
    the page opened in the browser once the service answers (`--no-browser`: the address only)."""
    import threading

    settings = _settings(args, reload=args.reload or None)
    if args.reload:
        from moot.settings import export

        export(reload=True)
    url = f"http://{LOOPBACK}:{args.port}/"
    print(f"moot: the page is at {url} (queue: {settings.queue}; Ctrl-C stops it)", file=sys.stderr)
    if not args.no_browser:
        threading.Thread(target=_open_when_ready, args=(url,), daemon=True).start()
    _uvicorn(LOOPBACK, args.port)
    return 0


def _open_when_ready(url: str, timeout_s: float = 60.0) -> None:
    """Open `url` in the browser once the service's health check answers (not before: a browser
    opened on a port nobody listens on yet shows an error page)."""
    import time
    import webbrowser

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "healthz", timeout=1.0).status_code == 200:
                webbrowser.open(url)
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def run_worker(args: argparse.Namespace) -> int:
    from moot.service.worker import MootWorker, worker_settings

    settings = _settings(args, queue="arq")
    if not settings.redis_url:
        from moot.errors import ConfigError

        raise ConfigError("a worker needs Redis: pass --redis-url or set MOOT_REDIS_URL")
    print(f"moot: worker {args.name or ''} taking runs from {settings.queue_name}", file=sys.stderr)
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        # loopback only: a worker has no API keys to protect them with (moot.service.routes.metrics)
        start_http_server(args.metrics_port, addr=LOOPBACK)
        print(f"moot: worker metrics on http://{LOOPBACK}:{args.metrics_port}/metrics", file=sys.stderr)
    worker = MootWorker(**worker_settings(settings, name=args.name, burst=args.burst))
    worker.run()
    return 0


def _shared_metrics(port: int) -> None:
    """Several uvicorn processes answer /metrics in turn: have prometheus-client add theirs up
    (its multiprocess mode), in a folder of this server's, emptied at each start."""
    import shutil

    from moot.settings import moot_home, prometheus_multiproc_dir, share_prometheus_metrics

    if prometheus_multiproc_dir():
        return
    folder = moot_home() / "metrics" / str(port)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    share_prometheus_metrics(folder)  # read by the processes uvicorn starts


__all__ = ["add_serve_parsers", "run_serve", "run_ui", "run_worker"]
