"""One method per contract event type, for the publisher SDK: Python names in, the contract's
envelope out. The envelope is validated and sent by the class that mixes this in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from producers.validation import InvalidEvent
from schemas.events import MUTABLE_BATCH_FIELDS, CertificateTemplate
from schemas.types import format_time

__all__ = ["ABSENT", "Time", "TypedEventMethods", "wire_time"]

Time = datetime | str
"""An event `time`: an aware datetime, or an RFC 3339 string with offset sent as is."""

Template = Mapping[str, Any] | CertificateTemplate
Day = date | str


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# `batch_updated(..., end_date=...)` reads like Python; the contract's spelling works too.
_BATCH_CHANGE_FIELD = {_snake(f): f for f in MUTABLE_BATCH_FIELDS} | {
    f: f for f in MUTABLE_BATCH_FIELDS
}


_CAPACITY = (
    "maximumCapacity",
    "minimumCapacity",
    "allowWaitlisting",
    "cancelBatchWhenMinimumCapacityIsNotMet",
    "waitingTimeForCancellation",
    "waitingTimeUnitForCancellation",
)
_CAPACITY_FIELD = {_snake(f): f for f in _CAPACITY} | {f: f for f in _CAPACITY}


class TypedEventMethods:
    """`course_published(...)`, `batch_created(...)`, ...: each builds its `data` and hands it,
    with an optional `id` and `time`, to `_emit`."""

    async def _emit(
        self, event_type: str, data: dict[str, Any], id: str | None, time: Time | None
    ) -> str:
        raise NotImplementedError

    async def course_published(
        self,
        course_id: str,
        leaf_nodes: Sequence[str],
        assessments: Sequence[str],
        name: str | None = None,
        *,
        id: str | None = None,
        time: Time | None = None,
    ) -> str:
        """`course.published`: what a learner must complete, and the assessments scored."""
        data = {
            "courseId": course_id,
            "leafNodes": list(leaf_nodes),
            "assessments": list(assessments),
            "name": _omit_none(name),
        }
        return await self._emit("course.published", data, id, time)

    async def batch_created(
        self,
        batch_id: str,
        course_id: str,
        name: str,
        *,
        start_date: Day,
        end_date: Day | None = None,
        enrollment_end_date: Day | None = None,
        enrollment_type: str = "open",
        mentors: Sequence[str] = (),
        created_by: str | None = None,
        certificate_templates: Sequence[Template] = (),
        id: str | None = None,
        time: Time | None = None,
        **capacity: Any,
    ) -> str:
        """`batch.created` (a second one for the same batch replaces its fields).

        `capacity`: the v1.1 fields, by Python or contract name: maximum_capacity,
        minimum_capacity, allow_waitlisting, cancel_batch_when_minimum_capacity_is_not_met,
        waiting_time_for_cancellation, waiting_time_unit_for_cancellation."""
        unknown = sorted(set(capacity) - set(_CAPACITY_FIELD))
        if unknown:
            raise TypeError(f"batch_created() got unknown fields: {', '.join(unknown)}")
        data = {
            "batchId": batch_id,
            "courseId": course_id,
            "name": name,
            "enrollmentType": enrollment_type,
            "startDate": _day(start_date),
            "endDate": _day(end_date),
            "enrollmentEndDate": _day(enrollment_end_date),
            "mentors": list(mentors),
            "createdBy": _omit_none(created_by),
            "certificateTemplates": [_template(t) for t in certificate_templates],
            **{_CAPACITY_FIELD[k]: v for k, v in capacity.items()},
        }
        return await self._emit("batch.created", data, id, time)

    async def batch_updated(
        self, batch_id: str, *, id: str | None = None, time: Time | None = None, **changes: Any
    ) -> str:
        """`batch.updated`: only the fields given change (`end_date=None` clears the end).

        Fields: name, enrollment_type, start_date, end_date, enrollment_end_date, mentors,
        created_by, certificate_templates, and the capacity fields of `batch_created` (the
        contract's camelCase names work too)."""
        unknown = sorted(set(changes) - set(_BATCH_CHANGE_FIELD))
        if unknown:
            raise TypeError(f"batch_updated() got fields it cannot change: {', '.join(unknown)}")
        data: dict[str, Any] = {"batchId": batch_id}
        for given, value in changes.items():
            field = _BATCH_CHANGE_FIELD[given]
            if field.endswith("Date"):
                value = _day(value)
            elif field == "certificateTemplates" and value is not None:
                value = [_template(t) for t in value]
            elif field == "mentors" and value is not None:
                value = list(value)
            data[field] = value
        return await self._emit("batch.updated", data, id, time)

    async def batch_cancelled(
        self,
        batch_id: str,
        reason: str | None = None,
        *,
        id: str | None = None,
        time: Time | None = None,
    ) -> str:
        """`batch.cancelled`: final; no certificate is announced for the batch afterwards."""
        data = {"batchId": batch_id, "reason": _omit_none(reason)}
        return await self._emit("batch.cancelled", data, id, time)

    async def enrolment_created(
        self,
        batch_id: str,
        user_id: str,
        course_id: str | None = None,
        *,
        enrolled_by: str | None = None,
        id: str | None = None,
        time: Time | None = None,
    ) -> str:
        """`enrolment.created` (refused by the service after the enrolment deadline, and in an
        invite-only batch when `enrolled_by` is the learner themselves)."""
        data = {
            "batchId": batch_id,
            "userId": user_id,
            "courseId": _omit_none(course_id),
            "enrolledBy": _omit_none(enrolled_by),
        }
        return await self._emit("enrolment.created", data, id, time)

    async def enrolment_cancelled(
        self, batch_id: str, user_id: str, *, id: str | None = None, time: Time | None = None
    ) -> str:
        """`enrolment.cancelled` (no effect once the learner completed)."""
        data = {"batchId": batch_id, "userId": user_id}
        return await self._emit("enrolment.cancelled", data, id, time)

    async def content_progress(
        self,
        batch_id: str,
        user_id: str,
        content_id: str,
        progress: float,
        *,
        id: str | None = None,
        time: Time | None = None,
    ) -> str:
        """`content.progress`, 0-100; 100 counts as completed."""
        data = {"batchId": batch_id, "userId": user_id, "contentId": content_id}
        return await self._emit("content.progress", data | {"progress": progress}, id, time)

    async def content_completed(
        self,
        batch_id: str,
        user_id: str,
        content_id: str,
        *,
        id: str | None = None,
        time: Time | None = None,
    ) -> str:
        """`content.completed`."""
        data = {"batchId": batch_id, "userId": user_id, "contentId": content_id}
        return await self._emit("content.completed", data, id, time)

    async def assessment_submitted(
        self,
        batch_id: str,
        user_id: str,
        assessment_id: str,
        attempt_id: str,
        score: float,
        max_score: float,
        *,
        id: str | None = None,
        time: Time | None = None,
    ) -> str:
        """`assessment.submitted`; the best attempt per assessment counts."""
        data = {
            "batchId": batch_id,
            "userId": user_id,
            "assessmentId": assessment_id,
            "attemptId": attempt_id,
            "score": score,
            "maxScore": max_score,
        }
        return await self._emit("assessment.submitted", data, id, time)


ABSENT: Any = object()


def _omit_none(value: object) -> object:
    """Optional fields the caller left out are left out of the message too."""
    return ABSENT if value is None else value


def wire_time(time: Time | None) -> Any:
    """The `time` of an envelope: now when not given, an aware datetime formatted."""
    if time is None:
        return format_time(datetime.now(UTC))
    if isinstance(time, datetime):
        if time.tzinfo is None or time.utcoffset() is None:
            # Guessing the zone of a naive time would move facts across day windows.
            raise InvalidEvent("time: a datetime must be timezone-aware")
        return format_time(time)
    return time  # a string (or anything else) is validated with the rest of the envelope


def _day(value: Day | None) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _template(template: Template) -> Any:
    if isinstance(template, BaseModel):
        return template.model_dump(mode="json", exclude_none=True)
    return dict(template)
