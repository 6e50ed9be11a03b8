"""Batches, courses and enrolments: loads, and saves guarded by `rev`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, batch_event_key
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.revisions import body_of

__all__ = ["BATCH_EVENTS", "COUNT_FIELDS", "MongoDocuments"]

Raw = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
COUNT_FIELDS = ("enrolledCount", "completedCount", "certifiedCount", "waitlistedCount")
BATCH_EVENTS = "batch_events"  # one document per event of lms.batch.v1 a batch applied


class MongoDocuments:
    """The `DocumentStore` port on MongoDB (or FerretDB)."""

    def __init__(self, db: AsyncDatabase[Raw], guarded: GuardedWrites) -> None:
        self._guarded = guarded
        self.batches: AsyncCollection[Raw] = db["batches"]
        self.courses: AsyncCollection[Raw] = db["courses"]
        self.enrolments: AsyncCollection[Raw] = db["enrolments"]
        self.batch_events: AsyncCollection[Raw] = db[BATCH_EVENTS]

    async def get_courses(self, ids: Iterable[str]) -> dict[str, CourseDoc]:
        return {d.courseId: d for d in await self._find(self.courses, CourseDoc, ids)}

    async def get_batches(self, ids: Iterable[str]) -> dict[str, BatchDoc]:
        return {d.batchId: d for d in await self._find(self.batches, BatchDoc, ids)}

    async def get_enrolments(self, keys: Iterable[str]) -> dict[str, EnrolmentDoc]:
        return {d.key: d for d in await self._find(self.enrolments, EnrolmentDoc, keys)}

    async def enrolments_of_batch(self, batch_id: str) -> list[EnrolmentDoc]:
        async with mongo_errors():
            cursor = self.enrolments.find({"batchId": batch_id})
            return [EnrolmentDoc.model_validate(raw) async for raw in cursor]

    async def batch_ids_of_course(self, course_id: str) -> list[str]:
        async with mongo_errors():
            cursor = self.batches.find({"courseId": course_id}, {"_id": 1})
            return [raw["_id"] async for raw in cursor]

    async def save_course(self, doc: CourseDoc) -> bool:
        return await self._save_one(self.courses, doc.courseId, doc)

    async def save_batch(self, doc: BatchDoc) -> bool:
        # Counts are the count store's to write; a batch event never overwrites them.
        return await self._save_one(self.batches, doc.batchId, doc, keep=COUNT_FIELDS)

    async def save_enrolments(self, docs: Sequence[EnrolmentDoc]) -> set[str]:
        if not docs:
            return set()
        writes: list[InsertOne[Raw] | ReplaceOne[Raw]] = []
        keys: list[str] = []
        revs: list[str] = []  # the revision each write carries
        for doc in docs:
            body = body_of(doc, doc.key)
            body["hasOutbox"] = bool(doc.outbox)
            keys.append(doc.key)
            revs.append(body["rev"])
            if doc.rev is None:
                writes.append(InsertOne(body))
            else:
                writes.append(ReplaceOne({"_id": doc.key, "rev": doc.rev}, body))
        async with mongo_errors():
            # An insert fails atomically on the unique _id: its error names the lost race.
            outcome = await self._guarded.bulk.write(self.enrolments, writes)
        lost = {keys[i] for i in outcome.duplicates}
        # The writes the answer does not prove (a conflict, a short match, a silent guard).
        unproven = {keys[i]: revs[i] for i in outcome.unconfirmed - outcome.duplicates}
        if unproven:
            current = await self._guarded.stored_revs(self.enrolments, unproven)
            lost |= {key for key, rev in unproven.items() if current.get(key) != rev}
        return lost

    async def applied_batch_events(self, batch_id: str, event_ids: Iterable[str]) -> set[str]:
        keys = {batch_event_key(batch_id, e): e for e in event_ids}
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(self.batch_events, keys, {"_id": 1})
        return {keys[raw["_id"]] for raw in found}

    async def rejected_batch_events(self, batch_id: str, event_ids: Iterable[str]) -> set[str]:
        keys = {batch_event_key(batch_id, e): e for e in event_ids}
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(self.batch_events, keys, {"rejected": 1})
        return {keys[raw["_id"]] for raw in found if raw.get("rejected")}

    async def remember_batch_events(
        self, batch_id: str, event_ids: Iterable[str], rejected: Collection[str] = ()
    ) -> None:
        writes = [
            UpdateOne(
                {"_id": batch_event_key(batch_id, e)},
                {"$set": {"batchId": batch_id, "eventId": e, "rejected": e in rejected}},
                upsert=True,
            )
            for e in dict.fromkeys(event_ids)
        ]
        async with mongo_errors():
            await self._guarded.bulk.write(self.batch_events, writes)

    async def batches_with_status(self, status: str | None) -> list[BatchDoc]:
        # Equality on `status` (indexed; a null also matches documents without the field).
        async with mongo_errors():
            return [
                BatchDoc.model_validate(raw) async for raw in self.batches.find({"status": status})
            ]

    async def batches_to_auto_cancel(self) -> list[BatchDoc]:
        query = {"cancelBatchWhenMinimumCapacityIsNotMet": True, "cancelled": False}
        async with mongo_errors():
            return [BatchDoc.model_validate(raw) async for raw in self.batches.find(query)]

    async def _find(
        self, coll: AsyncCollection[Raw], model: type[M], ids: Iterable[str]
    ) -> list[M]:
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(coll, ids, None)
        return [model.model_validate(raw) for raw in found]

    async def _save_one(
        self, coll: AsyncCollection[Raw], key: str, doc: BaseModel, keep: tuple[str, ...] = ()
    ) -> bool:
        rev = getattr(doc, "rev", None)
        body = body_of(doc, key, exclude=set(keep))
        if rev is None:
            async with mongo_errors():
                try:
                    await coll.insert_one(body)
                except DuplicateKeyError:
                    return False
            return True
        return await self._guarded.set_if_current(coll, key, rev, body)
