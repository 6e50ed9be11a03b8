"""The publisher SDK: other Python services publish contract events with it.

Every event is validated against the contract's models *before* anything is sent, so a
publisher learns about a bad event from an exception in its own code, not from a dead letter
found later in `lms.dlq.v1`. What is validated is the exact bytes that are sent.

    async with BatchEventPublisher("localhost:9092", source="course-service") as publisher:
        await publisher.course_published("course-1", ["c1", "c2"], ["quiz-1"], name="Intro")
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from producers.kafka import AsyncLifecycle, kafka_client_options, translated
from schemas.events import MUTABLE_BATCH_FIELDS, CertificateTemplate, event_adapter
from schemas.topics import KEY_FIELD_OF_TYPE, TOPIC_OF_TYPE, Topics
from schemas.types import format_time
from services.errors import BatchServiceError
from services.settings import Settings

__all__ = ["BatchEventPublisher", "InvalidEvent", "PreparedEvent", "Time"]

Time = datetime | str
"""An event `time`: an aware datetime, or an RFC 3339 string with offset sent as is."""

Template = Mapping[str, Any] | CertificateTemplate
Day = date | str

_DEFAULT_MAX_EVENT_BYTES = Settings.model_fields["max_event_bytes"].default
_MAX_ERRORS = 5


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# `batch_updated(..., end_date=...)` reads like Python; the contract's spelling works too.
_BATCH_CHANGE_FIELD = {_snake(f): f for f in MUTABLE_BATCH_FIELDS} | {
    f: f for f in MUTABLE_BATCH_FIELDS
}


class InvalidEvent(BatchServiceError, ValueError):
    """The event breaks the contract (the message says where and why); nothing was sent."""

    retriable = False


@dataclass(frozen=True)
class PreparedEvent:
    """A validated event and where it goes: its topic, key and the exact bytes to send."""

    event_id: str
    event_type: str
    topic: str
    key: bytes
    value: bytes


class BatchEventPublisher(AsyncLifecycle):
    """Publishes contract events to their topics with their keys, acknowledged by the broker.

    `kafka` is a bootstrap address ("host:9092,host2:9092") or the service's `Settings` (TLS
    and SASL options, the topic prefix and `max_event_bytes` then come from it). The producer
    is idempotent with acks=all: a method returns the event id once every in-sync replica
    has the event. Broker trouble raises `PublishUnavailable` (retriable): resending the same
    event with the same `id` is safe, the service folds duplicates away.

    Every typed method builds its envelope and hands it to `publish`: a subclass may
    override `publish` to log or record what is sent.
    """

    def __init__(
        self,
        kafka: str | Settings = "localhost:9092",
        *,
        source: str,
        topic_prefix: str | None = None,
        client_id: str = "batch-event-publisher",
    ) -> None:
        if isinstance(kafka, Settings):
            self._options = kafka_client_options(kafka)
            prefix = kafka.topic_prefix if topic_prefix is None else topic_prefix
            self.max_event_bytes: int = kafka.max_event_bytes
        else:
            self._options = {"bootstrap_servers": kafka}
            prefix = topic_prefix or ""
            self.max_event_bytes = _DEFAULT_MAX_EVENT_BYTES
        self.source = source
        self.topics = Topics(prefix)
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the cluster (the producer is made here, inside the running loop)."""
        producer = AIOKafkaProducer(
            **self._options,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            # Room for the record's framing around the largest value we accept.
            max_request_size=self.max_event_bytes + 65_536,
            client_id=self._client_id,
        )
        try:
            async with translated():
                await producer.start()
        except BaseException:
            await producer.stop()  # a half-started producer still holds sockets and tasks
            raise
        self._producer = producer

    async def stop(self) -> None:
        """Wait for what is in flight, then disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    # -- generic ---------------------------------------------------------------------------

    async def publish(self, event: Mapping[str, Any]) -> str:
        """Validate a complete envelope (`specversion`, `id`, `type`, `source`, `time`,
        `data`) and send it; returns its id. Raises `InvalidEvent`, sending nothing."""
        return (await self.publish_many([event]))[0]

    async def publish_many(self, events: Iterable[Mapping[str, Any]]) -> list[str]:
        """Validate every envelope first (one invalid: `InvalidEvent` naming its index, and
        nothing is sent), then send them in order; returns their ids once all are acked."""
        outgoing = []
        for index, event in enumerate(events):
            try:
                outgoing.append(self.validate(event))
            except InvalidEvent as exc:
                raise InvalidEvent(f"event {index}: {exc}") from exc
        await self._send(outgoing)
        return [o.event_id for o in outgoing]

    def validate(self, event: Mapping[str, Any]) -> PreparedEvent:
        """Check one envelope against the contract; `InvalidEvent` says why it fails."""
        try:
            value = json.dumps(
                dict(event), ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
        except (TypeError, ValueError) as exc:  # a set, an object, NaN: not JSON
            raise InvalidEvent(f"not JSON-serializable: {exc}") from exc
        encoded = value.encode()
        if len(encoded) > self.max_event_bytes:
            raise InvalidEvent(f"too large: {len(encoded)} bytes > {self.max_event_bytes}")
        try:
            parsed = event_adapter.validate_json(encoded)
        except ValidationError as exc:
            event_type = event.get("type") if isinstance(event, Mapping) else None
            raise InvalidEvent(_reason(exc, event_type)) from exc
        key = getattr(parsed.data, KEY_FIELD_OF_TYPE[parsed.type])
        topic = self.topics.of_type(parsed.type)
        return PreparedEvent(parsed.id, parsed.type, topic, key.encode(), encoded)

    async def _send(self, outgoing: Sequence[PreparedEvent]) -> None:
        if self._producer is None:
            raise RuntimeError("BatchEventPublisher is not started (use `async with` or start())")
        async with translated():
            # Queue all, then wait for all: order per partition holds (idempotent producer).
            acks = [await self._producer.send(o.topic, o.value, key=o.key) for o in outgoing]
            for ack in acks:
                await ack

    async def _emit(
        self, event_type: str, data: dict[str, Any], id: str | None, time: Time | None
    ) -> str:
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()) if id is None else id,
            "type": event_type,
            "source": self.source,
            "time": _wire_time(time),
            "data": {k: v for k, v in data.items() if v is not _ABSENT},
        }
        return await self.publish(envelope)

    # -- one method per event type -----------------------------------------------------------

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
    ) -> str:
        """`batch.created` (a second one for the same batch replaces its fields)."""
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
        }
        return await self._emit("batch.created", data, id, time)

    async def batch_updated(
        self, batch_id: str, *, id: str | None = None, time: Time | None = None, **changes: Any
    ) -> str:
        """`batch.updated`: only the fields given change (`end_date=None` clears the end).

        Fields: name, enrollment_type, start_date, end_date, enrollment_end_date, mentors,
        created_by, certificate_templates (the contract's camelCase names work too)."""
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
        id: str | None = None,
        time: Time | None = None,
    ) -> str:
        """`enrolment.created` (refused by the service after the enrolment deadline)."""
        data = {"batchId": batch_id, "userId": user_id, "courseId": _omit_none(course_id)}
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


