"""Errors as RFC 9457 problem details, with a stable `code` per rule and per-field `errors`.

Every answer that is not a success is `application/problem+json`:
`{"type", "title", "status", "detail", "code", "errors", "requestId"}`. A 500 never shows
internals: its detail is fixed, and the request id is what an operator looks up in the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from producers.validation import InvalidEvent
from schemas.event_data import error_fields
from services.errors import KafkaUnavailable, StoreRefusedValue, StoreUnavailable

__all__ = [
    "INTERNAL_ERROR",
    "PROBLEM_TYPE_BASE",
    "Problem",
    "RoutingAnswer",
    "install_problem_handlers",
    "problem_of",
    "problem_response",
]

log = structlog.get_logger("batch_service.api")
PROBLEM_TYPE_BASE = "https://batch-service.local/problems/"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    """An answer other than success: the status, a stable code, and what to tell the caller."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.errors = errors or []
        self.headers = headers or {}


INTERNAL_ERROR = Problem(
    500, "internal-error", "the service failed to answer; the request id identifies it in the log"
)


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    """The problem as the HTTP answer."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.code,
        "title": _TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        "errors": problem.errors,
        "requestId": getattr(request.state, "request_id", None),
    }
    return JSONResponse(
        body,
        status_code=problem.status,
        headers=problem.headers,
        media_type="application/problem+json",
    )


def _field_errors(
    errors: Sequence[Mapping[str, Any]], skip: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """Pydantic's errors as `{field, message}`: a rule over several fields (dates or capacities
    out of order) gives one error per field it names, not one for the whole body."""
    return [
        {"field": field or "(body)", "message": e["msg"]}
        for e in errors
        for field in error_fields(e, ".".join(str(p) for p in e["loc"] if p not in skip))
    ]


def _refused_value_problem(exc: StoreRefusedValue) -> Problem:
    """The 400 for a value the database cannot hold (a NUL character, a lone surrogate): no
    identifier or text may hold one, so the request was malformed."""
    log.info("value_refused_by_store", error=str(exc)[:300])
    detail = "a value of the request holds a character no identifier or text may hold"
    return Problem(400, "invalid-request", detail)


def _allowed(request: Request) -> str:
    """The methods the path takes, over every route that serves it (a 405's `Allow`, RFC 9110:
    Starlette's names those of the first such route only). `app.state.route_methods` holds the
    routes' patterns and methods (`create_app` sets it)."""
    path = request.url.path
    routes = getattr(request.app.state, "route_methods", ())
    methods = {m for pattern, ms in routes if pattern.match(path) for m in ms}
    return ", ".join(sorted(methods - {"HEAD"}))


def _unavailable_problem(exc: StoreUnavailable | KafkaUnavailable) -> Problem:
    """The 503 for a dependency that cannot be reached (logged), saying whether the command
    may still take effect."""
    which = "MongoDB" if isinstance(exc, StoreUnavailable) else "Kafka"
    log.warning("dependency_unavailable", dependency=which, error=str(exc)[:300])
    if which == "Kafka":
        # A send Kafka did not acknowledge in time may still be delivered when it returns.
        detail = (
            "Kafka did not acknowledge the event in time; it may still take effect. Repeat "
            "the call with the same Idempotency-Key: the same event, folded once"
        )
    else:
        detail = "MongoDB cannot be reached; nothing was changed, try again"
    return Problem(503, "unavailable", detail, headers={"Retry-After": "5"})


def problem_of(exc: Exception) -> Problem | None:
    """The problem an error the API meets makes; None for a failure of ours (answered as
    `INTERNAL_ERROR`, its cause logged). One mapping for the native answers and Sunbird's."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, RequestValidationError):
        errors = _field_errors(exc.errors(), skip=("body",))
        return Problem(400, "invalid-request", "the request is not valid", errors)
    if isinstance(exc, ValidationError):  # a model validated in a route (Sunbird's bodies)
        return Problem(400, "invalid-request", "invalid request", _field_errors(exc.errors()))
    if isinstance(exc, InvalidEvent):
        return Problem(400, "invalid-event", str(exc), exc.errors)
    if isinstance(exc, StoreRefusedValue):
        return _refused_value_problem(exc)
    if isinstance(exc, (StoreUnavailable, KafkaUnavailable)):
        return _unavailable_problem(exc)
    return None


# What the native app answers through `problem_of` (a pydantic error inside a route is a
# failure of ours there: its requests are validated by FastAPI first).
_MAPPED = (
    Problem,
    RequestValidationError,
    InvalidEvent,
    StoreRefusedValue,
    StoreUnavailable,
    KafkaUnavailable,
)

RoutingAnswer = Callable[[Request, Problem], JSONResponse]


def install_problem_handlers(
    app: FastAPI, routing_answers: Sequence[tuple[str, RoutingAnswer]] = ()
) -> None:
    """Every error the app can meet becomes a problem answer. `routing_answers`: path prefixes
    whose routing errors (no such route, a method the route does not take) another answer
    writes (Sunbird's paths, in Sunbird's envelope)."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        problem = problem_of(exc)
        assert problem is not None  # registered for the types `problem_of` maps only
        return problem_response(request, problem)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = "no such route" if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request) or headers.get("Allow", "")
        problem = Problem(exc.status_code, code, detail, headers=headers)
        for prefix, answer in routing_answers if exc.status_code in (404, 405) else ():
            if request.url.path.startswith(prefix):
                return answer(request, problem)
        return problem_response(request, problem)

    for mapped in _MAPPED:
        app.add_exception_handler(mapped, on_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
