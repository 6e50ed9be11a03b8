"""Topic names of the contract (defaults; a configurable prefix is prepended to all)."""

from __future__ import annotations

__all__ = [
    "CERTIFICATE_TOPIC",
    "DLQ_TOPIC",
    "ENROLMENT_STATUS_TOPIC",
    "INBOUND_TOPICS",
    "TOPIC_OF_TYPE",
    "Topics",
]

TOPIC_OF_TYPE: dict[str, str] = {
    "course.published": "lms.course.v1",
    "batch.created": "lms.batch.v1",
    "batch.updated": "lms.batch.v1",
    "batch.cancelled": "lms.batch.v1",
    "enrolment.created": "lms.enrolment.v1",
    "enrolment.cancelled": "lms.enrolment.v1",
    "content.progress": "lms.progress.v1",
    "content.completed": "lms.content-completion.v1",
    "assessment.submitted": "lms.assessment.v1",
}
INBOUND_TOPICS: tuple[str, ...] = tuple(dict.fromkeys(TOPIC_OF_TYPE.values()))
CERTIFICATE_TOPIC = "lms.certificate-eligibility.v1"
ENROLMENT_STATUS_TOPIC = "lms.enrolment-status.v1"
DLQ_TOPIC = "lms.dlq.v1"

# The data field whose value is the message key publishers should use (contract 2).
KEY_FIELD_OF_TYPE: dict[str, str] = {
    "course.published": "courseId",
    "batch.created": "batchId",
    "batch.updated": "batchId",
    "batch.cancelled": "batchId",
    "enrolment.created": "batchId",
    "enrolment.cancelled": "batchId",
    "content.progress": "userId",
    "content.completed": "userId",
    "assessment.submitted": "userId",
}
__all__ += ["KEY_FIELD_OF_TYPE"]


class Topics:
    """The concrete topic names for one prefix."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.inbound = tuple(prefix + t for t in INBOUND_TOPICS)
        self.batch = prefix + "lms.batch.v1"
        self.certificates = prefix + CERTIFICATE_TOPIC
        self.enrolment_status = prefix + ENROLMENT_STATUS_TOPIC
        self.dlq = prefix + DLQ_TOPIC

    def of_type(self, event_type: str) -> str:
        """The topic an event of this type belongs on."""
        return self.prefix + TOPIC_OF_TYPE[event_type]

    def default_name(self, topic: str) -> str:
        """The contract's name for a prefixed topic."""
        return topic.removeprefix(self.prefix)
