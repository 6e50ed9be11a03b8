"""Sunbird Lern's course-batch routes, mapped onto the same commands and reads as the native
API: a Sunbird client switches its base URL and keeps its requests (`{"request": {...}}`),
its envelope and its error codes. The token comes as `Authorization: Bearer` or, as Sunbird's
clients send it, `x-authenticated-user-token`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import routes_batches as batches
from api import routes_enrolments as enrolments
from api.access import may_manage, require
from api.auth import Caller
from api.deps import ApiDeps
from api.problems import Problem, problem_of
from api.requests import BatchCreateRequest, BatchPatchRequest, EnrolRequest, ProgressRequest
from api.routes_progress import report_progress
from api.sunbird_handling import handle
from api.sunbird_progress import progress_events
from api.sunbird_search import search_batches
from api.sunbird_views import batch_of, content_states, course_of
from schemas.documents import BatchDoc
from services.domain import batch_status

__all__ = ["router"]

router = APIRouter(tags=["sunbird"], include_in_schema=True)
_EXTRA = {"x-sunbird": True}
# Sunbird writes before it answers: a client reads, or enrols in, what it just wrote. So a
# write here answers once the service has folded it, or after this many seconds (then still
# SUCCESS: the event is accepted and will be folded, as a native 202 says).
SUNBIRD_WRITE_WAIT_S = 10.0


def _check_dates(fields: dict[str, Any]) -> None:
    """Sunbird's codes for dates out of order at creation (`YYYY-MM-DD` strings order as the
    days do; anything else is left to the request's validation)."""
    start, end, enrol_end = (fields.get(k) for k in ("startDate", "endDate", "enrollmentEndDate"))
    if not isinstance(start, str):
        return
    if isinstance(end, str) and end < start:
        raise Problem(400, "dates-out-of-order", "endDate must not be before startDate")
    if isinstance(enrol_end, str) and enrol_end < start:
        raise Problem(
            400, "enrolment-end-before-start", "enrollmentEndDate must not be before startDate"
        )
    if isinstance(enrol_end, str) and isinstance(end, str) and enrol_end > end:
        raise Problem(400, "enrolment-end-after-end", "enrollmentEndDate must not be after endDate")


_MANDATORY = ("courseId", "name", "enrollmentType", "startDate")  # of a create


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


async def _batch_of_course(deps: ApiDeps, batch_id: str, course: Any) -> BatchDoc:
    """The batch, found as Sunbird finds one: by its id and, when a `courseId` is given, its
    course (another course's batch is unknown: `INVALID_COURSE_BATCH_ID`)."""
    batch = await batches.load_batch(deps, batch_id)
    if isinstance(course, str) and course != batch.courseId:
        raise Problem(404, "unknown-batch", f"no batch {batch_id!r} of course {course!r}")
    return batch


def _applied(deps: ApiDeps) -> float:
    """The `wait` of a write: answered once it is folded (bounded by the API's maximum)."""
    return min(SUNBIRD_WRITE_WAIT_S, deps.settings.api_wait_max_s)


@router.post("/v1/course/batch/create", openapi_extra=_EXTRA)
async def create(request: Request) -> JSONResponse:
    """Sunbird's batch create: `courseId`, `name`, `enrollmentType`, `startDate` required."""

    async def work(caller: Caller, deps: ApiDeps, req: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in req.items() if k in BatchCreateRequest.model_fields}
        # Sunbird checks its mandatory parameters as not blank: "" or "  " is missing.
        fields = {k: v for k, v in fields.items() if not (k in _MANDATORY and _blank(v))}
        _check_dates(fields)
        fields["mentors"] = fields.get("mentors") or []
        fields["batchId"] = fields.get("batchId") or str(uuid.uuid4())
        body = BatchCreateRequest.model_validate(fields)
        await batches.create_batch(body, caller, deps, None, _applied(deps))
        return {"response": "SUCCESS", "batchId": fields["batchId"]}

    return await handle("api.course.batch.create", request, work)


