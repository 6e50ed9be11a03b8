"""The publisher SDK against a real broker: right topic, right key, valid envelope; a bad
event raises before anything is sent."""

from __future__ import annotations

import asyncio
import json
import time as clock
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from producers.sdk import BatchEventPublisher, InvalidEvent
from schemas.events import CertificateTemplate, TemplateCriteria, event_adapter
from schemas.topics import KEY_FIELD_OF_TYPE, TOPIC_OF_TYPE, Topics
from services.settings import Settings

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


async def read_records(
    kafka: str, topics: list[str], count: int, timeout_s: float = 20
) -> list[Any]:
    """The first `count` records of the topics (fails if they do not come in time)."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = clock.monotonic() + timeout_s
        while len(records) < count:
            assert clock.monotonic() < deadline, f"got {len(records)} of {count} records"
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records += batch
    finally:
        await consumer.stop()
    return records


async def record_counts(kafka: str, topics: list[str]) -> dict[str, int]:
    """How many records each topic holds (end offsets: exact, no waiting for quiet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    probe = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        described = await admin.describe_topics(topics)
        tps = [
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        ]
        ends = await probe.end_offsets(tps)
        return {t: sum(end for tp, end in ends.items() if tp.topic == t) for t in topics}
    finally:
        await probe.stop()
        await admin.close()


async def publish_one_of_each(publisher: BatchEventPublisher) -> dict[str, str]:
    """One event of every type; returns type -> id."""
    template = CertificateTemplate(
        templateId="tpl-pass", criteria=TemplateCriteria(minScorePercent=60)
    )
    t = T0.isoformat()
    ids = {
        "course.published": await publisher.course_published("c1", ["l1", "l2"], ["q1"], time=t),
        "batch.created": await publisher.batch_created(
            "b1",
            "c1",
            "Winter cohort",
            start_date=date(2026, 11, 1),
            end_date="2026-12-31",
            certificate_templates=[template, {"templateId": "tpl-done"}],
            time=T0,
        ),
        "batch.updated": await publisher.batch_updated("b1", end_date=None, mentors=["m1"]),
        "batch.cancelled": await publisher.batch_cancelled("b1", reason="merged"),
        "enrolment.created": await publisher.enrolment_created("b1", "u1", time=T0),
        "enrolment.cancelled": await publisher.enrolment_cancelled("b1", "u1", time=T0),
        "content.progress": await publisher.content_progress("b1", "u1", "l1", 40.5, time=T0),
        "content.completed": await publisher.content_completed("b1", "u1", "l2", time=T0),
        "assessment.submitted": await publisher.assessment_submitted(
            "b1", "u1", "q1", "try-1", 7, 10, time=T0
        ),
    }
    return ids


async def test_every_event_type_goes_to_its_topic_with_its_key(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with BatchEventPublisher(
        kafka_bootstrap, source="course-service", topic_prefix=topic_prefix
    ) as publisher:
        ids = await publish_one_of_each(publisher)

    records = await read_records(kafka_bootstrap, list(Topics(topic_prefix).inbound), len(ids))
    assert len(records) == len(TOPIC_OF_TYPE)
    for record in records:
        event = json.loads(record.value)
        kind = event["type"]
        assert record.topic == topic_prefix + TOPIC_OF_TYPE[kind], kind
        assert record.key == event["data"][KEY_FIELD_OF_TYPE[kind]].encode(), kind
        assert (event["specversion"], event["source"], event["id"]) == (
            "1.0",
            "course-service",
            ids[kind],
        )
        assert event_adapter.validate_json(record.value).type == kind
    by_type = {json.loads(r.value)["type"]: json.loads(r.value) for r in records}
    assert by_type["batch.updated"]["data"] == {"batchId": "b1", "endDate": None, "mentors": ["m1"]}
    assert by_type["batch.created"]["data"]["startDate"] == "2026-11-01"
    assert by_type["batch.created"]["data"]["certificateTemplates"][0] == {
        "templateId": "tpl-pass",
        "criteria": {"completionPercent": 100.0, "minScorePercent": 60.0},
    }
    assert "name" not in by_type["course.published"]["data"]  # optional and not given: absent
    assert by_type["course.published"]["time"] == "2026-11-22T10:00:00+00:00"  # a string: as is
    assert by_type["content.completed"]["time"] == "2026-11-22T10:00:00Z"


async def test_an_invalid_event_raises_and_nothing_is_sent(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    odd = "$course.x:ü"  # `$`, `.`, `:` and non-ASCII are legal identifiers
    async with BatchEventPublisher(
        kafka_bootstrap, source="quiz-service", topic_prefix=topic_prefix
    ) as publisher:
        with pytest.raises(InvalidEvent, match=r"assessment.submitted: data: .*score > maxScore"):
            await publisher.assessment_submitted(odd, odd, "q1", "a1", 11, 10, time=T0)
        incomplete = _envelope("assessment.submitted", batchId="b", userId="u", assessmentId="q")
        with pytest.raises(InvalidEvent, match=r"data.attemptId: Field required"):
            await publisher.publish(incomplete)
        with pytest.raises(InvalidEvent, match="timezone-aware"):
            await publisher.content_completed("b", "u", "c", time=datetime(2026, 11, 22))
        with pytest.raises(InvalidEvent, match=r"time: .*RFC 3339"):
            await publisher.content_completed("b", "u", "c", time="2026-11-22 10:00:00Z")
        with pytest.raises(InvalidEvent, match=r"data\.userId: String should match pattern"):
            await publisher.content_completed("b", "u\x07", "c", time=T0)
        valid = _envelope("content.completed", batchId="b", userId="u", contentId="c")
        with pytest.raises(InvalidEvent, match=r"event 1: .*type: Input tag 'nope'"):
            await publisher.publish_many([valid, _envelope("nope")])
        with pytest.raises(TypeError, match="course_id"):
            await publisher.batch_updated("b", course_id="other")

        await publisher.assessment_submitted(odd, odd, "q1", "a1", 10, 10, time=T0)
        await publisher.content_completed(odd, odd, "c", id="$evt", time=T0)

    counts = await record_counts(
        kafka_bootstrap,
        [topics.of_type("assessment.submitted"), topics.of_type("content.completed")],
    )
    assert list(counts.values()) == [1, 1], counts  # only the valid ones, after all the invalid
    records = await read_records(kafka_bootstrap, list(counts), 2)
    assert {r.key for r in records} == {odd.encode()}
    assert {json.loads(r.value)["data"]["userId"] for r in records} == {odd}


async def test_ids_are_generated_unique_or_kept_and_times_normalised(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix)
    ist = timezone(timedelta(hours=5, minutes=30))
    async with BatchEventPublisher(settings, source="player") as publisher:
        generated = await asyncio.gather(
            *(publisher.content_completed("b", f"u{i}", "c") for i in range(20))
        )
        kept = await publisher.content_completed(
            "b", "u", "c", id="evt-42", time=datetime(2026, 11, 22, 15, 30, 0, 123456, tzinfo=ist)
        )
    assert len(set(generated)) == 20
    assert all(uuid.UUID(i).version == 4 for i in generated)
    assert kept == "evt-42"

    topic = Topics(topic_prefix).of_type("content.completed")  # the prefix came from Settings
    records = await read_records(kafka_bootstrap, [topic], 21)
    events = {json.loads(r.value)["id"]: json.loads(r.value) for r in records}
    assert set(events) == {*generated, "evt-42"}
    assert events["evt-42"]["time"] == "2026-11-22T10:00:00.123Z"
    now = datetime.now(UTC)
    for event_id in generated:
        sent = datetime.fromisoformat(events[event_id]["time"])
        assert timedelta(0) <= now - sent < timedelta(minutes=1)


async def test_sending_before_start_is_a_programming_error() -> None:
    publisher = BatchEventPublisher("localhost:1", source="s")
    with pytest.raises(RuntimeError, match="not started"):
        await publisher.content_completed("b", "u", "c")


def _envelope(event_type: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": "test",
        "time": "2026-11-22T10:00:00Z",
        "data": data,
    }
