"""moot as a service under load: one `moot serve` API process and 1, then 2, `moot worker`s.

Every session runs the classic deliberation with a zero-latency scripted model (a copy of the classic
workspace whose default model is `provider: scripted`), so what is measured is moot, not a
model. The fleet is the real one: arq run queue and event fan-out on Redis, checkpoints, run
index and tool ledger on PostgreSQL; clients are httpx over real HTTP and do what a user does:
create a session, start a run, follow its SSE stream to the end, then GET the run.

    python bench/service.py [--sessions 200] [--workers 1,2] [--sequential 20] [--idle 1000] [--clients-nice 10] [--quick]

Printed, per worker count: one run at a time, moot's end-to-end latency (POST run -> GET run
says finished) against the same workspace run in this process with `WorkspaceRunner`/`Orchestrator`
(no HTTP, no queue; on an in-memory checkpointer, and on the same PostgreSQL), interleaved run
by run so that machine noise hits all alike, with the median of each leg of a service run; then
N sessions at once: runs/s, p50/p95/p99 latency, errors (HTTP errors, runs that ended but not
finished, runs stuck past 300 s) and CPU per run of each process; the clients run at a lower
CPU priority meanwhile (`--clients-nice`), standing in for users on machines of their own. First, the in-process ceiling
(N in-process runs at once); last, the memory of idle sessions (Redis keys, API process RSS).

Every key lives under a prefix unique to this invocation and is deleted at the end, with this
invocation's PostgreSQL rows (runs, checkpoints, ledger). No API key is created (the fleet runs in
open mode as tenant `local`), so tests running beside the bench are not affected.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servicetools import POSTGRES_URL, REDIS_URL, free_port, moot_process, processes, wait_http  # noqa: E402

SCRIPT = ROOT / "tests" / "data" / "classic_script.json"
TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
WINNER = "alfama-walks"
STAMPED = ("run_queued", "run_started", "run_finished")


@dataclass
class Outcome:
    """One run as its client saw it; times are wall-clock seconds (server events carry the same clock)."""

    session_id: str
    run_id: str = ""
    error: str = ""
    kind: str = ""
    """Of an error: `http` (an HTTP error or a broken connection), `run` (ended but not finished), `stuck`."""
    t0: float = 0.0
    t1: float = 0.0
    stamps: dict[str, float] = field(default_factory=dict)
    step: str = "POST run"
    """The request in flight (named in an error)."""

    @property
    def latency(self) -> float:
        return self.t1 - self.t0


@dataclass
class Bench:
    """What one invocation owns: its names (every Redis key under `prefix`), and what it must clean up."""

    tag: str
    home: Path
    folder: Path
    run_ids: list[str] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"moot-bench-{self.tag}:"

    def env(self, max_active: int) -> dict[str, str]:
        return {
            **os.environ, "MOOT_HOME": str(self.home), "MOOT_DATABASE_URL": POSTGRES_URL, "MOOT_REDIS_URL": REDIS_URL,
            "MOOT_QUEUE": "arq", "MOOT_QUEUE_NAME": f"{self.prefix}runs", "MOOT_KEY_PREFIX": self.prefix,
            "MOOT_WORKSPACES": str(self.folder.parent), "PYTHONUNBUFFERED": "1",
            "MOOT_MAX_ACTIVE_RUNS": str(max_active),  # default 8 per tenant, and every bench session is tenant `local`
            "MOOT_EMBEDDER": "wordllama",  # memory stays on: no setting turns it off from the environment
        }


def make_workspace(root: Path) -> Path:
    """The classic deliberation (tests/data/workspaces/classic) as `bench`, every agent on the
    recorded script with no latency: the machinery's workload, as in bench/overhead.py."""
    folder = root / "spaces" / "bench"
    shutil.copytree(ROOT / "tests" / "data" / "workspaces" / "classic", folder)
    text = (folder / "moot.yaml").read_text().replace("name: classic", "name: bench", 1)
    start, end = text.index("models:"), text.index("max_repairs:")
    models = f"models:\n  default:\n    provider: scripted\n    script: {SCRIPT}\n    latency: 0\n"
    (folder / "moot.yaml").write_text(text[:start] + models + text[end:])
    return folder


