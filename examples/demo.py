"""A realistic sample published through the SDK, then the certificates as they arrive.

    make run                     # the service, in one terminal
    make demo                    # this, in another (DEMO_ARGS="--learners 100 --timeout 60")

A course with five lessons and two quizzes; two batches with certificate templates; a few
hundred learners: fast and steady ones, slow ones, some who finish after the batch ended, some
who enrol after the deadline, some who drop out and unenrol. Every run uses fresh ids, so it
can be repeated against the same stack. The certificates to expect are computed with the
service's own pure fold, so the closing summary says whether every one arrived. Then a
waitlist moves: a workshop of three seats, five learners, two of the seated leave
(examples/waitlist_demo.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time as clock
import uuid
from collections import Counter
from collections.abc import Awaitable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from examples.waitlist_demo import waitlist_scene
from producers.kafka import kafka_client_options
from producers.sdk import BatchEventPublisher
from schemas.events import event_adapter
from schemas.topics import Topics
from services.errors import PublishUnavailable
from services.settings import Settings
from testkit.world import World

LESSONS = [f"lesson-{i}" for i in range(1, 6)]
QUIZZES = {"quiz-basics": 2, "quiz-final": 4}  # taken after that many lessons
PROFILES = {"fast": 30, "steady": 30, "slow": 15, "finishes-late": 8, "enrols-late": 7, "drops": 10}


class Window(NamedTuple):
    """A batch's dates and its templates (templateId, completionPercent, minScorePercent)."""

    start: str
    enrolment_deadline: str
    end: str
    templates: list[tuple[str, float, float | None]]


BATCHES = {
    "Autumn cohort": Window("2026-09-01", "2026-09-15", "2026-10-31", [("completion", 100, None)]),
    "Evening cohort": Window(
        "2026-09-15", "2026-10-01", "2026-11-15", [("participation", 60, None), ("merit", 100, 80)]
    ),
}


class RecordingPublisher(BatchEventPublisher):
    """Keeps what was sent, to compute the certificates to expect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[dict[str, Any]] = []

    async def publish(self, event: Mapping[str, Any]) -> str:
        event_id = await super().publish(event)
        self.sent.append(dict(event))
        return event_id


async def publish_rules(sdk: BatchEventPublisher, tag: str) -> dict[str, str]:
    """The course and the batches, in order; returns batchId -> name."""
    course = f"{tag}-python-101"
    opened = datetime(2026, 8, 20, tzinfo=UTC)
    await sdk.course_published(course, LESSONS, list(QUIZZES), "Python 101", time=opened)
    names = {}
    for number, (name, window) in enumerate(BATCHES.items()):
        batch_id = f"{tag}-batch-{number}"
        await sdk.batch_created(
            batch_id,
            course,
            name,
            start_date=window.start,
            enrollment_end_date=window.enrolment_deadline,
            end_date=window.end,
            mentors=["mentor-ada"],
            certificate_templates=[
                {"templateId": t, "criteria": {"completionPercent": c, "minScorePercent": s}}
                for t, c, s in window.templates
            ],
            time=opened,
        )
        names[batch_id] = name
    return names


def learner_facts(
    sdk: BatchEventPublisher, rnd: random.Random, batch: tuple[str, str], user: str
) -> list[Awaitable[str]]:
    """One learner's facts (not yet awaited: facts may be published in any order)."""
    batch_id, name = batch
    start = date.fromisoformat(BATCHES[name].start)
    deadline = date.fromisoformat(BATCHES[name].enrolment_deadline)
    profile = rnd.choices(list(PROFILES), weights=list(PROFILES.values()))[0]
    first_day = (deadline + timedelta(days=1)) if profile == "enrols-late" else start
    enrol_at = datetime.combine(first_day, datetime.min.time(), UTC) + timedelta(
        days=rnd.uniform(0, 10)
    )
    facts: list[Awaitable[str]] = [sdk.enrolment_created(batch_id, user, time=enrol_at)]
    # Drop-outs stay below every template (60% is three lessons): were they to qualify before
    # unenrolling, the announcement would depend on arrival order (the latch, contract 2).
    lessons = LESSONS[: rnd.randint(1, 3 if profile == "slow" else 2)]
    if profile not in ("slow", "drops"):
        lessons = LESSONS
    pace = {"fast": 3.0, "finishes-late": 25.0}.get(profile, 8.0)  # days per lesson
    skill = {"fast": 0.85, "steady": 0.7}.get(profile, 0.55)  # share of the marks scored
    at = enrol_at
    for done, lesson in enumerate(lessons, start=1):
        at += timedelta(days=rnd.uniform(0.5, pace))
        facts.append(sdk.content_progress(batch_id, user, lesson, 50, time=at - timedelta(hours=3)))
        if rnd.random() < 0.5:
            facts.append(sdk.content_completed(batch_id, user, lesson, time=at))
        else:
            facts.append(sdk.content_progress(batch_id, user, lesson, 100, time=at))
        for quiz in (q for q, after in QUIZZES.items() if after == done):
            for attempt in range(rnd.randint(1, 2)):
                score = round(min(20, max(0, rnd.gauss(skill * 20, 3))))
                when = at + timedelta(hours=rnd.uniform(1, 12))
                facts.append(
                    sdk.assessment_submitted(
                        batch_id, user, quiz, f"try-{attempt}", score, 20, time=when
                    )
                )
    if profile == "drops":
        facts.append(sdk.enrolment_cancelled(batch_id, user, time=at + timedelta(days=1)))
    return facts


