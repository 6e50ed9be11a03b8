"""One poll's fold: rule events first, then learners, each saved until it is saved against the
rules that are current (other instances may change a batch or course meanwhile)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, batch_of_key, enrolment_key
from schemas.events import BatchCancelled, BatchCreated, BatchUpdated, CoursePublished, LearnerEvent
from services.domain import (
    apply_batch_events,
    apply_course_event,
    fold_learner,
    refresh,
    rules_differ,
)
from services.errors import DocumentKeptChanging
from services.ports import DeadLetter, DocumentStore, Received

__all__ = ["BATCH_EVENTS", "PollFold", "RulesSnapshot"]

BATCH_EVENTS = (BatchCreated, BatchUpdated, BatchCancelled)


@dataclass(frozen=True)
class RulesSnapshot:
    """The batches and their courses as read at one moment."""

    batches: dict[str, BatchDoc]
    courses: dict[str, CourseDoc]

    def of(self, batch_id: str) -> tuple[BatchDoc | None, CourseDoc | None]:
        """A batch and its course (None where unknown)."""
        batch = self.batches.get(batch_id)
        return batch, self.courses.get(batch.courseId) if batch else None

    def version(self, batch_id: str) -> tuple[str | None, str | None]:
        """The revisions of a batch and its course: equal versions, equal rules."""
        batch, course = self.of(batch_id)
        return (batch.rev if batch else None, course.rev if course else None)

    def changed_since(self, before: RulesSnapshot) -> set[str]:
        """Batches whose rules (the batch or its course) differ from `before`."""
        return {b for b in self.batches if before.version(b) != self.version(b)}


Make = Callable[[str, EnrolmentDoc | None, RulesSnapshot], EnrolmentDoc]


class PollFold:
    """The state of one `Pipeline.handle` call: what was touched and what was decided."""

    def __init__(self, documents: DocumentStore, max_rounds: int) -> None:
        self.documents = documents
        self.max_rounds = max_rounds
        self.touched: set[str] = set()
        self.outboxed: dict[str, EnrolmentDoc] = {}
        self.enrolments_written = 0

    async def courses(self, received: list[Received]) -> None:
        """Apply `course.published` events, then re-evaluate the batches of changed courses."""
        by_course: dict[str, list[CoursePublished]] = defaultdict(list)
        for r in received:
            assert isinstance(r.event, CoursePublished)
            by_course[r.event.data.courseId].append(r.event)
        for course_id, events in by_course.items():
            if await self._save_course(course_id, events):
                for batch_id in await self.documents.batch_ids_of_course(course_id):
                    await self.refresh_batch(batch_id)

    async def _save_course(self, course_id: str, events: list[CoursePublished]) -> bool:
        for _ in range(self.max_rounds):
            old = (await self.documents.get_courses([course_id])).get(course_id)
            new = reduce(apply_course_event, events, old)
            if new is None or new == old:
                return False
            if await self.documents.save_course(new):
                return True
        raise DocumentKeptChanging(f"course {course_id!r}")

    async def batches(self, received: list[Received]) -> list[DeadLetter]:
        """Apply the events of `lms.batch.v1`; returns the rejected ones as dead letters."""
        by_batch: dict[str, list[Received]] = defaultdict(list)
        for r in received:
            assert isinstance(r.event, BATCH_EVENTS)
            by_batch[r.event.data.batchId].append(r)
        letters: list[DeadLetter] = []
        for batch_id, items in by_batch.items():
            letters += await self._save_batch(batch_id, in_batch_order(items))
        return letters

    async def _save_batch(self, batch_id: str, items: list[Received]) -> list[DeadLetter]:
        events = [r.event for r in items if isinstance(r.event, BATCH_EVENTS)]
        source = {id(r.event): r for r in items}
        for _ in range(self.max_rounds):
            old = (await self.documents.get_batches([batch_id])).get(batch_id)
            applied = await self.documents.applied_batch_events(batch_id, [e.id for e in events])
            fold = apply_batch_events(old, events, applied)
            letters = [
                DeadLetter(source[id(event)], rejection.reason, event.id)
                for event, rejection in fold.rejected
            ]
            if fold.batch is not None and fold.batch != old:
                if not await self.documents.save_batch(fold.batch):
                    continue  # another writer changed the batch: fold again
                self.touched.add(batch_id)
            # Remembered after the save: a crash in between re-applies the newest events of
            # the batch once more, in order, which leaves it as it is.
            await self.documents.remember_batch_events(batch_id, fold.consumed)
            if rules_differ(old, fold.batch):
                await self.refresh_batch(batch_id)
            return letters
        raise DocumentKeptChanging(f"batch {batch_id!r}")

    async def refresh_batch(self, batch_id: str) -> None:
        """Evaluate every learner of the batch again (its rules or its course changed)."""
        docs = await self.documents.enrolments_of_batch(batch_id)
        self.touched.add(batch_id)
        await self.converge({d.key for d in docs}, _refreshed)

    async def learners(self, received: list[Received]) -> None:
        """Fold learner facts into their enrolment documents."""
        by_key: dict[str, list[LearnerEvent]] = defaultdict(list)
        for r in received:
            event = r.event
            assert event is not None and not isinstance(event, (CoursePublished, *BATCH_EVENTS))
            by_key[enrolment_key(event.data.batchId, event.data.userId)].append(event)

        def make(key: str, doc: EnrolmentDoc | None, rules: RulesSnapshot) -> EnrolmentDoc:
            events = by_key[key]
            doc = doc or EnrolmentDoc(batchId=events[0].data.batchId, userId=events[0].data.userId)
            return fold_learner(doc, events, *rules.of(doc.batchId))

        await self.converge(set(by_key), make)

    async def converge(self, keys: set[str], make: Make) -> None:
        """Fold and save until every document is saved against the rules that are current.

        A save conflicts when another writer changed the document since we read it; a save can
        also be stale when the batch or course changed meanwhile. Both are folded again.
        """
        pending = set(keys)
        for _ in range(self.max_rounds):
            if not pending:
                return
            docs = await self.documents.get_enrolments(pending)
            rules = await self._rules({batch_of_key(k) for k in pending})
            changed = [
                new for key in pending if (new := make(key, docs.get(key), rules)) != docs.get(key)
            ]
            conflicts = await self.documents.save_enrolments(changed)
            saved = [d for d in changed if d.key not in conflicts]
            self.enrolments_written += len(saved)
            self.outboxed.update((d.key, d) for d in saved if d.outbox)
            self.touched.update(d.batchId for d in saved)
            stale = (await self._rules({d.batchId for d in saved})).changed_since(rules)
            pending = conflicts | {d.key for d in saved if d.batchId in stale}
        raise DocumentKeptChanging(f"{len(pending)} enrolments kept conflicting")

    async def _rules(self, batch_ids: set[str]) -> RulesSnapshot:
        batches = await self.documents.get_batches(batch_ids)
        courses = await self.documents.get_courses({b.courseId for b in batches.values()})
        return RulesSnapshot(batches, courses)


def in_batch_order(items: list[Received]) -> list[Received]:
    """One batch's events of one poll in the order they apply: each partition's own order,
    and between partitions (a batch keyed elsewhere, a partition count changed) the event with
    the earlier `time` first. Events read in different polls apply in the order read."""
    queues = [sorted(group, key=lambda r: r.offset) for group in _by_partition(items).values()]
    ordered: list[Received] = []
    while queues:
        head = min(queues, key=lambda q: _time_of(q[0]))
        ordered.append(head.pop(0))
        queues = [q for q in queues if q]
    return ordered


def _by_partition(items: list[Received]) -> dict[tuple[str, int], list[Received]]:
    groups: dict[tuple[str, int], list[Received]] = defaultdict(list)
    for r in items:
        groups[(r.topic, r.partition)].append(r)
    return groups


def _time_of(r: Received) -> datetime:
    assert r.event is not None
    return r.event.time


def _refreshed(key: str, doc: EnrolmentDoc | None, rules: RulesSnapshot) -> EnrolmentDoc:
    assert doc is not None, key  # refresh only touches documents that exist
    return refresh(doc, *rules.of(doc.batchId))