@router.patch("/v1/course/batch/update", openapi_extra=_EXTRA)
async def update(request: Request) -> JSONResponse:
    """Sunbird's batch update: `id` is the batchId."""

    async def work(caller: Caller, deps: ApiDeps, req: dict[str, Any]) -> dict[str, Any]:
        batch_id = req.get("id") or req.get("batchId")
        if not isinstance(batch_id, str):
            raise Problem(
                400,
                "invalid-request",
                "id is required",
                [{"field": "id", "message": "Field required"}],
            )
        batch = await _batch_of_course(deps, batch_id, req.get("courseId"))
        fields = {
            k: v
            for k, v in req.items()
            if k in BatchPatchRequest.model_fields and k not in ("batchId", "courseId")
        }
        fields = {k: v for k, v in fields.items() if getattr(batch, k, None) != v}
        body = BatchPatchRequest.model_validate(fields)
        await batches.update_batch(batch_id, body, caller, deps, None, _applied(deps))
        return {"response": "SUCCESS"}

    return await handle("api.course.batch.update", request, work)


@router.get("/v1/course/batch/read/{batchId}", openapi_extra=_EXTRA)
async def read(batchId: str, request: Request) -> JSONResponse:
    """A batch, Sunbird-shaped (status 0 upcoming, 1 ongoing, 2 completed)."""

    async def work(caller: Caller, deps: ApiDeps, _: dict[str, Any]) -> dict[str, Any]:
        view = await batches.read_batch(batchId, caller, deps)
        return {"response": batch_of(view)}

    return await handle("api.course.batch.read", request, work, body=False)


@router.post("/v1/course/batch/search", openapi_extra=_EXTRA)
async def search(request: Request) -> JSONResponse:
    """Batches by `filters.courseId`, `filters.status` (0, 1, 2) and `filters.enrollmentType`
    (each a value or a list, a status a number or a numeric string, as Sunbird's clients send
    them), from `offset`, up to `limit` (at most 100); `count` is how many match in all, exact
    up to 10,000."""

    return await handle("api.course.batch.search", request, search_batches)


async def _enrol_or_leave(
    caller: Caller, deps: ApiDeps, req: dict[str, Any], enrol: bool
) -> dict[str, Any]:
    batch_id, user_id = req.get("batchId"), req.get("userId") or caller.user_id
    if not isinstance(batch_id, str) or not isinstance(user_id, str):
        raise Problem(
            400,
            "invalid-request",
            "batchId and userId are required",
            [{"field": "batchId", "message": "Field required"}],
        )
    batch = await _batch_of_course(deps, batch_id, req.get("courseId"))
    if batch.cancelled:
        raise Problem(422, "batch-cancelled", "the batch is cancelled")
    # Sunbird checks the enrolment type before whether the batch is over.
    self_invited = batch.enrollmentType == "invite-only" and caller.user_id == user_id
    if not (enrol and self_invited) and batch_status(batch, deps.clock.now()) == "completed":
        raise Problem(422, "batch-over", "the batch is over")
    if enrol:
        await enrolments.enrol(
            batch_id, EnrolRequest(userId=user_id), caller, deps, None, _applied(deps)
        )
    else:
        await enrolments.unenrol(batch_id, user_id, caller, deps, None, _applied(deps))
    return {"response": "SUCCESS"}


@router.post("/v1/course/enroll", openapi_extra=_EXTRA)
async def enroll(request: Request) -> JSONResponse:
    """Sunbird's enrol: `courseId`, `batchId`, `userId`."""
    return await handle(
        "api.course.enroll", request, lambda c, d, r: _enrol_or_leave(c, d, r, True)
    )


@router.post("/v1/course/unenroll", openapi_extra=_EXTRA)
async def unenroll(request: Request) -> JSONResponse:
    """Sunbird's unenrol."""
    return await handle(
        "api.course.unenroll", request, lambda c, d, r: _enrol_or_leave(c, d, r, False)
    )


