"""Settling a batch's learners: derive each one's values and request, give the seats, latch
certificates and enrolment statuses (contracts 3, 4 and 7).

`settle` is the one entry point: for a batch with `maximumCapacity` it must be given every
learner of the batch (one learner's seat depends on the others' requests); for any other
batch, any subset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from schemas.documents import (
    DOCUMENT_VERSION,
    AnnouncedStatus,
    BatchDoc,
    CourseDoc,
    EnrolmentDoc,
    LearnerFacts,
)
from schemas.events import LearnerEvent
from schemas.outbound import (
    EnrolmentStatusData,
    EnrolmentStatusEvent,
    SeatStatus,
    enrolment_status_event_id,
)
from schemas.types import format_time
from services.domain.derive import Derived, Rules, derive, rules_of
from services.domain.eligibility import latch_certificates
from services.domain.facts import add_all
from services.domain.seats import Seat, assign_seats, refusal_of

__all__ = ["add_facts", "needs_whole_roster", "settle"]


def add_facts(doc: EnrolmentDoc, events: Iterable[LearnerEvent]) -> EnrolmentDoc:
    """The document with these learner facts added (derived values are `settle`'s job)."""
    return doc.model_copy(update={"facts": add_all(doc.facts, events)})


def needs_whole_roster(batch: BatchDoc | None) -> bool:
    """Whether one learner's seat depends on the other learners of the batch."""
    return batch is not None and batch.maximumCapacity is not None


def settle(
    docs: Sequence[EnrolmentDoc],
    batch: BatchDoc | None,
    course: CourseDoc | None,
    now: datetime,
) -> list[EnrolmentDoc]:
    """Every document recomputed: derived values, seat, certificates and status latched.

    `now` (the service's clock) only dates the status announcements made now."""
    rules = rules_of(batch, course)
    if batch is None or rules is None:
        return [_without_batch(d) for d in docs]
    values = {d.userId: derive(d.facts, rules, d.userId) for d in docs}
    seats = assign_seats(rules, {user: v.request for user, v in values.items()})
    return [_settled(d, values[d.userId], seats[d.userId], rules, batch, now) for d in docs]


def _settled(
    doc: EnrolmentDoc, values: Derived, seat: Seat, rules: Rules, batch: BatchDoc, now: datetime
) -> EnrolmentDoc:
    values = replace(values, enrolled=seat.status == "enrolled")
    certificates, certified = latch_certificates(doc, values, rules, batch, seat.held)
    status, reason, opening = seat.status, seat.reason, values.request
    refused_by = opening.eventId if opening else None
    if values.request is None and (refusal := refusal_of(doc.facts, rules, doc.userId)):
        status, reason, refused_by = "refused", refusal.reason, refusal.event_id
    announced, outgoing = _latch_status(doc, batch, status, reason, seat.position, refused_by, now)
    return doc.model_copy(
        update={
            "courseId": batch.courseId,
            "enrolled": values.enrolled,
            "progressStatus": values.progressStatus,
            "completionPercentage": values.completionPercentage,
            "completedAt": values.completedAt,
            "scorePercentage": values.scorePercentage,
            "enrolmentStatus": status,
            "waitlistPosition": seat.position,
            "refusedReason": reason,
            "request": values.request,
            "certificates": certificates,
            "announcedStatuses": announced,
            "outbox": [*doc.outbox, *outgoing, *certified],
            "outboxSince": doc.outboxSince
            if doc.outbox
            else (now if outgoing or certified else None),
            "schemaVersion": DOCUMENT_VERSION,
        }
    )


_EVENT_TYPE: dict[SeatStatus, Any] = {
    "seated": "enrolment.seated",
    "waitlisted": "enrolment.waitlisted",
    "refused": "enrolment.refused",
}
_ANNOUNCED_AS: dict[str, SeatStatus] = {
    "enrolled": "seated",
    "waitlisted": "waitlisted",
    "refused": "refused",
}


def _latch_status(
    doc: EnrolmentDoc,
    batch: BatchDoc,
    status: str,
    reason: str | None,
    position: int | None,
    opening_id: str | None,
    now: datetime,
) -> tuple[list[AnnouncedStatus], list[EnrolmentStatusEvent]]:
    """Announce a status reached for the first time with this opening event (a latch: a
    status announced is never withdrawn)."""
    seat_status = _ANNOUNCED_AS.get(status)
    if seat_status is None or opening_id is None:
        return doc.announcedStatuses, []
    event_id = enrolment_status_event_id(doc.batchId, doc.userId, seat_status, opening_id)
    if any(a.eventId == event_id for a in doc.announcedStatuses):
        return doc.announcedStatuses, []
    event = EnrolmentStatusEvent(
        type=_EVENT_TYPE[seat_status],
        id=event_id,
        time=format_time(now),
        data=EnrolmentStatusData(
            batchId=doc.batchId,
            courseId=batch.courseId,
            userId=doc.userId,
            status=seat_status,
            reason=reason,
            waitlistPosition=position,
        ),
    )
    latch = AnnouncedStatus(status=seat_status, openingEventId=opening_id, eventId=event_id)
    announced = sorted([*doc.announcedStatuses, latch], key=lambda a: a.eventId)
    return announced, [event]


def _without_batch(doc: EnrolmentDoc) -> EnrolmentDoc:
    """Facts before their batch exists: nothing counts yet (kept, and counted once it does)."""
    return doc.model_copy(
        update={
            "courseId": _course_hint(doc.facts),
            "enrolled": False,
            "progressStatus": 0,
            "completionPercentage": None,
            "completedAt": None,
            "scorePercentage": None,
            "enrolmentStatus": "not-enrolled",
            "waitlistPosition": None,
            "refusedReason": None,
            "request": None,
            "schemaVersion": DOCUMENT_VERSION,
        }
    )


def _course_hint(facts: LearnerFacts) -> str | None:
    """While the batch is unknown, the courseId of the latest enrolment that names one."""
    named = [f for f in facts.enrolments if f.courseId is not None]
    return max(named, key=lambda f: (f.time, f.id)).courseId if named else None
