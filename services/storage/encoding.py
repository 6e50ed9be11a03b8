"""The stored form of an enrolment document, and the same encoded as BSON for bulk loads.

A document's `facts` are stored packed: one BSON binary holding them, not a tree of fields.
They are the service's own bookkeeping (contract 3 names the derived fields, which stay
fields), nothing queries inside them, and a server's cost per document grows with its
fields: on FerretDB 1.24 a packed document inserts in about half the CPU and replaces in
three quarters (docs/performance.md). Readers take either form, so documents written before
the packing are read as they are and packed at their next write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import bson
from bson.codec_options import CodecOptions
from pydantic import BaseModel

from schemas.documents import EnrolmentDoc
from services.storage.revisions import body_of

__all__ = ["encode_enrolments", "from_stored", "packed", "stored_enrolment", "unpacked"]

Raw = dict[str, Any]
M = TypeVar("M", bound=BaseModel)

_FACTS = "facts"
_CODEC: CodecOptions[Raw] = CodecOptions(tz_aware=True)  # as the service's client reads


def stored_enrolment(doc: EnrolmentDoc, pack: bool = True) -> Raw:
    """What is written for an enrolment: its fields (facts packed, unless `pack` is off: a
    rolling upgrade with older instances still running), `_id`, the successor of its revision,
    and `hasOutbox` (indexed: the relay's and the outbox gauges' query)."""
    body = body_of(doc, doc.key)
    if pack:
        packed(body)
    body["hasOutbox"] = bool(doc.outbox)
    return body


def encode_enrolments(docs: Iterable[EnrolmentDoc], pack: bool = True) -> list[bytes]:
    """New documents as BSON, ready for `MaintenanceStore.insert_encoded` (encoded where they
    are folded: a worker process of a shadow replay hands bytes over, not models)."""
    return [bson.encode(stored_enrolment(doc, pack)) for doc in docs]


def packed(raw: Raw) -> Raw:
    """A document with its facts packed (as it is; a document without facts as it is)."""
    facts = raw.get(_FACTS)
    if isinstance(facts, dict):
        raw[_FACTS] = bson.encode(facts)
    return raw


def unpacked(raw: Raw) -> Raw:
    """A stored document with its facts as fields, whichever form it was stored in."""
    facts = raw.get(_FACTS)
    if isinstance(facts, bytes):
        return {**raw, _FACTS: bson.decode(facts, codec_options=_CODEC)}
    return raw


def from_stored(model: type[M], raw: Raw) -> M:
    """The model of a stored document (an enrolment's facts unpacked first)."""
    return model.model_validate(unpacked(raw))
