"""OpenTelemetry traces, off unless `BATCH_SERVICE_OTLP_ENDPOINT` names a collector: spans of
the service's steps, of aiokafka's sends and polls and of pymongo's commands, exported over
OTLP/HTTP; trace ids in the JSON logs."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from services.settings import Settings

__all__ = ["add_trace_ids", "kafka_sends_traced", "tracing"]


@contextmanager
def tracing(settings: Settings) -> Iterator[TracerProvider | None]:
    """Traces exported to `otlp_endpoint` while inside (flushed on exit); nothing when unset."""
    if not settings.otlp_endpoint:
        yield None
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create({"service.name": "batch-service", "service.version": _version()})
    sampler = ParentBased(TraceIdRatioBased(settings.trace_sample_ratio))
    provider = TracerProvider(resource=resource, sampler=sampler)
    endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    AIOKafkaInstrumentor().instrument(tracer_provider=provider)
    PymongoInstrumentor().instrument(tracer_provider=provider)
    try:
        yield provider
    finally:
        provider.shutdown()  # flushes what is buffered


def kafka_sends_traced() -> bool:
    """Whether aiokafka's sends carry the current trace context already (instrumented)."""
    return bool(AIOKafkaInstrumentor().is_instrumented_by_opentelemetry)


def add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: `trace_id` and `span_id` of the current span, when there is one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def _version() -> str:
    try:
        return version("batch-service")
    except PackageNotFoundError:
        return "unknown"
