"""Enrolments: enrol, unenrol, the participants and the waitlist, one learner's document, a
learner's batches (contract 9)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.access import may_manage, require, require_enrolment_access, require_self_or_admin
from api.commands import (
    check_wait,
    enrolment_location,
    envelope,
    event_id,
    folded_learner_event,
    kept,
    now_text,
    publish_learner,
    wait_until,
)
from api.deps import ApiDeps, CallerDep, DepsDep, IdempotencyKey
from api.problems import Problem
from api.requests import EnrolRequest
from api.routes_batches import load_batch
from api.views import Accepted, EnrolmentView, Page, decode_cursor, encode_cursor, enrolment_view
from schemas.documents import BatchDoc, EnrolmentDoc, enrolment_key
from schemas.events import LearnerEvent
from schemas.types import day_end

__all__ = ["router"]

router = APIRouter(tags=["enrolments"])
Wait = Annotated[float | None, Query(description="seconds to wait for the fold (at most 30)")]
Status = Literal["enrolled", "waitlisted", "refused", "not-enrolled"]
_ORDER = {"enrolled": 0, "waitlisted": 1, "refused": 2, "not-enrolled": 3}


async def _learner(deps: ApiDeps, batch_id: str, user_id: str) -> EnrolmentDoc | None:
    key = enrolment_key(batch_id, user_id)
    return (await deps.stores.documents.get_enrolments([key])).get(key)


async def _answer(deps: ApiDeps, event: LearnerEvent, wait: float) -> Response:
    """202 with the event, or 200 with the learner's document once folded (`?wait=`)."""
    batch_id, user_id = event.data.batchId, event.data.userId
    location = enrolment_location(batch_id, user_id)
    if wait and await wait_until(folded_learner_event(deps, event), wait):
        doc = await _learner(deps, batch_id, user_id)
        if doc is not None:
            body = enrolment_view(doc).model_dump(mode="json")
            return JSONResponse(body, status_code=200, headers={"Location": location})
    accepted = Accepted(id=event.id, type=event.type, location=location)
    return JSONResponse(accepted.model_dump(), status_code=202, headers={"Location": location})


def _check_enrol(
    batch: BatchDoc, doc: EnrolmentDoc | None, caller_id: str, user_id: str, now: object
) -> None:
    # Sunbird's order (a client that breaks several rules hears of the same one first).
    if batch.cancelled:
        raise Problem(422, "batch-cancelled", "the batch is cancelled")
    if batch.enrollmentType == "invite-only" and caller_id == user_id:
        raise Problem(422, "invite-only", "the batch is invite-only: a mentor enrols learners")
    deadline = batch.enrollmentEndDate or batch.endDate
    if deadline is not None and now >= day_end(deadline):  # type: ignore[operator]
        raise Problem(422, "enrolment-closed", f"enrolment closed after {deadline}")
    if doc is not None and doc.enrolmentStatus in ("enrolled", "waitlisted"):
        raise Problem(409, "already-enrolled", f"{user_id!r} is {doc.enrolmentStatus} already")


@router.post(
    "/v1/batches/{batchId}/enrolments",
    status_code=202,
    response_model=Accepted,
    responses={200: {"model": EnrolmentView}},
)
async def enrol(
    batchId: str,
    body: EnrolRequest,
    caller: CallerDep,
    deps: DepsDep,
    key: IdempotencyKey = None,
    wait: Wait = None,
) -> Response:
    """Enrol a learner (`enrolment.created`, `enrolledBy` the caller)."""
    seconds = check_wait(deps, wait)
    batch = await load_batch(deps, batchId)
    require_enrolment_access(caller, batch, body.userId, "enrol this learner")
    data = {
        "batchId": batchId,
        "userId": body.userId,
        "courseId": batch.courseId,
        "enrolledBy": caller.user_id,
    }
    fresh = envelope("enrolment.created", event_id(caller, key), data, now_text(deps))
    [event] = await kept(deps, caller, key, {"command": "enrol", **data}, [fresh])
    doc = await _learner(deps, batchId, body.userId)
    if not (key and doc is not None and any(f.id == event["id"] for f in doc.facts.enrolments)):
        _check_enrol(batch, doc, caller.user_id, body.userId, deps.clock.now())
        if batch.maximumCapacity is not None and not batch.allowWaitlisting:
            roster = await deps.stores.documents.enrolments_of_batch(batchId)
            if sum(d.enrolled for d in roster) >= batch.maximumCapacity:
                raise Problem(
                    422, "batch-full", "every seat is taken and the batch has no waitlist"
                )
    return await _answer(deps, await publish_learner(deps, event), seconds)


