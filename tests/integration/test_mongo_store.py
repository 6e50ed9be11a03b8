"""The MongoDB store against the real server: optimistic saves, counts, the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from schemas.documents import BatchDoc, Certificate, EnrolmentDoc
from schemas.types import parse_time
from services.storage.mongo import MongoStore


@pytest.fixture
async def store(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[MongoStore]:
    client, store = MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000)
    await store.create_indexes()
    yield store
    await client.close()


def _batch(batch_id: str) -> BatchDoc:
    return BatchDoc(
        batchId=batch_id,
        courseId="c",
        name="n",
        enrollmentType="open",
        startDate="2026-01-01",
        endDate=None,
        enrollmentEndDate=None,
        mentors=[],
        certificateTemplates=[],
    )


def _docs(n: int, batch: str = "b.$1") -> list[EnrolmentDoc]:
    return [EnrolmentDoc(batchId=batch, userId=f"user.{i} $é") for i in range(n)]


async def test_saving_hundreds_of_documents_at_once_completes(store: MongoStore) -> None:
    # FerretDB 1.24 deadlocks on one `update` command with more statements than its pool
    # holds; the store must split bulk writes (this test hangs, then times out, without it).
    saved = await store.get_enrolments([])
    assert saved == {}
    assert await store.save_enrolments(_docs(300)) == set()
    loaded = await store.get_enrolments(d.key for d in _docs(300))
    changed = [d.model_copy(update={"enrolled": True}) for d in loaded.values()]
    assert await store.save_enrolments(changed) == set()
    again = await store.get_enrolments(d.key for d in _docs(300))
    assert len(again) == 300 and all(d.enrolled for d in again.values())


async def test_a_save_against_a_stale_rev_is_reported_as_a_conflict_and_writes_nothing(
    store: MongoStore,
) -> None:
    [doc] = _docs(1)
    assert await store.save_enrolments([doc]) == set()
    [first] = (await store.get_enrolments([doc.key])).values()
    assert await store.save_enrolments([first.model_copy(update={"enrolled": True})]) == set()
    stale = first.model_copy(update={"progressStatus": 1})  # still carries the old rev
    assert await store.save_enrolments([stale]) == {doc.key}
    assert await store.save_enrolments([doc]) == {doc.key}  # a second insert conflicts too
    [now] = (await store.get_enrolments([doc.key])).values()
    assert now.enrolled is True and now.progressStatus == 0


async def test_counts_follow_enrolled_completed_and_certified_learners(store: MongoStore) -> None:
    assert await store.save_batch(_batch("b.$1"))
    cert = Certificate(templateId="t", eventId="e", eligibleAt=parse_time("2026-01-02T00:00:00Z"))
    a, b, c = _docs(3)
    await store.save_enrolments(
        [
            a.model_copy(update={"enrolled": True, "progressStatus": 2, "certificates": [cert]}),
            b.model_copy(update={"enrolled": True, "progressStatus": 1}),
            c.model_copy(update={"enrolled": False, "progressStatus": 2, "certificates": [cert]}),
        ]
    )
    assert await store.recount_stale() == 0, "nothing is marked yet"
    await store.mark_counts_stale(["b.$1", "never-created"])
    assert await store.recount_stale() == 1
    counted = (await store.get_batches(["b.$1"]))["b.$1"]
    assert (counted.enrolledCount, counted.completedCount, counted.certifiedCount) == (2, 1, 2)
    assert await store.recount_stale() == 0, "a recount clears the mark"


async def test_a_mark_renewed_during_a_recount_survives_it(store: MongoStore) -> None:
    assert await store.save_batch(_batch("b"))
    await store.mark_counts_stale(["b"])
    original = store._counts

    async def counts_while_another_instance_writes(batch_id: str) -> dict[str, int]:
        counted = await original(batch_id)
        await store.mark_counts_stale([batch_id])  # a write lands after we counted
        return counted

    store._counts = counts_while_another_instance_writes  # type: ignore[method-assign]
    assert await store.recount_stale() == 1
    store._counts = original  # type: ignore[method-assign]
    assert await store.recount_stale() == 1, "the newer mark must not be cleared by the older"


async def test_outbox_entries_are_pending_until_acknowledged(store: MongoStore) -> None:
    [doc] = _docs(1)
    events = [{"id": "e1", "data": {"userId": doc.userId}}, {"id": "e2", "data": {}}]
    await store.save_enrolments([doc.model_copy(update={"outbox": events})])
    assert [d.key for d in await store.pending_outbox(10)] == [doc.key]
    await store.ack_outbox({doc.key: {"e1"}})
    [left] = await store.pending_outbox(10)
    assert [e["id"] for e in left.outbox] == ["e2"]
    await store.ack_outbox({doc.key: {"e2"}})
    assert await store.pending_outbox(10) == []