# -- the client side ---------------------------------------------------------------------------


async def create_sessions(http: httpx.AsyncClient, bench: Bench, n: int, label: str, width: int = 50) -> list[str]:
    gate = asyncio.Semaphore(width)

    async def one(i: int) -> str:
        async with gate:
            resp = await http.post("/v1/sessions", json={"user_id": f"bench{bench.tag}-{label}{i}", "workspace": "bench"})
        if resp.status_code != 201:
            raise RuntimeError(f"POST /v1/sessions: HTTP {resp.status_code}: {resp.text[:300]}")
        return str(resp.json()["session_id"])

    ids = list(await asyncio.gather(*(one(i) for i in range(n))))
    bench.threads.extend(ids)
    return ids


async def drive(http: httpx.AsyncClient, bench: Bench, session_id: str, deadline_s: float = 300.0) -> Outcome:
    """Start a run, follow its events to the end, read the run: what a client of moot does."""
    out = Outcome(session_id)
    out.t0 = time.time()
    try:
        async with asyncio.timeout(deadline_s):
            resp = await http.post(f"/v1/sessions/{session_id}/runs", json={"task": TASK})
            if resp.status_code != 202:
                out.error, out.kind = f"POST runs: HTTP {resp.status_code}: {resp.text[:200]}", "http"
                return out
            run = resp.json()
            out.run_id, out.step = run["run_id"], "GET events"
            bench.run_ids.append(out.run_id)
            last = await follow(http, run["links"]["events"], out.stamps)
            out.step = "GET run"
            resp = await http.get(f"/v1/runs/{out.run_id}")
            out.t1 = time.time()
            if resp.status_code != 200:
                out.error, out.kind = f"GET run: HTTP {resp.status_code}: {resp.text[:200]}", "http"
                return out
            body = resp.json()
            winner = (body.get("result") or {}).get("winner")
            if body["status"] != "finished" or last != "run_finished" or winner != WINNER:
                out.kind = "run"
                out.error = f"run {out.run_id} {body['status']} (stream ended on {last!r}, winner {winner!r}): {body.get('error')}"
    except TimeoutError:
        out.error, out.kind = f"run {out.run_id or '?'} of {session_id}: no end within {deadline_s:g} s", "stuck"
    except httpx.HTTPError as exc:
        out.error, out.kind = f"run {out.run_id or '?'}, {out.step}: {exc!r}", "http"
    return out


async def follow(http: httpx.AsyncClient, path: str, stamps: dict[str, float]) -> str:
    """Read the SSE stream until the server ends it; keep the times of the STAMPED events.

    Messages are split on blank lines by hand (httpx's line iterator costs this process, which
    plays 200 clients on the same 2 cores as the service, more than the parsing itself)."""
    last, pending = "", ""
    async with http.stream("GET", path, headers={"Accept": "text/event-stream"}) as resp:
        if resp.status_code != 200:
            raise httpx.HTTPStatusError(f"GET events: HTTP {resp.status_code}", request=resp.request, response=resp)
        async for text in resp.aiter_text():
            *messages, pending = (pending + text).split("\n\n")
            for raw in messages:
                kind, data = "", None
                for line in raw.split("\n"):
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "event":
                        kind = value
                    elif name == "data":
                        data = value
                if kind and data is not None:
                    last = kind
                    if kind in STAMPED:
                        stamps[kind] = float(json.loads(data)["ts"])
    return last


# -- the bare run: the same workspace in this process --------------------------------------------


