"""Outbound messages: certificate-eligibility events (contract 4) and dead-letter headers (5)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CERTIFICATE_NAMESPACE",
    "CertificateEligible",
    "CertificateEligibleData",
    "DlqHeader",
    "certificate_event_id",
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


class DlqHeader:
    """Header names on dead-lettered messages (values are UTF-8)."""

    SOURCE_TOPIC = "dlq-source-topic"
    SOURCE_PARTITION = "dlq-source-partition"
    SOURCE_OFFSET = "dlq-source-offset"
    REASON = "dlq-reason"
    EVENT_ID = "dlq-event-id"
