"""A real Prometheus (Debian's package, installed by scripts/system-tools) scrapes `moot serve`
and answers `moot_runs_total` through its own HTTP API after deliberations complete."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servicetools import free_port, moot_process, processes, scripted_demo, wait_http, wait_status

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"
PROMETHEUS = shutil.which("prometheus")


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[tuple[str, str]]:
    if PROMETHEUS is None:
        pytest.fail("prometheus is missing: run scripts/system-tools (make test does)")
    folder = scripted_demo(tmp_path, "scraped")
    env = {**os.environ, "MOOT_HOME": str(tmp_path / "home"), "MOOT_WORKSPACES": str(folder.parent), "MOOT_EMBEDDER": "wordllama"}
    env.pop("MOOT_DATABASE_URL", None)
    env.pop("MOOT_REDIS_URL", None)
    port, prom_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        f"scrape_configs:\n  - job_name: moot\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    api = moot_process(["serve", "--port", str(port)], env, tmp_path / "api.log")
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=(tmp_path / "prometheus.log").open("wb"), stderr=subprocess.STDOUT,
    )
    with processes(api, prometheus):
        url, prom = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{prom_port}"
        wait_http(url, timeout=90)
        try:
            wait_http(prom, timeout=30, path="/-/ready")
        except TimeoutError:
            raise AssertionError((tmp_path / "prometheus.log").read_text()[-2000:]) from None
        yield url, prom


async def test_prometheus_scrapes_the_runs_moot_served(scraped: tuple[str, str]) -> None:
    url, prom = scraped
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for user in ("ana", "bo"):
            session = (await client.post("/v1/sessions", json={"user_id": user, "workspace": "scraped"})).json()
            run = (await client.post(f"/v1/sessions/{session['session_id']}/runs", json={"task": TASK})).json()
            assert (await wait_status(client, run["run_id"], {"finished", "failed"}, timeout=90))["status"] == "finished"
    query = 'moot_runs_total{workspace="scraped",outcome="finished"}'
    deadline, result = time.monotonic() + 30, []
    async with httpx.AsyncClient(base_url=prom, timeout=10) as client:
        while time.monotonic() < deadline:
            body = (await client.get("/api/v1/query", params={"query": query})).json()
            result = body["data"]["result"]
            if result and float(result[0]["value"][1]) == 2:
                break
            await asyncio.sleep(0.5)
        assert result and float(result[0]["value"][1]) == 2, result
        targets = (await client.get("/api/v1/targets")).json()["data"]["activeTargets"]
        assert targets and targets[0]["health"] == "up", targets

