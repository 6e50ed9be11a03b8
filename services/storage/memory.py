"""An in-memory store with the MongoDB store's behaviour: guarded saves, conflicts, marks.

It passes the same contract suite as the MongoDB store (tests/integration/test_store_contract.py)
and lets the pipeline be tested without servers. Documents are kept in their stored form
(plain dicts), so nothing a caller holds can change what is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, EnrolmentRequest, batch_event_key
from services.domain.counts import COUNT_FIELDS
from services.ports import Stores
from services.storage.batch_events import BATCH_EVENTS_COLLECTION, rejection_reason
from services.storage.memory_admin import (
    InMemoryCheckpoints,
    InMemoryIdempotency,
    InMemoryMaintenance,
    InMemoryRateLimits,
    InMemoryReads,
)
from services.storage.memory_parts import (
    Collections,
    InMemoryCounts,
    InMemoryLocks,
    InMemoryMarks,
    InMemoryOutbox,
)
from services.storage.revisions import body_of

__all__ = ["InMemoryRateLimits", "InMemoryStore"]

Raw = dict[str, Any]
M = TypeVar("M", bound=BaseModel)


class InMemoryDocuments:
    """The `DocumentStore` port in memory."""

    def __init__(self, colls: Collections) -> None:
        self._colls = colls

    async def get_courses(self, ids: Iterable[str]) -> dict[str, CourseDoc]:
        return self._load("courses", CourseDoc, ids)

    async def get_batches(self, ids: Iterable[str]) -> dict[str, BatchDoc]:
        return self._load("batches", BatchDoc, ids)

    async def get_enrolments(
        self, keys: Iterable[str], *, may_guess_new: bool = False
    ) -> dict[str, EnrolmentDoc]:
        return self._load("enrolments", EnrolmentDoc, keys)

    async def enrolments_of_batch(self, batch_id: str) -> list[EnrolmentDoc]:
        found = self._colls["enrolments"].values()
        return [EnrolmentDoc.model_validate(r) for r in found if r["batchId"] == batch_id]

    async def batch_ids_of_course(self, course_id: str) -> list[str]:
        return [k for k, r in self._colls["batches"].items() if r["courseId"] == course_id]

    async def save_course(self, doc: CourseDoc) -> bool:
        return self._save("courses", doc.courseId, doc)

    async def save_batch(self, doc: BatchDoc) -> bool:
        return self._save("batches", doc.batchId, doc, keep=COUNT_FIELDS)

    async def save_enrolments(self, docs: Sequence[EnrolmentDoc]) -> set[str]:
        return {d.key for d in docs if not self._save("enrolments", d.key, d)}

    async def batches_with_status(self, status: str | None) -> list[BatchDoc]:
        found = self._colls["batches"].values()
        return [BatchDoc.model_validate(r) for r in found if r.get("status") == status]

    async def batches_to_auto_cancel(self) -> list[BatchDoc]:
        found = self._colls["batches"].values()
        return [
            BatchDoc.model_validate(r)
            for r in found
            if r.get("cancelBatchWhenMinimumCapacityIsNotMet") is True and not r.get("cancelled")
        ]

    async def open_requests(self, batch_id: str) -> list[EnrolmentRequest]:
        found = self._colls["enrolments"].values()
        return [
            EnrolmentRequest.model_validate(r["request"])
            for r in found
            if r["batchId"] == batch_id and r.get("request") is not None
        ]

    async def applied_batch_events(self, batch_id: str, event_ids: Iterable[str]) -> set[str]:
        known = self._colls[BATCH_EVENTS_COLLECTION]
        return {e for e in event_ids if batch_event_key(batch_id, e) in known}

    async def rejected_batch_events(
        self, batch_id: str, event_ids: Iterable[str]
    ) -> dict[str, str]:
        known = self._colls[BATCH_EVENTS_COLLECTION]
        found = [known.get(batch_event_key(batch_id, e), {}) for e in event_ids]
        return {raw["eventId"]: rejection_reason(raw) for raw in found if raw.get("rejected")}

    async def remember_batch_events(
        self, batch_id: str, event_ids: Iterable[str], rejected: Mapping[str, str] | None = None
    ) -> None:
        why = rejected or {}
        for e in event_ids:
            key = batch_event_key(batch_id, e)
            raw = {"_id": key, "batchId": batch_id, "eventId": e, "rejected": why.get(e, False)}
            self._colls[BATCH_EVENTS_COLLECTION][key] = raw

    def _load(self, name: str, model: type[M], ids: Iterable[str]) -> dict[str, M]:
        coll = self._colls[name]
        return {k: model.model_validate(coll[k]) for k in dict.fromkeys(ids) if k in coll}

    def _save(self, name: str, key: str, doc: BaseModel, keep: tuple[str, ...] = ()) -> bool:
        coll = self._colls[name]
        stored = coll.get(key)
        rev = getattr(doc, "rev", None)
        if (stored is None) != (rev is None) or (stored and stored.get("rev") != rev):
            return False  # an insert of what exists, or a replace of a revision not current
        body = body_of(doc, key, exclude=set(keep))
        if isinstance(doc, EnrolmentDoc):
            body["hasOutbox"] = bool(doc.outbox)
        kept = {f: stored[f] for f in keep if stored and f in stored}
        coll[key] = {**body, **kept}
        return True


class InMemoryStore:
    """Every store port over one in-memory database."""

    def __init__(self) -> None:
        colls = Collections()
        self.documents = InMemoryDocuments(colls)
        self.outbox = InMemoryOutbox(colls)
        self.counts = InMemoryCounts(colls)
        self.checkpoints = InMemoryCheckpoints()
        self.maintenance = InMemoryMaintenance(colls)
        self.refresh = InMemoryMarks()
        self.locks = InMemoryLocks()
        self.reads = InMemoryReads(colls)
        self.rate_limits = InMemoryRateLimits()
        self.idempotency = InMemoryIdempotency()

    def stores(self) -> Stores:
        """The ports the orchestration uses."""
        return Stores(
            self.documents,
            self.outbox,
            self.counts,
            self.checkpoints,
            self.maintenance,
            self.refresh,
            self.locks,
            self.reads,
            self.rate_limits,
            self.idempotency,
        )
