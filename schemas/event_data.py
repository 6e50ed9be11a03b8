"""The `data` of each inbound event type (contract 2 and 7): fields, bounds and the rules a
single message can be checked against (dates in order, capacities in order, one template id
once). Strict: a number is never accepted for a string, nor a string for a number."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.types import Identifier, IsoDate, Percent, Text

__all__ = [
    "MAX_CAPACITY",
    "MAX_WAITING_DAYS",
    "MUTABLE_BATCH_FIELDS",
    "AssessmentSubmittedData",
    "BatchCancelledData",
    "BatchCreatedData",
    "BatchUpdatedData",
    "CertificateTemplate",
    "ContentCompletedData",
    "ContentProgressData",
    "CoursePublishedData",
    "EnrolmentCancelledData",
    "EnrolmentCreatedData",
    "Ids",
    "RuleBroken",
    "TemplateCriteria",
    "Templates",
    "error_fields",
]

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True)
_MAX_LIST = 10_000
# Contract 7 sets no upper bound ("integer >= 1"): the only one is the largest integer every
# JSON reader keeps exact (RFC 7493), so that a valid number is never dead-lettered. A deadline
# past 9999-12-31 is no deadline (`services.domain.lifecycle`).
MAX_CAPACITY = 2**53 - 1
MAX_WAITING_DAYS = 2**53 - 1


class _Data(BaseModel):
    model_config = _STRICT


class TemplateCriteria(_Data):
    """What a learner must reach for a certificate template."""

    completionPercent: Percent = 100.0
    minScorePercent: Percent | None = None


class CertificateTemplate(_Data):
    """A certificate a batch awards, with its criteria."""

    templateId: Identifier
    name: Text | None = None
    criteria: TemplateCriteria = TemplateCriteria()


Templates = Annotated[list[CertificateTemplate], Field(max_length=100)]
Ids = Annotated[list[Identifier], Field(max_length=_MAX_LIST)]


class RuleBroken(ValueError):
    """A rule over several fields broken: names the fields (an API answer gives one error per
    field instead of one for the whole body)."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


def error_fields(error: Mapping[str, Any], where: str) -> list[str]:
    """The fields one of pydantic's `errors()` is about: `where` (its location), or, for a
    broken `RuleBroken`, each field the rule names, under `where`."""
    rule = (error.get("ctx") or {}).get("error")
    if not isinstance(rule, RuleBroken):
        return [where]
    return [f"{where}.{name}" if where else name for name in rule.fields]


def _ordered(start: str | None, enrol_end: str | None, end: str | None) -> None:
    """Contract 2: startDate <= enrollmentEndDate <= endDate where present."""
    dates = {"startDate": start, "enrollmentEndDate": enrol_end, "endDate": end}
    present = {name: d for name, d in dates.items() if d is not None}
    if list(present.values()) != sorted(present.values()):
        raise RuleBroken(
            "dates out of order: need startDate <= enrollmentEndDate <= endDate", tuple(present)
        )


def _unique_templates(templates: list[CertificateTemplate]) -> None:
    ids = [t.templateId for t in templates]
    if len(ids) != len(set(ids)):
        raise RuleBroken("certificateTemplates has a templateId twice", ("certificateTemplates",))


class CoursePublishedData(_Data):
    courseId: Identifier
    leafNodes: Annotated[list[Identifier], Field(min_length=1, max_length=_MAX_LIST)]
    assessments: Ids
    name: Text | None = None


Seats = Annotated[int, Field(ge=1, le=MAX_CAPACITY)]
Minimum = Annotated[int, Field(ge=0, le=MAX_CAPACITY)]
WaitingDays = Annotated[int, Field(ge=0, le=MAX_WAITING_DAYS)]


def _capacities(minimum: int | None, maximum: int | None) -> None:
    """Contract 7: minimumCapacity <= maximumCapacity where both are set."""
    if minimum is not None and maximum is not None and minimum > maximum:
        raise RuleBroken(
            "minimumCapacity must not exceed maximumCapacity",
            ("minimumCapacity", "maximumCapacity"),
        )


