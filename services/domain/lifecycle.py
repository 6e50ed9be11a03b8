"""A batch's lifecycle by date (contract 8): its status at an instant, and its automatic
cancellation when too few learners hold a seat by the deadline."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from schemas.documents import BatchDoc, BatchStatus, EnrolmentRequest
from schemas.events import BatchCancelled, event_adapter
from schemas.outbound import auto_cancel_event_id
from schemas.types import day_end, day_start, format_time

__all__ = [
    "AUTO_CANCEL_REASON",
    "auto_cancel_due",
    "auto_cancellation",
    "batch_status",
    "cancellation_deadline",
]

AUTO_CANCEL_REASON = "minimum-capacity-not-met"


def batch_status(batch: BatchDoc, now: datetime) -> BatchStatus:
    """`cancelled`; else `upcoming` before `startDate`, `ongoing` from `startDate` to
    `endDate` inclusive (no end where null), `completed` after `endDate`."""
    if batch.cancelled:
        return "cancelled"
    if now < day_start(batch.startDate):
        return "upcoming"
    if batch.endDate is None or now < day_end(batch.endDate):
        return "ongoing"
    return "completed"


def cancellation_deadline(batch: BatchDoc) -> datetime | None:
    """`startDate` 00:00:00Z plus `waitingTimeForCancellation` days, where the batch asks to be
    cancelled when `minimumCapacity` is not met; None otherwise."""
    if not batch.cancelBatchWhenMinimumCapacityIsNotMet or batch.minimumCapacity is None:
        return None
    try:
        return day_start(batch.startDate) + timedelta(days=batch.waitingTimeForCancellation)
    except OverflowError:  # after 9999-12-31: a deadline no clock reaches
        return None


def auto_cancel_due(batch: BatchDoc, now: datetime, grace_s: float) -> bool:
    """Whether a batch not cancelled yet has a deadline that `now` passed by more than the
    grace for late facts: only then do its learners' requests need counting."""
    return _passed_deadline(batch, now, grace_s) is not None


def _passed_deadline(batch: BatchDoc, now: datetime, grace_s: float) -> datetime | None:
    """The deadline, where the batch is not cancelled and `now` passed it plus the grace."""
    deadline = cancellation_deadline(batch)
    if batch.cancelled or deadline is None or now - timedelta(seconds=grace_s) <= deadline:
        return None
    return deadline


def auto_cancellation(
    batch: BatchDoc,
    requests: Iterable[EnrolmentRequest | None],
    now: datetime,
    grace_s: float,
) -> BatchCancelled | None:
    """The `batch.cancelled` fact to publish, once `now` passed the deadline plus the grace
    for late facts, if fewer than `minimumCapacity` learners held a seat by the deadline
    (requests opened no later than it, at most `maximumCapacity` of them); else None."""
    deadline = _passed_deadline(batch, now, grace_s)
    if deadline is None:
        return None
    by_deadline = sum(1 for r in requests if r is not None and r.time <= deadline)
    seated = (
        by_deadline if batch.maximumCapacity is None else min(batch.maximumCapacity, by_deadline)
    )
    assert batch.minimumCapacity is not None  # part of having a deadline
    if seated >= batch.minimumCapacity:
        return None
    when = format_time(deadline)
    event = event_adapter.validate_python(
        {
            "specversion": "1.0",
            "id": auto_cancel_event_id(batch.batchId, when),
            "source": "batch-service",
            "time": when,
            "type": "batch.cancelled",
            "data": {"batchId": batch.batchId, "reason": AUTO_CANCEL_REASON},
        }
    )
    assert isinstance(event, BatchCancelled)
    return event
