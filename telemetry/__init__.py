"""Operating the service: Prometheus metrics, the probes' state, OpenTelemetry traces.

Below the entry points and the adapters (they record into it), above the orchestration (whose
`Observer` port it implements)."""

from telemetry.health import Health
from telemetry.metrics import Metrics, reason_code
from telemetry.mongo_commands import MongoCommandMetrics
from telemetry.observer import MetricsObserver
from telemetry.tracing import add_trace_ids, kafka_sends_traced, tracing

__all__ = [
    "Health",
    "Metrics",
    "MetricsObserver",
    "MongoCommandMetrics",
    "add_trace_ids",
    "kafka_sends_traced",
    "reason_code",
    "tracing",
]
