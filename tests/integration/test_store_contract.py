"""One contract for every store: the MongoDB store (against the real server) and the
in-memory store must behave alike: optimistic saves, conflicts, counts, the outbox,
checkpoints and maintenance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from schemas.documents import BatchDoc, Certificate, EnrolmentDoc, EnrolmentRequest
from schemas.outbound import CertificateEligible, CertificateEligibleData
from schemas.types import parse_time
from services.ports import Stores
from services.storage import InMemoryStore, MongoStore
from services.storage.encoding import encode_enrolments


@pytest.fixture(params=["memory", "mongo", "mongo-cached"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    if request.param == "memory":
        yield InMemoryStore().stores()
        return
    uri = request.getfixturevalue("mongodb_uri")
    db_name = request.getfixturevalue("mongo_db_name")
    cache = 100 if request.param == "mongo-cached" else 0
    async with MongoStore.connect(uri, db_name, timeout_ms=20_000, cache_size=cache) as mongo:
        await mongo.create_indexes()
        yield mongo.stores()


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


def _event(event_id: str, user_id: str) -> CertificateEligible:
    data = CertificateEligibleData(
        batchId="b.$1",
        courseId="c",
        userId=user_id,
        templateId=event_id,
        completionPercentage=100.0,
        scorePercentage=None,
        completedAt=None,
    )
    return CertificateEligible(id=event_id, time="2026-01-02T00:00:00Z", data=data)


async def test_saving_hundreds_of_documents_at_once_completes(stores: Stores) -> None:
    # FerretDB 1.24 deadlocks on one `update` command with more statements than its pool
    # holds; the store must split bulk writes (this test hangs, then times out, without it).
    docs = stores.documents
    assert await docs.get_enrolments([]) == {}
    assert await docs.save_enrolments(_docs(300)) == set()
    loaded = await docs.get_enrolments(d.key for d in _docs(300))
    changed = [d.model_copy(update={"enrolled": True}) for d in loaded.values()]
    assert await docs.save_enrolments(changed) == set()
    again = await docs.get_enrolments(d.key for d in _docs(300))
    assert len(again) == 300 and all(d.enrolled for d in again.values())


async def test_a_save_against_a_stale_rev_is_reported_as_a_conflict_and_writes_nothing(
    stores: Stores,
) -> None:
    docs = stores.documents
    [doc] = _docs(1)
    assert await docs.save_enrolments([doc]) == set()
    [first] = (await docs.get_enrolments([doc.key])).values()
    assert await docs.save_enrolments([first.model_copy(update={"enrolled": True})]) == set()
    stale = first.model_copy(update={"progressStatus": 1})  # still carries the old rev
    assert await docs.save_enrolments([stale]) == {doc.key}
    assert await docs.save_enrolments([doc]) == {doc.key}  # a second insert conflicts too
    [now] = (await docs.get_enrolments([doc.key])).values()
    assert now.enrolled is True and now.progressStatus == 0


async def test_a_batch_save_is_guarded_and_keeps_the_counts(stores: Stores) -> None:
    docs = stores.documents
    assert await docs.save_batch(_batch("b"))
    assert not await docs.save_batch(_batch("b")), "a second insert loses"
    [stored] = (await docs.get_batches(["b"])).values()
    await docs.save_enrolments(
        [d.model_copy(update={"enrolled": True}) for d in _docs(2, batch="b")]
    )
    await stores.counts.mark_stale(["b"])
    await stores.counts.recount_stale()
    [counted] = (await docs.get_batches(["b"])).values()
    assert not await docs.save_batch(stored.model_copy(update={"name": "x"})), "stale rev"
    name = "re\tnamed \x01\x1b[1m\x0c\x7f\x85 $é"  # free text: any character but NUL
    renamed = counted.model_copy(update={"name": name, "enrolledCount": 0})
    assert await docs.save_batch(renamed)
    [now] = (await docs.get_batches(["b"])).values()
    assert (now.name, now.enrolledCount) == (name, 2), "counts are the count store's"
    assert await docs.batch_ids_of_course("c") == ["b"]
    assert {d.userId for d in await docs.enrolments_of_batch("b")} == {"user.0 $é", "user.1 $é"}


async def test_counts_follow_enrolled_completed_and_certified_learners(stores: Stores) -> None:
    assert await stores.documents.save_batch(_batch("b.$1"))
    cert = Certificate(templateId="t", eventId="e", eligibleAt=parse_time("2026-01-02T00:00:00Z"))
    a, b, c = _docs(3)
    await stores.documents.save_enrolments(
        [
            a.model_copy(update={"enrolled": True, "progressStatus": 2, "certificates": [cert]}),
            b.model_copy(update={"enrolled": True, "progressStatus": 1}),
            c.model_copy(update={"enrolled": False, "progressStatus": 2, "certificates": [cert]}),
        ]
    )
    assert await stores.counts.recount_stale() == 0, "nothing is marked yet"
    await stores.counts.mark_stale(["b.$1", "never-created"])
    assert await stores.counts.recount_stale() == 1
    counted = (await stores.documents.get_batches(["b.$1"]))["b.$1"]
    assert (counted.enrolledCount, counted.completedCount, counted.certifiedCount) == (2, 1, 2)
    assert await stores.counts.recount_stale() == 0, "a recount clears the mark"


async def test_counts_set_from_elsewhere_are_written_once(stores: Stores) -> None:
    assert await stores.documents.save_batch(_batch("b.$1"))
    totals = {"enrolledCount": 3, "completedCount": 2, "certifiedCount": 1, "waitlistedCount": 4}
    await stores.counts.set_counts("b.$1", totals)
    [counted] = (await stores.documents.get_batches(["b.$1"])).values()
    assert counted.model_dump(include=set(totals)) == totals
    await stores.counts.set_counts("b.$1", totals)
    [again] = (await stores.documents.get_batches(["b.$1"])).values()
    assert again.rev == counted.rev, "the same counts: nothing written"
    await stores.counts.set_counts("never-created", totals)  # nothing to count into
    assert await stores.documents.get_batches(["never-created"]) == {}


async def test_encoded_documents_load_once_and_read_back_as_saved(stores: Stores) -> None:
    docs = [d.model_copy(update={"enrolled": True, "progressStatus": 2}) for d in _docs(3)]
    encoded = encode_enrolments(docs)
    assert await stores.maintenance.insert_encoded("enrolments", encoded[:2]) == 2
    assert await stores.maintenance.insert_encoded("enrolments", encoded) == 1, "a resumed load"
    loaded = await stores.documents.get_enrolments(d.key for d in docs)
    for doc in docs:
        stored = loaded[doc.key]
        assert stored.rev is not None
        assert stored.model_copy(update={"rev": None}) == doc
    assert await stores.outbox.pending(10) == [], "no outbox: nothing to relay"


async def test_an_idempotency_key_keeps_its_first_answer(stores: Stores) -> None:
    later = time.time() + 3600
    first = [{"id": "e1", "time": "2026-01-01T00:00:00Z", "data": {"userId": "ada $.é"}}]
    assert await stores.idempotency.claim("k.$1", "digest-a", first, later) == ("digest-a", first)
    retry = [{"id": "e1", "time": "2026-01-01T00:05:00Z", "data": {"userId": "ada $.é"}}]
    assert await stores.idempotency.claim("k.$1", "digest-a", retry, later) == ("digest-a", first)
    other = await stores.idempotency.claim("k.$1", "digest-b", [], later)
    assert other == ("digest-a", first), "another request under the key: told, not kept"
    assert await stores.idempotency.claim("k2", "digest-b", [], later) == ("digest-b", [])


async def test_outbox_entries_are_pending_until_acknowledged(stores: Stores) -> None:
    [doc] = _docs(1)
    events = [_event("e1", doc.userId), _event("e2", doc.userId)]
    since = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert await stores.outbox.stats() == (0, None)
    await stores.documents.save_enrolments(
        [doc.model_copy(update={"outbox": events, "outboxSince": since})]
    )
    [pending] = await stores.outbox.pending(10)
    assert pending.key == doc.key and pending.outbox == events, "read back as models"
    assert await stores.outbox.stats() == (1, since)
    await stores.outbox.acknowledge({doc.key: {"e1"}})
    [left] = await stores.outbox.pending(10)
    assert [e.id for e in left.outbox] == ["e2"] and left.outboxSince == since
    assert await stores.outbox.stats() == (1, since), "e2 still waits"
    await stores.outbox.acknowledge({doc.key: {"e2"}, "no such key": {"e3"}})
    assert await stores.outbox.pending(10) == [], "published: not relayed again"
    assert await stores.outbox.stats() == (0, None), "published, even if not removed yet"
    await stores.outbox.flush()  # the removal may be deferred until here
    assert await stores.outbox.flush() == 0
    assert await stores.outbox.stats() == (0, None)
    [acked] = (await stores.documents.get_enrolments([doc.key])).values()
    assert acked.rev != pending.rev, "an acknowledgement is a guarded write like any other"
    assert acked.outboxSince is None, "an empty outbox has no age"


async def test_checkpoints_are_saved_loaded_and_dropped(stores: Stores) -> None:
    state = {"position": [{"topic": "t", "partition": 0, "offset": 7}], "savedAt": 1.5}
    assert await stores.checkpoints.load("replay:x") is None
    await stores.checkpoints.save("replay:x", state)
    loaded = await stores.checkpoints.load("replay:x")
    assert loaded is not None and loaded["position"] == state["position"]
    await stores.checkpoints.drop("replay:x")
    assert await stores.checkpoints.load("replay:x") is None


async def test_maintenance_dumps_and_replaces_a_collection(stores: Stores) -> None:
    await stores.documents.save_enrolments(_docs(3))
    dumped = await stores.maintenance.dump("enrolments")
    assert set(dumped) == {d.key for d in _docs(3)}
    kept = [dumped[_docs(3)[1].key]]
    assert await stores.maintenance.replace_all("enrolments", kept) == 1
    assert set(await stores.maintenance.dump("enrolments")) == {_docs(3)[1].key}


async def test_a_batch_remembers_the_events_it_applied(stores: Stores) -> None:
    docs = stores.documents
    assert await docs.applied_batch_events("b.$1", ["e1", "e2"]) == set()
    await docs.remember_batch_events("b.$1", ["e1", "e 2.$x"])
    await docs.remember_batch_events("b.$1", ["e1"])  # again: idempotent
    await docs.remember_batch_events("other", ["e3"])
    assert await docs.applied_batch_events("b.$1", ["e1", "e 2.$x", "e3"]) == {"e1", "e 2.$x"}
    assert await docs.applied_batch_events("other", ["e1", "e3"]) == {"e3"}


async def test_a_batch_remembers_which_events_it_rejected_until_one_applies(
    stores: Stores,
) -> None:
    docs = stores.documents
    await docs.remember_batch_events("b1", ["ok", "no"], rejected={"no": "why $.: é"})
    assert await docs.applied_batch_events("b1", ["ok", "no"]) == {"ok", "no"}, "both consumed"
    assert await docs.rejected_batch_events("b1", ["ok", "no", "never"]) == {"no": "why $.: é"}
    await docs.remember_batch_events("b1", ["no"])  # a redrive applied it: the last outcome wins
    assert await docs.rejected_batch_events("b1", ["ok", "no"]) == {}
    assert await docs.applied_batch_events("b1", ["no"]) == {"no"}


async def test_a_roster_lock_has_one_holder_until_released_or_expired(stores: Stores) -> None:
    locks = stores.locks
    assert await locks.acquire("b.$1", "me", 30)
    assert await locks.acquire("b.$1", "me", 30), "a holder may renew its lock"
    assert not await locks.acquire("b.$1", "you", 30)
    await locks.release("b.$1", "you")  # not yours: nothing happens
    assert not await locks.acquire("b.$1", "you", 30)
    await locks.release("b.$1", "me")
    assert await locks.acquire("b.$1", "you", 0.2)
    await asyncio.sleep(0.3)
    assert await locks.acquire("b.$1", "me", 30), "an expired lock can be taken"
    assert await locks.acquire("other", "you", 30), "one lock per roster"


async def test_refresh_marks_are_pending_until_cleared_and_a_new_one_survives(
    stores: Stores,
) -> None:
    first = await stores.refresh.mark(["b1", "b2"])
    pending = await stores.refresh.pending()
    assert set(pending) == {"b1", "b2"}
    again = await stores.refresh.mark(["b1"])  # marked again while the first is worked on
    await stores.refresh.clear(first)
    assert await stores.refresh.pending() == {"b1": again}
    await stores.refresh.clear(again)
    assert await stores.refresh.pending() == {}


async def test_a_young_refresh_mark_is_pending_for_its_owner_only_until_it_is_old(
    stores: Stores,
) -> None:
    mine = await stores.refresh.mark(["b1"], "me")
    theirs = await stores.refresh.mark(["b2"], "them")
    old = await stores.refresh.mark(["b3"], "them", at=0.0)
    assert await stores.refresh.pending("me", older_than_s=60) == {"b1": mine, "b3": old}
    assert await stores.refresh.pending("them", older_than_s=60) == {"b2": theirs, "b3": old}
    everything = {"b1": mine, "b2": theirs, "b3": old}
    assert await stores.refresh.pending("someone", older_than_s=0) == everything
    await stores.refresh.clear([*mine, *theirs, *old])


async def test_batches_are_found_by_status_and_by_automatic_cancellation(stores: Stores) -> None:
    docs = stores.documents
    await docs.save_batch(_batch("new"))  # no status yet: written before v1.1
    await docs.save_batch(_batch("on").model_copy(update={"status": "ongoing"}))
    watched = _batch("watched").model_copy(
        update={"cancelBatchWhenMinimumCapacityIsNotMet": True, "minimumCapacity": 2}
    )
    await docs.save_batch(watched)
    await docs.save_batch(watched.model_copy(update={"batchId": "gone", "cancelled": True}))
    assert [b.batchId for b in await docs.batches_with_status("ongoing")] == ["on"]
    assert {b.batchId for b in await docs.batches_with_status(None)} == {"new", "watched", "gone"}
    assert [b.batchId for b in await docs.batches_to_auto_cancel()] == ["watched"]


async def test_a_batchs_open_requests_are_read_alone(stores: Stores) -> None:
    opened = datetime(2026, 3, 1, 10, tzinfo=UTC)
    waiting, left, elsewhere = _docs(3)
    await stores.documents.save_enrolments(
        [
            waiting.model_copy(update={"request": EnrolmentRequest(time=opened, eventId="e.$1")}),
            left,  # no request: never enrolled, or left
            elsewhere.model_copy(
                update={"batchId": "other", "request": EnrolmentRequest(time=opened, eventId="x")}
            ),
        ]
    )
    assert await stores.documents.open_requests("b.$1") == [
        EnrolmentRequest(time=opened, eventId="e.$1")
    ]
    assert await stores.documents.open_requests("nothing") == []


async def test_the_schema_version_is_remembered(stores: Stores) -> None:
    assert await stores.maintenance.schema_version() is None
    await stores.maintenance.set_schema_version("1.1")
    await stores.maintenance.set_schema_version("1.1")
    assert await stores.maintenance.schema_version() == "1.1"
    await stores.documents.save_batch(_batch("b"))
    assert await stores.maintenance.all_batch_ids() == ["b"]


async def test_instances_starting_at_once_all_record_the_schema_version_and_checkpoints(
    stores: Stores,
) -> None:
    # Several instances upgrade a new database at the same moment: each upsert of the same new
    # `_id` races the others to insert it, and none may fail for having lost (CI saw one
    # instance die at start-up with a duplicate-key error).
    await asyncio.gather(*(stores.maintenance.set_schema_version("1.1") for _ in range(8)))
    assert await stores.maintenance.schema_version() == "1.1"
    await asyncio.gather(*(stores.checkpoints.save("replay", {"n": n}) for n in range(8)))
    assert (await stores.checkpoints.load("replay") or {}).get("n") in range(8)


async def test_batches_and_a_learners_enrolments_are_listed_in_id_pages(stores: Stores) -> None:
    for name, course, status in [("b1", "c", "ongoing"), ("b2", "c", None), ("b3", "d", "ongoing")]:
        await stores.documents.save_batch(
            _batch(name).model_copy(update={"courseId": course, "status": status})
        )
    reads = stores.reads
    assert [b.batchId for b in await reads.list_batches(None, None, None, 10)] == ["b1", "b2", "b3"]
    assert [b.batchId for b in await reads.list_batches("c", None, None, 10)] == ["b1", "b2"]
    assert [b.batchId for b in await reads.list_batches(None, ["ongoing"], None, 10)] == [
        "b1",
        "b3",
    ]
    assert [b.batchId for b in await reads.list_batches(None, [None], None, 10)] == ["b2"]
    assert [b.batchId for b in await reads.list_batches(None, None, None, 2)] == ["b1", "b2"]
    assert [b.batchId for b in await reads.list_batches(None, None, "b2", 2)] == ["b3"]
    docs = [EnrolmentDoc(batchId=b, userId="u.$1") for b in ("b2", "b1", "b3")]
    await stores.documents.save_enrolments([*docs, EnrolmentDoc(batchId="b1", userId="other")])
    mine = await reads.enrolments_of_user("u.$1", None, 2)
    assert [d.batchId for d in mine] == ["b1", "b2"]
    rest = await reads.enrolments_of_user("u.$1", mine[-1].key, 2)
    assert [d.batchId for d in rest] == ["b3"]


async def test_a_published_entry_leaves_its_document_with_the_next_save_or_a_flush(
    stores: Stores,
) -> None:
    first, second = _docs(2)
    events = {d.key: [_event(f"e-{i}", d.userId)] for i, d in enumerate((first, second))}
    await stores.documents.save_enrolments(
        [d.model_copy(update={"outbox": events[d.key]}) for d in (first, second)]
    )
    await stores.outbox.acknowledge({k: {e.id for e in v} for k, v in events.items()})
    loaded = await stores.documents.get_enrolments([first.key, second.key])
    assert all(d.outbox == [] for d in loaded.values()), "the fold never sees them again"
    # The fold writes `first` again: its published entry goes with that write.
    changed = loaded[first.key].model_copy(update={"progressStatus": 1})
    assert await stores.documents.save_enrolments([changed]) == set()
    await stores.outbox.flush()
    stored = await stores.maintenance.dump("enrolments")
    assert stored[first.key]["outbox"] == [] and stored[second.key]["outbox"] == []
    assert not stored[first.key]["hasOutbox"] and not stored[second.key]["hasOutbox"]
