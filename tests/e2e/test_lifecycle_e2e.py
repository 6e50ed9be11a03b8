"""Contract 7 and 8 end to end, through the real Kafka and MongoDB servers.

The service runs in this process (the composition root, its consumer loop, the real stores
and producer) with a clock the test drives: a batch of 5 seats and a waitlist sees two seated
learners leave, and the two first waiting are seated, announced and certified; a batch that
needs 3 learners and has 2 is cancelled by the service when the clock passes its deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.bootstrap import Service, bootstrap
from schemas.events import event_adapter
from services.clock import ManualClock
from services.settings import Settings
from testkit.expect import (
    NAMESPACE,
    assert_documents_exact,
    assert_status_events,
    certificate_id,
    certificate_ids_of,
    status_event_id,
)
from testkit.harness import Env, caught_up, publish, read_all, read_docs
from testkit.in_process import consuming
from testkit.world import World

START = datetime(2026, 3, 1, tzinfo=UTC)


def ev(event_type: str, when: datetime, event_id: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "tests",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": event_type,
        "data": data,
    }


def batch(batch_id: str, **fields: Any) -> dict[str, Any]:
    return ev(
        "batch.created",
        START - timedelta(days=30),
        f"create-{batch_id}",
        batchId=batch_id,
        courseId="c1",
        name=batch_id,
        enrollmentType="open",
        startDate="2026-03-01",
        endDate="2026-04-30",
        enrollmentEndDate=None,
        mentors=["mentor-1"],
        certificateTemplates=[{"templateId": "done", "criteria": {"completionPercent": 100}}],
        **fields,
    )


def enrol(batch_id: str, user: str, day: int) -> dict[str, Any]:
    when = START - timedelta(days=20) + timedelta(days=day)
    return ev("enrolment.created", when, f"enrol-{batch_id}-{user}", batchId=batch_id, userId=user)


@pytest.fixture
async def running(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> AsyncIterator[tuple[Service, ManualClock, Env]]:
    clock = ManualClock(START - timedelta(days=25))
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        db=mongo_db_name,
        topic_prefix=topic_prefix,
        group_id=f"{topic_prefix}group",
        status_refresh_s=0.5,
        auto_cancel_grace_s=300,
        poll_timeout_ms=200,
        retry_backoff_max_s=1,
    )
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    stop = asyncio.Event()
    async with bootstrap(settings, stop=stop, clock=clock) as service, consuming(service, stop):
        yield service, clock, env


async def until(check: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not reached in {timeout_s:.0f} s"
        await asyncio.sleep(0.3)


async def statuses(env: Env, batch_id: str) -> dict[str, tuple[str, int | None]]:
    docs = (await read_docs(env))["enrolments"]
    return {
        d["userId"]: (d["enrolmentStatus"], d["waitlistPosition"])
        for d in docs.values()
        if d["batchId"] == batch_id
    }


async def test_a_waitlist_promotes_and_a_batch_short_of_its_minimum_is_cancelled(
    running: tuple[Service, ManualClock, Env], kafka_bootstrap: str, topic_prefix: str
) -> None:
    service, clock, env = running
    course = ev(
        "course.published",
        START - timedelta(days=40),
        "course-1",
        courseId="c1",
        leafNodes=["x"],
        assessments=[],
    )
    seats = batch("seats", maximumCapacity=5, allowWaitlisting=True)
    small = batch("small", minimumCapacity=3, cancelBatchWhenMinimumCapacityIsNotMet=True)
    learners = [f"u{i}" for i in range(1, 9)]
    published = [course, seats, small]
    published += [enrol("seats", u, day) for day, u in enumerate(learners)]
    published += [enrol("small", "s1", 1), enrol("small", "s2", 2)]
    await publish(kafka_bootstrap, topic_prefix, published)

    seated = {u: ("enrolled", None) for u in learners[:5]}
    waiting = {"u6": ("waitlisted", 1), "u7": ("waitlisted", 2), "u8": ("waitlisted", 3)}
    await until(lambda: _is(env, "seats", seated | waiting))

    # Two seated learners leave; the two first waiting take their seats, then complete.
    left = [
        ev(
            "enrolment.cancelled",
            START - timedelta(days=5),
            f"leave-{u}",
            batchId="seats",
            userId=u,
        )
        for u in ("u2", "u4")
    ]
    done = [
        ev(
            "content.completed",
            START + timedelta(days=2),
            f"done-{u}",
            batchId="seats",
            userId=u,
            contentId="x",
        )
        for u in ("u6", "u7")
    ]
    await publish(kafka_bootstrap, topic_prefix, left)
    await publish(kafka_bootstrap, topic_prefix, done)
    published += [*left, *done]
    now_seated = {u: ("enrolled", None) for u in ("u1", "u3", "u5", "u6", "u7")}
    after = now_seated | {"u2": ("not-enrolled", None), "u4": ("not-enrolled", None)}
    await until(lambda: _is(env, "seats", after | {"u8": ("waitlisted", 1)}))

    # The clock passes the small batch's deadline (its start) plus the grace: it is cancelled.
    clock.set(START + timedelta(seconds=299))
    await asyncio.sleep(2)
    assert (await statuses(env, "small"))["s1"] == ("enrolled", None), "not before the grace"
    clock.set(START + timedelta(seconds=301))
    gone = {"s1": ("not-enrolled", None), "s2": ("not-enrolled", None)}
    await until(lambda: _is(env, "small", gone))
    await caught_up(env)
    await service.pipeline.idle()

    cancels = [
        json.loads(r.value)
        for r in await read_all(kafka_bootstrap, env.topics.batch, timeout_s=2)
        if json.loads(r.value)["source"] == "batch-service"
    ]
    assert [c["id"] for c in cancels][:1] == [_auto_cancel_id("small", "2026-03-01T00:00:00Z")]
    assert cancels[0]["time"] == "2026-03-01T00:00:00Z"
    assert cancels[0]["data"] == {"batchId": "small", "reason": "minimum-capacity-not-met"}

    world = World(now=clock.now()).apply_all(
        event_adapter.validate_python(e) for e in [*published, cancels[0]]
    )
    docs = await read_docs(env)
    assert_documents_exact(docs, world)
    certificates = certificate_ids_of(await read_all(kafka_bootstrap, env.topics.certificates))
    assert sorted(certificates) == sorted(
        certificate_id("seats", u, "done") for u in ("u6", "u7")
    ), "the promoted learners are certified when they complete, nobody else"
    published_statuses = certificate_ids_of(
        await read_all(kafka_bootstrap, env.topics.enrolment_status)
    )
    assert_status_events(published_statuses, docs, world)
    for user in ("u6", "u7"):
        opening = f"enrol-seats-{user}"
        assert status_event_id("seats", user, "waitlisted", opening) in published_statuses
        assert status_event_id("seats", user, "seated", opening) in published_statuses
    counted = docs["batches"]["seats"]
    assert (counted["enrolledCount"], counted["waitlistedCount"]) == (5, 1)
    assert (counted["completedCount"], counted["certifiedCount"]) == (2, 2)
    assert docs["batches"]["small"]["status"] == "cancelled"


async def _is(env: Env, batch_id: str, wanted: dict[str, tuple[str, int | None]]) -> bool:
    return await statuses(env, batch_id) == wanted


def _auto_cancel_id(batch_id: str, deadline: str) -> str:
    """Contract 8's id, computed here independently of the service's code."""
    return str(uuid.uuid5(NAMESPACE, f"{batch_id}\nauto-cancel\n{deadline}"))
