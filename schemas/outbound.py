"""Outbound messages: certificate-eligibility events (contract 4), enrolment-status events
(contract 7), the automatic cancellation fact (contract 8) and dead-letter headers (5)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CERTIFICATE_NAMESPACE",
    "TRACEPARENT",
    "Announcement",
    "CertificateEligible",
    "CertificateEligibleData",
    "DlqHeader",
    "EnrolmentStatusData",
    "EnrolmentStatusEvent",
    "SeatStatus",
    "auto_cancel_event_id",
    "certificate_event_id",
    "enrolment_status_event_id",
]

CERTIFICATE_NAMESPACE = uuid.UUID("6f1c1c0e-7c3b-4f7e-9a57-0c4d2b0f9e11")


def certificate_event_id(batch_id: str, user_id: str, template_id: str) -> str:
    """The stable id of the event for (batchId, userId, templateId): subscribers dedupe on it."""
    return str(uuid.uuid5(CERTIFICATE_NAMESPACE, f"{batch_id}\n{user_id}\n{template_id}"))


class CertificateEligibleData(BaseModel):
    """What the learner had reached when the eligibility was decided."""

    model_config = ConfigDict(frozen=True)

    batchId: str
    courseId: str
    userId: str
    templateId: str
    completionPercentage: float
    scorePercentage: float | None
    completedAt: str | None


class CertificateEligible(BaseModel):
    """`certificate.eligible` on lms.certificate-eligibility.v1, keyed by userId."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    type: Literal["certificate.eligible"] = "certificate.eligible"
    source: str = "batch-service"
    id: str
    time: str
    data: CertificateEligibleData


SeatStatus = Literal["waitlisted", "seated", "refused"]
"""What an `enrolment.*` event announces (its `type` is `enrolment.<status>`)."""


def enrolment_status_event_id(
    batch_id: str, user_id: str, status: SeatStatus, opening_event_id: str
) -> str:
    """Contract 7: one event per (batchId, userId, status, opening event id); for a refusal,
    the id of the `enrolment.created` refused."""
    name = f"{batch_id}\n{user_id}\n{status}\n{opening_event_id}"
    return str(uuid.uuid5(CERTIFICATE_NAMESPACE, name))


def auto_cancel_event_id(batch_id: str, deadline: str) -> str:
    """Contract 8: the id of the automatic `batch.cancelled` of a batch for a deadline written
    `YYYY-MM-DDT00:00:00Z`; every instance that publishes it publishes the same id."""
    return str(uuid.uuid5(CERTIFICATE_NAMESPACE, f"{batch_id}\nauto-cancel\n{deadline}"))


class EnrolmentStatusData(BaseModel):
    """A learner's seat in a batch, for their notifications."""

    model_config = ConfigDict(frozen=True)

    batchId: str
    courseId: str
    userId: str
    status: SeatStatus
    reason: str | None
    waitlistPosition: int | None


class EnrolmentStatusEvent(BaseModel):
    """`enrolment.waitlisted`, `enrolment.seated` or `enrolment.refused` on
    lms.enrolment-status.v1, keyed by userId."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    type: Literal["enrolment.waitlisted", "enrolment.seated", "enrolment.refused"]
    source: str = "batch-service"
    id: str
    time: str
    data: EnrolmentStatusData


Announcement = Annotated[CertificateEligible | EnrolmentStatusEvent, Field(discriminator="type")]
"""What an enrolment document's outbox holds until Kafka has it."""


class DlqHeader:
    """Header names on dead-lettered messages (values are UTF-8)."""

    SOURCE_TOPIC = "dlq-source-topic"
    SOURCE_PARTITION = "dlq-source-partition"
    SOURCE_OFFSET = "dlq-source-offset"
    REASON = "dlq-reason"
    EVENT_ID = "dlq-event-id"


TRACEPARENT = "traceparent"
"""The W3C trace-context header: carried from the fact that decided an announcement to it."""


REDRIVEN_FROM = "batch-service-redriven-from"
"""The header on a dead letter sent back by `batch-service dlq redrive`: `<dlq topic>:<partition>:
<offset>` of the letter. A batch event so marked, rejected before, is tried again."""
