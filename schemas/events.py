"""Inbound events: the CloudEvents 1.0 envelope and one model per event type (contract 1-2).

Models are strict (a number is never accepted for a string, nor a string for a number) and
ignore unknown fields, so publishers can add fields without breaking us.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.event_data import (
    MAX_CAPACITY,
    MAX_WAITING_DAYS,
    MUTABLE_BATCH_FIELDS,
    AssessmentSubmittedData,
    BatchCancelledData,
    BatchCreatedData,
    BatchUpdatedData,
    CertificateTemplate,
    ContentCompletedData,
    ContentProgressData,
    CoursePublishedData,
    EnrolmentCancelledData,
    EnrolmentCreatedData,
    Ids,
    TemplateCriteria,
    Templates,
)
from schemas.types import EventId, Timestamp

__all__ = [
    "MAX_CAPACITY",
    "MAX_WAITING_DAYS",
    "MUTABLE_BATCH_FIELDS",
    "AssessmentSubmitted",
    "BatchCancelled",
    "BatchCreated",
    "BatchCreatedData",
    "BatchEvent",
    "BatchUpdated",
    "BatchUpdatedData",
    "CertificateTemplate",
    "ContentCompleted",
    "ContentProgress",
    "CoursePublished",
    "EnrolmentCancelled",
    "EnrolmentCreated",
    "Event",
    "Ids",
    "LearnerEvent",
    "TemplateCriteria",
    "Templates",
    "event_adapter",
]

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True)


class _Envelope(BaseModel):
    """CloudEvents 1.0 structured mode; `subject` and `datacontenttype` are ignored."""

    model_config = _STRICT

    specversion: Literal["1.0"]
    id: EventId
    source: Annotated[str, Field(max_length=1024)]
    time: Timestamp


class CoursePublished(_Envelope):
    type: Literal["course.published"]
    data: CoursePublishedData


class BatchCreated(_Envelope):
    type: Literal["batch.created"]
    data: BatchCreatedData


class BatchUpdated(_Envelope):
    type: Literal["batch.updated"]
    data: BatchUpdatedData


class BatchCancelled(_Envelope):
    type: Literal["batch.cancelled"]
    data: BatchCancelledData


class EnrolmentCreated(_Envelope):
    type: Literal["enrolment.created"]
    data: EnrolmentCreatedData


class EnrolmentCancelled(_Envelope):
    type: Literal["enrolment.cancelled"]
    data: EnrolmentCancelledData


class ContentProgress(_Envelope):
    type: Literal["content.progress"]
    data: ContentProgressData


class ContentCompleted(_Envelope):
    type: Literal["content.completed"]
    data: ContentCompletedData


class AssessmentSubmitted(_Envelope):
    type: Literal["assessment.submitted"]
    data: AssessmentSubmittedData


BatchEvent = BatchCreated | BatchUpdated | BatchCancelled
LearnerEvent = (
    EnrolmentCreated | EnrolmentCancelled | ContentProgress | ContentCompleted | AssessmentSubmitted
)
Event = Annotated[
    CoursePublished | BatchEvent | LearnerEvent,
    Field(discriminator="type"),
]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
"""Validates one message value (bytes of JSON) into the event model of its `type`."""
