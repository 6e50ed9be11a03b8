"""Sunbird Lern's envelope and error codes, so that its clients can switch their base URL.

Requests come wrapped as `{"request": {...}}`; answers as `{"id", "ver", "ts", "params":
{"resmsgid", "msgid", "err", "status", "errmsg"}, "responseCode", "result"}`. Our problems
map onto Sunbird's codes (`USER_ALREADY_ENROLLED_COURSE`, ...) and HTTP statuses (400 for
client errors, 401 for an unauthorised user, 404, 500)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from api.problems import Problem

__all__ = [
    "SUNBIRD_CODES",
    "SUNBIRD_PATHS",
    "sunbird_error",
    "sunbird_ok",
    "sunbird_routing_error",
    "sunbird_time",
]

# Where Sunbird's routes live (the native API's are `/v1/batches`, `/v1/users`, `/v1/progress`).
SUNBIRD_PATHS = ("/v1/course/", "/v1/user/", "/v2/user/", "/v1/content/", "/v1/batch/")

# Our problem code -> (Sunbird's code, HTTP status).
SUNBIRD_CODES: dict[str, tuple[str, int]] = {
    "unknown-batch": ("INVALID_COURSE_BATCH_ID", 400),
    "batch-cancelled": ("INVALID_COURSE_BATCH_ID", 400),
    "invite-only": ("ENROLLMENT_TYPE_VALIDATION", 400),
    "enrolment-closed": ("COURSE_BATCH_ENROLLMENT_DATE_ENDED", 400),
    "already-enrolled": ("USER_ALREADY_ENROLLED_COURSE", 400),
    "batch-full": ("COURSE_BATCH_FULL", 400),
    "not-enrolled": ("USER_NOT_ENROLLED_COURSE", 400),
    "learner-completed": ("COURSE_BATCH_ALREADY_COMPLETED", 400),
    "batch-over": ("COURSE_BATCH_ALREADY_COMPLETED", 400),
    "batch-started": ("INVALID_BATCH_START_DATE_ERROR", 400),
    "batch-completed": ("COURSE_BATCH_END_DATE_ERROR", 400),
    "dates-out-of-order": ("END_DATE_ERROR", 400),
    "enrolment-end-before-start": ("ENROLLMENT_END_DATE_START_ERROR", 400),
    "enrolment-end-after-end": ("ENROLLMENT_END_DATE_END_ERROR", 400),
    "capacity-order": ("INVALID_PARAMETER_VALUE", 400),
    "capacity-below-seated": ("INVALID_PARAMETER_VALUE", 400),
    "course-immutable": ("INVALID_COURSE_ID", 400),
    "batch-exists": ("INVALID_PARAMETER_VALUE", 400),
    "unknown-learner": ("USER_NOT_ENROLLED_COURSE", 400),
    "forbidden": ("UNAUTHORIZED_USER", 401),
    "unauthenticated": ("UNAUTHORIZED_USER", 401),
    "invalid-token": ("UNAUTHORIZED_USER", 401),
    "token-expired": ("UNAUTHORIZED_USER", 401),
    "rate-limited": ("TOO_MANY_REQUESTS", 429),
    "unavailable": ("SERVICE_UNAVAILABLE", 503),
    "not-found": ("RESOURCE_NOT_FOUND", 404),
}
_RESPONSE_CODE = {
    200: "OK",
    400: "CLIENT_ERROR",
    401: "UNAUTHORIZED",
    404: "RESOURCE_NOT_FOUND",
    429: "CLIENT_ERROR",
    503: "SERVER_ERROR",
}


def sunbird_time(value: datetime) -> str:
    """A time as Sunbird writes it in its answers: `2020-11-23 06:42:39:001+0000` (UTC)."""
    utc = value.astimezone(UTC)
    day, clock = utc.isoformat(timespec="milliseconds").removesuffix("+00:00").split("T")
    return f"{day} {clock[:8]}:{clock[9:]}+0000"  # isoformat, unlike %Y, writes 0999


def _ts() -> str:
    return sunbird_time(datetime.now(UTC))


def _envelope(
    api_id: str,
    request: Request,
    status: int,
    err: str | None,
    errmsg: str | None,
    result: dict[str, Any],
) -> JSONResponse:
    body = {
        "id": api_id,
        "ver": "v1",
        "ts": _ts(),
        "params": {
            "resmsgid": str(uuid.uuid4()),
            "msgid": getattr(request.state, "request_id", None),
            "err": err,
            "status": "success" if err is None else err,
            "errmsg": errmsg,
        },
        "responseCode": _RESPONSE_CODE.get(status, "SERVER_ERROR"),
        "result": result,
    }
    return JSONResponse(body, status_code=status)


def sunbird_ok(api_id: str, request: Request, result: dict[str, Any]) -> JSONResponse:
    """A successful answer."""
    return _envelope(api_id, request, 200, None, None, result)


def sunbird_error(api_id: str, request: Request, problem: Problem) -> JSONResponse:
    """Our problem as Sunbird says it."""
    code, status = SUNBIRD_CODES.get(problem.code, ("", 0))
    if not code:
        code, status = _client_error(problem) if problem.status < 500 else ("SERVER_ERROR", 500)
    response = _envelope(api_id, request, status, code, _message(problem), {})
    response.headers.update(problem.headers)
    return response


def sunbird_routing_error(request: Request, problem: Problem) -> JSONResponse:
    """A path under Sunbird's that no route serves, or a method its route does not take:
    answered as Sunbird's router answers both, 404 `RESOURCE_NOT_FOUND` in the envelope, with
    `errmsg` naming the methods the path takes."""
    allowed = problem.headers.get("Allow")
    where = f"{request.method} {request.url.path}"
    detail = f"{where}: the path takes {allowed} only" if allowed else f"{where}: no such API"
    return sunbird_error("api.error", request, Problem(404, "not-found", detail))


def _client_error(problem: Problem) -> tuple[str, int]:
    missing = any("required" in e.get("message", "").lower() for e in problem.errors)
    return ("MANDATORY_PARAMETER_MISSING" if missing else "INVALID_PARAMETER_VALUE", 400)


def _message(problem: Problem) -> str:
    """`errmsg` as Sunbird words it, naming the first field at fault (its clients show it)."""
    if not problem.errors or problem.code not in ("invalid-request", "invalid-event"):
        return problem.detail
    first = problem.errors[0]
    field, message = first.get("field", ""), first.get("message", "")
    if "required" in message.lower():
        return f"Mandatory parameter {field} is missing."
    return f"Invalid value for {field}: {message}" if field else message
