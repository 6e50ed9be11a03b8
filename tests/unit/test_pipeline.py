"""The pipeline against the in-memory store: no servers, and every orchestration rule.

Folding, conflicts and re-folds, the converge step (rules that change under a save), the
outbox flow and dead letters, each against the pure reference (testkit.world) or the
contract itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.documents import BatchDoc, EnrolmentDoc, enrolment_key
from schemas.events import event_adapter
from services.clock import ManualClock
from services.convergence import PollFold
from services.errors import PublishUnavailable, StoreUnavailable
from services.ordering import in_batch_order
from services.pipeline import Pipeline
from services.ports import Received, Stores
from services.storage import InMemoryStore
from testkit.expect import assert_documents_exact, assert_status_events
from testkit.fakes import RecordingPublisher
from testkit.streams import generate_stream
from testkit.world import World
from tests.unit.builders import (
    batch_created,
    batch_updated,
    completed,
    course,
    enrolled,
    template,
    unenrolled,
)


def received(events: Iterable[Any], topic: str = "t", partition: int = 0) -> list[Received]:
    """Records as the consumer parses them (dicts are serialised first; bytes are sent raw)."""
    out = []
    for offset, event in enumerate(events):
        value = event if isinstance(event, bytes) else _json(event)
        try:
            parsed = event_adapter.validate_json(value)
        except ValueError as exc:
            out.append(Received(topic, partition, offset, None, value, reason=f"invalid: {exc}"))
            continue
        out.append(Received(topic, partition, offset, None, value, event=parsed))
    return out


def _json(event: Any) -> bytes:
    if isinstance(event, dict):
        return json.dumps(event).encode()
    return event.model_dump_json(exclude_unset=True).encode()  # a parsed event (builders)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def pipeline(store: InMemoryStore, publisher: RecordingPublisher) -> Pipeline:
    return Pipeline(store.stores(), publisher)


async def enrolments(stores: Stores, *keys: str) -> dict[str, EnrolmentDoc]:
    return await stores.documents.get_enrolments(keys)


async def test_a_stream_folds_to_the_reference_documents_and_certificates(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    stream = generate_stream(seed=3, batches=2, learners=8)
    world = stream.expected()
    for rule in stream.rules:
        await pipeline.handle(received([rule]))
    facts = stream.shuffled(seed=3)
    for start in range(0, len(facts), 25):
        await pipeline.handle(received(facts[start : start + 25]))
    await pipeline.idle()
    docs = {
        name: await store.maintenance.dump(name) for name in ("batches", "courses", "enrolments")
    }
    assert_documents_exact(docs, world)
    assert_status_events([e.id for e in publisher.statuses], docs, world)
    assert sorted(e.id for e in publisher.certificates) == sorted(world.certificate_ids())


class InterferingDocuments:
    """A document store where another writer changes things just before our next save."""

    def __init__(self, inner: Any, before_save: Any) -> None:
        self._inner = inner
        self._before_save = before_save
        self.saves = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save_enrolments(self, docs: Sequence[EnrolmentDoc]) -> set[str]:
        self.saves += 1
        if self._before_save is not None:
            interfere, self._before_save = self._before_save, None
            await interfere()
        return await self._inner.save_enrolments(docs)


def _with_documents(store: InMemoryStore, documents: Any) -> Stores:
    return dataclasses.replace(store.stores(), documents=documents)


async def test_a_save_that_lost_to_another_writer_is_folded_again_and_loses_nothing(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    await Pipeline(store.stores(), publisher).handle(
        received([course(leaf_nodes=["a", "b"]), batch_created(), enrolled()])
    )
    other = Pipeline(store.stores(), publisher)

    async def another_instance_folds_a_completion() -> None:
        await other.handle(received([completed("a", time="2026-03-01T00:00:00Z")]))

    documents = InterferingDocuments(store.documents, another_instance_folds_a_completion)
    ours = Pipeline(_with_documents(store, documents), publisher)
    await ours.handle(received([completed("b", time="2026-03-02T00:00:00Z")]))

    assert documents.saves == 2, "the first save conflicted and was folded again"
    [doc] = (await enrolments(store.stores(), enrolment_key("batch-1", "user-1"))).values()
    assert [c.contentId for c in doc.facts.contents] == ["a", "b"], "no fact lost"
    assert doc.progressStatus == 2


async def test_a_learner_saved_against_rules_that_changed_meanwhile_is_folded_again(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    # The batch ends before the completion; another instance extends it while we fold.
    early_end = batch_created(end="2026-02-28", templates=[template("t")])
    await Pipeline(store.stores(), publisher).handle(
        received([course(leaf_nodes=["a"]), early_end, enrolled(time="2026-02-01T00:00:00Z")])
    )
    other = Pipeline(store.stores(), publisher)

    async def another_instance_extends_the_batch() -> None:
        await other.handle(received([batch_updated(endDate="2026-12-31")], partition=1))

    documents = InterferingDocuments(store.documents, another_instance_extends_the_batch)
    ours = Pipeline(_with_documents(store, documents), publisher)
    await ours.handle(received([completed("a", time="2026-03-10T00:00:00Z")]))

    [doc] = (await enrolments(store.stores(), enrolment_key("batch-1", "user-1"))).values()
    assert doc.progressStatus == 2, "the completion counts under the extended window"
    assert [c.templateId for c in doc.certificates] == ["t"]
    assert [e.data.userId for e in publisher.certificates] == ["user-1"]


async def test_an_announcement_stays_in_the_outbox_until_kafka_has_it(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    await pipeline.handle(
        received([course(leaf_nodes=["a"]), batch_created(templates=[template("t")])])
    )
    publisher.down = True
    with pytest.raises(PublishUnavailable):
        await pipeline.handle(received([enrolled(), completed("a")]))
    [pending] = await store.outbox.pending(10)
    assert [e.type for e in pending.outbox] == ["enrolment.seated", "certificate.eligible"]
    assert publisher.certificates == [] and publisher.statuses == []

    publisher.down = False
    relayed = await pipeline.relay_pending()
    assert relayed == [e.id for e in pending.outbox], "persisted before publishing"
    assert [e.id for e in publisher.statuses + publisher.certificates] == relayed
    assert await store.outbox.pending(10) == []
    await pipeline.handle(received([enrolled(), completed("a")]))
    assert len(publisher.certificates) == 1, "folding again announces nothing new"
    assert len(publisher.statuses) == 1


async def test_the_retry_of_a_poll_whose_publish_failed_publishes_what_it_saved(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    await pipeline.handle(
        received([course(leaf_nodes=["a"]), batch_created(templates=[template("t")])])
    )
    publisher.down = True
    poll = received([enrolled(), completed("a")])
    with pytest.raises(PublishUnavailable):
        await pipeline.handle(poll)
    publisher.down = False
    await pipeline.handle(poll)  # the retry: nothing left to write, the saved ones published
    assert [e.type for e in publisher.statuses + publisher.certificates] == [
        "enrolment.seated",
        "certificate.eligible",
    ]
    await store.outbox.flush()
    assert await store.outbox.pending(10) == []


async def test_bad_records_and_rejected_batch_events_are_dead_lettered_with_a_reason(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    orphan_update = batch_updated("never-created", endDate="2026-12-31")
    report = await pipeline.handle(received([b"{not json", orphan_update, course()]))
    assert report.dead_letters == 2
    reasons = sorted(letter.reason for letter in publisher.letters)
    assert reasons[0].startswith("batch.updated for batch never created")
    assert reasons[1].startswith("invalid")
    assert [letter.event_id for letter in publisher.letters if letter.event_id] == [
        orphan_update.id
    ]
    assert await store.documents.get_courses(["course-1"]), "the valid record still folds"


async def test_a_rejected_batch_events_letter_lost_to_a_failed_send_or_a_crash_is_sent_again(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    """The fold remembers a rejected event as consumed before its letter is sent: a retry
    after a failed send, or a restart before the commit, reads it again and skips it. Its
    letter is sent again then, with the reason kept (contract 5: it goes to the DLQ)."""
    orphan = batch_updated("never-created", endDate="2026-12-31")
    records = received([orphan, course()])
    publisher.down = True
    with pytest.raises(PublishUnavailable):
        await pipeline.handle(records)
    assert publisher.letters == []
    publisher.down = False
    retried = await pipeline.handle(records)  # as the loop's retry does
    [letter] = publisher.letters
    assert (letter.event_id, letter.source.offset) == (orphan.id, 0)
    assert letter.reason.startswith("batch.updated for batch never created")
    restarted = Pipeline(store.stores(), publisher)  # a crash before the commit: read again
    await restarted.handle(records)
    assert [(x.event_id, x.reason) for x in publisher.letters] == [(orphan.id, letter.reason)] * 2
    assert retried.dead_letters == 1
    assert await store.documents.get_batches(["never-created"]) == {}, "still rejected"


class FailsOnce:
    """A store part whose `method` raises the first time it is called (then works)."""

    def __init__(self, inner: Any, method: str) -> None:
        self._inner, self._method, self.failed = inner, method, False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method or self.failed:
            return attr

        async def failing(*args: Any, **kwargs: Any) -> Any:
            self.failed = True
            raise StoreUnavailable(f"{name}: the database is away (test)")

        return failing


async def test_counts_are_exact_once_idle_after_a_failed_mark_and_the_retry(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    """The retry of a poll whose count mark failed finds its documents written and writes
    nothing; the counts of the batches its records name are marked all the same."""
    setup = Pipeline(store.stores(), publisher)
    await setup.handle(received([course(), batch_created()]))
    await setup.idle()
    counts = FailsOnce(store.counts, "mark_stale")
    pipeline = Pipeline(dataclasses.replace(store.stores(), counts=counts), publisher)
    poll = received([enrolled("u1"), enrolled("u2")])
    with pytest.raises(StoreUnavailable):
        await pipeline.handle(poll)
    await pipeline.handle(poll)  # as the loop's retry does
    await pipeline.idle()
    batch = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert batch.enrolledCount == 2


class Killed(Exception):
    """The process died here (test)."""


class SweptThenKilledAfterSave:
    """Documents of an instance whose batch save is preceded by another instance's idle sweep
    (between this one's refresh mark and its save) and followed by its death."""

    def __init__(self, inner: Any, other: Pipeline) -> None:
        self._inner, self._other = inner, other

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save_batch(self, doc: BatchDoc) -> bool:
        await self._other.idle()
        await self._inner.save_batch(doc)
        raise Killed("after save_batch, before the learners were evaluated again")


async def test_another_instances_young_refresh_mark_is_left_to_it_and_taken_once_old(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    """A sweep that took another instance's mark made just before its save would evaluate the
    learners against the rules not yet saved, and clear the mark: that instance dying after
    its save left them so for good (a learner who completed never got the certificate a new
    template gives). A young mark is left to its instance; once old, any instance takes it."""
    setup = Pipeline(store.stores(), publisher)
    await setup.handle(received([course(leaf_nodes=["a"]), batch_created()]))
    await setup.handle(received([enrolled(), completed("a")]))
    await setup.idle()
    poll = received([batch_updated(certificateTemplates=[template("tpl-1")])])
    other = Pipeline(store.stores(), publisher, relay_min_age_s=180)
    documents = SweptThenKilledAfterSave(store.documents, other)
    with pytest.raises(Killed):
        await Pipeline(_with_documents(store, documents), publisher).handle(poll)
    restarted = Pipeline(store.stores(), publisher, relay_min_age_s=180)  # the records again
    await restarted.handle(poll)
    await restarted.idle()
    assert await store.refresh.pending(), "the dead instance's mark waits until it is old"
    later = Pipeline(store.stores(), publisher, relay_min_age_s=0)  # as once it is old
    await later.idle()
    await later.relay_pending()
    assert [c.data.templateId for c in publisher.certificates] == ["tpl-1"]
    assert await store.refresh.pending() == {}


async def test_counts_are_exact_once_idle(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    await pipeline.handle(
        received(
            [
                course(leaf_nodes=["a"]),
                batch_created(),
                enrolled("u1"),
                enrolled("u2"),
                completed("a", "u2"),
            ]
        )
    )
    await pipeline.idle()
    batch: BatchDoc = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert (batch.enrolledCount, batch.completedCount) == (2, 1)


def test_the_reference_world_agrees_with_itself_on_a_tiny_stream() -> None:
    # Guards the oracle the tests above compare with: a completion after enrolment latches.
    world = World().apply_all(
        [
            course(leaf_nodes=["a"]),
            batch_created(templates=[template("t")]),
            enrolled(),
            completed("a"),
        ]
    )
    assert len(world.certificate_ids()) == 1


async def test_a_batch_event_at_an_offset_seen_before_applies_when_its_id_is_new(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    # The topic was recreated (or the cluster moved): offsets start again at 0.
    await pipeline.handle(received([course(leaf_nodes=["a"]), batch_created(end="2026-01-31")]))
    await pipeline.handle(received([enrolled(time="2026-01-05T00:00:00Z")]))
    await pipeline.handle(received([completed("a", time="2026-02-10T00:00:00Z")]))
    extended = batch_updated(endDate="2026-03-31")
    await pipeline.handle(received([extended]))  # offset 0 of partition 0, again
    batch = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert batch.endDate == "2026-03-31"
    [doc] = (await store.documents.get_enrolments([enrolment_key("batch-1", "user-1")])).values()
    assert doc.progressStatus == 2, "the completion now inside the window counts"


async def test_a_saved_batch_names_the_events_it_applied_before_their_markers_exist(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    # An API retry reads the batch between its save and the markers written after it: the
    # batch itself must say the retry's event is in (else a retried create answers
    # batch-exists). A poll that changes nothing leaves the names as they were.
    created, extended = batch_created(end="2026-06-30"), batch_updated(endDate="2026-07-31")
    await pipeline.handle(received([course(leaf_nodes=["a"]), created, extended]))
    batch = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert batch.appliedEvents == (created.id, extended.id)
    await pipeline.handle(received([created]))  # a redelivery: nothing to save
    again = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert again.appliedEvents == (created.id, extended.id) and again.rev == batch.rev


async def test_batch_events_read_again_from_other_offsets_never_roll_the_batch_back(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    created, first, second = (
        batch_created(end="2026-06-30"),
        batch_updated(endDate="2026-07-31"),
        batch_updated(endDate="2026-09-30"),
    )
    await pipeline.handle(received([created, first, second], partition=0))
    # A mirror in another cluster: the same events at other offsets, in another partition.
    await pipeline.handle(received([b"{}", created, first], partition=2))
    batch = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert batch.endDate == "2026-09-30"
    assert len(publisher.letters) == 1, "only the junk record is dead-lettered"


def test_one_batchs_events_from_two_partitions_apply_in_time_order_each_partition_kept() -> None:
    early, middle, late = (
        batch_updated(endDate="2026-07-31", time="2026-01-02T00:00:00Z"),
        batch_updated(endDate="2026-08-31", time="2026-01-03T00:00:00Z"),
        batch_updated(endDate="2026-09-30", time="2026-01-04T00:00:00Z"),
    )
    one = received([early, late], partition=1)
    two = received([middle], partition=0)
    assert [r.event for r in in_batch_order([*one, *two])] == [early, middle, late]
    # Within a partition its order wins, whatever the times say.
    backwards = received([late, early], partition=1)
    assert [r.event for r in in_batch_order(backwards)] == [late, early]


# -- Seats, rosters and the clock (contracts 7 and 8) ---------------------------------------


def _statuses(publisher: RecordingPublisher) -> list[tuple[str, str]]:
    return [(e.data.userId, e.data.status) for e in publisher.statuses]


async def _seats(store: InMemoryStore, *users: str) -> dict[str, str]:
    keys = [enrolment_key("batch-1", u) for u in users]
    docs = await store.documents.get_enrolments(keys)
    return {d.userId: d.enrolmentStatus for d in docs.values()}


async def test_a_seat_freed_is_given_to_the_head_of_the_waitlist_in_the_same_poll(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline
) -> None:
    capped = batch_created(maximumCapacity=1, allowWaitlisting=True, templates=[template("t")])
    await pipeline.handle(received([course(leaf_nodes=["a"]), capped]))
    await pipeline.handle(
        received(
            [
                enrolled("first", time="2026-02-01T00:00:00Z"),
                enrolled("second", time="2026-02-02T00:00:00Z"),
                completed("a", "second", time="2026-02-03T00:00:00Z"),
            ]
        )
    )
    assert await _seats(store, "first", "second") == {"first": "enrolled", "second": "waitlisted"}
    assert publisher.certificates == []
    await pipeline.handle(received([unenrolled("first", time="2026-02-04T00:00:00Z")]))
    assert await _seats(store, "first", "second") == {
        "first": "not-enrolled",
        "second": "enrolled",
    }
    assert sorted(_statuses(publisher)) == [
        ("first", "seated"),
        ("second", "seated"),
        ("second", "waitlisted"),
    ]
    seconds = [status for user, status in _statuses(publisher) if user == "second"]
    assert seconds == ["waitlisted", "seated"], "announced in the order reached"
    assert [e.data.userId for e in publisher.certificates] == ["second"]
    await pipeline.idle()
    batch = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert (batch.enrolledCount, batch.waitlistedCount) == (1, 0)


class SlowDocuments:
    """A document store whose bulk save writes one document at a time, letting other tasks
    run in between (as a real server's unordered bulk write does)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save_enrolments(self, docs: Sequence[Any]) -> set[str]:
        conflicts: set[str] = set()
        for doc in sorted(docs, key=lambda d: d.key, reverse=True):
            conflicts |= await self._inner.save_enrolments([doc])
            await asyncio.sleep(0)
        return conflicts


async def test_no_writer_decides_on_a_roster_another_writer_is_halfway_through(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    # One seat, no waitlist. One instance saves two new requests (the later one first); the
    # other folds the later learner's completion meanwhile. Reading the roster between the
    # two writes would seat the later learner and latch a certificate for ever.
    slow = dataclasses.replace(store.stores(), documents=SlowDocuments(store.documents))
    setup = Pipeline(slow, publisher)
    await setup.handle(
        received(
            [course(leaf_nodes=["a"]), batch_created(maximumCapacity=1, templates=[template("t")])]
        )
    )
    requests = [
        enrolled("later", time="2026-02-02T00:00:00Z"),
        enrolled("earlier", time="2026-02-01T00:00:00Z"),
    ]
    await asyncio.gather(
        Pipeline(slow, publisher).handle(received(requests)),
        Pipeline(slow, publisher).handle(received([completed("a", "later")], partition=1)),
    )
    assert await _seats(store, "earlier", "later") == {"earlier": "enrolled", "later": "refused"}
    assert publisher.certificates == [], "a certificate was decided on a torn roster"
    assert ("later", "seated") not in _statuses(publisher)


async def test_a_rule_change_interrupted_by_a_crash_is_finished_when_idle(
    store: InMemoryStore, publisher: RecordingPublisher, pipeline: Pipeline, monkeypatch: Any
) -> None:
    await pipeline.handle(received([batch_created(maximumCapacity=1, allowWaitlisting=True)]))
    await pipeline.handle(
        received(
            [enrolled("a", time="2026-02-01T00:00:00Z"), enrolled("b", time="2026-02-02T00:00:00Z")]
        )
    )

    async def crash(self: Any, batch_ids: Any) -> None:
        raise RuntimeError("killed between saving the batch and settling its learners")

    monkeypatch.setattr(PollFold, "refresh_batches", crash)
    with pytest.raises(RuntimeError):
        await pipeline.handle(received([batch_updated(maximumCapacity=2)]))
    monkeypatch.undo()
    assert await _seats(store, "a", "b") == {"a": "enrolled", "b": "waitlisted"}, "not yet"
    await pipeline.handle(received([batch_updated(maximumCapacity=2)]))  # re-read: known id
    await pipeline.idle()
    assert await _seats(store, "a", "b") == {"a": "enrolled", "b": "enrolled"}


async def test_the_clock_moves_batch_status_and_publishes_the_automatic_cancellation(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    clock = ManualClock(datetime(2026, 2, 20, tzinfo=UTC))
    pipeline = Pipeline(store.stores(), publisher, clock=clock, auto_cancel_grace_s=300)
    small = batch_created(
        start="2026-03-01",
        end="2026-03-31",
        minimumCapacity=3,
        cancelBatchWhenMinimumCapacityIsNotMet=True,
    )
    await pipeline.handle(received([small, enrolled("a", time="2026-02-21T00:00:00Z")]))
    batch = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert batch.status == "upcoming"

    clock.set(datetime(2026, 3, 1, 0, 4, tzinfo=UTC))
    report = await pipeline.tick()
    assert (await store.documents.get_batches(["batch-1"]))["batch-1"].status == "ongoing"
    assert report.facts_published == [] and publisher.facts == [], "still within the grace"

    clock.set(datetime(2026, 3, 1, 0, 6, tzinfo=UTC))
    report = await pipeline.tick()
    [cancel] = publisher.facts
    assert report.facts_published == [cancel.id]
    assert cancel.time == datetime(2026, 3, 1, tzinfo=UTC)
    await pipeline.handle(received([cancel]))  # the fact comes back through lms.batch.v1
    batch = (await store.documents.get_batches(["batch-1"]))["batch-1"]
    assert batch.cancelled and batch.status == "cancelled"
    assert await _seats(store, "a") == {"a": "not-enrolled"}
    await pipeline.tick()
    assert len(publisher.facts) == 1, "a cancelled batch is not cancelled again"


async def test_a_status_save_lost_to_another_writer_is_tried_again(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    # The clock's work runs beside the fold: its save of a batch can lose to the fold's or a
    # recount's; it must not leave the status stale for another period.
    clock = ManualClock(datetime(2026, 2, 20, tzinfo=UTC))
    pipeline = Pipeline(store.stores(), publisher, clock=clock)
    await pipeline.handle(received([batch_created(start="2026-03-01", end="2026-03-31")]))
    documents, lost = store.documents, []
    real_save = documents.save_batch

    async def racing(batch: BatchDoc) -> bool:
        if not lost:  # another writer saves the batch between the tick's read and its save
            stored = (await documents.get_batches([batch.batchId]))[batch.batchId]
            assert await real_save(stored.model_copy(update={"enrolledCount": 0}))
            lost.append(batch.batchId)
        return await real_save(batch)

    documents.save_batch = racing  # type: ignore[method-assign]
    clock.set(datetime(2026, 3, 2, tzinfo=UTC))
    await pipeline.tick()
    assert lost == ["batch-1"]
    assert (await documents.get_batches(["batch-1"]))["batch-1"].status == "ongoing"


async def test_a_long_poll_writes_a_batch_status_as_of_its_save_not_its_start(
    store: InMemoryStore, publisher: RecordingPublisher
) -> None:
    # A poll that started before the batch's start date and saves after it must not write
    # back `upcoming` over the clock's `ongoing`.
    clock = ManualClock(datetime(2026, 2, 28, 23, 59, tzinfo=UTC))
    pipeline = Pipeline(store.stores(), publisher, clock=clock)
    await pipeline.handle(received([batch_created(start="2026-03-01", end="2026-03-31")]))
    documents = store.documents
    real_get = documents.get_batches

    async def slow(batch_ids: Any) -> Any:  # the poll takes minutes: midnight passes
        clock.set(datetime(2026, 3, 1, 0, 5, tzinfo=UTC))
        return await real_get(batch_ids)

    documents.get_batches = slow  # type: ignore[method-assign]
    await pipeline.handle(received([batch_updated(name="Renamed")]))
    documents.get_batches = real_get  # type: ignore[method-assign]
    batch = (await documents.get_batches(["batch-1"]))["batch-1"]
    assert (batch.name, batch.status) == ("Renamed", "ongoing")