async def open_bare(bench: Bench, stack: AsyncExitStack) -> dict[str, Callable[[int], Awaitable[float]]]:
    """Timed runs of the workspace through `WorkspaceRunner`/`Orchestrator` here, with what the service gives
    a run besides HTTP and the queue: memory over every layer (episodic in process; semantic and
    procedural in a LangGraph store) and the workspace logs. Two kinds: everything in memory, and
    everything on the fleet's PostgreSQL (checkpointer, run index, tool ledger, memory store)."""
    from langgraph.checkpoint.memory import InMemorySaver

    from moot.logs import WorkspaceLogs
    from moot.memory.embedder import get_embedder
    from moot.memory.episodic import InProcessEpisodic
    from moot.memory.manager import MemoryManager
    from moot.memory.procedural import ProceduralMemory
    from moot.memory.semantic import SemanticMemory
    from moot.memory.stores import make_store
    from moot.persistence import open_persistence
    from moot.workspace.runner import WorkspaceRunner
    from moot.persistence.ledger import MemoryLedger

    embedder = get_embedder()
    pg = await stack.enter_async_context(open_persistence(POSTGRES_URL))
    runners: dict[str, Callable[[int], Awaitable[float]]] = {}
    for kind, saver, index, ledger in (("memory", InMemorySaver(), None, MemoryLedger()), ("postgres", pg.checkpointer, pg.index, pg.ledger)):
        opened = make_store("memory", embedder=embedder) if kind == "memory" else make_store("postgres", embedder=embedder, dsn=POSTGRES_URL)
        store = await stack.enter_async_context(opened)
        memory = MemoryManager(
            embedder=embedder, episodic=InProcessEpisodic(), semantic=SemanticMemory(store, None, embedder=embedder),
            procedural=ProceduralMemory(store),
        )
        runtime = WorkspaceRunner.load(bench.folder, memory=memory)
        await stack.enter_async_context(runtime.open_tools(ledger))
        orch = runtime.orchestrator(saver, index=index)
        memory.observe(orch.bus)
        WorkspaceLogs("bench").attach(orch.bus)

        async def run(i: int, orch: Any = orch, kind: str = kind) -> float:
            thread, run_id = f"bench{bench.tag}-bare-{kind}-{i}", f"run-bench{bench.tag}-{kind}-{i}"
            bench.threads.append(thread)
            bench.run_ids.append(run_id)
            t0 = time.perf_counter()
            result = await orch.run(TASK, session_id=thread, user_id=thread, run_id=run_id)  # a new user, as each service session
            elapsed = time.perf_counter() - t0
            if result.winner != WINNER:
                raise RuntimeError(f"bare run {run_id}: {result.status}, winner {result.winner!r}")
            return elapsed

        runners[kind] = run
    logging.getLogger("fastmcp").setLevel(logging.CRITICAL)  # sold-out bookings are expected (see the README)
    return runners


# -- the fleet -----------------------------------------------------------------------------------


@asynccontextmanager
async def fleet(bench: Bench, workers: int, max_active: int, logs: Path) -> AsyncIterator[tuple[str, Any, dict[str, Any]]]:
    """`moot serve` and `workers` x `moot worker`; yields (url, API process, worker processes by name)."""
    env = bench.env(max_active)
    port = free_port()
    api = moot_process(["serve", "--port", str(port)], env, logs / f"api-{workers}w.log")
    names = [f"bench{bench.tag}-{workers}w{i + 1}" for i in range(workers)]
    procs = {name: moot_process(["worker", "--name", name], env, logs / f"{name}.log") for name in names}
    with processes(api, *procs.values()):
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_http, url, 120)
        yield url, api, procs


