"""The orchestration's observer in the service: each step timed into a histogram and, when
tracing is on, run inside a span of its own."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence

from opentelemetry import trace

from schemas.outbound import Announcement
from services.ports import DeadLetter
from telemetry.metrics import Metrics

__all__ = ["MetricsObserver"]

_tracer = trace.get_tracer("batch_service")


class MetricsObserver:
    """The `Observer` port: Prometheus for durations and counts, OpenTelemetry for spans (a
    no-op tracer unless tracing is configured)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        with _tracer.start_as_current_span(f"batch-service {name}"):
            try:
                yield
            finally:
                self._metrics.step_seconds.labels(name).observe(time.perf_counter() - started)

    def dead_lettered(self, letters: Sequence[DeadLetter]) -> None:
        self._metrics.dead_lettered(letters)

    def announced(self, events: Sequence[Announcement], fact_times_ms: Mapping[str, int]) -> None:
        self._metrics.announced(events, fact_times_ms)
