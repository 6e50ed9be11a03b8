"""`POST /v1/progress`: a learner's progress, completions and assessments (contract 9)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.access import require_self_or_admin
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
from api.deps import CallerDep, DepsDep, IdempotencyKey
from api.problems import Problem
from api.requests import ProgressRequest
from api.views import ProgressAccepted, enrolment_view
from producers.validation import InvalidEvent
from schemas.documents import enrolment_key

__all__ = ["router"]

router = APIRouter(tags=["progress"])
_ENVELOPE = ("type", "id", "time")


@router.post(
    "/v1/progress",
    status_code=202,
    response_model=ProgressAccepted,
    responses={200: {"model": ProgressAccepted}},
)
async def report_progress(
    body: ProgressRequest,
    caller: CallerDep,
    deps: DepsDep,
    key: IdempotencyKey = None,
    wait: Annotated[float | None, Query(description="seconds to wait for the fold")] = None,
) -> Response:
    """Learner events; each item is its `type`, its `data` fields, an optional `id` and
    `time` (default: now). A learner reports for themselves; an admin for anyone."""
    seconds = check_wait(deps, wait)
    for item in body.events:
        require_self_or_admin(caller, item.userId, f"report progress for {item.userId!r}")
    batch_ids = {item.batchId for item in body.events}
    known = await deps.stores.documents.get_batches(batch_ids)
    if unknown := sorted(batch_ids - set(known)):
        errors = [{"field": "events.batchId", "message": f"no batch {b!r}"} for b in unknown]
        raise Problem(404, "unknown-batch", f"no batch {unknown[0]!r}", errors)
    events = []
    for index, item in enumerate(body.events):
        data = item.model_dump(mode="json", exclude={*_ENVELOPE})
        the_id = item.id or event_id(caller, key, index)
        event = envelope(item.type, the_id, data, item.time or now_text(deps))
        try:
            deps.commands.validate(event)
        except InvalidEvent as exc:  # name the item: the caller sent a list
            fields = [{**e, "field": f"events[{index}].{e['field']}"} for e in exc.errors]
            raise InvalidEvent(f"events[{index}]: {exc}", fields) from exc
        events.append(event)
    request = {"command": "progress", **body.model_dump(mode="json")}
    published = [
        await publish_learner(deps, e) for e in await kept(deps, caller, key, request, events)
    ]
    checks = [folded_learner_event(deps, e) for e in published]

    async def all_folded() -> bool:
        return all([await check() for check in checks])

    documents = []
    if seconds and await wait_until(all_folded, seconds):
        keys = list(dict.fromkeys(enrolment_key(e.data.batchId, e.data.userId) for e in published))
        found = await deps.stores.documents.get_enrolments(keys)
        documents = [enrolment_view(found[k]) for k in keys if k in found]
    first = published[0].data
    answer = ProgressAccepted(ids=[e.id for e in published], documents=documents)
    return JSONResponse(
        answer.model_dump(mode="json"),
        status_code=200 if documents else 202,
        headers={"Location": enrolment_location(first.batchId, first.userId)},
    )
