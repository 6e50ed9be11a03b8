"""Operator-looking ids are data, never query: through MongoStore they match only themselves.
And the service's log never carries a payload or a secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from schemas.documents import BatchDoc, ContentFacts, EnrolmentDoc, LearnerFacts
from services.ports import DocumentStore, Stores
from services.storage import MongoStore
from testkit.harness import Env, ServiceProcess, caught_up, publish
from testkit.streams import generate_stream

# Strings a naive store could turn into operators, paths or patterns.
HOSTILE_IDS = [
    '{"$where": "1"}',
    '{"$gt": ""}',
    '{"$ne": null}',
    "$where",
    "$gt",
    "$ne",
    "$regex",
    "$in",
    "a.b",
    "a.$.b",
    ".*",
    "^",
    "this.userId == this.userId",
]
# A neighbour each lookup must never return: `$gt ""` or `.*` would match it, so would `$ne`.
OTHER = "zzz-other"


@pytest.fixture
async def stores(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[Stores]:
    async with MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000) as mongo:
        await mongo.create_indexes()
        yield mongo.stores()


@pytest.fixture
def store(stores: Stores) -> DocumentStore:
    return stores.documents


def _batch(batch_id: str, course_id: str = "c") -> BatchDoc:
    return BatchDoc(
        batchId=batch_id,
        courseId=course_id,
        name="n",
        enrollmentType="open",
        startDate="2026-01-01",
        endDate=None,
        enrollmentEndDate=None,
        mentors=[],
        certificateTemplates=[],
    )


def _enrolment(batch_id: str, user_id: str, content_id: str = "c1") -> EnrolmentDoc:
    facts = LearnerFacts(contents=[ContentFacts(contentId=content_id)])
    return EnrolmentDoc(batchId=batch_id, userId=user_id, courseId="c", facts=facts)


@pytest.mark.parametrize("odd", HOSTILE_IDS)
async def test_an_operator_looking_user_id_matches_only_itself(
    store: DocumentStore, odd: str
) -> None:
    mine, other = _enrolment("b", odd, content_id=odd), _enrolment("b", OTHER)
    assert await store.save_enrolments([mine, other]) == set()
    found = await store.get_enrolments([mine.key])
    assert list(found) == [mine.key]
    got = found[mine.key]
    assert (got.batchId, got.userId) == ("b", odd), "stored and returned unchanged"
    assert [c.contentId for c in got.facts.contents] == [odd]
    # A save against it, through its rev, replaces exactly it.
    assert await store.save_enrolments([got.model_copy(update={"enrolled": True})]) == set()
    both = await store.get_enrolments([mine.key, other.key])
    assert both[mine.key].enrolled is True and both[other.key].enrolled is False


@pytest.mark.parametrize("odd", HOSTILE_IDS)
async def test_an_operator_looking_batch_id_matches_only_itself(
    store: DocumentStore, stores: Stores, odd: str
) -> None:
    assert await store.save_batch(_batch(odd, course_id=odd))
    assert await store.save_batch(_batch(OTHER))
    batches = await store.get_batches([odd])
    assert list(batches) == [odd] and batches[odd].courseId == odd
    assert await store.batch_ids_of_course(odd) == [odd]
    await store.save_enrolments([_enrolment(odd, "u1"), _enrolment(OTHER, "u1")])
    of_batch = await store.enrolments_of_batch(odd)
    assert [(d.batchId, d.userId) for d in of_batch] == [(odd, "u1")]
    # An update filtered by the id marks, and a recount then counts, only that batch.
    await stores.counts.mark_stale([odd])
    assert await stores.counts.recount_stale() == 1
    assert await stores.counts.recount_stale() == 0


async def test_an_operator_looking_id_is_never_a_key_of_the_query(store: DocumentStore) -> None:
    # The `_id` of an enrolment is "batchId\nuserId"; a lookup by the key of an object-looking
    # pair still matches nothing but that string.
    docs = [_enrolment(OTHER, "u"), _enrolment("b", "u")]
    await store.save_enrolments(docs)
    assert await store.get_enrolments(['{"$gt": ""}', "$where", ".*"]) == {}
    assert await store.enrolments_of_batch('{"$gt": ""}') == []
    assert await store.get_batches(['{"$ne": null}']) == {}


SECRET = "s3cr3t-value"
MARKER = "PAYLOAD-MARKER-7f3a"


async def test_the_log_carries_no_secret_and_no_payload(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = Env(
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        BATCH_SERVICE_KAFKA_SASL_PASSWORD=SECRET,  # PLAINTEXT: unused, but settings hold it
        BATCH_SERVICE_KAFKA_SASL_USERNAME="user",
        BATCH_SERVICE_LOG_LEVEL="DEBUG",
    )
    stream = generate_stream(seed=3, batches=1, learners=3)
    stream.rules[0]["data"]["name"] = MARKER  # a valid payload carrying the marker
    bad = {"specversion": "1.0", "id": "x", "source": MARKER, "time": "2026-01-01T00:00:00Z"}
    raw = [
        (topic_prefix + "lms.progress.v1", b"k1", f"{{{MARKER}".encode()),  # not JSON
        (
            topic_prefix + "lms.progress.v1",
            b"k2",
            json.dumps({**bad, "type": "content.progress", "data": {"progress": MARKER}}).encode(),
        ),
        (
            topic_prefix + "lms.progress.v1",
            b"k3",
            json.dumps(
                {**bad, "type": "content.progress", "data": {"userId": {"$gt": MARKER}}}
            ).encode(),
        ),
    ]
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, stream.all(), raw)
        await caught_up(env)
    finally:
        code = service.terminate()
    log = service.log()
    assert code == 0, log[-3000:]
    assert '"batch_done"' in log and '"dead_letter"' in log
    assert SECRET not in log, "the SASL password is in the log"
    leaking = [line for line in log.splitlines() if MARKER in line]
    assert not leaking, f"payload in the log: {leaking[:3]}"


async def test_the_log_carries_no_part_of_an_unknown_event_type(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    # The `type` field is payload too (publisher-controlled, up to the message size).
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    value = {
        "specversion": "1.0",
        "id": "x",
        "source": "s",
        "time": "2026-01-01T00:00:00Z",
        "type": MARKER,
        "data": {},
    }
    raw = [(topic_prefix + "lms.progress.v1", b"k", json.dumps(value).encode())]
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, [], raw)
        await caught_up(env)
    finally:
        code = service.terminate()
    log = service.log()
    assert code == 0, log[-3000:]
    assert '"dead_letter"' in log
    leaking = [line for line in log.splitlines() if MARKER in line]
    assert not leaking, f"payload in the log: {leaking[:3]}"
