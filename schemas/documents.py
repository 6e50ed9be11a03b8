"""MongoDB documents (contract 3): batches, courses, and one enrolment per (batchId, userId).

An enrolment document keeps the learner's facts, compacted without loss of meaning, beside the
values derived from them; the derived values are recomputed from the facts on every change,
which is what makes them independent of the order in which facts arrive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import CertificateTemplate
from schemas.outbound import Announcement, SeatStatus

__all__ = [
    "DOCUMENT_VERSION",
    "AnnouncedStatus",
    "AssessmentFacts",
    "BatchDoc",
    "BatchStatus",
    "Certificate",
    "ContentFacts",
    "CourseDoc",
    "EnrolmentDoc",
    "EnrolmentFact",
    "EnrolmentRequest",
    "EnrolmentStatus",
    "LearnerFacts",
    "RefusedReason",
    "Submission",
    "batch_event_key",
    "batch_of_key",
    "enrolment_key",
]

_DOC = ConfigDict(extra="ignore", frozen=True)
# Empty defaults are factories: pydantic deep-copies a default value at every construction,
# and the fold builds these models by the hundred thousand.
DOCUMENT_VERSION = "1.1"

BatchStatus = Literal["upcoming", "ongoing", "completed", "cancelled"]
EnrolmentStatus = Literal["enrolled", "waitlisted", "refused", "not-enrolled"]
RefusedReason = Literal["batch-full", "invite-only", "enrolment-closed"]


_KEY_SEPARATOR = "\n"


def enrolment_key(batch_id: str, user_id: str) -> str:
    """The `_id` of an enrolment: ids never hold control characters, so a newline separates."""
    return f"{batch_id}{_KEY_SEPARATOR}{user_id}"


def batch_event_key(batch_id: str, event_id: str) -> str:
    """The `_id` under which a batch remembers an event of `lms.batch.v1` it applied."""
    return f"{batch_id}{_KEY_SEPARATOR}{event_id}"


def batch_of_key(key: str) -> str:
    """The batchId of an enrolment `_id` made by `enrolment_key`."""
    return key.split(_KEY_SEPARATOR, 1)[0]


class CourseDoc(BaseModel):
    """The latest `course.published` of a course (latest by event time, ties: larger id)."""

    model_config = _DOC

    courseId: str
    name: str | None = None
    leafNodes: list[str]
    assessments: list[str]
    publishedAt: datetime
    eventId: str
    rev: str | None = None


class BatchDoc(BaseModel):
    """A created batch: its fields as of the last applied event of `lms.batch.v1`."""

    model_config = _DOC

    batchId: str
    courseId: str
    name: str
    enrollmentType: str
    startDate: str
    endDate: str | None
    enrollmentEndDate: str | None
    mentors: list[str]
    createdBy: str | None = None
    certificateTemplates: list[CertificateTemplate]
    cancelled: bool = False
    cancelReason: str | None = None
    # Contract 7 (v1.1), with the defaults a batch created without them has.
    maximumCapacity: int | None = None
    minimumCapacity: int | None = None
    allowWaitlisting: bool = False
    cancelBatchWhenMinimumCapacityIsNotMet: bool = False
    waitingTimeForCancellation: int = 0
    waitingTimeUnitForCancellation: Literal["day"] = "day"
    # Contract 8: as of the service's clock (at most status_refresh_s stale); None only in a
    # document written before v1.1, until the start-up upgrade refreshes it.
    status: BatchStatus | None = None
    enrolledCount: int = 0
    completedCount: int = 0
    certifiedCount: int = 0
    waitlistedCount: int = 0
    # The batch events the latest save applied. Their markers (`batch_events`) are written
    # just after the save; until then these tell an API retry its event is in already.
    appliedEvents: tuple[str, ...] = ()
    rev: str | None = None


class EnrolmentFact(BaseModel):
    """An `enrolment.created` or `enrolment.cancelled` fact, kept whole (its id breaks ties)."""

    model_config = _DOC

    id: str
    kind: Literal["created", "cancelled"]
    time: datetime
    courseId: str | None = None
    enrolledBy: str | None = None  # v1.1: who enrolled the learner (invite-only batches)


class ContentFacts(BaseModel):
    """Per content: the earliest completion and the earliest progress fact of each UTC day.

    Windows are whole UTC days, so one earliest time per day answers every window exactly.
    """

    model_config = _DOC

    contentId: str
    completed: list[datetime] = Field(default_factory=list)
    progress: list[datetime] = Field(default_factory=list)


class Submission(BaseModel):
    """One assessment submission that may be the best one for some window: time and percent."""

    model_config = _DOC

    time: datetime
    percent: float


class AssessmentFacts(BaseModel):
    """Per assessment: per UTC day, the submissions that beat every earlier one of that day."""

    model_config = _DOC

    assessmentId: str
    submissions: list[Submission] = Field(default_factory=list)


class LearnerFacts(BaseModel):
    """Everything a learner's derived values are computed from."""

    model_config = _DOC

    enrolments: list[EnrolmentFact] = Field(default_factory=list)
    contents: list[ContentFacts] = Field(default_factory=list)
    assessments: list[AssessmentFacts] = Field(default_factory=list)


class Certificate(BaseModel):
    """A latched certificate eligibility."""

    model_config = _DOC

    templateId: str
    eventId: str
    eligibleAt: datetime


class EnrolmentRequest(BaseModel):
    """The learner's open request for a seat (contract 7): when it was opened, and by which
    `enrolment.created`. Requests are ordered by (time, eventId) for seats."""

    model_config = _DOC

    time: datetime
    eventId: str


class AnnouncedStatus(BaseModel):
    """An `enrolment.*` event decided for this learner: the latch of contract 7."""

    model_config = _DOC

    status: SeatStatus
    openingEventId: str
    eventId: str


class EnrolmentDoc(BaseModel):
    """One learner in one batch: facts, derived values, certificates and the outbox."""

    model_config = _DOC

    batchId: str
    userId: str
    courseId: str | None = None
    enrolled: bool = False
    progressStatus: int = 0
    completionPercentage: float | None = None
    completedAt: datetime | None = None
    scorePercentage: float | None = None
    # Contract 7 (v1.1): the seat. `enrolled` (v1) is true exactly when the learner holds one.
    enrolmentStatus: EnrolmentStatus = "not-enrolled"
    waitlistPosition: int | None = None
    refusedReason: RefusedReason | None = None
    request: EnrolmentRequest | None = None
    certificates: list[Certificate] = Field(default_factory=list)
    announcedStatuses: list[AnnouncedStatus] = Field(default_factory=list)
    facts: LearnerFacts = Field(default_factory=LearnerFacts)
    # Announcements decided but not yet published (the transactional outbox): written in the
    # same document update that latches them, removed once Kafka acknowledged them.
    outbox: list[Announcement] = Field(default_factory=list)
    # When the oldest of those was decided (the service's clock): the outbox-age metric.
    outboxSince: datetime | None = None
    # The contract version whose rules computed this document (None: v1.0, before the field).
    schemaVersion: str | None = None
    rev: str | None = None

    @property
    def key(self) -> str:
        """The document's `_id`."""
        return enrolment_key(self.batchId, self.userId)
