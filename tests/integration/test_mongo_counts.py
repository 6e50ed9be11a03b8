"""MongoDB specifics of the count store: marks are inserts, so one made during a recount
survives it (the in-memory store recounts without yielding, so it has no such window)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from schemas.documents import BatchDoc
from services.storage import MongoStore


@pytest.fixture
async def mongo(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[MongoStore]:
    async with MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000) as store:
        await store.create_indexes()
        yield store


async def test_a_mark_renewed_during_a_recount_survives_it(mongo: MongoStore) -> None:
    batch = BatchDoc(
        batchId="b",
        courseId="c",
        name="n",
        enrollmentType="open",
        startDate="2026-01-01",
        endDate=None,
        enrollmentEndDate=None,
        mentors=[],
        certificateTemplates=[],
    )
    assert await mongo.documents.save_batch(batch)
    counts = mongo.counts
    await counts.mark_stale(["b"])
    original = counts.count

    async def counts_while_another_instance_writes(batch_id: str) -> dict[str, int]:
        counted = await original(batch_id)
        await counts.mark_stale([batch_id])  # a write lands after we counted
        return counted

    counts.count = counts_while_another_instance_writes  # type: ignore[method-assign]
    assert await counts.recount_stale() == 1
    counts.count = original  # type: ignore[method-assign]
    assert await counts.recount_stale() == 1, "the newer mark must not be cleared by the older"
