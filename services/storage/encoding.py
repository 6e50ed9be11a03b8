"""The stored form of an enrolment document, and the same encoded as BSON for bulk loads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson

from schemas.documents import EnrolmentDoc
from services.storage.revisions import body_of

__all__ = ["encode_enrolments", "stored_enrolment"]


def stored_enrolment(doc: EnrolmentDoc) -> dict[str, Any]:
    """What is written for an enrolment: its fields, `_id`, the successor of its revision, and
    `hasOutbox` (indexed: the relay's and the outbox gauges' query)."""
    body = body_of(doc, doc.key)
    body["hasOutbox"] = bool(doc.outbox)
    return body


def encode_enrolments(docs: Iterable[EnrolmentDoc]) -> list[bytes]:
    """New documents as BSON, ready for `MaintenanceStore.insert_encoded` (encoded where they
    are folded: a worker process of a shadow replay hands bytes over, not models)."""
    return [bson.encode(stored_enrolment(doc)) for doc in docs]