class BatchCreatedData(_Data):
    batchId: Identifier
    courseId: Identifier
    name: Text
    enrollmentType: Literal["open", "invite-only"]
    startDate: IsoDate
    endDate: IsoDate | None
    enrollmentEndDate: IsoDate | None
    mentors: Ids
    createdBy: Identifier | None = None
    certificateTemplates: Templates
    # Contract 7 (v1.1): capacity, waitlist and auto-cancellation (Zoho People's names).
    maximumCapacity: Seats | None = None
    minimumCapacity: Minimum | None = None
    allowWaitlisting: bool = False
    cancelBatchWhenMinimumCapacityIsNotMet: bool = False
    waitingTimeForCancellation: WaitingDays = 0
    waitingTimeUnitForCancellation: Literal["day"] = "day"

    @model_validator(mode="after")
    def _check(self) -> BatchCreatedData:
        _ordered(self.startDate, self.enrollmentEndDate, self.endDate)
        _unique_templates(self.certificateTemplates)
        _capacities(self.minimumCapacity, self.maximumCapacity)
        return self


MUTABLE_BATCH_FIELDS = (
    "name",
    "enrollmentType",
    "startDate",
    "endDate",
    "enrollmentEndDate",
    "mentors",
    "createdBy",
    "certificateTemplates",
    "maximumCapacity",
    "minimumCapacity",
    "allowWaitlisting",
    "cancelBatchWhenMinimumCapacityIsNotMet",
    "waitingTimeForCancellation",
    "waitingTimeUnitForCancellation",
)


_NOT_NULLABLE = (
    "name",
    "enrollmentType",
    "startDate",
    "mentors",
    "certificateTemplates",
    "allowWaitlisting",
    "cancelBatchWhenMinimumCapacityIsNotMet",
    "waitingTimeForCancellation",
    "waitingTimeUnitForCancellation",
)


class BatchUpdatedData(_Data):
    """Any subset of the mutable batch fields; absent fields keep their value.

    `courseId` is not mutable; it is read only to reject an update that tries to change it.
    """

    batchId: Identifier
    courseId: Identifier | None = None
    name: Text | None = None
    enrollmentType: Literal["open", "invite-only"] | None = None
    startDate: IsoDate | None = None
    endDate: IsoDate | None = None
    enrollmentEndDate: IsoDate | None = None
    mentors: Ids | None = None
    createdBy: Identifier | None = None
    certificateTemplates: Templates | None = None
    maximumCapacity: Seats | None = None
    minimumCapacity: Minimum | None = None
    allowWaitlisting: bool | None = None
    cancelBatchWhenMinimumCapacityIsNotMet: bool | None = None
    waitingTimeForCancellation: WaitingDays | None = None
    waitingTimeUnitForCancellation: Literal["day"] | None = None

    def changes(self) -> dict[str, object]:
        """The mutable fields this update sets (present in the message, null included)."""
        return {f: getattr(self, f) for f in MUTABLE_BATCH_FIELDS if f in self.model_fields_set}

    @model_validator(mode="after")
    def _check(self) -> BatchUpdatedData:
        for field in _NOT_NULLABLE:
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        if self.certificateTemplates is not None:
            _unique_templates(self.certificateTemplates)
        _capacities(self.minimumCapacity, self.maximumCapacity)
        return self


class BatchCancelledData(_Data):
    batchId: Identifier
    reason: Text | None = None


class EnrolmentCreatedData(_Data):
    batchId: Identifier
    userId: Identifier
    courseId: Identifier | None = None
    enrolledBy: Identifier | None = None  # v1.1: who enrolled the learner


class EnrolmentCancelledData(_Data):
    batchId: Identifier
    userId: Identifier


class ContentProgressData(_Data):
    batchId: Identifier
    userId: Identifier
    contentId: Identifier
    progress: Percent


class ContentCompletedData(_Data):
    batchId: Identifier
    userId: Identifier
    contentId: Identifier


class AssessmentSubmittedData(_Data):
    batchId: Identifier
    userId: Identifier
    assessmentId: Identifier
    attemptId: Identifier
    score: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    maxScore: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _check(self) -> AssessmentSubmittedData:
        if self.score > self.maxScore:
            raise RuleBroken("score > maxScore", ("score", "maxScore"))
        return self

    @property
    def percent(self) -> float:
        """100 x score / maxScore, in the contract's order: a whole percentage of whole numbers
        comes out exact (57 of 100 is 57.0, where dividing first gave 56.99999999999999 and
        failed a `minScorePercent` of 57). A full score is exactly 100; a score so large that
        100 x score overflows is divided first (its percentage is then as exact as a float
        allows)."""
        if self.score == self.maxScore:
            return 100.0
        scaled = 100.0 * self.score
        if math.isinf(scaled):
            return 100.0 * (self.score / self.maxScore)
        return scaled / self.maxScore
