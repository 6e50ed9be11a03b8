"""The whole fold in memory: every document a stream of events leads to.

This is the reference the service is measured against: tests, the fault suite and the
benchmark compute their expected documents and announcement ids with it. It applies events
one at a time, in arrival order, with the domain's pure functions and none of the service's
orchestration (no store, no retries, no batching).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, enrolment_key
from schemas.events import BatchCancelled, BatchCreated, BatchEvent, CoursePublished, Event
from services.domain import (
    Rejection,
    add_facts,
    apply_batch_event,
    apply_course_event,
    auto_cancellation,
    batch_status,
    needs_whole_roster,
    rules_differ,
    settle,
)

__all__ = ["World"]


@dataclass
class World:
    """Batches, courses and enrolments as the pure fold leaves them, at the clock `now`."""

    batches: dict[str, BatchDoc] = field(default_factory=dict)
    courses: dict[str, CourseDoc] = field(default_factory=dict)
    enrolments: dict[str, EnrolmentDoc] = field(default_factory=dict)
    rejections: list[tuple[Event, Rejection]] = field(default_factory=list)
    # The ids of the batch events each batch consumed: a second arrival is a re-read.
    consumed: dict[str, set[str]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def apply_all(self, events: Iterable[Event]) -> World:
        """Apply events one after another, in arrival order; returns self."""
        for event in events:
            self.apply(event)
        return self

    def apply(self, event: Event) -> None:
        """Apply one event."""
        if isinstance(event, CoursePublished):
            self._course(event)
        elif isinstance(event, BatchCreated | BatchEvent):
            self._batch(event)
        else:
            key = enrolment_key(event.data.batchId, event.data.userId)
            doc = self.enrolments.get(key) or EnrolmentDoc(
                batchId=event.data.batchId, userId=event.data.userId
            )
            self.enrolments[key] = add_facts(doc, [event])
            batch = self.batches.get(doc.batchId)
            self._settle(doc.batchId, None if needs_whole_roster(batch) else [key])

    def auto_cancellations(self, grace_s: float = 0.0) -> list[BatchCancelled]:
        """The automatic cancellations due at `now` (contract 8), not yet applied."""
        due = []
        for batch in self.batches.values():
            requests = [d.request for d in self.enrolments.values() if d.batchId == batch.batchId]
            event = auto_cancellation(batch, requests, self.now, grace_s)
            if event is not None:
                due.append(event)
        return due

    def certificate_ids(self) -> set[str]:
        """The ids of every certificate eligibility latched so far."""
        return {c.eventId for doc in self.enrolments.values() for c in doc.certificates}

    def status_event_ids(self) -> set[str]:
        """The ids of every enrolment-status event latched so far."""
        return {a.eventId for doc in self.enrolments.values() for a in doc.announcedStatuses}

    def counted(self) -> dict[str, BatchDoc]:
        """The batches with their counts, as the service writes them once idle."""
        return {bid: b.model_copy(update=self._counts(bid)) for bid, b in self.batches.items()}

    def _counts(self, batch_id: str) -> dict[str, int]:
        docs = [d for d in self.enrolments.values() if d.batchId == batch_id]
        return {
            "enrolledCount": sum(d.enrolled for d in docs),
            "completedCount": sum(d.enrolled and d.progressStatus == 2 for d in docs),
            "certifiedCount": sum(bool(d.certificates) for d in docs),
            "waitlistedCount": sum(d.enrolmentStatus == "waitlisted" for d in docs),
        }

    def _course_of(self, batch: BatchDoc | None) -> CourseDoc | None:
        return self.courses.get(batch.courseId) if batch else None

    def _course(self, event: CoursePublished) -> None:
        old = self.courses.get(event.data.courseId)
        new = apply_course_event(old, event)
        if new is None or new == old:
            return
        self.courses[new.courseId] = new
        for batch in self.batches.values():
            if batch.courseId == new.courseId:
                self._settle(batch.batchId)

    def _batch(self, event: BatchEvent) -> None:
        consumed = self.consumed.setdefault(event.data.batchId, set())
        if event.id in consumed:
            return  # already applied (or refused): a re-read changes nothing
        old = self.batches.get(event.data.batchId)
        change = apply_batch_event(old, event)
        consumed.add(event.id)
        if change.rejection is not None:
            self.rejections.append((event, change.rejection))
        if change.batch is None:
            return
        batch = change.batch.model_copy(update={"status": batch_status(change.batch, self.now)})
        self.batches[batch.batchId] = batch
        if rules_differ(old, batch):
            self._settle(batch.batchId)

    def _settle(self, batch_id: str, keys: list[str] | None = None) -> None:
        """Settle the given learners of a batch (default: all of them)."""
        if keys is None:
            docs = [d for d in self.enrolments.values() if d.batchId == batch_id]
        else:  # a lookup, not a scan: a bench stream has tens of thousands of learners
            docs = [self.enrolments[k] for k in dict.fromkeys(keys) if k in self.enrolments]
        batch = self.batches.get(batch_id)
        for doc in settle(docs, batch, self._course_of(batch), self.now):
            self.enrolments[doc.key] = doc
