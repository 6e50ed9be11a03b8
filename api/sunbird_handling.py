"""One Sunbird request handled: the caller authenticated (from `x-authenticated-user-token`,
as Sunbird's clients send it, or `Authorization: Bearer`) and rate-limited, the body read as
`{"request": {...}}`, the work done, and every answer, failures included, in Sunbird's
envelope."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse

from api.auth import Caller
from api.deps import ApiDeps, deps_of, limited_caller
from api.problems import INTERNAL_ERROR, Problem, problem_of
from api.sunbird import sunbird_error, sunbird_ok

__all__ = ["Work", "handle"]

log = structlog.get_logger("batch_service.api")

Work = Callable[[Caller, ApiDeps, dict[str, Any]], Awaitable[dict[str, Any]]]


async def handle(api_id: str, request: Request, work: Work, body: bool = True) -> JSONResponse:
    """Authenticate, read `{"request": {...}}`, do the work; every failure as Sunbird says it."""
    deps = deps_of(request)
    try:
        token = request.headers.get("x-authenticated-user-token")
        header = f"Bearer {token}" if token else request.headers.get("authorization")
        caller = await limited_caller(request, deps, header)
        payload = await _payload(request) if body else {}
        return sunbird_ok(api_id, request, await work(caller, deps, payload))
    except Exception as exc:  # every failure in the envelope; ours logged, without internals
        problem = problem_of(exc)
        if problem is None:
            log.error("request_failed", exc_info=exc)
            problem = INTERNAL_ERROR
        return sunbird_error(api_id, request, problem)


async def _payload(request: Request) -> dict[str, Any]:
    try:
        raw = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "invalid-request", "the body is not JSON") from None
    inner = raw.get("request") if isinstance(raw, dict) else None
    if not isinstance(inner, dict):
        missing = [{"field": "request", "message": "Field required"}]
        raise Problem(400, "invalid-request", 'the body must be {"request": {...}}', missing)
    return inner
