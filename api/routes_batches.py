"""`/v1/batches`: create, read, list, update and cancel batches (contract 9)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.access import may_manage, require
from api.commands import (
    batch_applied,
    batch_location,
    check_wait,
    envelope,
    event_id,
    folded_batch_event,
    kept,
    now_text,
    publish,
    wait_until,
)
from api.deps import ApiDeps, CallerDep, DepsDep, IdempotencyKey
from api.problems import Problem
from api.requests import BatchCreateRequest, BatchPatchRequest, CancelRequest
from api.views import Accepted, BatchView, Page, batch_view, decode_cursor, encode_cursor
from schemas.documents import BatchDoc
from schemas.types import day_end, day_start

__all__ = ["router"]

router = APIRouter(prefix="/v1/batches", tags=["batches"])
Wait = Annotated[float | None, Query(description="seconds to wait for the fold (at most 30)")]
# The stored statuses a batch with this live status may have: the stored one lags behind
# the dates (by `status_refresh_s` while a consumer runs, for as long as none does), and the
# dates move it one way only (a rule change is folded with its new status at once).
_PREVIOUS: dict[str, list[str | None]] = {
    "upcoming": ["upcoming", None],
    "ongoing": ["upcoming", "ongoing", None],
    "completed": ["upcoming", "ongoing", "completed", None],
    "cancelled": ["cancelled"],
}


async def load_batch(deps: ApiDeps, batch_id: str) -> BatchDoc:
    """The batch, or 404."""
    batch = (await deps.stores.documents.get_batches([batch_id])).get(batch_id)
    if batch is None:
        raise Problem(404, "unknown-batch", f"no batch {batch_id!r}")
    return batch


async def _answer(
    deps: ApiDeps, batch_id: str, event_id_: str, event_type: str, wait: float
) -> Response:
    """202 with the event, or 200 with the batch once the fold applied it (`?wait=`)."""
    location = batch_location(batch_id)
    if wait and await wait_until(folded_batch_event(deps, batch_id, event_id_), wait):
        batch = await load_batch(deps, batch_id)
        body = batch_view(batch, deps.clock.now()).model_dump(mode="json")
        return JSONResponse(body, status_code=200, headers={"Location": location})
    accepted = Accepted(id=event_id_, type=event_type, location=location)
    return JSONResponse(accepted.model_dump(), status_code=202, headers={"Location": location})


@router.post("", status_code=202, response_model=Accepted, responses={200: {"model": BatchView}})
async def create_batch(
    body: BatchCreateRequest,
    caller: CallerDep,
    deps: DepsDep,
    key: IdempotencyKey = None,
    wait: Wait = None,
) -> Response:
    """Create a batch (`batch.created`); `createdBy` is the caller unless an admin gives one."""
    seconds = check_wait(deps, wait)
    the_id = event_id(caller, key)
    batch_id = body.batchId or (the_id if key else str(uuid.uuid4()))
    data = body.model_dump(mode="json") | {"batchId": batch_id}
    if not caller.admin or not body.createdBy:
        data["createdBy"] = caller.user_id
    request = {"command": "create", **body.model_dump(mode="json")}
    [event] = await kept(
        deps, caller, key, request, [envelope("batch.created", the_id, data, now_text(deps))]
    )
    existing = (await deps.stores.documents.get_batches([batch_id])).get(batch_id)
    if not (key and await batch_applied(deps, batch_id, existing, the_id)):
        if existing is not None:
            raise Problem(422, "batch-exists", f"batch {batch_id!r} already exists")
        await publish(deps, event)
    return await _answer(deps, batch_id, the_id, "batch.created", seconds)


@router.get("/{batchId}", response_model=BatchView)
async def read_batch(batchId: str, caller: CallerDep, deps: DepsDep) -> BatchView:
    """One batch, with its status and its counts now (lists show the counts as last
    recounted: exact once the service is idle)."""
    batch = await load_batch(deps, batchId)
    live = await deps.stores.counts.count(batchId)
    return batch_view(batch.model_copy(update=live), deps.clock.now())


@router.get("", response_model=Page[BatchView])
async def list_batches(
    caller: CallerDep,
    deps: DepsDep,
    courseId: str | None = None,
    status: Literal["upcoming", "ongoing", "completed", "cancelled"] | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> Page[BatchView]:
    """Batches, by course and status now, a page at a time (in batchId order)."""
    after = decode_cursor(cursor, "batches", lambda position: isinstance(position, str))
    now, reads = deps.clock.now(), deps.stores.reads
    items: list[BatchView] = []
    candidates = _PREVIOUS[status] if status else None
    exhausted = False
    while len(items) < limit and not exhausted:
        found = await reads.list_batches(courseId, candidates, after, limit)
        exhausted = len(found) < limit
        for batch in found:
            after = batch.batchId
            view = batch_view(batch, now)
            if status is None or view.status == status:
                items.append(view)
                if len(items) == limit:
                    break
    more = len(items) == limit  # a full page: there may be more (perhaps an empty page)
    return Page(items=items, nextCursor=encode_cursor("batches", after) if more else None)


@router.patch(
    "/{batchId}", status_code=202, response_model=Accepted, responses={200: {"model": BatchView}}
)
async def update_batch(
    batchId: str,
    body: BatchPatchRequest,
    caller: CallerDep,
    deps: DepsDep,
    key: IdempotencyKey = None,
    wait: Wait = None,
) -> Response:
    """Change any mutable field (`batch.updated`)."""
    seconds = check_wait(deps, wait)
    batch = await load_batch(deps, batchId)
    require(may_manage(caller, batch), "update this batch")
    the_id = event_id(caller, key)
    changes = body.model_dump(mode="json", include=body.model_fields_set - {"batchId"})
    if "createdBy" in changes and changes["createdBy"] != batch.createdBy:
        # Who created a batch is set at creation (contract 9: the caller, unless an admin
        # names another); moving it would hand the batch to someone else.
        require(caller.admin, "change who created this batch")
    fresh = envelope("batch.updated", the_id, {}, now_text(deps))
    fresh["data"] = {**changes, "batchId": batchId}  # a null clears a field: kept
    request = {"command": "update", "batchId": batchId, **changes}
    [event] = await kept(deps, caller, key, request, [fresh])
    if not (key and await batch_applied(deps, batchId, batch, the_id)):
        await _check_update(deps, batch, changes)
        await publish(deps, event)
    return await _answer(deps, batchId, the_id, "batch.updated", seconds)


async def _check_update(deps: ApiDeps, batch: BatchDoc, changes: dict[str, Any]) -> None:
    """Contract 9's rules for an update, against the batch as it is."""
    now = deps.clock.now()
    if "courseId" in changes and changes["courseId"] not in (None, batch.courseId):
        raise Problem(
            400,
            "course-immutable",
            "a batch's courseId cannot change",
            [{"field": "courseId", "message": f"the batch's course is {batch.courseId!r}"}],
        )
    if (
        "startDate" in changes
        and changes["startDate"] != batch.startDate
        and now >= day_start(batch.startDate)
    ):
        raise Problem(422, "batch-started", "the start date cannot change once the batch started")
    new_end = changes.get("endDate", batch.endDate)
    completed = batch.endDate is not None and now >= day_end(batch.endDate)
    if completed and "endDate" in changes and (new_end is not None and new_end < batch.endDate):
        raise Problem(
            422, "batch-completed", "the end date of a completed batch cannot move earlier"
        )
    # The batch the update would leave must be valid input as a whole (contract 2 and 7; a
    # `batch.created` breaking these is a 400 too): the fields sent are the ones named.
    merged = batch.model_copy(update={k: v for k, v in changes.items() if k != "courseId"})
    dates = [d for d in (merged.startDate, merged.enrollmentEndDate, merged.endDate) if d]
    if dates != sorted(dates):
        message = "need startDate <= enrollmentEndDate <= endDate"
        raise Problem(400, "dates-out-of-order", message, _fields(changes, _DATES, message))
    low, high = merged.minimumCapacity, merged.maximumCapacity
    if low is not None and high is not None and low > high:
        message = "minimumCapacity must not exceed maximumCapacity"
        raise Problem(400, "capacity-order", message, _fields(changes, _CAPACITIES, message))
    if "maximumCapacity" in changes and high is not None:
        seated = sum(
            d.enrolled for d in await deps.stores.documents.enrolments_of_batch(batch.batchId)
        )
        if high < seated:
            raise Problem(
                422,
                "capacity-below-seated",
                f"{seated} learners hold a seat: maximumCapacity must be at least that",
            )


