"""What the API answers: documents as views (bookkeeping left out, `status` computed at read),
pages with opaque cursors, and the acknowledgement of a command."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from api.problems import Problem
from schemas.documents import (
    BatchDoc,
    BatchStatus,
    Certificate,
    EnrolmentDoc,
    EnrolmentRequest,
    EnrolmentStatus,
    LearnerFacts,
)
from schemas.events import CertificateTemplate
from services.domain import batch_status

__all__ = [
    "Accepted",
    "BatchView",
    "EnrolmentView",
    "Page",
    "ProgressAccepted",
    "batch_view",
    "decode_cursor",
    "encode_cursor",
    "enrolment_view",
]

T = TypeVar("T")


class BatchView(BaseModel):
    """A batch, with its `status` as of the moment of the read."""

    model_config = ConfigDict(frozen=True)

    batchId: str
    courseId: str
    name: str
    enrollmentType: str
    startDate: str
    endDate: str | None
    enrollmentEndDate: str | None
    mentors: list[str]
    createdBy: str | None
    certificateTemplates: list[CertificateTemplate]
    cancelled: bool
    cancelReason: str | None
    maximumCapacity: int | None
    minimumCapacity: int | None
    allowWaitlisting: bool
    cancelBatchWhenMinimumCapacityIsNotMet: bool
    waitingTimeForCancellation: int
    waitingTimeUnitForCancellation: Literal["day"]
    status: BatchStatus
    enrolledCount: int
    completedCount: int
    certifiedCount: int
    waitlistedCount: int


class EnrolmentView(BaseModel):
    """One learner in one batch: progress, seat, certificates and the facts they rest on."""

    model_config = ConfigDict(frozen=True)

    batchId: str
    userId: str
    courseId: str | None
    enrolled: bool
    enrolmentStatus: EnrolmentStatus
    waitlistPosition: int | None
    refusedReason: str | None
    request: EnrolmentRequest | None
    progressStatus: int
    completionPercentage: float | None
    completedAt: datetime | None
    scorePercentage: float | None
    certificates: list[Certificate]
    facts: LearnerFacts


class Page(BaseModel, Generic[T]):
    """A page of a list; `nextCursor` fetches the next one (null: this was the last)."""

    items: list[T]
    nextCursor: str | None


class Accepted(BaseModel):
    """A command became an event: its id, and where to read what it does."""

    id: str
    type: str
    location: str


class ProgressAccepted(BaseModel):
    """Learner events accepted, in the order given."""

    ids: list[str]
    documents: list[EnrolmentView] = []


def batch_view(batch: BatchDoc, now: datetime) -> BatchView:
    """The batch as the API shows it, its status computed at `now`."""
    fields = batch.model_dump(exclude={"rev", "status", "appliedEvents"})
    return BatchView(**fields, status=batch_status(batch, now))


def enrolment_view(doc: EnrolmentDoc) -> EnrolmentView:
    """The learner's document without the service's bookkeeping."""
    return EnrolmentView(**doc.model_dump(include=set(EnrolmentView.model_fields)))


def encode_cursor(listing: str, position: Any) -> str:
    """An opaque cursor for a position in a list (`listing` names the list: its route and the
    ids in its path)."""
    raw = json.dumps([listing, position], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, listing: str, shaped: Callable[[Any], bool]) -> Any:
    """The position a cursor names (None: the start); 400 for a cursor we did not make for
    this list: one that does not decode, another list's (another route's, another batch's or
    learner's), or one whose position is not `shaped` as this list's are (made by hand)."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        decoded = _UNDECODED
    ours = isinstance(decoded, list) and len(decoded) == 2 and decoded[0] == listing
    if not ours or not shaped(decoded[1]):
        raise Problem(
            400,
            "invalid-cursor",
            "the cursor is not one this API gave for this list",
            [{"field": "cursor", "message": "unknown cursor"}],
        )
    return decoded[1]


_UNDECODED = object()
