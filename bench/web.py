"""The web page's speed, in Chromium against a real `moot serve` on loopback: page loads, and how soon an event is on screen.

One `moot serve` process (open mode, embedded backends, a temporary MOOT_HOME) serving scripted
copies of the demo (tests/webserver.py: `web_demo`, and `web_gated` that waits for approval),
driven by Playwright on Debian's headless `/usr/bin/chromium`.

    python bench/web.py [--loads 10] [--runs 5] [--latency 0.1] [--json]

- **Page loads.** Each page of tests/webtools.py's PAGES (the runs list, a finished run, a run
  waiting for approval, its history, sessions, a session, memory, workspaces, a workspace) is
  loaded `--loads` times, each in a fresh browser context (no cache, no connection kept), after
  one warm-up load. From the browser's Navigation Timing: **first byte** (`responseStart`, from
  the start of the navigation) and **full load** (`loadEventEnd`: the HTML, its CSS and
  JavaScript, the stage graph), median and p95 per page.
- **Event to screen.** `--runs` runs of `web_demo` (the scripted model answers after `--latency`
  seconds, the intake agent after 1 s so the page is open before the deliberation starts), each
  watched live on its run page. The page's live.js records each applied event in
  `window.moot.applied` as `{id, kind, ts, shown}`: `ts` is the event's time on the server,
  `shown` the browser's clock right after the DOM update, so `shown - ts` is the time from the
  event to the screen (same machine, same clock), through the event log, the page's SSE stream
  (server-side rendering of the line), the browser's EventSource and the DOM update. Events
  before the stream opened (drawn by the server with the page) are left out. p50/p95/max over
  all runs' events (target: p95 < 100 ms).

The machine's load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from playwright.sync_api import Browser, sync_playwright
from servicetools import TERMINAL
from webserver import GATED, WebServer, new_server
from webtools import CHROMIUM, PAGES

OPENED = """(() => {  // when each EventSource of the page opens, on the browser's clock (seconds)
  const Original = window.EventSource;
  window.__mootOpened = [];
  window.EventSource = function (url, init) {
    const source = new Original(url, init);
    source.addEventListener('open', () => window.__mootOpened.push(Date.now() / 1000));
    return source;
  };
  window.EventSource.prototype = Original.prototype;
})();"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _launch(playwright: Any) -> Browser:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def page_loads(browser: Browser, server: WebServer, ids: dict[str, str], loads: int) -> dict[str, dict[str, float]]:
    """First byte and full load (ms) of each page: median and p95 of `loads` cold loads."""
    out: dict[str, dict[str, float]] = {}
    for name, path in PAGES.items():
        url = server.url + path.format(**ids)
        first: list[float] = []
        full: list[float] = []
        for i in range(loads + 1):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            response = page.goto(url, wait_until="load")
            assert response is not None and response.status == 200, (name, response and response.status)
            timing = page.evaluate(
                """() => new Promise(done => { const read = () => {
                    const n = performance.getEntriesByType('navigation')[0];
                    if (n && n.loadEventEnd > 0) done({first: n.responseStart - n.startTime, full: n.loadEventEnd - n.startTime});
                    else setTimeout(read, 5); }; read(); })"""
            )
            context.close()
            if i:  # the first load warms the server's caches (templates, the graph picture)
                first.append(timing["first"])
                full.append(timing["full"])
        out[name] = {
            "first_byte_p50": statistics.median(first), "first_byte_p95": _pct(first, 0.95),
            "full_load_p50": statistics.median(full), "full_load_p95": _pct(full, 0.95),
        }
    return out


def live_latency(browser: Browser, server: WebServer, runs: int) -> dict[str, Any]:
    """Event-to-screen latency (ms) over `runs` live runs watched on their run page."""
    latencies: list[float] = []
    kinds: dict[str, list[float]] = {}
    before_open = 0
    for _ in range(runs):
        run = server.start_run()
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(OPENED)
        page = context.new_page()
        page.goto(f"{server.url}/ui/runs/{run['run_id']}")
        page.wait_for_function(
            "() => (window.moot && window.moot.applied || []).some(e => ['run_finished', 'run_failed', 'run_cancelled'].includes(e.kind))",
            timeout=120_000,
        )
        applied = page.evaluate("() => window.moot.applied")
        opened = page.evaluate("() => window.__mootOpened")
        context.close()
        assert server.wait_status(run["run_id"])["status"] == "finished"
        assert opened, "the run page never opened its event stream"
        for event in applied:
            if event["ts"] < opened[0]:
                before_open += 1  # happened before the stream opened: a replay, not live
                continue
            ms = (event["shown"] - event["ts"]) * 1000
            latencies.append(ms)
            kinds.setdefault(event["kind"], []).append(ms)
    assert latencies, "no event arrived while the page was watching"
    return {
        "events": len(latencies), "left_out_before_open": before_open,
        "p50": statistics.median(latencies), "p95": _pct(latencies, 0.95), "max": max(latencies),
        "by_kind_p95": {kind: _pct(values, 0.95) for kind, values in sorted(kinds.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--loads", type=int, default=10, help="cold loads of each page (after one warm-up)")
    parser.add_argument("--runs", type=int, default=5, help="live runs watched for the event-to-screen latency")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the scripted model takes per answer")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON too")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="moot-bench-web-") as tmp:
        server = new_server(Path(tmp), latency={"*": args.latency, "intake": 1.0})
        server.start()
        try:
            started = server.start_run()
            waiting = server.start_run(workspace=GATED, user="bo")
            server.wait_status(started["run_id"])
            server.wait_status(waiting["run_id"], {"awaiting_approval", *TERMINAL})
            ids = {"finished": started["run_id"], "waiting": waiting["run_id"], "session": started["session_id"]}
            with sync_playwright() as playwright:
                browser = _launch(playwright)
                t0 = time.monotonic()
                loads = page_loads(browser, server, ids, args.loads)
                live = live_latency(browser, server, args.runs)
                elapsed = time.monotonic() - t0
                version = browser.version
                browser.close()
        finally:
            server.stop()
    load_after = os.getloadavg()
    print(f"moot web page, Chromium {version} headless, `moot serve` on loopback (open mode, SQLite, inline queue)")
    print(f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f}, {os.cpu_count()} CPUs, {elapsed:.0f} s")
    print(f"\npage loads, {args.loads} cold loads each (ms)    first byte p50 / p95    full load p50 / p95")
    for name, n in loads.items():
        print(f"  {name:<24} {n['first_byte_p50']:>10.1f} / {n['first_byte_p95']:<8.1f} {n['full_load_p50']:>12.1f} / {n['full_load_p95']:.1f}")
    print(f"\nevent to screen, {args.runs} live runs, {live['events']} events ({live['left_out_before_open']} before the stream opened, left out)")
    verdict = "meets" if live["p95"] < 100 else "MISSES"
    print(f"  p50 {live['p50']:.1f} ms   p95 {live['p95']:.1f} ms   max {live['max']:.1f} ms   ({verdict} the target p95 < 100 ms)")
    print("  p95 by event: " + ", ".join(f"{k} {v:.0f}" for k, v in live["by_kind_p95"].items()))
    if args.json:
        print(json.dumps({"loads": loads, "live": live, "load_before": load_before, "load_after": load_after}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
