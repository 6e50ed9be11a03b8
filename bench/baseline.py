"""Figure B: the straightforward per-event consumer most teams write first.

For each record: validate, read the batch, the course and the learner's document, fold the one
event, write the document back (`replace_one`, upsert), publish any certificate, commit the
record's offset. One round trip per step, per record. Same pure fold as the service, so the
documents must agree; only the I/O pattern differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError
from pymongo import MongoClient
from pymongo.collection import Collection

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, enrolment_key
from schemas.events import (
    BatchCancelled,
    BatchCreated,
    BatchUpdated,
    CoursePublished,
    event_adapter,
)
from services.clock import SystemClock
from services.domain import (
    add_facts,
    apply_batch_event,
    apply_course_event,
    rules_differ,
    settle,
)

__all__ = ["BaselineRun", "run_baseline"]

Raw = dict[str, Any]
_RULES = (CoursePublished, BatchCreated, BatchUpdated, BatchCancelled)


@dataclass
class BaselineRun:
    """What the per-event consumer did."""

    records: int = 0
    seconds: float = 0.0
    invalid: int = 0
    certificates: int = 0
    fact_ids: set[str] = field(default_factory=set)
    rule_ids: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _save(coll: Collection[Raw], key: str, doc: Any) -> None:
    body = doc.model_dump(exclude={"rev"})
    body["_id"] = key
    coll.replace_one({"_id": key}, body, upsert=True)


class _Baseline:
    def __init__(self, mongo: str, db: str, producer: AIOKafkaProducer, cert_topic: str) -> None:
        self.client: MongoClient[Raw] = MongoClient(mongo, tz_aware=True)
        database = self.client[db]
        self.batches = database["batches"]
        self.courses = database["courses"]
        self.enrolments = database["enrolments"]
        self.producer = producer
        self.cert_topic = cert_topic

    def batch(self, batch_id: str) -> BatchDoc | None:
        raw = self.batches.find_one({"_id": batch_id})
        return BatchDoc.model_validate(raw) if raw else None

    def course(self, course_id: str) -> CourseDoc | None:
        raw = self.courses.find_one({"_id": course_id})
        return CourseDoc.model_validate(raw) if raw else None

    async def publish(self, doc: EnrolmentDoc) -> EnrolmentDoc:
        for event in doc.outbox:
            value = event.model_dump_json().encode()
            await self.producer.send_and_wait(self.cert_topic, value, key=doc.userId.encode())
        return doc.model_copy(update={"outbox": []}) if doc.outbox else doc

    async def learner(self, event: Any) -> int:
        key = enrolment_key(event.data.batchId, event.data.userId)
        raw = self.enrolments.find_one({"_id": key})
        doc = (
            EnrolmentDoc.model_validate(raw)
            if raw
            else EnrolmentDoc(batchId=event.data.batchId, userId=event.data.userId)
        )
        batch = self.batch(doc.batchId)
        course = self.course(batch.courseId) if batch else None
        # One learner at a time: right for the bench's batches, which have no capacity.
        [new] = settle([add_facts(doc, [event])], batch, course, SystemClock().now())
        sent = len(new.outbox)
        _save(self.enrolments, key, new)  # persist, then publish, then clear the outbox
        if sent:
            _save(self.enrolments, key, await self.publish(new))
        return sent

    async def refresh_batch(self, batch_id: str) -> int:
        batch = self.batch(batch_id)
        course = self.course(batch.courseId) if batch else None
        sent = 0
        for raw in self.enrolments.find({"batchId": batch_id}):
            [new] = settle([EnrolmentDoc.model_validate(raw)], batch, course, SystemClock().now())
            sent += len(new.outbox)
            _save(self.enrolments, new.key, await self.publish(new))
        return sent

    async def rule(self, event: Any, partition: int, offset: int) -> int:
        if isinstance(event, CoursePublished):
            old_course = self.course(event.data.courseId)
            new_course = apply_course_event(old_course, event)
            if new_course is None or new_course == old_course:
                return 0
            _save(self.courses, new_course.courseId, new_course)
            sent = 0
            for raw in self.batches.find({"courseId": new_course.courseId}, {"_id": 1}):
                sent += await self.refresh_batch(raw["_id"])
            return sent
        old = self.batch(event.data.batchId)
        change = apply_batch_event(old, event)  # a bench run reads each event once
        if change.batch is None or change.batch == old:
            return 0
        _save(self.batches, change.batch.batchId, change.batch)
        if not rules_differ(old, change.batch):
            return 0
        return await self.refresh_batch(change.batch.batchId)


async def run_baseline(
    kafka: str,
    mongo: str,
    db: str,
    topics: list[str],
    cert_topic: str,
    group: str,
    limit: int,
    budget_s: float,
) -> BaselineRun:
    """Consume up to `limit` records one by one, for at most `budget_s` seconds; time from
    the first record to the last commit."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=kafka,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await producer.start()
    await consumer.start()
    base = _Baseline(mongo, db, producer, cert_topic)
    run = BaselineRun()
    started: float | None = None
    try:
        while run.records < limit and (started is None or time.perf_counter() - started < budget_s):
            batch = await consumer.getmany(timeout_ms=2000, max_records=1)
            if not batch:
                if started is not None:
                    break  # nothing more to read
                continue
            started = started or time.perf_counter()
            for tp, records in batch.items():
                for record in records:
                    try:
                        event = event_adapter.validate_json(record.value)
                    except ValidationError:
                        run.invalid += 1
                    else:
                        if isinstance(event, _RULES):
                            run.certificates += await base.rule(
                                event, record.partition, record.offset
                            )
                            run.rule_ids.add(event.id)
                        else:
                            run.certificates += await base.learner(event)
                            run.fact_ids.add(event.id)
                    offset = {TopicPartition(tp.topic, tp.partition): record.offset + 1}
                    await consumer.commit(offset)
                    run.records += 1
        run.seconds = time.perf_counter() - (started or time.perf_counter())
        return run
    finally:
        await consumer.stop()
        await producer.stop()
        base.client.close()
