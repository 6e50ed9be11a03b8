"""Checking a contract event before it is sent: the exact bytes, against the service's models.

Used by the publisher SDK, `batch-service publish` and the HTTP API, so that every publisher
applies the validation the service applies on the way in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.event_data import error_fields
from schemas.events import event_adapter
from schemas.topics import KEY_FIELD_OF_TYPE, TOPIC_OF_TYPE, Topics
from services.errors import BatchServiceError

__all__ = ["InvalidEvent", "PreparedEvent", "prepare"]

_MAX_ERRORS = 5


class InvalidEvent(BatchServiceError, ValueError):
    """The event breaks the contract (the message says where and why); nothing was sent.

    `errors` lists the same by field: `{"field": "data.endDate", "message": "..."}`."""

    retriable = False

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [{"field": "(event)", "message": message}]


@dataclass(frozen=True)
class PreparedEvent:
    """A validated event and where it goes: its topic, key and the exact bytes to send."""

    event_id: str
    event_type: str
    topic: str
    key: bytes
    value: bytes


def prepare(event: Mapping[str, Any], topics: Topics, max_event_bytes: int) -> PreparedEvent:
    """Check one envelope against the contract; `InvalidEvent` says why it fails."""
    try:
        value = json.dumps(dict(event), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:  # a set, an object, NaN: not JSON
        raise InvalidEvent(f"not JSON-serializable: {exc}") from exc
    encoded = value.encode()
    if len(encoded) > max_event_bytes:
        raise InvalidEvent(f"too large: {len(encoded)} bytes > {max_event_bytes}")
    try:
        parsed = event_adapter.validate_json(encoded)
    except ValidationError as exc:
        event_type = event.get("type") if isinstance(event, Mapping) else None
        raise InvalidEvent(_reason(exc, event_type), _by_field(exc, event_type)) from exc
    key = getattr(parsed.data, KEY_FIELD_OF_TYPE[parsed.type])
    return PreparedEvent(parsed.id, parsed.type, topics.of_type(parsed.type), key.encode(), encoded)


def _reason(exc: ValidationError, event_type: object) -> str:
    """Where and what, without the input values (they may be large or private)."""
    errors = exc.errors(include_input=False, include_url=False)
    shown = "; ".join(f"{_where(e, event_type)}: {_what(e)}" for e in errors[:_MAX_ERRORS])
    more = len(errors) - _MAX_ERRORS
    prefix = (
        f"{event_type}: " if isinstance(event_type, str) and event_type in TOPIC_OF_TYPE else ""
    )
    return prefix + shown + (f" (+{more} more)" if more > 0 else "")


def _by_field(exc: ValidationError, event_type: object) -> list[dict[str, str]]:
    errors = exc.errors(include_input=False, include_url=False)
    return [
        {"field": field, "message": _what(e)}
        for e in errors
        for field in error_fields(e, _where(e, event_type))
    ]


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