async def warm_up(http: httpx.AsyncClient, bench: Bench, names: list[str]) -> None:
    """Runs one at a time until every worker has run one (loaded the workspace, the embedder, tools)."""
    seen: set[str] = set()
    for attempt in range(40):
        (session,) = await create_sessions(http, bench, 1, f"warm{len(names)}-{attempt}-")
        out = await drive(http, bench, session)
        if out.error:
            raise RuntimeError(f"warm-up run failed: {out.error}")
        async with await psycopg.AsyncConnection.connect(POSTGRES_URL) as conn:
            row = await (await conn.execute("SELECT worker FROM moot_runs WHERE run_id = %s", (out.run_id,))).fetchone()
        seen.add(row[0] if row else "")
        if seen >= set(names):
            return
    raise RuntimeError(f"after 40 warm-up runs only workers {sorted(seen)} of {names} had taken one")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (`/proc/<pid>/stat` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def idle_sessions(http: httpx.AsyncClient, redis: Redis, bench: Bench, api_pid: int, n: int) -> list[float]:
    """Growth per idle session (each of its own user): Redis by MEMORY USAGE of the session keys
    (the session's JSON, and the tenant's and the user's indexes) and by INFO, and the API's RSS."""

    async def usage() -> list[float]:  # [record bytes, index bytes, keys, INFO used_memory, API RSS bytes]
        found = [0.0, 0.0, 0.0]
        async for key in redis.scan_iter(match=f"{bench.prefix}sess:*", count=1000):
            found[0 if b":s:" in key else 1] += int(await redis.memory_usage(key, samples=0) or 0)
            found[2] += 1
        return [*found, int((await redis.info("memory"))["used_memory"]), rss_mb(api_pid) * 1024 * 1024]

    before = await usage()
    await create_sessions(http, bench, n, "idle")
    return [(a - b) / n for a, b in zip(await usage(), before)]


# -- measuring and reporting ---------------------------------------------------------------------


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else (values or [float("nan")])[0]


def breakdown(outs: list[Outcome]) -> str:
    """Median of each leg of a run: POST -> queued, queued -> started, started -> finished, end -> client has the record."""
    legs = [
        (o.stamps["run_queued"] - o.t0, o.stamps["run_started"] - o.stamps["run_queued"],
         o.stamps["run_finished"] - o.stamps["run_started"], o.t1 - o.stamps["run_finished"])
        for o in outs if not o.error and all(k in o.stamps for k in STAMPED)
    ]
    if not legs:
        return "no complete run"
    med = [statistics.median(leg) * 1000 for leg in zip(*legs)]
    return f"POST->queued {med[0]:.0f} ms, queued->started {med[1]:.0f} ms, execution {med[2]:.0f} ms, end->client {med[3]:.0f} ms"


async def sequential(http: httpx.AsyncClient, bench: Bench, bare: dict[str, Callable[[int], Awaitable[float]]], n: int, base: int) -> dict[str, Any]:
    """`n` rounds of one bare run of each kind and one service run, the order rotating each round."""
    sessions = await create_sessions(http, bench, n, f"seq{base}-")
    times: dict[str, list[float]] = {"memory": [], "postgres": [], "service": []}
    outs: list[Outcome] = []
    for i in range(n):
        order = ["memory", "postgres", "service"]
        for kind in order[i % 3 :] + order[: i % 3]:
            if kind == "service":
                out = await drive(http, bench, sessions[i])
                if out.error:
                    raise RuntimeError(f"sequential service run failed: {out.error}")
                outs.append(out)
                times["service"].append(out.latency)
            else:
                times[kind].append(await bare[kind](base + i))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    return {**med, "p95": pct(times["service"], 95) * 1000, "legs": breakdown(outs)}


def rates(latencies: list[float], wall: float, n: int) -> str:
    ms = [t * 1000 for t in latencies]
    return f"{len(ms) / wall:5.1f} runs/s ({wall:.1f} s for {n}), latency p50 {pct(ms, 50):.0f} / p95 {pct(ms, 95):.0f} / p99 {pct(ms, 99):.0f} ms"


async def bare_load(bare: dict[str, Callable[[int], Awaitable[float]]], kind: str, n: int) -> tuple[str, float]:
    """`n` bare runs at once in this process: the ceiling of one process with no HTTP and no queue.

    Returns the line to print and the runs per second."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    times = await asyncio.gather(*(bare[kind](100_000 + i) for i in range(n)))
    wall = time.perf_counter() - t0
    cpu_ms = (time.process_time() - cpu0) * 1000 / n
    return f"{rates(list(times), wall, n)}; CPU per run {cpu_ms:.0f} ms", n / wall


async def load(http: httpx.AsyncClient, bench: Bench, n: int, label: str) -> tuple[str, list[str], float]:
    """`n` sessions start a run at once; the line to print, the errors and the runs per second."""
    sessions = await create_sessions(http, bench, n, label)
    t0 = time.perf_counter()
    outs = await asyncio.gather(*(drive(http, bench, s) for s in sessions))
    wall = time.perf_counter() - t0
    errors = [o for o in outs if o.error]
    kinds = ", ".join(f"{k} {sum(1 for o in errors if o.kind == k)}" for k in ("http", "run", "stuck"))
    line = (
        f"{rates([o.latency for o in outs if not o.error], wall, n)}; errors {len(errors)} ({kinds})\n"
        f"    legs: {breakdown(list(outs))}"
    )
    return line, [o.error for o in errors], (n - len(errors)) / wall


@contextmanager
def yielding(nice: int) -> Iterator[None]:
    """The 200 clients at a lower CPU priority (`nice`) while they load the service.

    Users' clients run on their own machines; here they share the service's 2 cores, and the
    service's throughput would otherwise be measured minus what 200 httpx clients cost. They
    still get every idle cycle, so no response waits on them while a core is free. Linux keeps
    a priority per thread; the clients run on this (the loop's) thread."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, before + nice)
    try:
        yield
    finally:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, before)
        except PermissionError:  # raising a priority back needs CAP_SYS_NICE: the rest runs niced
            print(f"  (this process stays at nice {before + nice}: not allowed to raise it back)")


async def cleanup(bench: Bench) -> str:
    """Delete this invocation's Redis keys and PostgreSQL rows; say how many."""
    redis = Redis.from_url(REDIS_URL)
    deleted = 0
    try:
        mine = tuple(f"{r}:" for r in bench.run_ids)  # arq's keys end in job ids, which begin with the run id
        for pattern in (f"{bench.prefix}*", "arq:*"):  # the queue's name begins with the prefix
            batch = []
            async for raw in redis.scan_iter(match=pattern, count=5000):
                key = raw.decode()
                if pattern == "arq:*" and not key.split(":", 2)[-1].startswith(mine):
                    continue  # another user's job
                batch.append(raw)
            for i in range(0, len(batch), 500):
                deleted += await redis.delete(*batch[i : i + 500])
    finally:
        await redis.aclose()
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = 0
        for sql, arg in (
            ("DELETE FROM moot_runs WHERE run_id = ANY(%s)", bench.run_ids),
            ("DELETE FROM moot_tool_ledger WHERE key LIKE ANY(%s)", [f"{r}:%" for r in bench.run_ids]),
            ("DELETE FROM checkpoint_writes WHERE thread_id = ANY(%s)", bench.threads),
            ("DELETE FROM checkpoint_blobs WHERE thread_id = ANY(%s)", bench.threads),
            ("DELETE FROM checkpoints WHERE thread_id = ANY(%s)", bench.threads),
        ):
            rows += (await conn.execute(sql, (arg,))).rowcount
    return f"cleanup: {deleted} Redis keys and {rows} PostgreSQL rows deleted"


def log_tail(logs: Path, lines: int = 40) -> str:
    tails = ((p.name, p.read_text(errors="replace").splitlines()[-lines:]) for p in sorted(logs.glob("*.log")))
    return "\n".join(f"--- {name} (last {lines} lines)\n" + "\n".join(text) for name, text in tails)


async def measure(args: argparse.Namespace, bench: Bench, logs: Path, stack: AsyncExitStack) -> list[str]:
    """Every phase, printing as it goes; returns the errors of the loaded runs."""
    bare = await open_bare(bench, stack)
    for kind in ("memory", "postgres"):  # warm up: graph, embedder, tools, pool
        for i in range(3):
            await bare[kind](-1 - i)
    ceiling: dict[str, float] = {}
    for kind in ("memory", "postgres"):
        line, ceiling[kind] = await bare_load(bare, kind, args.sessions)
        print(f"in-process, {args.sessions} at once, {kind:8}:  {line}")
    max_active = max(1000, 2 * args.sessions)
    limits = httpx.Limits(max_connections=2 * args.sessions + 50, max_keepalive_connections=2 * args.sessions + 50)
    errors: list[str] = []
    for n, workers in enumerate(args.workers):
        async with (
            fleet(bench, workers, max_active, logs) as (url, api, procs),
            httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60.0, connect=30.0), limits=limits) as http,
        ):
            await warm_up(http, bench, list(procs))
            seq = await sequential(http, bench, bare, args.sequential, 1000 * n)
            print(f"\n[{workers} worker{'s' * (workers > 1)}] one run at a time, {args.sequential} rounds interleaved, medians:")
            print(f"  in-process, all in memory          {seq['memory']:6.1f} ms")
            print(f"  in-process, on PostgreSQL          {seq['postgres']:6.1f} ms")
            print(f"  service (HTTP + arq + PG + Redis)  {seq['service']:6.1f} ms (p95 {seq['p95']:.0f} ms): "
                  f"ratio {seq['service'] / seq['memory']:.2f} to in-memory, {seq['service'] / seq['postgres']:.2f} to PostgreSQL")
            print(f"    legs: {seq['legs']}")
            pids = {"API": api.pid, **{f"worker {i + 1}": w.pid for i, w in enumerate(procs.values())}}
            # the in-process runs left this process a large heap (their checkpoints, stores): out of
            # the collector's sight, so that the clients below do not pay for walking it
            gc.collect()
            gc.freeze()
            cpu0, own0 = {k: cpu_s(v) for k, v in pids.items()}, time.process_time()
            with yielding(args.clients_nice):
                line, errs, rate = await load(http, bench, args.sessions, f"load{workers}w-")
            errors += errs
            print(f"  {args.sessions} sessions at once: {line}")
            print(f"    ratio {rate / ceiling['postgres']:.2f} to in-process on PostgreSQL (target >= 0.8), "
                  f"{rate / ceiling['memory']:.2f} to in-process in memory")
            cpu = ", ".join(f"{k} {(cpu_s(v) - cpu0[k]) * 1000 / args.sessions:.0f}" for k, v in pids.items())
            print(f"    CPU per run: {cpu}, clients (this process) {(time.process_time() - own0) * 1000 / args.sessions:.0f} ms")
            rss = ", ".join(f"{rss_mb(p.pid):.0f}" for p in procs.values())
            print(f"  RSS after: API {rss_mb(api.pid):.0f} MB, workers {rss} MB; load average {os.getloadavg()[0]:.1f}")
            for error in errs[:10]:
                print(f"    error: {error}")
            if n == len(args.workers) - 1 and args.idle:
                redis = Redis.from_url(REDIS_URL)
                try:
                    idle = await idle_sessions(http, redis, bench, api.pid, args.idle)
                finally:
                    await redis.aclose()
                print(f"\n{args.idle} idle sessions, per session: Redis {idle[0] + idle[1]:.0f} bytes by MEMORY USAGE "
                      f"(session {idle[0]:.0f} + indexes {idle[1]:.0f}; {idle[2]:.2f} keys), {idle[3]:+.0f} by INFO used_memory "
                      f"(a shared server: noisy); API RSS {idle[4]:+.0f} bytes ({rss_mb(api.pid):.0f} MB)")
    return errors


