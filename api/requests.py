"""What the API takes: the `data` of the contract's events, as request bodies (the same
models as the SDK and the consumer validate, so the same rules)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import BatchCreatedData, BatchUpdatedData, Ids, Templates
from schemas.types import EventId, Identifier, IsoDate, Percent, Text

__all__ = [
    "BatchCreateRequest",
    "BatchPatchRequest",
    "CancelRequest",
    "EnrolRequest",
    "ProgressItem",
    "ProgressRequest",
]

_BODY = ConfigDict(extra="ignore")


class BatchCreateRequest(BatchCreatedData):
    """The `data` of `batch.created`; `batchId` may be left out (one is generated),
    `createdBy` is the caller unless an admin gives one, and the optional fields default as
    in Sunbird (no end, no enrolment deadline, no mentors, no templates)."""

    batchId: Identifier | None = None  # type: ignore[assignment]
    endDate: IsoDate | None = None
    enrollmentEndDate: IsoDate | None = None
    mentors: Ids = []
    certificateTemplates: Templates = []


class BatchPatchRequest(BatchUpdatedData):
    """The `data` of `batch.updated` without `batchId` (it is in the path)."""

    batchId: Identifier | None = None  # type: ignore[assignment]


class CancelRequest(BaseModel):
    """Why the batch is cancelled (optional)."""

    model_config = _BODY
    reason: Text | None = None


class EnrolRequest(BaseModel):
    """Whom to enrol."""

    model_config = _BODY
    userId: Identifier


class _Item(BaseModel):
    model_config = _BODY
    id: EventId | None = None
    time: str | None = Field(None, description="RFC 3339 with offset; default: now")
    batchId: Identifier
    userId: Identifier


class ContentProgressItem(_Item):
    type: Literal["content.progress"]
    contentId: Identifier
    progress: Percent


class ContentCompletedItem(_Item):
    type: Literal["content.completed"]
    contentId: Identifier


class AssessmentSubmittedItem(_Item):
    type: Literal["assessment.submitted"]
    assessmentId: Identifier
    attemptId: Identifier
    score: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    maxScore: Annotated[float, Field(gt=0, allow_inf_nan=False)]


ProgressItem = Annotated[
    ContentProgressItem | ContentCompletedItem | AssessmentSubmittedItem,
    Field(discriminator="type"),
]


class ProgressRequest(BaseModel):
    """Learner events: each its `type`, its `data` fields beside it, an optional `id` and
    `time`."""

    model_config = _BODY
    events: Annotated[list[ProgressItem], Field(min_length=1, max_length=500)]
