"""Our documents in Sunbird's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.sunbird import sunbird_time
from api.views import BatchView, EnrolmentView
from schemas.documents import BatchDoc
from schemas.types import format_time
from services.domain import batch_status

__all__ = ["batch_of", "content_states", "course_of"]

_STATUS = {"upcoming": 0, "ongoing": 1, "completed": 2, "cancelled": 2}


def batch_of(view: BatchView) -> dict[str, Any]:
    """A batch as Sunbird reads it (status 0/1/2; a cancelled batch is 2, `cancelled` says)."""
    return {
        "batchId": view.batchId,
        "identifier": view.batchId,
        "courseId": view.courseId,
        "name": view.name,
        "enrollmentType": view.enrollmentType,
        "startDate": view.startDate,
        "endDate": view.endDate,
        "enrollmentEndDate": view.enrollmentEndDate,
        "createdBy": view.createdBy,
        "mentors": view.mentors,
        "status": _STATUS[view.status],
        "cancelled": view.cancelled,
        "cert_templates": {
            t.templateId: t.model_dump(mode="json") for t in view.certificateTemplates
        },
        "participantCount": view.enrolledCount,
    }


def course_of(doc: EnrolmentView, batch: BatchDoc | None, now: datetime) -> dict[str, Any]:
    """One enrolment as Sunbird's course list shows it."""
    request = doc.request
    return {
        "courseId": doc.courseId,
        "batchId": doc.batchId,
        "userId": doc.userId,
        "active": doc.enrolled,
        "enrolledDate": sunbird_time(request.time) if request else None,
        "status": doc.progressStatus,
        "completionPercentage": doc.completionPercentage,
        "contentStatus": {c["contentId"]: c["status"] for c in content_states(doc, None)},
        "completedOn": format_time(doc.completedAt) if doc.completedAt else None,
        "issuedCertificates": [
            {
                "name": c.templateId,
                "identifier": c.eventId,
                "lastIssuedOn": format_time(c.eligibleAt),
            }
            for c in doc.certificates
        ],
        "batch": {
            "batchId": doc.batchId,
            "name": batch.name if batch else None,
            "startDate": batch.startDate if batch else None,
            "endDate": batch.endDate if batch else None,
            "status": _STATUS[batch_status(batch, now)] if batch else None,
        },
    }


def content_states(doc: EnrolmentView, wanted: list[Any] | None) -> list[dict[str, Any]]:
    """Per content: 2 completed, 1 in progress; progress 100 or 50; the times known, written
    as Sunbird writes them (and as its clients send them)."""
    states = []
    for content in doc.facts.contents:
        if wanted is not None and content.contentId not in wanted:
            continue
        times = [*content.completed, *content.progress]
        states.append(
            {
                "contentId": content.contentId,
                "status": 2 if content.completed else 1,
                "progress": 100 if content.completed else 50,
                "lastAccessTime": sunbird_time(max(times)) if times else None,
                "lastCompletedTime": sunbird_time(min(content.completed))
                if content.completed
                else None,
            }
        )
    return states