async def main_async(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="moot-bench-service-"))
    bench = Bench(uuid.uuid4().hex[:8], tmp / "home", make_workspace(tmp))
    os.environ.update({"MOOT_HOME": str(bench.home), "MOOT_EMBEDDER": "wordllama"})  # for the in-process runs
    logs = Path(args.logs) if args.logs else tmp / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"moot service bench {bench.tag}: classic deliberation, zero-latency scripted model, PostgreSQL + Redis (arq); "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    failed = True
    try:
        async with AsyncExitStack() as stack:
            failed = bool(await measure(args, bench, logs, stack))
    finally:
        print(await cleanup(bench))
        if failed:
            print(log_tail(logs), file=sys.stderr)
        if not args.logs:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=None, help="sessions running at once (default 200)")
    ap.add_argument("--workers", default="1,2", help="worker counts to measure, in order (default 1,2)")
    ap.add_argument("--sequential", type=int, default=None, help="rounds of one run of each kind, one at a time (default 20)")
    ap.add_argument("--idle", type=int, default=None, help="idle sessions created to measure memory (default 1000; 0: skip)")
    ap.add_argument("--quick", action="store_true", help="smoke size: 20 sessions, 5 rounds, 100 idle sessions (flags still win)")
    ap.add_argument("--clients-nice", type=int, default=10,
                    help="nice increment of this process while its clients load the service (default 10; 0: same priority)")
    ap.add_argument("--logs", default=None, help="keep the processes' logs in this folder")
    args = ap.parse_args()
    for name, full, quick in (("sessions", 200, 20), ("sequential", 20, 5), ("idle", 1000, 100)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    try:
        args.workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        ap.error(f"--workers takes worker counts separated by commas (e.g. 1,2), not {args.workers!r}")
    if min(args.workers) < 1 or args.sessions < 1 or args.sequential < 1 or args.idle < 0:
        ap.error("--workers and --sessions and --sequential must be at least 1, --idle at least 0")
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
