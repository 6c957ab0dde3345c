"""Turning tracing on in a process: OpenTelemetry's SDK, configured by the standard `OTEL_*` variables.

Tracing is off unless the environment asks for it: `OTEL_TRACES_EXPORTER` (`otlp`, `console` or
`none`) or an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`);
`OTEL_SDK_DISABLED=true` wins over both. The SDK and its OTLP/HTTP exporter come with the extra
`moot[otel]`; the exporter reads its own variables (endpoint, headers, timeout, compression).

A collector that is down or slow never slows a run: spans wait in the SDK's bounded queue
(`OTEL_BSP_MAX_QUEUE_SIZE`, 2,048 by default) for a background thread, and the ones that find it
full are dropped and counted (`on_dropped`, which the service turns into a Prometheus counter).
A malformed variable is reported in one line, and the process goes on without traces.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import trace

from moot.settings import otel_variables
from moot.telemetry import spans

log = logging.getLogger("moot.telemetry")

_NUMBERS = ("OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_EXPORTERS = ("otlp", "console", "none")


class TracingSettingsError(ValueError):
    """An `OTEL_*` variable moot cannot use; its message is the one line printed at start."""


def exporter_wanted(environ: dict[str, str] | None = None) -> str | None:
    """`otlp`, `console` or None (off), from the environment; raises TracingSettingsError."""
    env = otel_variables() if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    for name in _NUMBERS:
        value = env.get(name, "").strip()
        if value and not value.isdigit():
            raise TracingSettingsError(f"${name} must be a whole number of spans or milliseconds, not {value!r}: tracing is off")
    for name in _ENDPOINTS:
        value = env.get(name, "").strip()
        if value and not value.startswith(("http://", "https://")):
            raise TracingSettingsError(f"${name} must be an http:// or https:// address, not {value!r}: tracing is off")
    chosen = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen:
        first = chosen.split(",")[0].strip()
        if first not in _EXPORTERS:
            raise TracingSettingsError(f"$OTEL_TRACES_EXPORTER must be one of {', '.join(_EXPORTERS)}, not {chosen!r}: tracing is off")
        return None if first == "none" else first
    return "otlp" if any(env.get(name, "").strip() for name in _ENDPOINTS) else None


def configure(service: str, *, on_dropped: Callable[[int], None] | None = None, exporter: Any = None) -> bool:
    """Install a tracer provider for this process if the environment asks for one (or
    `exporter` is given: tests pass an in-memory one). Returns whether tracing is on."""
    if spans.enabled():  # once per process (OpenTelemetry's global provider cannot be replaced)
        return True
    try:
        kind = "given" if exporter is not None else exporter_wanted()
    except TracingSettingsError as exc:
        log.error("%s", exc)
        return False
    if kind is None:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
        )
    except ImportError:
        log.error("tracing is asked for (OTEL_* variables) but OpenTelemetry's SDK is not installed: pip install 'moot[otel]'")
        return False
    if exporter is None and kind == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )
        except ImportError:
            log.error("OTLP export is asked for but its exporter is not installed: pip install 'moot[otel]'")
            return False
        exporter = OTLPSpanExporter()
    elif exporter is None:
        exporter = ConsoleSpanExporter()

    class CountingBatchSpanProcessor(BatchSpanProcessor):
        """The SDK's batch processor, counting the spans its full queue drops."""

        def on_end(self, span: Any) -> None:
            queue = getattr(getattr(self, "_batch_processor", None), "_queue", None)
            if on_dropped is not None and queue is not None and queue.maxlen is not None and len(queue) >= queue.maxlen:
                on_dropped(1)
            super().on_end(span)

    resource = Resource.create({"service.name": otel_variables().get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(CountingBatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # FastMCP's spans, FastAPI's
    spans.use(provider)
    log.info("tracing on: %s spans of %s", kind, resource.attributes.get("service.name"))
    return True


def shutdown() -> None:
    """Flush and stop the provider (end of a process: the last spans are exported)."""
    spans.use(None)
    provider = trace.get_tracer_provider()
    stop = getattr(provider, "shutdown", None)
    if stop is not None:
        stop()


__all__ = ["TracingSettingsError", "configure", "exporter_wanted", "shutdown"]
