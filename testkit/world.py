"""The whole fold in memory: every document a stream of events leads to.

This is the reference the service is measured against: tests, the fault suite and the
benchmark compute their expected documents and certificate ids with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, enrolment_key
from schemas.events import BatchCreated, BatchEvent, CoursePublished, Event
from services.domain.eligibility import fold_learner, refresh
from services.domain.rules import Rejection, apply_batch_event, apply_course_event, rules_differ

__all__ = ["World"]


@dataclass
class World:
    """Batches, courses and enrolments as the pure fold leaves them."""

    batches: dict[str, BatchDoc] = field(default_factory=dict)
    courses: dict[str, CourseDoc] = field(default_factory=dict)
    enrolments: dict[str, EnrolmentDoc] = field(default_factory=dict)
    rejections: list[tuple[Event, Rejection]] = field(default_factory=list)
    # The ids of the batch events each batch consumed: a second arrival is a re-read.
    consumed: dict[str, set[str]] = field(default_factory=dict)

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
            batch = self.batches.get(doc.batchId)
            self.enrolments[key] = fold_learner(doc, [event], batch, self._course_of(batch))

    def certificate_ids(self) -> set[str]:
        """The ids of every certificate eligibility latched so far."""
        return {c.eventId for doc in self.enrolments.values() for c in doc.certificates}

    def counted(self) -> dict[str, BatchDoc]:
        """The batches with their counts, as the service writes them once idle."""
        return {bid: b.model_copy(update=self._counts(bid)) for bid, b in self.batches.items()}

    def _counts(self, batch_id: str) -> dict[str, int]:
        docs = [d for d in self.enrolments.values() if d.batchId == batch_id]
        return {
            "enrolledCount": sum(d.enrolled for d in docs),
            "completedCount": sum(d.enrolled and d.progressStatus == 2 for d in docs),
            "certifiedCount": sum(bool(d.certificates) for d in docs),
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
                self._refresh_batch(batch.batchId)

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
        self.batches[change.batch.batchId] = change.batch
        if rules_differ(old, change.batch):
            self._refresh_batch(change.batch.batchId)

    def _refresh_batch(self, batch_id: str) -> None:
        batch = self.batches[batch_id]
        course = self._course_of(batch)
        for key, doc in self.enrolments.items():
            if doc.batchId == batch_id:
                self.enrolments[key] = refresh(doc, batch, course)
