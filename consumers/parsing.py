"""From a consumed record to an event, or to the reason it goes to the dead-letter topic."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schemas.events import event_adapter
from schemas.topics import TOPIC_OF_TYPE, Topics
from services.ports import Received

__all__ = ["parse_record"]

_MAX_REASON = 500


def parse_record(record: Any, topics: Topics, max_event_bytes: int) -> Received:
    """Validate one aiokafka ConsumerRecord; never raises for bad input."""
    value: bytes | None = record.value
    base = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key,
        "value": value,
        "headers": tuple(record.headers or ()),
        "timestamp_ms": record.timestamp if record.timestamp and record.timestamp > 0 else None,
    }
    if not value:  # a tombstone (no value) or a value of no bytes
        return Received(**base, reason="empty: the message has no value")
    if len(value) > max_event_bytes:
        reason = f"too-large: {len(value)} bytes > max_event_bytes {max_event_bytes}"
        return Received(**base, reason=reason)
    try:
        event = event_adapter.validate_json(value)
    except ValidationError as exc:
        return Received(**base, reason=_reason(exc))
    except (RecursionError, ValueError) as exc:  # defensive: the parser should catch these
        return Received(**base, reason=f"invalid-json: {exc}"[:_MAX_REASON])
    expected = topics.prefix + TOPIC_OF_TYPE[event.type]
    if record.topic != expected:
        reason = f"wrong-topic: {event.type} belongs on {expected}, not {record.topic}"
        return Received(**base, reason=reason)
    return Received(**base, event=event)


def _reason(exc: ValidationError) -> str:
    """A short, stable reason: a code, then where and what (no input values: no payloads)."""
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        return f"invalid-json: {first['msg']}"[:_MAX_REASON]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # Never echo the message's own `type`: reasons reach logs and headers, payloads must not.
        return f"unknown-type: `type` must be one of {', '.join(sorted(TOPIC_OF_TYPE))}"
    details = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in errors[:5])
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"invalid-event: {details}{more}"[:_MAX_REASON]


def _loc(loc: tuple[int | str, ...]) -> str:
    # The first element is the discriminator's value (the event type); it reads better as a prefix.
    return ".".join(str(part) for part in loc) or "(root)"
