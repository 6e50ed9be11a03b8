"""Events for unit tests, built as the JSON a publisher sends and parsed by the contract models.

Every builder returns a parsed event (what the service folds); `message()` and `parse()` are
there for tests about the wire format itself. Ids default to a fresh `ev-<n>`; pass `id=`
where ties are decided by it. Times are RFC 3339 strings; `at()` turns one into the datetime
the models hold.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from schemas.documents import EnrolmentDoc, enrolment_key
from schemas.events import Event, event_adapter
from schemas.types import parse_time
from testkit.world import World

__all__ = [
    "BATCH",
    "COURSE",
    "END",
    "START",
    "USER",
    "assessment",
    "at",
    "batch_cancelled",
    "batch_created",
    "batch_updated",
    "completed",
    "course",
    "doc",
    "enrolled",
    "fold",
    "message",
    "parse",
    "progress",
    "template",
    "unenrolled",
]

BATCH = "batch-1"
COURSE = "course-1"
USER = "user-1"
START = "2026-01-01"
END = "2026-12-31"
DEFAULT_TIME = "2026-03-01T10:00:00Z"

_ids = itertools.count(1)


def _next_id() -> str:
    return f"ev-{next(_ids):06d}"


def message(
    event_type: str,
    data: dict[str, Any],
    *,
    id: str | None = None,
    time: str = DEFAULT_TIME,
    **extra: Any,
) -> dict[str, Any]:
    """A CloudEvents 1.0 message as a JSON-ready dict."""
    return {
        "specversion": "1.0",
        "id": id or _next_id(),
        "type": event_type,
        "source": "tests",
        "time": time,
        "data": data,
        **extra,
    }


def parse(value: dict[str, Any] | bytes) -> Event:
    """Validate a message the way the consumer does: bytes of JSON through the event adapter."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return event_adapter.validate_json(raw)


def at(time: str) -> datetime:
    """The aware UTC datetime the models hold for an RFC 3339 string."""
    return parse_time(time)


def template(
    template_id: str = "tpl-1",
    *,
    completion: float | None = None,
    min_score: float | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A certificate template; criteria left out fall back to the contract's defaults."""
    criteria: dict[str, Any] = {}
    if completion is not None:
        criteria["completionPercent"] = completion
    if min_score is not None:
        criteria["minScorePercent"] = min_score
    result: dict[str, Any] = {"templateId": template_id, "criteria": criteria}
    if name is not None:
        result["name"] = name
    return result


def course(
    course_id: str = COURSE,
    leaf_nodes: Sequence[str] = ("leaf-1", "leaf-2"),
    assessments: Sequence[str] = (),
    *,
    id: str | None = None,
    time: str = "2026-01-01T00:00:00Z",
    name: str | None = None,
) -> Event:
    """`course.published`."""
    data: dict[str, Any] = {
        "courseId": course_id,
        "leafNodes": list(leaf_nodes),
        "assessments": list(assessments),
    }
    if name is not None:
        data["name"] = name
    return parse(message("course.published", data, id=id, time=time))


def batch_data(
    batch_id: str = BATCH,
    course_id: str = COURSE,
    *,
    start: str = START,
    end: str | None = END,
    enrol_end: str | None = None,
    templates: Iterable[dict[str, Any]] = (),
    name: str = "Batch",
    enrollment_type: str = "open",
    mentors: Sequence[str] = (),
    **capacity: Any,
) -> dict[str, Any]:
    """The `data` of a `batch.created`; `capacity` takes the v1.1 fields by their wire names
    (`maximumCapacity=5, allowWaitlisting=True, ...`)."""
    return {
        "batchId": batch_id,
        "courseId": course_id,
        "name": name,
        "enrollmentType": enrollment_type,
        "startDate": start,
        "endDate": end,
        "enrollmentEndDate": enrol_end,
        "mentors": list(mentors),
        "certificateTemplates": list(templates),
        **capacity,
    }


def batch_created(
    batch_id: str = BATCH,
    course_id: str = COURSE,
    *,
    id: str | None = None,
    time: str = "2026-01-01T00:00:00Z",
    **fields: Any,
) -> Event:
    """`batch.created`; keyword fields as in `batch_data`."""
    return parse(
        message("batch.created", batch_data(batch_id, course_id, **fields), id=id, time=time)
    )


def batch_updated(
    batch_id: str = BATCH,
    *,
    id: str | None = None,
    time: str = "2026-01-02T00:00:00Z",
    **changes: Any,
) -> Event:
    """`batch.updated` with the given wire fields (e.g. `endDate="2027-01-31"`)."""
    return parse(message("batch.updated", {"batchId": batch_id, **changes}, id=id, time=time))


def batch_cancelled(
    batch_id: str = BATCH,
    *,
    reason: str | None = None,
    id: str | None = None,
    time: str = "2026-01-03T00:00:00Z",
) -> Event:
    """`batch.cancelled`."""
    data: dict[str, Any] = {"batchId": batch_id}
    if reason is not None:
        data["reason"] = reason
    return parse(message("batch.cancelled", data, id=id, time=time))


def enrolled(
    user_id: str = USER,
    batch_id: str = BATCH,
    *,
    time: str = "2026-02-01T10:00:00Z",
    id: str | None = None,
    course_id: str | None = None,
    by: str | None = None,
) -> Event:
    """`enrolment.created` (`by`: its `enrolledBy`)."""
    data: dict[str, Any] = {"batchId": batch_id, "userId": user_id}
    if course_id is not None:
        data["courseId"] = course_id
    if by is not None:
        data["enrolledBy"] = by
    return parse(message("enrolment.created", data, id=id, time=time))


def unenrolled(
    user_id: str = USER,
    batch_id: str = BATCH,
    *,
    time: str = "2026-02-02T10:00:00Z",
    id: str | None = None,
) -> Event:
    """`enrolment.cancelled`."""
    data = {"batchId": batch_id, "userId": user_id}
    return parse(message("enrolment.cancelled", data, id=id, time=time))


def progress(
    content_id: str,
    value: float,
    user_id: str = USER,
    batch_id: str = BATCH,
    *,
    time: str = "2026-03-01T10:00:00Z",
    id: str | None = None,
) -> Event:
    """`content.progress`."""
    data = {"batchId": batch_id, "userId": user_id, "contentId": content_id, "progress": value}
    return parse(message("content.progress", data, id=id, time=time))


def completed(
    content_id: str,
    user_id: str = USER,
    batch_id: str = BATCH,
    *,
    time: str = "2026-03-01T10:00:00Z",
    id: str | None = None,
) -> Event:
    """`content.completed`."""
    data = {"batchId": batch_id, "userId": user_id, "contentId": content_id}
    return parse(message("content.completed", data, id=id, time=time))


def assessment(
    assessment_id: str,
    score: float,
    max_score: float = 100,
    user_id: str = USER,
    batch_id: str = BATCH,
    *,
    attempt_id: str = "attempt-1",
    time: str = "2026-03-01T10:00:00Z",
    id: str | None = None,
) -> Event:
    """`assessment.submitted`."""
    data = {
        "batchId": batch_id,
        "userId": user_id,
        "assessmentId": assessment_id,
        "attemptId": attempt_id,
        "score": score,
        "maxScore": max_score,
    }
    return parse(message("assessment.submitted", data, id=id, time=time))


def fold(*items: Event) -> World:
    """The world a stream leads to, applied in the given order."""
    return World().apply_all(items)


def doc(world: World, user_id: str = USER, batch_id: str = BATCH) -> EnrolmentDoc:
    """The enrolment document of one learner."""
    return world.enrolments[enrolment_key(batch_id, user_id)]