@router.get("/v1/user/courses/list/{userId}", openapi_extra=_EXTRA)
@router.get("/v2/user/courses/list/{userId}", openapi_extra=_EXTRA)
async def courses(userId: str, request: Request) -> JSONResponse:
    """A learner's active enrolments (holding a seat: Sunbird lists its `active` ones),
    Sunbird-shaped, all of them (v2, which newer Sunbird clients call, answers the same)."""

    async def work(caller: Caller, deps: ApiDeps, _: dict[str, Any]) -> dict[str, Any]:
        active: list[Any] = []
        cursor: str | None = None
        while True:
            page = await enrolments.users_batches(userId, caller, deps, cursor, 100)
            active += [e for e in page.items if e.enrolled]
            if (cursor := page.nextCursor) is None:
                break
        found = await deps.stores.documents.get_batches({e.batchId for e in active})
        now = deps.clock.now()
        return {"courses": [course_of(e, found.get(e.batchId), now) for e in active]}

    return await handle("api.user.courses.list", request, work, body=False)


@router.post("/v1/content/state/read", openapi_extra=_EXTRA)
async def state_read(request: Request) -> JSONResponse:
    """Per content: status (2 completed, 1 in progress), progress and times."""

    async def work(caller: Caller, deps: ApiDeps, req: dict[str, Any]) -> dict[str, Any]:
        batch_id, user_id = req.get("batchId"), req.get("userId") or caller.user_id
        if not isinstance(batch_id, str) or not isinstance(user_id, str):
            raise Problem(
                400,
                "invalid-request",
                "batchId and userId are required",
                [{"field": "batchId", "message": "Field required"}],
            )
        try:
            doc = await enrolments.learner(batch_id, user_id, caller, deps)
        except Problem as problem:
            if problem.code != "unknown-learner":
                raise
            return {"contentList": []}  # Sunbird: no consumption recorded yet
        course_id = req.get("courseId")
        if isinstance(course_id, str) and doc.courseId not in (None, course_id):
            return {"contentList": []}  # Sunbird keys consumption by course too: none there
        wanted = req.get("contentIds") if isinstance(req.get("contentIds"), list) else None
        return {"contentList": content_states(doc, wanted)}

    return await handle("api.content.state.read", request, work)


@router.patch("/v1/content/state/update", openapi_extra=_EXTRA)
async def state_update(request: Request) -> JSONResponse:
    """Sunbird's progress update: `contents` (status 2: completed) and `assessments`."""

    async def work(caller: Caller, deps: ApiDeps, req: dict[str, Any]) -> dict[str, Any]:
        user_id = req.get("userId") or caller.user_id
        progress = progress_events(req, str(user_id))
        if not progress.events:
            return progress.answers
        try:
            await report_progress(
                ProgressRequest.model_validate({"events": progress.events}),
                caller,
                deps,
                None,
                _applied(deps),
            )
        except Exception as exc:  # the problem's fields named as the client sent them
            problem = problem_of(exc)
            if problem is None:
                raise
            raise progress.in_request_terms(problem) from exc
        return progress.answers

    return await handle("api.content.state.update", request, work)


@router.post("/v1/batch/participants/list", openapi_extra=_EXTRA)
async def participants(request: Request) -> JSONResponse:
    """The learners of a batch: `active` true (the default) those holding a seat, false the
    others (left, waiting or refused), as Sunbird filters its rows on `active`."""

    async def work(caller: Caller, deps: ApiDeps, req: dict[str, Any]) -> dict[str, Any]:
        batch = req.get("batch") if isinstance(req.get("batch"), dict) else {}
        batch_id = batch.get("batchId")  # type: ignore[union-attr]
        if not isinstance(batch_id, str):
            raise Problem(
                400,
                "invalid-request",
                "batch.batchId is required",
                [{"field": "batch.batchId", "message": "Field required"}],
            )
        active = batch.get("active", True) is not False  # type: ignore[union-attr]
        found = await batches.load_batch(deps, batch_id)
        require(may_manage(caller, found), "list this batch's learners")
        roster = await deps.stores.documents.enrolments_of_batch(batch_id)
        users = sorted(d.userId for d in roster if d.enrolled == active)
        return {"batch": {"count": len(users), "participants": users}}

    return await handle("api.batch.participants.list", request, work)
