"""Comparing what the service stored and published with what the pure fold says."""

from __future__ import annotations

import json
import uuid
from typing import Any

from schemas.documents import BatchDoc, EnrolmentDoc
from testkit.world import World

__all__ = ["assert_documents_exact", "certificate_id", "certificate_ids_of"]

NAMESPACE = uuid.UUID("6f1c1c0e-7c3b-4f7e-9a57-0c4d2b0f9e11")  # contract 4, written out again
_VOLATILE = {"rev", "outbox"}


def certificate_id(batch_id: str, user_id: str, template_id: str) -> str:
    """Contract 4's id, computed here independently of the service's code."""
    return str(uuid.uuid5(NAMESPACE, f"{batch_id}\n{user_id}\n{template_id}"))


def certificate_ids_of(records: list[Any]) -> list[str]:
    """The ids of certificate-eligibility records, in arrival order (repeats kept)."""
    return [json.loads(r.value)["id"] for r in records]


def assert_documents_exact(docs: dict[str, dict[str, dict[str, Any]]], world: World) -> None:
    """Every enrolment and batch document equals the pure fold's (counts included)."""
    stored = {k: EnrolmentDoc.model_validate(v) for k, v in docs["enrolments"].items()}
    assert set(stored) == set(world.enrolments), "enrolment documents differ in which exist"
    for key, expected in world.enrolments.items():
        got = stored[key].model_dump(exclude=_VOLATILE)
        assert got == expected.model_dump(exclude=_VOLATILE), f"enrolment {key!r} differs"
        assert stored[key].outbox == [], f"enrolment {key!r} still has unpublished events"
        for cert in stored[key].certificates:
            assert cert.eventId == certificate_id(got["batchId"], got["userId"], cert.templateId)
    batches = {k: BatchDoc.model_validate(v) for k, v in docs["batches"].items()}
    assert set(batches) == set(world.batches)
    skip = _VOLATILE
    for key, counted in world.counted().items():
        assert batches[key].model_dump(exclude=skip) == counted.model_dump(exclude=skip), key
