"""Issue 11: "already applied" is a property of a batch event (its id), not of its offset.

The operator's story: a batch ends on 2026-01-31; a learner completes the only content on
2026-02-10, outside the window. `lms.batch.v1` is then recreated (offsets start again at 0),
or the service moves to another cluster whose offsets differ, and a `batch.updated` extends
the end to 2026-03-31. The update must apply (the learner completes and is certified), and
earlier events read again must never roll the batch back.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import LocalStack
from testkit.expect import certificate_id
from testkit.harness import (
    Env,
    ServiceProcess,
    caught_up,
    create_topic,
    delete_topic,
    publish,
    read_all,
    read_docs,
)

FAST_METADATA = {"BATCH_SERVICE_METADATA_MAX_AGE_MS": "2000"}
_ids = itertools.count()


def ev(event_type: str, time: str, event_id: str | None = None, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or f"{event_type}-{next(_ids)}",
        "source": "tests",
        "time": time,
        "type": event_type,
        "data": data,
    }


COURSE = ev(
    "course.published", "2026-01-01T00:00:00Z", courseId="c1", leafNodes=["a"], assessments=[]
)
CREATED = ev(
    "batch.created",
    "2026-01-01T00:00:00Z",
    "created-1",
    batchId="b1",
    courseId="c1",
    name="Cohort",
    enrollmentType="open",
    startDate="2026-01-01",
    endDate="2026-01-31",
    enrollmentEndDate=None,
    mentors=[],
    certificateTemplates=[{"templateId": "done", "criteria": {"completionPercent": 100}}],
)
ENROLLED = ev("enrolment.created", "2026-01-05T00:00:00Z", batchId="b1", userId="u1")
COMPLETED = ev(
    "content.completed", "2026-02-10T00:00:00Z", batchId="b1", userId="u1", contentId="a"
)
EXTENDED = ev(
    "batch.updated", "2026-02-11T00:00:00Z", "extended-1", batchId="b1", endDate="2026-03-31"
)
SHORTENED = ev(
    "batch.updated", "2026-01-02T00:00:00Z", "shortened-1", batchId="b1", endDate="2026-01-20"
)


async def until(check: Any, timeout_s: float = 60, every_s: float = 0.5) -> Any:
    """Until `check()` returns something true (returns it), or fail with the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not reached in {timeout_s:.0f} s: {value!r}"
        await asyncio.sleep(every_s)


async def batch_and_learner(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = await read_docs(env)
    return docs["batches"]["b1"], docs["enrolments"]["b1\nu1"]


async def certified(env: Env) -> bool:
    _, learner = await batch_and_learner(env)
    return learner["progressStatus"] == 2 and bool(learner["certificates"])


async def test_an_update_in_a_recreated_batch_topic_applies_and_old_events_roll_nothing_back(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name, **FAST_METADATA)
    service = ServiceProcess(env, tmp_path, "before").start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, [COURSE, CREATED, SHORTENED, ENROLLED])
        await publish(
            kafka_bootstrap,
            topic_prefix,
            [
                ev("batch.updated", "2026-01-03T00:00:00Z", batchId="b1", endDate="2026-01-31"),
                COMPLETED,
            ],
        )
        await caught_up(env)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]
    batch, learner = await batch_and_learner(env)
    assert batch["endDate"] == "2026-01-31" and learner["progressStatus"] == 0

    # Recreated under a stopped service: its committed offsets now lie beyond the new end.
    await delete_topic(kafka_bootstrap, env.topics.batch)
    await create_topic(kafka_bootstrap, env.topics.batch)
    service = ServiceProcess(env, tmp_path, "after").start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, [EXTENDED])
        await until(lambda: certified(env))
        # An operator restores old events into the new topic: known ids, nothing moves.
        await publish(kafka_bootstrap, topic_prefix, [CREATED, SHORTENED])
        await caught_up(env)
        await asyncio.sleep(1)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]
    batch, learner = await batch_and_learner(env)
    assert batch["endDate"] == "2026-03-31", "the restored events rolled the batch back"
    assert learner["completedAt"] is not None and learner["enrolled"] is True
    ids = [
        json.loads(r.value)["id"] for r in await read_all(kafka_bootstrap, env.topics.certificates)
    ]
    assert ids == [certificate_id("b1", "u1", "done")]
    assert not await read_all(kafka_bootstrap, env.topics.dlq, timeout_s=1), "nothing is bad input"


async def test_a_running_service_picks_up_a_recreated_topic_promptly_and_says_so(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name, **FAST_METADATA)
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, [COURSE, CREATED, ENROLLED, COMPLETED])
        await caught_up(env)
        await delete_topic(kafka_bootstrap, env.topics.batch)
        await until(lambda: _said(service, '"topic_missing"'), timeout_s=30)
        await create_topic(kafka_bootstrap, env.topics.batch)
        await publish(kafka_bootstrap, topic_prefix, [EXTENDED])
        await until(lambda: certified(env), timeout_s=60)
        await until(lambda: _said(service, '"topic_available"'), timeout_s=30)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]
    batch, _ = await batch_and_learner(env)
    assert batch["endDate"] == "2026-03-31"


async def _said(service: ServiceProcess, marker: str) -> bool:
    return marker in service.log()


@pytest.fixture
def second_cluster(stack: LocalStack | None, tmp_path: Path) -> Iterator[str]:
    """A second Kafka cluster (KRaft, one broker), its own data and offsets."""
    if stack is None:
        pytest.fail("a second Kafka cluster needs the local stack's built Kafka (devstack)")
    other = LocalStack(stack_dir=tmp_path / "cluster-b", build_dir=stack.layout.build_dir)
    other.start_kafka()
    try:
        address = other.kafka_bootstrap()
        assert address is not None, "the second cluster did not come up"
        yield address
    finally:
        other.stop_kafka(graceful=False)


async def test_after_moving_to_a_cluster_whose_offsets_differ_old_events_are_skipped_by_id(
    kafka_bootstrap: str,
    second_cluster: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    on_a = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    service = ServiceProcess(on_a, tmp_path, "cluster-a").start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, [COURSE, CREATED, SHORTENED])
        restored = ev(
            "batch.updated",
            "2026-01-03T00:00:00Z",
            "restored-1",
            batchId="b1",
            endDate="2026-01-31",
        )
        await publish(kafka_bootstrap, topic_prefix, [restored, ENROLLED, COMPLETED])
        await caught_up(on_a)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]

    # Cluster B: other batches first (offsets differ), the new update, then the old events
    # mirrored late, with their ids, at offsets cluster A never had.
    on_b = Env(second_cluster, mongodb_uri, topic_prefix, mongo_db_name)
    others = [
        {**CREATED, "id": f"other-{i}", "data": {**CREATED["data"], "batchId": f"other-{i}"}}
        for i in range(7)
    ]
    service = ServiceProcess(on_b, tmp_path, "cluster-b").start()
    try:
        await service.wait_consuming()
        await publish(second_cluster, topic_prefix, [*others, EXTENDED])
        await until(lambda: certified(on_b))
        await publish(second_cluster, topic_prefix, [COURSE, CREATED, SHORTENED, ENROLLED])
        await caught_up(on_b)
        await asyncio.sleep(1)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]
    batch, learner = await batch_and_learner(on_b)
    assert batch["endDate"] == "2026-03-31", "an old event read again rolled the batch back"
    assert learner["progressStatus"] == 2 and learner["enrolled"] is True
    ids = [
        json.loads(r.value)["id"] for r in await read_all(second_cluster, on_b.topics.certificates)
    ]
    assert ids == [certificate_id("b1", "u1", "done")]
