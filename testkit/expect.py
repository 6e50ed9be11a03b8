"""Comparing what the service stored and published with what the pure fold says.

Documents are compared exactly, except for what the contract lets depend on arrival: the
status latch (`announcedStatuses`: "a status reached and left between two folds may never be
announced") and, for retracting streams, the certificates (the caller decides). For the
statuses the check is the contract's own: each learner's current status is announced, and
what the topic carries is exactly what the documents latched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from schemas.documents import BatchDoc, EnrolmentDoc
from testkit.world import World

__all__ = [
    "NAMESPACE",
    "assert_documents_exact",
    "assert_status_events",
    "certificate_id",
    "certificate_ids_of",
    "current_status_ids",
    "status_event_id",
]

NAMESPACE = uuid.UUID("6f1c1c0e-7c3b-4f7e-9a57-0c4d2b0f9e11")  # contract 4, written out again
_VOLATILE = {"rev", "outbox", "outboxSince", "announcedStatuses", "appliedEvents"}
_ANNOUNCED_AS = {"enrolled": "seated", "waitlisted": "waitlisted", "refused": "refused"}


def certificate_id(batch_id: str, user_id: str, template_id: str) -> str:
    """Contract 4's id, computed here independently of the service's code."""
    return str(uuid.uuid5(NAMESPACE, f"{batch_id}\n{user_id}\n{template_id}"))


def status_event_id(batch_id: str, user_id: str, status: str, opening_event_id: str) -> str:
    """Contract 7's id, computed here independently of the service's code."""
    name = f"{batch_id}\n{user_id}\n{status}\n{opening_event_id}"
    return str(uuid.uuid5(NAMESPACE, name))


def certificate_ids_of(records: list[Any]) -> list[str]:
    """The ids of announcement records (certificate or status), in arrival order."""
    return [json.loads(r.value)["id"] for r in records]


def current_status_ids(docs: Iterable[EnrolmentDoc]) -> set[str]:
    """The status events the contract requires for the learners as they are now: their
    current status, announced (whatever was reached and left before it may or may not be)."""
    wanted = set()
    for doc in docs:
        status = _ANNOUNCED_AS.get(doc.enrolmentStatus)
        opening = _opening_of(doc)
        if status is not None and opening is not None:
            wanted.add(status_event_id(doc.batchId, doc.userId, status, opening))
    return wanted


def _opening_of(doc: EnrolmentDoc) -> str | None:
    if doc.request is not None:
        return doc.request.eventId
    if doc.enrolmentStatus == "refused":  # a refusal without request: the created refused
        latest = max(doc.facts.enrolments, key=lambda f: (f.time, f.id))
        return latest.id
    return None


def assert_documents_exact(
    docs: dict[str, dict[str, dict[str, Any]]], world: World, *, certificates: bool = True
) -> None:
    """Every enrolment and batch document equals the pure fold's (counts included), the
    status latch aside (see the module); `certificates=False` sets the certificates aside
    too (a retracting stream)."""
    skip = _VOLATILE if certificates else _VOLATILE | {"certificates"}
    stored = {k: EnrolmentDoc.model_validate(v) for k, v in docs["enrolments"].items()}
    assert set(stored) == set(world.enrolments), "enrolment documents differ in which exist"
    for key, expected in world.enrolments.items():
        got = stored[key].model_dump(exclude=skip)
        assert got == expected.model_dump(exclude=skip), f"enrolment {key!r} differs"
        assert stored[key].outbox == [], f"enrolment {key!r} still has unpublished events"
        for cert in stored[key].certificates:
            assert cert.eventId == certificate_id(got["batchId"], got["userId"], cert.templateId)
        latched = {a.eventId for a in stored[key].announcedStatuses}
        assert current_status_ids([stored[key]]) <= latched, f"{key!r}: status not announced"
    batches = {k: BatchDoc.model_validate(v) for k, v in docs["batches"].items()}
    assert set(batches) == set(world.batches)
    for key, counted in world.counted().items():
        got, want = batches[key].model_dump(exclude=skip), counted.model_dump(exclude=skip)
        assert got == want, f"batch {key!r} differs: " + ", ".join(
            f"{f} {got.get(f)!r} (want {want.get(f)!r})" for f in sorted(want) if got[f] != want[f]
        )


def assert_status_events(
    published: Iterable[str], docs: dict[str, dict[str, dict[str, Any]]], world: World
) -> None:
    """The enrolment-status ids on the topic (as a set) are exactly those the stored documents
    latched, and include every learner's current status as the pure fold has it."""
    stored = [EnrolmentDoc.model_validate(v) for v in docs["enrolments"].values()]
    latched = {a.eventId for d in stored for a in d.announcedStatuses}
    ids = set(published)
    assert ids == latched, (
        f"{len(ids - latched)} published but not latched, {len(latched - ids)} latched but "
        "not published"
    )
    missing = current_status_ids(world.enrolments.values()) - ids
    assert not missing, f"{len(missing)} current statuses were never announced"