def expected_certificates(sent: list[dict[str, Any]]) -> set[str]:
    """The certificate ids the service must announce, by its own pure fold."""
    world = World()
    for raw in sent:
        event = event_adapter.validate_json(json.dumps(raw).encode())
        world.apply(event)
    return world.certificate_ids()


async def service_lag(settings: Settings, admin: AIOKafkaAdminClient, probe: Any) -> int:
    """Inbound records the service's group has not committed yet (0 when there is no group)."""
    committed = await admin.list_consumer_group_offsets(settings.group_id)
    if not committed:
        return 0
    topics = Topics(settings.topic_prefix).inbound
    described = await admin.describe_topics(list(topics))
    tps = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    ends = await probe.end_offsets(tps)
    done = {tp: meta.offset for tp, meta in committed.items()}
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


async def watch_certificates(
    settings: Settings, names: dict[str, str], expected: set[str], timeout_s: float, quiet_s: float
) -> tuple[set[str], int]:
    """Print this run's certificate events as they arrive; returns (unique ids, events).

    Ends when every expected one arrived, at the timeout, or after `quiet_s` without news
    while the service has nothing left to fold (a loaded machine can be slow, not done)."""
    options = kafka_client_options(settings)
    consumer = AIOKafkaConsumer(
        Topics(settings.topic_prefix).certificates,
        **options,
        auto_offset_reset="earliest",  # no group: earlier runs' events are read and skipped
        enable_auto_commit=False,
    )
    admin = AIOKafkaAdminClient(**options)
    seen: set[str] = set()
    received = 0
    await consumer.start()
    await admin.start()
    try:
        deadline = last = clock.monotonic()
        deadline += timeout_s
        while not expected <= seen and clock.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = json.loads(record.value)
                    if event["data"]["batchId"] in names:
                        received, last = received + 1, clock.monotonic()
                        seen.add(event["id"])
                        print_certificate(event["data"], names[event["data"]["batchId"]])
            if clock.monotonic() - last > quiet_s:
                if not await service_lag(settings, admin, consumer):
                    break
                last = clock.monotonic()
    finally:
        await admin.close()
        await consumer.stop()
    return seen, received


def print_certificate(data: dict[str, Any], batch_name: str) -> None:
    score = data["scorePercentage"]
    shown = "-" if score is None else f"{score:.1f}"
    print(f"certificate  {data['userId']:<24} {batch_name:<15} {data['templateId']:<14} {shown}")


async def publish_sample(
    sdk: BatchEventPublisher, tag: str, learners: int, rnd: random.Random
) -> dict[str, str]:
    """Rules first, in order; then every learner's facts, many in flight at once."""
    names = await publish_rules(sdk, tag)
    batches = list(names.items())
    facts = [
        fact
        for n in range(learners)
        for fact in learner_facts(sdk, rnd, batches[n % len(batches)], f"{tag}-learner-{n}")
    ]
    for chunk in range(0, len(facts), 500):  # queue many, then wait for their acks together
        await asyncio.gather(*facts[chunk : chunk + 500])
    return names


async def demo(args: argparse.Namespace) -> int:
    """Publish, watch, summarise; 0 when exactly the expected certificates arrived."""
    settings = Settings()
    tag = f"demo-{uuid.uuid4().hex[:6]}"
    started = clock.monotonic()
    sdk = RecordingPublisher(settings, source="demo-lms")
    try:
        async with sdk:
            names = await publish_sample(sdk, tag, args.learners, random.Random(args.seed))
    except PublishUnavailable as exc:
        print(f"Kafka at {settings.kafka_bootstrap} did not answer: {exc}", file=sys.stderr)
        return 2
    per_type = Counter(e["type"] for e in sdk.sent)
    print(f"published {len(sdk.sent)} events in {clock.monotonic() - started:.1f} s (run {tag})")
    expected = expected_certificates(sdk.sent)
    print(f"expecting {len(expected)} certificates; watching (Ctrl-C stops)...\n")
    print(f"{'':13}{'learner':<24} {'batch':<15} {'template':<14} score %")
    seen, received = await watch_certificates(settings, names, expected, args.timeout, args.quiet)
    print("\nsummary")
    for event_type, count in sorted(per_type.items()):
        print(f"  published {event_type:<22} {count:>6}")
    print(
        f"  certificates received {received} events, {len(seen)} unique ids "
        f"({received - len(seen)} repeats); expected {len(expected)}"
    )
    if expected - seen:
        print(
            f"  missing {len(expected - seen)}: is the service running (make run) on the "
            f"same Kafka and topic prefix?"
        )
        return 1
    async with sdk:
        moved = await waitlist_scene(sdk, settings, tag)
    return 0 if moved else 1


def main() -> None:
    """Entry point of `python -m examples.demo`."""
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__)
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=180, help="at most this long, seconds")
    parser.add_argument(
        "--quiet",
        type=float,
        default=10,
        help="stop after this long without news while the service is idle, seconds",
    )
    sys.exit(asyncio.run(demo(parser.parse_args())))


if __name__ == "__main__":
    main()
