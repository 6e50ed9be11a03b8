"""From a command to an event: its id (stable under an `Idempotency-Key`), its envelope,
publication through the SDK, and `?wait=S`: until the fold has it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from api.auth import Caller
from api.deps import ApiDeps
from api.problems import Problem
from schemas.documents import BatchDoc, EnrolmentDoc, enrolment_key
from schemas.events import (
    BatchCancelled,
    BatchCreated,
    BatchUpdated,
    CoursePublished,
    Event,
    LearnerEvent,
    event_adapter,
)
from schemas.outbound import CERTIFICATE_NAMESPACE
from schemas.types import format_time
from services.domain import add_fact

__all__ = [
    "batch_applied",
    "batch_location",
    "check_wait",
    "enrolment_location",
    "event_id",
    "folded_batch_event",
    "folded_learner_event",
    "kept",
    "publish",
    "publish_learner",
    "wait_until",
]

SOURCE = "batch-service-api"
_POLL_S = 0.1


def event_id(caller: Caller, key: str | None, index: int | None = None) -> str:
    """A new id, or, with an `Idempotency-Key`, the same id for the same key and caller: a
    retried request then causes one effect (the fold dedupes by id)."""
    if key is None:
        return str(uuid.uuid4())
    name = f"idempotency\n{caller.user_id}\n{key}" + ("" if index is None else f"\n{index}")
    return str(uuid.uuid5(CERTIFICATE_NAMESPACE, name))


async def kept(
    deps: ApiDeps, caller: Caller, key: str | None, request: object, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The events to publish for a command: these, or, for a command repeated with the same
    `Idempotency-Key` by the same caller, the ones its first attempt was answered with (their
    `time` included: a retry is the same event, not a copy sent later). 422 when the key was
    used for another request (`request`: what the command asked, compared by digest)."""
    if key is None:
        return events
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
    expire_at = time.time() + deps.settings.api_idempotency_ttl_s
    first, answer = await deps.stores.idempotency.claim(
        event_id(caller, key), digest, events, expire_at
    )
    if first != digest:
        raise Problem(
            422,
            "idempotency-key-reused",
            "this Idempotency-Key was used for another request: use a new key for a new request",
        )
    return answer


def envelope(event_type: str, event_id: str, data: Mapping[str, Any], when: str) -> dict[str, Any]:
    """A CloudEvents envelope from the API."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "time": when,
        "type": event_type,
        "data": dict(data),
    }


async def publish(deps: ApiDeps, event: dict[str, Any]) -> Event:
    """Validate (400 with the fields that break the contract) and publish; the parsed event."""
    prepared = deps.commands.validate(event)
    await deps.commands.publish(event)
    return event_adapter.validate_json(prepared.value)


async def publish_learner(deps: ApiDeps, event: dict[str, Any]) -> LearnerEvent:
    """`publish` for a learner event."""
    parsed = await publish(deps, event)
    if isinstance(parsed, (CoursePublished, BatchCreated, BatchUpdated, BatchCancelled)):
        raise AssertionError(f"{parsed.type} is not a learner event")
    return parsed


def now_text(deps: ApiDeps) -> str:
    """The API's clock, as an event `time`."""
    return format_time(deps.clock.now())


def check_wait(deps: ApiDeps, wait: float | None) -> float:
    """Seconds to wait for the fold (0: answer at once); 400 beyond the maximum."""
    if wait is None:
        return 0.0
    if not 0 <= wait <= deps.settings.api_wait_max_s:  # NaN too: it compares false
        top = deps.settings.api_wait_max_s
        raise Problem(
            400,
            "invalid-wait",
            f"wait must be 0..{top:g} seconds",
            [{"field": "wait", "message": f"0..{top:g}"}],
        )
    return wait


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    """Poll until `check` holds (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while True:
        if await check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)


def folded_batch_event(
    deps: ApiDeps, batch_id: str, event_id: str
) -> Callable[[], Awaitable[bool]]:
    """`batch_applied`, on the batch as it is at each check."""

    async def check() -> bool:
        batch = (await deps.stores.documents.get_batches([batch_id])).get(batch_id)
        return await batch_applied(deps, batch_id, batch, event_id)

    return check


async def batch_applied(
    deps: ApiDeps, batch_id: str, batch: BatchDoc | None, event_id: str
) -> bool:
    """Whether the batch (`batch`: as read) has applied (or refused) the event: named by the
    batch's latest save (the markers follow it) or by its marker."""
    if batch is not None and event_id in batch.appliedEvents:
        return True
    return bool(await deps.stores.documents.applied_batch_events(batch_id, [event_id]))


def folded_learner_event(deps: ApiDeps, event: LearnerEvent) -> Callable[[], Awaitable[bool]]:
    """Whether the learner's document holds the fact (adding it again would change nothing)."""
    key = enrolment_key(event.data.batchId, event.data.userId)

    async def check() -> bool:
        doc = (await deps.stores.documents.get_enrolments([key])).get(key)
        return doc is not None and _holds(doc, event)

    return check


def _holds(doc: EnrolmentDoc, event: LearnerEvent) -> bool:
    return add_fact(doc.facts, event) == doc.facts


def batch_location(batch_id: str) -> str:
    return f"/v1/batches/{quote(batch_id, safe='')}"


def enrolment_location(batch_id: str, user_id: str) -> str:
    return f"{batch_location(batch_id)}/enrolments/{quote(user_id, safe='')}"