_DATES = ("startDate", "enrollmentEndDate", "endDate")
_CAPACITIES = ("minimumCapacity", "maximumCapacity")


def _fields(changes: dict[str, Any], names: tuple[str, ...], message: str) -> list[dict[str, str]]:
    """Per-field errors for the fields of `names` the update sent."""
    return [{"field": name, "message": message} for name in names if name in changes]


@router.post(
    "/{batchId}/cancel",
    status_code=202,
    response_model=Accepted,
    responses={200: {"model": BatchView}},
)
async def cancel_batch(
    batchId: str,
    caller: CallerDep,
    deps: DepsDep,
    body: CancelRequest | None = None,
    key: IdempotencyKey = None,
    wait: Wait = None,
) -> Response:
    """Cancel a batch (`batch.cancelled`): final."""
    seconds = check_wait(deps, wait)
    batch = await load_batch(deps, batchId)
    require(may_manage(caller, batch), "cancel this batch")
    the_id = event_id(caller, key)
    reason = body.reason if body else None
    data = {"batchId": batchId, "reason": reason}
    request = {"command": "cancel", **data}
    [event] = await kept(
        deps, caller, key, request, [envelope("batch.cancelled", the_id, data, now_text(deps))]
    )
    if not (key and await batch_applied(deps, batchId, batch, the_id)):
        if batch.cancelled:
            raise Problem(422, "batch-cancelled", "the batch is cancelled already")
        await publish(deps, event)
    return await _answer(deps, batchId, the_id, "batch.cancelled", seconds)
