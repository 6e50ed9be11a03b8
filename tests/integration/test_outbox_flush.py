"""The deferred removal of published outbox entries (MongoDB store): a flush writes from what
this process last wrote, and a document another writer changed meanwhile is read and done
again, its other entries kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from schemas.documents import EnrolmentDoc
from schemas.outbound import CertificateEligible, CertificateEligibleData
from services.ports import Stores
from services.storage import MongoStore

SINCE = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _event(event_id: str) -> CertificateEligible:
    data = CertificateEligibleData(
        batchId="b",
        courseId="c",
        userId="u",
        templateId=event_id,
        completionPercentage=100.0,
        scorePercentage=None,
        completedAt=None,
    )
    return CertificateEligible(id=event_id, time="2026-01-02T00:00:00Z", data=data)


@pytest.fixture
async def two_writers(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[tuple[Stores, Stores]]:
    """Two processes' stores on one database, neither caching documents."""
    async with (
        MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000) as one,
        MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000) as other,
    ):
        await one.create_indexes()
        yield one.stores(), other.stores()


async def _stored(stores: Stores) -> EnrolmentDoc:
    [doc] = (await stores.documents.get_enrolments(["b\nu"])).values()
    return doc


async def test_a_flush_empties_an_outbox_this_process_wrote(
    two_writers: tuple[Stores, Stores],
) -> None:
    mine, _ = two_writers
    doc = EnrolmentDoc(batchId="b", userId="u", outbox=[_event("e1")], outboxSince=SINCE)
    assert await mine.documents.save_enrolments([doc]) == set()
    await mine.outbox.acknowledge({doc.key: {"e1"}})
    assert await mine.outbox.flush() == 1
    stored = await _stored(mine)
    assert (stored.outbox, stored.outboxSince) == ([], None)
    assert await mine.outbox.stats() == (0, None)
    assert await mine.outbox.flush() == 0, "nothing left to remove"


async def test_a_flush_after_another_writer_changed_the_document_keeps_its_new_entries(
    two_writers: tuple[Stores, Stores],
) -> None:
    mine, theirs = two_writers
    doc = EnrolmentDoc(batchId="b", userId="u", outbox=[_event("e1")], outboxSince=SINCE)
    assert await mine.documents.save_enrolments([doc]) == set()
    await mine.outbox.acknowledge({doc.key: {"e1"}})
    # Another instance folds a fact of the same learner: it still sees e1 (not its to know),
    # and latches e2.
    current = await _stored(theirs)
    grown = current.model_copy(update={"outbox": [*current.outbox, _event("e2")]})
    assert await theirs.documents.save_enrolments([grown]) == set()
    assert await mine.outbox.flush() == 1
    stored = await _stored(theirs)
    assert [e.id for e in stored.outbox] == ["e2"], "e1 removed, e2 kept"
    assert stored.outboxSince == SINCE
    [pending] = await theirs.outbox.pending(10)
    assert [e.id for e in pending.outbox] == ["e2"]


async def test_the_pending_gauge_is_exact_whatever_a_count_would_say(
    two_writers: tuple[Stores, Stores], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fold adds documents and a flush empties them between a count and a scan: a gauge
    # computed as "count minus published seen" read -362 and +163 in operating runs. A scan
    # that saw every document needs no count at all.
    mine, _ = two_writers
    docs = [
        EnrolmentDoc(batchId="b", userId=f"u{i}", outbox=[_event(f"e{i}")], outboxSince=SINCE)
        for i in range(3)
    ]
    assert await mine.documents.save_enrolments(docs) == set()
    await mine.outbox.acknowledge({d.key: {f"e{i}"} for i, d in enumerate(docs[:2])})
    outbox = mine.outbox
    enrolments = outbox._enrolments  # type: ignore[attr-defined]
    for stale in (0, 200):

        async def counted_at_another_moment(*_: object, stale: int = stale, **__: object) -> int:
            return stale

        monkeypatch.setattr(enrolments, "count_documents", counted_at_another_moment)
        assert await outbox.stats() == (1, SINCE), "u2's entry waits; u0's and u1's are out"