@router.delete(
    "/v1/batches/{batchId}/enrolments/{userId}",
    status_code=202,
    response_model=Accepted,
    responses={200: {"model": EnrolmentView}},
)
async def unenrol(
    batchId: str,
    userId: str,
    caller: CallerDep,
    deps: DepsDep,
    key: IdempotencyKey = None,
    wait: Wait = None,
) -> Response:
    """Unenrol a learner (`enrolment.cancelled`)."""
    seconds = check_wait(deps, wait)
    batch = await load_batch(deps, batchId)
    require_enrolment_access(caller, batch, userId, "unenrol this learner")
    data = {"batchId": batchId, "userId": userId}
    fresh = envelope("enrolment.cancelled", event_id(caller, key), data, now_text(deps))
    [event] = await kept(deps, caller, key, {"command": "unenrol", **data}, [fresh])
    doc = await _learner(deps, batchId, userId)
    if not (key and doc is not None and any(f.id == event["id"] for f in doc.facts.enrolments)):
        # An open request may also be a refused one (`batch-full`): it is seated when a seat
        # frees (contract 7), so its learner may withdraw it.
        if doc is None or doc.request is None:
            raise Problem(404, "not-enrolled", f"{userId!r} is not enrolled in {batchId!r}")
        if doc.progressStatus == 2:
            raise Problem(422, "learner-completed", "a learner who completed cannot be unenrolled")
    return await _answer(deps, await publish_learner(deps, event), seconds)


@router.get("/v1/batches/{batchId}/enrolments", response_model=Page[EnrolmentView])
async def participants(
    batchId: str,
    caller: CallerDep,
    deps: DepsDep,
    status: Status | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> Page[EnrolmentView]:
    """The seated learners in request order, then the waitlist in order (`status` narrows to
    one status, `refused` and `not-enrolled` included)."""
    batch = await load_batch(deps, batchId)
    require(may_manage(caller, batch), "list this batch's learners")
    roster = await deps.stores.documents.enrolments_of_batch(batchId)
    wanted = [
        d
        for d in roster
        if (
            d.enrolmentStatus == status
            if status
            else d.enrolmentStatus in ("enrolled", "waitlisted")
        )
    ]
    ordered = sorted(wanted, key=_place)
    listing = f"participants\n{batchId}"
    after = decode_cursor(cursor, listing, _is_place)
    if after is not None:
        ordered = [d for d in ordered if list(_place(d)) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return Page(
        items=[enrolment_view(d) for d in page],
        nextCursor=encode_cursor(listing, list(_place(page[-1]))) if more else None,
    )


def _place(doc: EnrolmentDoc) -> tuple[int, int, str, str, str]:
    """Seats first by request, then the waitlist by place, then the others by user."""
    request = doc.request
    return (
        _ORDER[doc.enrolmentStatus],
        doc.waitlistPosition or 0,
        request.time.isoformat() if request else "",
        request.eventId if request else "",
        doc.userId,
    )


def _is_place(value: object) -> bool:
    """Whether a decoded cursor has the shape `_place` gives (another route's cursor, or one
    made by hand, would not compare with it)."""
    return (
        isinstance(value, list)
        and len(value) == 5
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value[:2])
        and all(isinstance(v, str) for v in value[2:])
    )


@router.get("/v1/batches/{batchId}/enrolments/{userId}", response_model=EnrolmentView)
async def learner(batchId: str, userId: str, caller: CallerDep, deps: DepsDep) -> EnrolmentView:
    """One learner's progress document."""
    batch = await load_batch(deps, batchId)
    require_enrolment_access(caller, batch, userId, "read this learner's document")
    doc = await _learner(deps, batchId, userId)
    if doc is None:
        raise Problem(404, "unknown-learner", f"no learner {userId!r} in batch {batchId!r}")
    return enrolment_view(doc)


@router.get("/v1/users/{userId}/enrolments", response_model=Page[EnrolmentView])
async def users_batches(
    userId: str,
    caller: CallerDep,
    deps: DepsDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> Page[EnrolmentView]:
    """A learner's batches (their enrolment documents), a page at a time."""
    require_self_or_admin(caller, userId, "list this learner's batches")
    listing = f"batches of\n{userId}"
    after = decode_cursor(cursor, listing, lambda position: isinstance(position, str))
    found = await deps.stores.reads.enrolments_of_user(userId, after, limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return Page(
        items=[enrolment_view(d) for d in page],
        nextCursor=encode_cursor(listing, page[-1].key) if more else None,
    )
