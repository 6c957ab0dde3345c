"""The Grafana dashboard shipped in deploy/grafana uses only metrics moot exports, so it cannot rot
silently when a metric is renamed; and every metric moot exports has a panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import moot.telemetry.metrics  # noqa: F401 - registers the metrics

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "moot-dashboard.json"


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _exported() -> dict[str, set[str]]:
    """Each moot metric family, with the series names Prometheus will hold for it."""
    return {f.name: {f.name + suffix for suffix in SUFFIXES[f.type]} for f in REGISTRY.collect() if f.name.startswith("moot_")}


def test_every_query_names_an_exported_metric_and_every_metric_has_a_panel() -> None:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\bmoot_\w+", expr)}
    exported = _exported()
    series = set().union(*exported.values())
    assert used - series == set(), f"the dashboard queries metrics moot does not export: {sorted(used - series)}"
    missing = {family for family, names in exported.items() if not names & used}
    assert missing == set(), f"metrics without a panel: {sorted(missing)}"
