"""`tracing:` in moot.yaml: the defaults of a CLI run's `OTEL_*` variables (the environment wins).

Checked end to end: `moot run` on a workspace whose moot.yaml names a collector exports the
run's spans to a real OTLP/HTTP receiver, under the block's service name; the same run with
`OTEL_SERVICE_NAME` set exports under the variable's. A block moot cannot use is refused with its
file and line, before anything runs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from clitools import moot_cmd
from otlptools import otlp_receiver
from servicetools import scripted_demo

from moot.errors import ConfigError
from moot.workspace.loader import load_workspace
from moot.workspace.spec import TracingSpec

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"


def _with_tracing(folder: Path, block: str) -> Path:
    path = folder / "moot.yaml"
    path.write_text(path.read_text() + block)
    return folder


def _run(folder: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MOOT_DATABASE", "MOOT_REDIS"))}
    full = {**clean, "MOOT_HOME": str(home), "MOOT_EMBEDDER": "wordllama", "OTEL_BSP_SCHEDULE_DELAY": "100", **env}
    return subprocess.run(moot_cmd("run", "-w", str(folder), "--json", TASK), env=full, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("env_service", [None, "from-the-environment"])
def test_moot_run_exports_to_the_collector_its_workspace_names(tmp_path: Path, env_service: str | None) -> None:
    with otlp_receiver() as receiver:
        folder = _with_tracing(scripted_demo(tmp_path, "traced"), f"tracing:\n  endpoint: {receiver.url}\n  service_name: trip-planner\n")
        done = _run(folder, tmp_path / "home", **({"OTEL_SERVICE_NAME": env_service} if env_service else {}))
        assert done.returncode == 0, done.stderr[-3000:]
        spans = receiver.wait_for(lambda found: any(s.name.startswith("invoke_workflow") for s in found), timeout=20)
    [workflow] = [s for s in spans if s.name.startswith("invoke_workflow")]
    assert workflow.service == (env_service or "trip-planner")
    trace = [s for s in spans if s.trace_id == workflow.trace_id]
    names = {s.name.split(" ")[0] for s in trace}
    assert {"invoke_workflow", "stage", "invoke_agent", "chat", "execute_tool"} <= names, sorted(names)
    assert not any("gen_ai.input.messages" in s.attributes for s in trace), "contents only when the block opts in"


def test_a_workspace_without_a_tracing_block_exports_nothing(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        done = _run(scripted_demo(tmp_path, "quiet"), tmp_path / "home")
        assert done.returncode == 0, done.stderr[-3000:]
        assert receiver.wait_for(lambda found: bool(found), timeout=2) == []


@pytest.mark.parametrize(
    ("block", "at", "message"),
    [
        ("tracing:\n  endpoint: collector:4318\n", 1, "endpoint"),
        ("tracing:\n  exporter: otlp\n", 0, "needs `endpoint: http://HOST:4318`"),
        ("tracing:\n  exporter: console\n  sample_ratio: 2\n", 2, "sample_ratio"),
        ("tracing:\n  exporter: jaeger\n", 1, "exporter"),
        ("tracing:\n  endpoint: http://127.0.0.1:4318\n  headers: {x: y}\n", 2, "headers"),
    ],
)
def test_a_tracing_block_moot_cannot_use_is_refused_with_its_line(tmp_path: Path, block: str, at: int, message: str) -> None:
    """`at`: the block's line the error points at (0: `tracing:` itself, for what spans fields)."""
    folder = _with_tracing(scripted_demo(tmp_path, "bad"), block)
    line = len((folder / "moot.yaml").read_text().splitlines()) - block.count("\n") + 1 + at
    with pytest.raises(ConfigError) as caught:
        load_workspace(folder)
    text = str(caught.value)
    assert "moot.yaml" in text and f":{line}" in text and message in text, text


def test_the_block_stands_for_the_standard_variables() -> None:
    block = TracingSpec(endpoint="https://otel.example:4318", service_name="planner", sample_ratio=0.25, capture_content=True)
    assert block.variables() == {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example:4318",
        "OTEL_SERVICE_NAME": "planner",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    assert TracingSpec(exporter="console").variables() == {"OTEL_TRACES_EXPORTER": "console"}
