"""The service's Prometheus metrics: one registry per process, names by Prometheus'
conventions (`batch_service_*`, base units, counters ending in `_total`)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from schemas.outbound import Announcement, CertificateEligible, EnrolmentStatusEvent
from services.ports import DeadLetter

__all__ = ["Metrics", "reason_code"]

_CODE = re.compile(r"^([a-z][a-z-]*):")
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LATENCY = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30, 60, 300)
_RECORDS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)


def reason_code(reason: str) -> str:
    """A dead letter's reason as a label of bounded cardinality: its code (`invalid-json`,
    `invalid-event`, `unknown-type`, `too-large`, `wrong-topic`, `empty`), or `rejected` for a
    batch event that breaks a rule (`batch.updated for batch never created`, ...)."""
    match = _CODE.match(reason)
    return match.group(1) if match else "rejected"


class Metrics:
    """Every metric of a process, in a registry of its own (tests run several services in one
    process); the process' CPU, memory, start time and file descriptors included."""

    def __init__(self) -> None:
        self._before_render: list[Callable[[], None]] = []
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.lag = Gauge(
            "batch_service_consumer_lag_records",
            "Records behind: the partition's high-water mark minus the group's committed offset",
            ["topic", "partition"],
            registry=r,
        )
        self.poll_records = Histogram(
            "batch_service_poll_records", "Records per non-empty poll", buckets=_RECORDS, registry=r
        )
        self.step_seconds = Histogram(
            "batch_service_step_duration_seconds",
            "Duration of a step: poll (all of a poll), fold (loads and saves included), load, "
            "save, publish, acknowledge, commit, relay, tick, idle",
            ["step"],
            buckets=_SECONDS,
            registry=r,
        )
        self.folded = Counter(
            "batch_service_records_folded",
            "Valid records folded and committed",
            ["topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "batch_service_dead_letters",
            "Records sent to the dead-letter topic, by reason code and source topic",
            ["reason", "topic"],
            registry=r,
        )
        self.certificates = Counter(
            "batch_service_certificates_published",
            "certificate.eligible events published (the relay's included)",
            registry=r,
        )
        self.statuses = Counter(
            "batch_service_enrolment_status_published",
            "Enrolment-status events published, by status",
            ["status"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "batch_service_outbox_pending_documents",
            "Documents with announcements not yet published (read from MongoDB at scrape)",
            registry=r,
        )
        self.outbox_oldest = Gauge(
            "batch_service_outbox_oldest_age_seconds",
            "Age of the oldest announcement not yet published (0: none)",
            registry=r,
        )
        self.retries = Counter(
            "batch_service_retries",
            "Transient failures retried, by kind (StoreUnavailable, PublishUnavailable, ...)",
            ["kind"],
            registry=r,
        )
        self.rebalances = Counter(
            "batch_service_rebalances", "Partition assignments received", registry=r
        )
        self.last_commit = Gauge(
            "batch_service_last_commit_timestamp_seconds",
            "Unix time of the last successful offset commit",
            registry=r,
        )
        self.fact_to_certificate = Histogram(
            "batch_service_fact_to_certificate_seconds",
            "From the Kafka timestamp of the fact that completed a learner to the "
            "certificate.eligible event acknowledged",
            buckets=_LATENCY,
            registry=r,
        )

    def before_render(self, refresh: Callable[[], None]) -> None:
        """Call `refresh` (no I/O) at every scrape, before the exposition is written: for a
        gauge whose inputs change while its owner is busy elsewhere."""
        self._before_render.append(refresh)

    def stop_rendering(self, refresh: Callable[[], None]) -> None:
        """No longer call `refresh` (its owner is gone)."""
        with contextlib.suppress(ValueError):
            self._before_render.remove(refresh)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        for refresh in self._before_render:
            refresh()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def dead_lettered(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self.dead_letters.labels(reason_code(letter.reason), letter.source.topic).inc()

    def announced(self, events: Sequence[Announcement], fact_times_ms: Mapping[str, int]) -> None:
        now = time.time()
        for event in events:
            if isinstance(event, CertificateEligible):
                self.certificates.inc()
                if (at := fact_times_ms.get(event.id)) is not None:
                    self.fact_to_certificate.observe(max(0.0, now - at / 1000))
            elif isinstance(event, EnrolmentStatusEvent):
                self.statuses.labels(event.data.status).inc()

    def committed(self) -> None:
        self.last_commit.set(time.time())

    def outbox(self, pending: int, oldest: datetime | None, now: datetime) -> None:
        self.outbox_pending.set(pending)
        self.outbox_oldest.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
