"""What the routes need, built by the composition root and handed to `create_app`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from api.auth import Authenticator, Caller
from api.problems import Problem
from api.ratelimit import RateLimiter
from producers.sdk import BatchEventPublisher
from schemas.types import is_identifier
from services.ports import Clock, Stores
from services.settings import Settings

__all__ = [
    "ApiDeps",
    "CallerDep",
    "DepsDep",
    "IdempotencyKey",
    "authenticated",
    "deps_of",
    "limited_caller",
]


@dataclass
class ApiDeps:
    """The API's collaborators: the stores it reads, the publisher its commands go through
    (the SDK: the same validation as any publisher), the clock, auth and the rate limit."""

    settings: Settings
    stores: Stores
    commands: BatchEventPublisher
    clock: Clock
    authenticator: Authenticator
    limiter: RateLimiter


def deps_of(request: Request) -> ApiDeps:
    """The app's ApiDeps."""
    deps: ApiDeps = request.app.state.deps
    return deps


DepsDep = Annotated[ApiDeps, Depends(deps_of)]


async def authenticated(
    request: Request, deps: DepsDep, authorization: Annotated[str | None, Header()] = None
) -> Caller:
    """The caller, authenticated, then counted against the rate limit."""
    return await limited_caller(request, deps, authorization)


async def limited_caller(request: Request, deps: ApiDeps, authorization: str | None) -> Caller:
    """The caller of this `Authorization` header, counted against the rate limit: per caller,
    or per address while authentication is disabled (every call is then the same admin)."""
    caller = deps.authenticator.caller(authorization)
    who = caller.user_id if not deps.authenticator.disabled else _client(request)
    await deps.limiter.check(who)
    _check_identifiers(request)
    return caller


# Query parameters that name a document (a path's parameters all do).
_ID_QUERY = ("batchId", "courseId", "userId")


def _check_identifiers(request: Request) -> None:
    """400 for an id in the path or the query that cannot be an identifier (contract 1): it
    names nothing, and the same answer on every server (FerretDB cannot even look one with a
    NUL character up)."""
    given = [*request.path_params.items(), *request.query_params.multi_items()]
    errors = [
        {"field": name, "message": "must be 1-256 characters without control characters"}
        for name, value in given
        if (name in request.path_params or name in _ID_QUERY) and not is_identifier(value)
    ]
    if errors:
        raise Problem(400, "invalid-request", "an identifier is not valid", errors)


def _client(request: Request) -> str:
    """Without authentication, callers are told apart by address."""
    return f"address:{request.client.host}" if request.client else "address:unknown"


CallerDep = Annotated[Caller, Depends(authenticated)]

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=256)
]
"""A command's `Idempotency-Key` header: absent, or 1-256 characters (an empty one is a 400,
not a key: it would make every retry of every keyless command the same request)."""
