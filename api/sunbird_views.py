"""Our documents in Sunbird's shapes, and Sunbird's progress update as our learner events."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypeGuard

from api.sunbird import sunbird_time
from api.views import BatchView, EnrolmentView
from schemas.documents import BatchDoc
from schemas.types import format_time
from services.domain import batch_status

__all__ = ["batch_of", "content_states", "course_of", "progress_events"]

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


def progress_events(
    req: dict[str, Any], user_id: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Sunbird's `contents` and `assessments` as `POST /v1/progress` items, and the per-item
    answers Sunbird gives ("SUCCESS")."""
    events: list[dict[str, Any]] = []
    answers: dict[str, Any] = {}
    for item in req.get("contents") or []:
        if not isinstance(item, dict):
            continue
        base = {
            "batchId": item.get("batchId"),
            "userId": user_id,
            "contentId": item.get("contentId"),
        }
        when = _time(item.get("lastAccessTime") or item.get("lastCompletedTime"))
        if item.get("status") == 2 or item.get("progress") == 100:
            events.append({"type": "content.completed", **base, **when})
        else:
            progress = item.get("progress") if isinstance(item.get("progress"), (int, float)) else 1
            events.append({"type": "content.progress", **base, "progress": progress, **when})
        answers[str(item.get("contentId"))] = "SUCCESS"
    for item in req.get("assessments") or []:
        if not isinstance(item, dict):
            continue
        events.append(
            {
                "type": "assessment.submitted",
                "batchId": item.get("batchId"),
                "userId": user_id,
                "assessmentId": item.get("contentId") or item.get("assessmentId"),
                "attemptId": item.get("attemptId"),
                **_scores(item),
                **_time(item.get("assessmentTs")),
            }
        )
        answers[str(item.get("attemptId"))] = "SUCCESS"
    return events, answers


def _scores(item: dict[str, Any]) -> dict[str, Any]:
    """An attempt's `score` and `maxScore`: its `totalScore` and `totalMaxScore` when given;
    else from the `ASSESS` telemetry events Sunbird's player sends (what Sunbird's assessment
    aggregator does): per question (`edata.item.id`), its latest answer by `ets`, summed, each
    `edata.score` out of `edata.item.maxscore`. Nothing to add up: none (a 400 names them)."""
    if "totalScore" in item or "totalMaxScore" in item:
        return {"score": item.get("totalScore"), "maxScore": item.get("totalMaxScore")}
    events = [
        e for e in item.get("events") or [] if isinstance(e, dict) and e.get("eid") == "ASSESS"
    ]
    latest: dict[Any, tuple[float, float]] = {}
    for event in sorted(events, key=_ets):
        edata = _object(event.get("edata"))
        question = _object(edata.get("item"))
        score, top = edata.get("score"), question.get("maxscore")
        if _number(score) and _number(top):
            latest[question.get("id")] = (float(score), float(top))
    if not latest:
        return {"score": None, "maxScore": None}
    return {
        "score": sum(score for score, _ in latest.values()),
        "maxScore": sum(top for _, top in latest.values()),
    }


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ets(event: dict[str, Any]) -> float:
    """A telemetry event's time (epoch ms), 0 when it has none."""
    ets = event.get("ets")
    return float(ets) if _number(ets) else 0.0


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_SUNBIRD_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}):(\d{3})([+-]\d{2})(\d{2})$")


def _time(value: Any) -> dict[str, str]:
    """Sunbird sends times as epoch milliseconds or as `2020-11-23 06:42:39:001+0000`
    (RFC 3339 passes as it is); absent: now (the API's default)."""
    if _number(value):
        return {"time": format_time(datetime.fromtimestamp(value / 1000, UTC))}
    if isinstance(value, str) and value:
        if match := _SUNBIRD_TS.match(value):
            day, clock, millis, hours, minutes = match.groups()
            return {"time": f"{day}T{clock}.{millis}{hours}:{minutes}"}
        return {"time": value}
    return {}