_ABSENT: Any = object()


def _omit_none(value: object) -> object:
    """Optional fields the caller left out are left out of the message too."""
    return _ABSENT if value is None else value


def _wire_time(time: Time | None) -> Any:
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


def _reason(exc: ValidationError, event_type: object) -> str:
    """Where and what, without the input values (they may be large or private)."""
    errors = exc.errors(include_input=False, include_url=False)
    shown = "; ".join(f"{_where(e, event_type)}: {_what(e)}" for e in errors[:_MAX_ERRORS])
    more = len(errors) - _MAX_ERRORS
    prefix = (
        f"{event_type}: " if isinstance(event_type, str) and event_type in TOPIC_OF_TYPE else ""
    )
    return prefix + shown + (f" (+{more} more)" if more > 0 else "")


def _where(error: ErrorDetails, event_type: object) -> str:
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "type"
    # pydantic puts the matched `type` first; the prefix already says it.
    loc = error["loc"]
    parts = loc[1:] if loc[:1] == (event_type,) else loc
    return ".".join(str(p) for p in parts) or "(event)"


def _what(error: ErrorDetails) -> str:
    if error["type"] == "union_tag_not_found":  # pydantic's words assume one knows the union
        return f"Field required (one of {', '.join(TOPIC_OF_TYPE)})"
    return error["msg"]
