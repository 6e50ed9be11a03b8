"""Scalar types of the wire contract: identifiers, RFC 3339 times, calendar dates, percentages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

__all__ = [
    "DAY",
    "EventId",
    "Identifier",
    "IsoDate",
    "Percent",
    "Text",
    "Timestamp",
    "day_end",
    "day_start",
    "format_time",
    "is_identifier",
    "parse_time",
]

DAY = timedelta(days=1)

# Identifiers: 1-256 characters without control characters (C0, DEL, C1); anything else is
# legal. Lone surrogates never get this far: the JSON parser rejects them as invalid JSON.
_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
# RFC 3339 puts no bound on the fraction's digits: 30 is more than any clock gives.
_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,30})?([Zz]|[+-]\d{2}:\d{2})$"
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_TIME_RE = re.compile(_TIME_PATTERN)

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_ID_PATTERN)]
"""A contract identifier (batchId, userId, ...): stored and returned unchanged."""

_ID_RE = re.compile(_ID_PATTERN)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def is_identifier(value: object) -> bool:
    """Whether `value` can be an identifier (as `Identifier` checks; a lone surrogate, which
    only a decoded path or token can hold, is not one either): what names no document."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 256
        and _ID_RE.fullmatch(value) is not None
        and _SURROGATE_RE.search(value) is None
    )


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not hold a NUL character (no store of ours can hold one)")
    return value


EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=256), AfterValidator(_without_nul)
]
"""An event `id` (contract 1: 1-256 characters, not an identifier): any character but NUL,
which PostgreSQL's JSONB under FerretDB cannot hold (the id is stored with the facts): a
message with one is dead-lettered rather than stopping the service at its write."""


Text = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_without_nul)]
"""Free text (names, reasons): bounded so that a document cannot be bloated by one field.
Any character but NUL (no store of ours can hold it): the contract puts no character rule on
free text, and a name with a control character in it is still the batch's name."""


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with offset into an aware UTC datetime, to the millisecond.

    Milliseconds are what MongoDB stores; truncating (never rounding) keeps every instant on
    its UTC day, so the inclusive day windows of the contract are unaffected. A leap second
    (`23:59:60`, which RFC 3339 allows and Python cannot hold) is the last millisecond of its
    minute: after every instant before it, before the next minute, on the same day.
    """
    text = value if value.isupper() else value.upper()
    if text[17:19] == "60":
        return parse_time(text[:17] + "59.999" + text[19:].lstrip(".0123456789"))
    parsed = datetime.fromisoformat(text)
    utc = parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)  # `Z` parses to UTC itself
    if utc.microsecond % 1000:
        utc = utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    return utc


def format_time(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a `Z`, milliseconds only when present."""
    utc = value.astimezone(UTC)
    text = utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z"  # isoformat, unlike %Y, writes year 999 as 0999


def _checked_date(value: str) -> str:
    date.fromisoformat(value)  # raises ValueError for 2026-02-30
    return value


def _event_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    if not _TIME_RE.match(value):
        raise ValueError("must be an RFC 3339 timestamp with offset, like 2026-11-22T10:00:00Z")
    try:
        return parse_time(value)
    except OverflowError as exc:  # year 1 with a positive offset, year 9999 with a negative one
        raise ValueError("is outside the representable range of times") from exc


Timestamp = Annotated[datetime, BeforeValidator(_event_time)]
"""An event `time`: an RFC 3339 string with offset on the wire, an aware UTC datetime in code."""

IsoDate = Annotated[str, StringConstraints(pattern=_DATE_PATTERN), AfterValidator(_checked_date)]
"""A calendar day `YYYY-MM-DD` (UTC), kept as the string the publisher sent."""

Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


def day_start(day: str) -> datetime:
    """The first instant (UTC) of a `YYYY-MM-DD` day."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def day_end(day: str) -> datetime:
    """The first instant after a `YYYY-MM-DD` day: inclusive day ranges end strictly before it.

    For 9999-12-31, which has no next day, the last representable instant (still after every
    millisecond-truncated time of that day)."""
    start = day_start(day)
    return start + DAY if start < _END_OF_TIME - DAY else _END_OF_TIME
