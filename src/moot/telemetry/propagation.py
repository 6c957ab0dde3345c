"""Trace context across processes: W3C `traceparent` in a plain dict, as a queued job carries it.

FastMCP carries it to MCP servers in a request's `_meta` by itself (SEP-414); arq jobs are
moot's own hop, so the API puts the request's context in the job and the worker continues it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import propagate

from moot.telemetry import spans


def carrier() -> dict[str, str] | None:
    """The current trace context as headers (`traceparent`, `tracestate`), or None when off."""
    if not spans.enabled():
        return None
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers or None


@contextmanager
def continued(headers: dict[str, str] | None) -> Iterator[None]:
    """Make the context in `headers` current (nothing happens for None or an empty dict)."""
    with spans.attached(propagate.extract(headers) if headers else None):
        yield


__all__ = ["carrier", "continued"]
