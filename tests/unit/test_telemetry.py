"""Issue 14's pieces without servers: reason codes, the observer's histograms and counters,
liveness, the trace context the pipeline hands to the publisher, and the header's check."""

from __future__ import annotations

import dataclasses
import time

import pytest

from producers.kafka import _TRACEPARENT
from schemas.outbound import CertificateEligible, CertificateEligibleData
from services.pipeline import Pipeline
from services.ports import DeadLetter, Received
from services.storage import InMemoryStore
from telemetry import Health, Metrics, MetricsObserver, reason_code
from testkit.fakes import RecordingPublisher
from tests.unit.builders import batch_created, completed, course, enrolled, template
from tests.unit.test_pipeline import received

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER = "00-11111111111111111111111111111111-2222222222222222-01"


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("invalid-json: Expecting value", "invalid-json"),
        ("invalid-event: data.score: must be <= maxScore", "invalid-event"),
        ("unknown-type: `type` must be one of ...", "unknown-type"),
        ("too-large: 2000000 bytes > max_event_bytes 1048576", "too-large"),
        ("wrong-topic: enrolment.created belongs on x, not y", "wrong-topic"),
        ("empty: the message has no value", "empty"),
        ("batch.updated for batch never created", "rejected"),
        ("batch.updated makes dates out of order: ...", "rejected"),
    ],
)
def test_a_dead_letter_reason_becomes_a_label_of_bounded_cardinality(
    reason: str, code: str
) -> None:
    assert reason_code(reason) == code


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_the_observer_times_steps_and_counts_letters_and_announcements() -> None:
    metrics = Metrics()
    observer = MetricsObserver(metrics)
    with observer.step("fold"):
        pass
    with pytest.raises(RuntimeError), observer.step("save"):
        raise RuntimeError("a failed step is timed too")
    assert _sample(metrics, "batch_service_step_duration_seconds_count", step="fold") == 1
    assert _sample(metrics, "batch_service_step_duration_seconds_count", step="save") == 1
    source = Received("lms.progress.v1", 0, 1, None, b"{")
    observer.dead_lettered([DeadLetter(source, "invalid-json: x"), DeadLetter(source, "oops")])
    for reason in ("invalid-json", "rejected"):
        labels = {"reason": reason, "topic": "lms.progress.v1"}
        assert _sample(metrics, "batch_service_dead_letters_total", **labels) == 1
    event = CertificateEligible(
        id="e1",
        time="2026-01-01T00:00:00Z",
        data=CertificateEligibleData(
            batchId="b",
            courseId="c",
            userId="u",
            templateId="t",
            completionPercentage=100,
            scorePercentage=None,
            completedAt=None,
        ),
    )
    observer.announced([event], {"e1": int((time.time() - 2) * 1000)})
    assert _sample(metrics, "batch_service_certificates_published_total") == 1
    assert _sample(metrics, "batch_service_fact_to_certificate_seconds_count") == 1
    latency = _sample(metrics, "batch_service_fact_to_certificate_seconds_sum")
    assert 2 <= latency < 10, latency


def test_liveness_follows_the_loops_beat_only_while_it_consumes() -> None:
    health = Health(liveness_timeout_s=0.05)
    time.sleep(0.1)
    assert health.alive(), "a process that does not consume (yet) is alive while it answers"
    health.consuming = True
    assert not health.alive()
    health.beat()
    assert health.alive() and health.silent_for_s() < 0.05


def test_liveness_fails_while_one_attempt_of_the_clocks_work_hangs() -> None:
    health = Health(liveness_timeout_s=0.05)
    health.consuming = True
    health.tick_started()
    time.sleep(0.1)
    health.beat()  # the loop beats on: the clock's work alone is stuck
    assert not health.alive() and health.tick_running_for_s() >= 0.1
    health.tick_ended()
    assert health.alive() and health.tick_running_for_s() == 0.0
    health.tick_started()  # a new attempt (a retry) starts its own count
    assert health.alive()


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        (TRACE, True),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", False),
        ("garbage", False),
        (TRACE + "-extra", False),
    ],
)
def test_only_a_well_formed_traceparent_is_carried_on(header: str, valid: bool) -> None:
    assert bool(_TRACEPARENT.match(header)) is valid


async def test_a_certificate_carries_the_trace_of_the_fact_that_completed_the_learner() -> None:
    store, publisher = InMemoryStore(), RecordingPublisher()
    pipeline = Pipeline(store.stores(), publisher)
    tpl = template(completion=100)
    await pipeline.handle(received([course(), batch_created(certificateTemplates=[tpl])]))
    facts = received(
        [
            completed("leaf-2", time="2026-03-02T10:00:00Z"),  # the later one, read first
            enrolled(),
            completed("leaf-1", time="2026-03-01T10:00:00Z"),
        ]
    )
    traced = [
        dataclasses.replace(facts[0], headers=(("traceparent", TRACE.encode()),)),
        facts[1],
        dataclasses.replace(facts[2], headers=(("traceparent", OTHER.encode()),)),
    ]
    report = await pipeline.handle(traced)
    [certificate] = report.certificates
    assert publisher.traces[certificate] == TRACE, "the latest in business time decided"
    untraced = [s.id for s in publisher.statuses if s.id not in publisher.traces]
    assert not untraced, "the status it decided carries the same context"


def test_the_lag_gauge_follows_the_high_water_mark_at_every_scrape() -> None:
    # A poll in hand (a slow one, or one waiting for Kafka to come back) must not freeze the
    # lag at its value from before the poll: a scrape reads the fetcher's latest mark.
    from aiokafka import TopicPartition

    from consumers.lag import LagGauge

    tp = TopicPartition("lms.progress.v1", 0)

    class Fetched:
        mark = 100

        def assignment(self) -> set[TopicPartition]:
            return {tp}

        def highwater(self, _: TopicPartition) -> int:
            return self.mark

    consumer, metrics = Fetched(), Metrics()
    gauge = LagGauge(consumer, metrics, Health(liveness_timeout_s=60))  # type: ignore[arg-type]
    gauge.committed({tp: 40})
    assert 'partition="0",topic="lms.progress.v1"} 60.0' in metrics.render()[0].decode()
    consumer.mark = 28_000  # a burst arrived while the loop was busy
    assert 'partition="0",topic="lms.progress.v1"} 27960.0' in metrics.render()[0].decode()
    gauge.close()  # the consumer left the group: a scrape no longer asks it
    consumer.mark = 99_000
    assert "99960.0" not in metrics.render()[0].decode()
