"""Batch and course events: the rules every learner of a batch is evaluated against."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from schemas.documents import BatchDoc, CourseDoc
from schemas.events import BatchCancelled, BatchCreated, BatchEvent, BatchUpdated, CoursePublished

__all__ = [
    "BatchChange",
    "BatchFold",
    "Redriven",
    "Rejection",
    "apply_batch_event",
    "apply_batch_events",
    "apply_course_event",
    "rules_differ",
]

# The batch fields that learners' derived values and eligibility depend on.
_RULE_FIELDS = (
    "courseId",
    "startDate",
    "endDate",
    "enrollmentEndDate",
    "certificateTemplates",
    "cancelled",
    "enrollmentType",
    "maximumCapacity",
    "allowWaitlisting",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a well-formed event breaks a rule of the contract: it goes to the dead-letter topic."""

    reason: str


@dataclass(frozen=True, slots=True)
class BatchChange:
    """The batch after an event, and the rejection of that event if it broke a rule."""

    batch: BatchDoc | None
    rejection: Rejection | None = None


def apply_course_event(course: CourseDoc | None, event: CoursePublished) -> CourseDoc | None:
    """A course follows its latest `course.published` by event time (ties: the larger id), so
    re-reading an older one never rolls it back. Returns the course unchanged when not newer."""
    if course is not None and (event.time, event.id) <= (course.publishedAt, course.eventId):
        return course
    return CourseDoc(
        courseId=event.data.courseId,
        name=event.data.name,
        leafNodes=list(dict.fromkeys(event.data.leafNodes)),
        assessments=list(dict.fromkeys(event.data.assessments)),
        publishedAt=event.time,
        eventId=event.id,
        rev=course.rev if course else None,
    )


def apply_batch_event(batch: BatchDoc | None, event: BatchEvent) -> BatchChange:
    """Apply one event of `lms.batch.v1` (the caller skips events already applied: see
    `apply_batch_events`)."""
    return _apply(batch, event)


@dataclass(frozen=True, slots=True)
class Redriven:
    """A dead-lettered batch event an operator sent back (`batch-service dlq redrive`): if it
    was rejected when first read, it is tried again where it now arrives."""

    event: BatchEvent


@dataclass(frozen=True, slots=True)
class BatchFold:
    """A batch after a run of its events: what was rejected, and which event ids were
    consumed (applied or rejected) and must be remembered; `refused`: those of them whose last
    outcome was a rejection (a redrive may try them again)."""

    batch: BatchDoc | None
    rejected: list[tuple[BatchEvent, Rejection]]
    consumed: list[str]
    refused: frozenset[str] = frozenset()


def apply_batch_events(
    batch: BatchDoc | None,
    events: Iterable[BatchEvent | Redriven],
    applied: Collection[str],
    refused_before: Collection[str] = (),
) -> BatchFold:
    """Apply events in the order given, skipping those whose id is in `applied` (consumed
    before: a replay, a redelivery, a publisher's resend) or seen earlier in this run.

    "Already applied" is a property of the event, not of where it sat in a log, so it holds
    across topic recreation, cluster moves and partition changes. A rejected event is
    consumed too (for a batch never created as well): re-reading it later, when the batch has
    moved on or exists, must not apply what was refused the first time, unless an operator
    redrives it (`Redriven`): a redriven event refused before (`refused_before`, or earlier in
    this run) is tried again, once per redriven copy.
    """
    seen = set(applied)
    refused = set(refused_before)
    rejected: list[tuple[BatchEvent, Rejection]] = []
    consumed: list[str] = []
    for item in events:
        again = isinstance(item, Redriven)
        event = item.event if isinstance(item, Redriven) else item
        if event.id in seen and not (again and event.id in refused):
            continue
        refused.discard(event.id)
        change = _apply(batch, event)
        if change.rejection is not None:
            rejected.append((event, change.rejection))
            refused.add(event.id)
        seen.add(event.id)
        consumed.append(event.id)
        batch = change.batch
    return BatchFold(batch, rejected, consumed, frozenset(refused & set(consumed)))


def rules_differ(old: BatchDoc | None, new: BatchDoc | None) -> bool:
    """Whether learners of the batch must be evaluated again."""
    if old is None or new is None:
        return old is not new
    return any(getattr(old, f) != getattr(new, f) for f in _RULE_FIELDS)


def _apply(batch: BatchDoc | None, event: BatchEvent) -> BatchChange:
    if isinstance(event, BatchCreated):
        return BatchChange(_created(batch, event))
    if batch is None:
        return BatchChange(None, Rejection(f"{event.type} for batch never created"))
    if isinstance(event, BatchCancelled):
        cancelled = batch.model_copy(update={"cancelled": True, "cancelReason": event.data.reason})
        return BatchChange(cancelled)
    return _updated(batch, event)


def _created(batch: BatchDoc | None, event: BatchCreated) -> BatchDoc:
    """A second `batch.created` replaces the fields; cancellation and counts are kept (a
    cancelled batch stays cancelled: cancellation is final)."""
    data = event.data
    kept = {}
    if batch is not None:
        kept = batch.model_dump(
            include={
                "cancelled",
                "cancelReason",
                "enrolledCount",
                "completedCount",
                "certifiedCount",
                "waitlistedCount",
                "rev",
            }
        )
    fields = data.model_dump(exclude={"certificateTemplates"})
    return BatchDoc(**fields, certificateTemplates=data.certificateTemplates, **kept)


def _updated(batch: BatchDoc, event: BatchUpdated) -> BatchChange:
    data = event.data
    if data.courseId is not None and data.courseId != batch.courseId:
        return BatchChange(batch, Rejection("batch.updated cannot change courseId"))
    merged = batch.model_copy(update=data.changes())
    dates = [merged.startDate, merged.enrollmentEndDate, merged.endDate]
    present = [d for d in dates if d is not None]
    if present != sorted(present):
        reason = "dates out of order: need startDate <= enrollmentEndDate <= endDate"
        return BatchChange(batch, Rejection(f"batch.updated makes {reason}"))
    low, high = merged.minimumCapacity, merged.maximumCapacity
    if low is not None and high is not None and low > high:
        reason = "minimumCapacity above maximumCapacity"
        return BatchChange(batch, Rejection(f"batch.updated makes {reason}"))
    return BatchChange(merged)
